"""Entry point of gray-deploy's AWS API emulator (moto + test/emulator/gray_emulator).

    PYTHONPATH=.emulator/usr/lib/python3/dist-packages /usr/bin/python3 test/emulator/server.py --port 0

Binds 127.0.0.1 (port 0 = a free port chosen by the OS), then prints one line
`GRAY_EMULATOR_READY {"port": N, ...}` on stdout. It exits when its parent dies: when stdin reaches
EOF (the parent's end of the pipe closes, even on SIGKILL) and, as a second guard, when the parent
process id changes. Test helpers spawn it with a stdin pipe (test/support/emulator.ts).
Environment: INITIAL_NO_AUTH_ACTION_COUNT (moto's IAM enforcement), GRAY_EMULATOR_REFRESH_STEP_SECONDS,
GRAY_EMULATOR_NEW_TARGETS_INITIAL=1.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))


def _watch_parent(parent_pid: int, watch_stdin: bool) -> None:
    def stdin_eof() -> None:
        try:
            while sys.stdin.buffer.read(65536):
                pass
        except Exception:
            pass
        os._exit(0)

    def ppid_changed() -> None:
        while True:
            time.sleep(0.5)
            if os.getppid() != parent_pid:
                os._exit(0)

    if watch_stdin:
        threading.Thread(target=stdin_eof, name="parent-stdin", daemon=True).start()
    threading.Thread(target=ppid_changed, name="parent-pid", daemon=True).start()


def _prewarm(dispatcher: object) -> None:
    """Builds the per-service apps moto otherwise builds on each service's first request (~0.5 s in
    all), while the test process is still starting up."""
    try:
        for service in ("ec2", "autoscaling", "elbv2", "cloudwatch", "dynamodb", "iam", "sts"):
            with dispatcher.lock:  # type: ignore[attr-defined]
                if service not in dispatcher.app_instances:  # type: ignore[attr-defined]
                    dispatcher.app_instances[service] = dispatcher.create_app(service)  # type: ignore[attr-defined]
    except Exception as e:  # only an optimisation: first requests build the apps themselves
        sys.stderr.write(f"gray emulator: prewarm skipped ({e!r})\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--verbose", action="store_true", help="log every request to stderr")
    parser.add_argument(
        "--no-parent-watch", action="store_true", help="keep running when stdin closes (manual use from a shell)"
    )
    args = parser.parse_args()

    started = time.monotonic()
    if not args.no_parent_watch:
        _watch_parent(os.getppid(), watch_stdin=True)
    logging.getLogger("werkzeug").setLevel(logging.INFO if args.verbose else logging.ERROR)

    try:
        import moto
        from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
        from werkzeug.serving import make_server
    except ImportError as e:
        sys.stderr.write(
            f"gray emulator: cannot import moto ({e}). Install it with: bash scripts/install-emulator.sh\n"
        )
        sys.exit(3)

    import gray_emulator
    from gray_emulator.control import GrayMiddleware
    from gray_emulator.instance_refresh import start_worker

    patches = gray_emulator.install()
    dispatcher = DomainDispatcherApplication(create_backend_app)
    app = GrayMiddleware(dispatcher)
    server = make_server(args.host, args.port, app, threaded=True)
    start_worker()

    def stop(_signum: int, _frame: object) -> None:
        os._exit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    info = {
        "port": server.server_port,
        "host": args.host,
        "moto": moto.__version__,
        "patches": len(patches),
        "startupSeconds": round(time.monotonic() - started, 3),
    }
    print("GRAY_EMULATOR_READY " + json.dumps(info), flush=True)
    threading.Thread(target=_prewarm, args=(dispatcher,), name="prewarm", daemon=True).start()
    server.serve_forever()


if __name__ == "__main__":
    main()
