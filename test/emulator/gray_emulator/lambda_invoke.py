"""Lambda Invoke runs the function's deployed Node.js code, as the Lambda runtime would.

moto 5.2.4 runs a function only inside a Docker container (`LambdaFunction._invoke_lambda`), and this
machine has no Docker engine: without this patch every Invoke answers moto's "error running docker"
as a handled error. Here the uploaded zip is unpacked (once per code hash) and the handler named by
`Handler` (`file.export`: `index.handler` loads index.mjs, index.js or index.cjs) is called by a small
Node bootstrap in a subprocess, with the event (the request payload, JSON) and a context object,
awaiting a returned promise or a callback, as the Node.js managed runtime does.

The answer has the Invoke API's shape (https://docs.aws.amazon.com/lambda/latest/api/API_Invoke.html):
  - RequestResponse: StatusCode 200, the handler's result as JSON in the payload (`null` for none),
    X-Amz-Executed-Version $LATEST (or the qualifier's version); a thrown error or a timeout sets
    X-Amz-Function-Error: Unhandled with `{"errorType", "errorMessage", "trace"}` as the payload
    (a timeout: `{"errorMessage": "<time> <request id> Task timed out after N.00 seconds"}`); the
    function's stdout/stderr is the log tail (X-Amz-Log-Result, base64, last 4 KB) when Tail is asked;
  - DryRun: 204 and nothing runs (AWS only checks the function exists and the caller may invoke it);
  - Event: 202, the function runs in the background.

Not modelled: Python or other runtimes (Unhandled Runtime.InvalidRuntime), layers, environment
encryption, concurrency limits, cold/warm reuse of an execution environment (each invoke is a new
process, so module-level state does not survive between invocations as it may on AWS).
"""

from __future__ import annotations

import atexit
import base64
import io
import json
import os
import shutil
import subprocess
import tempfile
import threading
import time
import uuid
import zipfile
from typing import Any

from moto.awslambda.models import LambdaFunction

from ._patching import replace

_BOOTSTRAP = r"""
import { pathToFileURL } from "node:url";
import { existsSync } from "node:fs";
import { join } from "node:path";
const [file, name] = [process.env.GD_HANDLER_FILE, process.env.GD_HANDLER_NAME];
const emit = (tag, value) => process.stdout.write(`\n${tag}${JSON.stringify(value)}\n`);
const fail = (e) => emit("__GRAY_ERROR__", {
  errorType: e?.name ?? "Error",
  errorMessage: e?.message ?? String(e),
  trace: String(e?.stack ?? "").split("\n"),
});
try {
  const found = ["mjs", "js", "cjs"].map((x) => join(process.cwd(), `${file}.${x}`)).find((p) => existsSync(p));
  if (!found) throw Object.assign(new Error(`Cannot find module '${file}'`), { name: "Runtime.ImportModuleError" });
  const mod = await import(pathToFileURL(found).href);
  const handler = mod[name] ?? mod.default?.[name];
  if (typeof handler !== "function")
    throw Object.assign(new Error(`${file}.${name} is undefined or not exported`), { name: "Runtime.HandlerNotFound" });
  const chunks = [];
  for await (const c of process.stdin) chunks.push(c);
  const event = JSON.parse(Buffer.concat(chunks).toString("utf8") || "null");
  const deadline = Date.now() + Number(process.env.AWS_LAMBDA_FUNCTION_TIMEOUT) * 1000;
  const context = {
    functionName: process.env.AWS_LAMBDA_FUNCTION_NAME,
    functionVersion: process.env.AWS_LAMBDA_FUNCTION_VERSION,
    awsRequestId: process.env.GD_REQUEST_ID,
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
  };
  const result = handler.length >= 3
    ? await new Promise((resolve, reject) => {
        const r = handler(event, context, (err, value) => (err ? reject(err) : resolve(value)));
        if (r && typeof r.then === "function") r.then(resolve, reject);
      })
    : await handler(event, context);
  emit("__GRAY_RESULT__", result === undefined ? null : result);
} catch (e) {
  fail(e);
}
"""

_UNPACKED: dict[str, str] = {}
_UNPACK_LOCK = threading.Lock()


@atexit.register
def _remove_unpacked() -> None:
    for d in _UNPACKED.values():
        shutil.rmtree(d, ignore_errors=True)


def _code_dir(fn: LambdaFunction) -> str:
    key = getattr(fn, "code_sha_256", None) or base64.b64encode(fn.code_bytes).decode()[:64]
    with _UNPACK_LOCK:
        known = _UNPACKED.get(key)
        if known is not None and os.path.isdir(known):
            return known
        target = tempfile.mkdtemp(prefix="gray-emulator-lambda-")
        with zipfile.ZipFile(io.BytesIO(fn.code_bytes)) as z:
            z.extractall(target)
        _UNPACKED[key] = target
        return target


def _node() -> str | None:
    return os.environ.get("GRAY_EMULATOR_NODE") or shutil.which("node")


def _run(fn: LambdaFunction, event: bytes) -> tuple[bytes, str | None, str]:
    """Runs the handler; returns (payload, function error or None, log text)."""
    request_id = str(uuid.uuid4())
    runtime = str(fn.run_time or "")
    if not runtime.startswith("nodejs"):
        err = {"errorType": "Runtime.InvalidRuntime", "errorMessage": f"the gray emulator runs Node.js functions only, not {runtime}"}
        return json.dumps(err).encode(), "Unhandled", ""
    node = _node()
    if node is None:
        err = {"errorType": "Runtime.ExitError", "errorMessage": "no node binary on the emulator's PATH"}
        return json.dumps(err).encode(), "Unhandled", ""
    handler = str(fn.handler or "index.handler")
    file, _, name = handler.rpartition(".")
    timeout = float(fn.timeout or 3)
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": tempfile.gettempdir(),
        "AWS_LAMBDA_FUNCTION_NAME": fn.function_name,
        "AWS_LAMBDA_FUNCTION_VERSION": str(fn.version),
        "AWS_LAMBDA_FUNCTION_TIMEOUT": str(int(timeout)),
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(fn.memory_size),
        "AWS_REGION": fn.region,
        "AWS_EXECUTION_ENV": f"AWS_Lambda_{runtime}",
        "_HANDLER": handler,
        "GD_HANDLER_FILE": file,
        "GD_HANDLER_NAME": name,
        "GD_REQUEST_ID": request_id,
    }
    env.update({str(k): str(v) for k, v in (fn.environment_vars or {}).items()})
    started = time.monotonic()
    try:
        done = subprocess.run(
            [node, "--input-type=module", "-e", _BOOTSTRAP],
            input=event,
            capture_output=True,
            cwd=_code_dir(fn),
            env=env,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired as e:
        logs = ((e.stdout or b"") + (e.stderr or b"")).decode("utf-8", "replace")
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())
        err = {"errorMessage": f"{stamp} {request_id} Task timed out after {timeout:.2f} seconds"}
        return json.dumps(err).encode(), "Unhandled", logs
    out = done.stdout.decode("utf-8", "replace")
    logs = (out.split("\n__GRAY_")[0] + done.stderr.decode("utf-8", "replace")).strip()
    logs += f"\nREPORT RequestId: {request_id}\tDuration: {(time.monotonic() - started) * 1000:.2f} ms"
    for line in reversed(out.splitlines()):
        if line.startswith("__GRAY_RESULT__"):
            return line[len("__GRAY_RESULT__") :].encode(), None, logs
        if line.startswith("__GRAY_ERROR__"):
            return line[len("__GRAY_ERROR__") :].encode(), "Unhandled", logs
    err = {"errorType": "Runtime.ExitError", "errorMessage": f"RequestId: {request_id} Error: Runtime exited with error: exit status {done.returncode}"}
    return json.dumps(err).encode(), "Unhandled", logs


def _invoke(self: LambdaFunction, body: Any, request_headers: Any, response_headers: Any) -> bytes:
    inv_type = request_headers.get("x-amz-invocation-type", "RequestResponse")
    response_headers["x-amz-executed-version"] = str(self.version)
    if inv_type == "DryRun":
        return b""
    event = body.encode("utf-8") if isinstance(body, str) else (body or b"null")
    if not event.strip():
        event = b"null"
    if inv_type == "Event":
        threading.Thread(target=_run, args=(self, event), daemon=True).start()
        return b""
    payload, error, logs = _run(self, event)
    if error is not None:
        response_headers["x-amz-function-error"] = error
    if str(request_headers.get("x-amz-log-type", "")).lower() == "tail":
        response_headers["x-amz-log-result"] = base64.b64encode(logs.encode("utf-8")[-4096:]).decode()
    return payload


def install() -> None:
    replace(
        LambdaFunction,
        "invoke",
        _invoke,
        "Invoke runs the function's Node.js handler from its zip in a subprocess (no Docker here)",
        params=["self", "body", "request_headers", "response_headers"],
    )
