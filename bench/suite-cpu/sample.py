#!/usr/bin/env python3
"""Where the test suite's CPU goes, by kind of process (issue 14: the suite is CPU-bound on 2 cores).

Reads /proc every 0.5 s while a command runs, keeps each process's last user + system CPU time, and
prints the totals by kind: the vitest workers, the CLI (bin/gray-deploy.mjs), the sample-gateway
processes standing for instances, the AWS emulator, the Dagger runtime rehearsal, Zabbix, the rest.

    python3 bench/suite-cpu/sample.py -- npx vitest run
    python3 bench/suite-cpu/sample.py --out /tmp/cpu.txt -- npm test

Limits, by design of a sampler: a process that lives less than 0.5 s is missed (a few CLI spawns
refused at once); processes already running when it starts (Zabbix, the kernel's threads) are
counted from their own start, so only their growth is this command's (it prints it apart).
Nothing is asserted: it is a measurement for the issue's note.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import threading
import time

TICK = os.sysconf("SC_CLK_TCK")


def kind(cmd: str) -> str:
    exe = cmd.split(" ", 1)[0]
    if "test/emulator/server.py" in cmd:
        return "AWS emulator (moto)"
    if "zabbix" in cmd or exe.startswith("postgres") or "postgresql" in cmd or exe == "php":
        return "Zabbix (server, PostgreSQL, frontend)"
    if "vitest" in cmd:
        return "vitest (workers: tests, data planes, load generators, proxies)"
    if "gray-deploy.mjs" in cmd:
        return "CLI (bin/gray-deploy.mjs)"
    if "sample-gateway/server.mjs" in cmd:
        return "sample-gateway (instances)"
    if ".engine-runtime" in cmd:
        return "Dagger runtime rehearsal (Node 24, npm)"
    if "tsc" in cmd:
        return "tsc"
    if exe.endswith("node") or exe == "node":
        return "other node"
    return "other (kernel threads, shells, tools)"


def snapshot() -> dict[tuple[str, str], tuple[str, float]]:
    seen: dict[tuple[str, str], tuple[str, float]] = {}
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/stat") as f:
                stat = f.read()
            fields = stat[stat.rfind(")") + 2 :].split()
            cpu = (int(fields[11]) + int(fields[12])) / TICK
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmd = f.read().replace(b"\0", b" ").decode(errors="replace").strip()
            seen[(pid, fields[19])] = (cmd, cpu)
        except OSError:
            pass
    return seen


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", help="also write the table to this file")
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args()
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("give the command to measure after --")

    before = snapshot()
    last: dict[tuple[str, str], tuple[str, float]] = {}
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            last.update(snapshot())
            stop.wait(0.5)

    sampler = threading.Thread(target=sample, daemon=True)
    started = time.monotonic()
    sampler.start()
    code = subprocess.call(command)
    stop.set()
    sampler.join()
    wall = time.monotonic() - started

    totals: dict[str, float] = {}
    counts: dict[str, int] = {}
    for key, (cmd, cpu) in last.items():
        if key[0] == str(os.getpid()):
            continue
        name = kind(cmd)
        grown = cpu - before.get(key, (cmd, 0.0))[1]
        totals[name] = totals.get(name, 0.0) + grown
        counts[name] = counts.get(name, 0) + (0 if key in before else 1)
    lines = [f"{'CPU-s':>9}  {'started':>7}  kind", *(
        f"{cpu:9.1f}  {counts[name]:7d}  {name}" for name, cpu in sorted(totals.items(), key=lambda x: -x[1])
    ), f"{sum(totals.values()):9.1f}  {'':7}  all, over {wall:.0f} s of wall time (exit {code})"]
    text = "\n".join(lines) + "\n"
    sys.stderr.write(text)
    if args.out:
        with open(args.out, "w") as f:
            f.write(text)
    sys.exit(code)


if __name__ == "__main__":
    main()
