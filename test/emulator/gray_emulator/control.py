"""The /_gray/* control endpoints, the request lock, and reset of the extension's state.

Control endpoints are test plumbing, not AWS: they bypass moto's IAM enforcement and do not spend
its INITIAL_NO_AUTH_ACTION_COUNT budget. All bodies and answers are JSON.

  GET  /_gray/health                        -> {"ok": true, "moto": "5.2.4", "patches": [...]}
  GET  /_gray/config                        -> current config
  POST /_gray/config                        {newTargetsInitial?: bool, refreshStepSeconds?: number,
                                             refreshesPaused?: bool}
  POST /_gray/target-health                 {targetGroupArn, targetId, state, reason?, description?}
                                            or a JSON array of those
  POST /_gray/instance-refresh/fail-next    {autoScalingGroupName, region, afterInstances?: n, reason?}
  GET  /_gray/generation                    -> {"generation": n}: grows whenever what a load balancer's
                                            data plane reads may have changed (see state.bump)

POST /moto-api/reset also resets the config and pending failures (moto's reset drops everything
the extension keeps on moto's objects).
"""

from __future__ import annotations

import io
import json
import re
from typing import Any, Callable, Iterable
from urllib.parse import parse_qs

import moto
from moto.moto_api._internal.models import MotoAPIBackend

from . import state
from ._patching import APPLIED, replace, require
from .instance_refresh import fail_next
from .target_health import ControlError, set_target_health

StartResponse = Callable[..., Any]


def _config_json() -> dict[str, Any]:
    c = state.STATE.config
    return {
        "newTargetsInitial": c.new_targets_initial,
        "refreshStepSeconds": c.refresh_step_seconds,
        "refreshesPaused": c.refreshes_paused,
    }


def _set_config(body: dict[str, Any]) -> dict[str, Any]:
    c = state.STATE.config
    if "newTargetsInitial" in body:
        if not isinstance(body["newTargetsInitial"], bool):
            raise ControlError(400, "newTargetsInitial must be a boolean")
        c.new_targets_initial = body["newTargetsInitial"]
    if "refreshStepSeconds" in body:
        v = body["refreshStepSeconds"]
        if not isinstance(v, (int, float)) or isinstance(v, bool) or not 0 <= v <= 60:
            raise ControlError(400, "refreshStepSeconds must be a number between 0 and 60")
        c.refresh_step_seconds = float(v)
    if "refreshesPaused" in body:
        if not isinstance(body["refreshesPaused"], bool):
            raise ControlError(400, "refreshesPaused must be a boolean")
        c.refreshes_paused = body["refreshesPaused"]
    unknown = set(body) - {"newTargetsInitial", "refreshStepSeconds", "refreshesPaused"}
    if unknown:
        raise ControlError(400, f"unknown config keys: {sorted(unknown)}")
    return _config_json()


def _target_health(body: Any) -> Any:
    if isinstance(body, list):
        return [set_target_health(b) for b in body]
    return set_target_health(body)


ROUTES: dict[tuple[str, str], Callable[[Any], Any]] = {
    ("GET", "/_gray/health"): lambda _b: {"ok": True, "moto": moto.__version__, "patches": APPLIED},
    ("GET", "/_gray/config"): lambda _b: _config_json(),
    ("POST", "/_gray/config"): _set_config,
    ("POST", "/_gray/target-health"): _target_health,
    ("POST", "/_gray/instance-refresh/fail-next"): fail_next,
}

# The services whose state a load balancer's data plane reads: listener rules and target health
# (elasticloadbalancing), groups and their instances (autoscaling), launch template versions (ec2).
# CloudWatch, DynamoDB, IAM, STS and Lambda calls change none of it.
_DATA_PLANE_SERVICES = frozenset({"elasticloadbalancing", "autoscaling", "ec2"})
_READS = ("Describe", "List", "Get")
_SCOPE = re.compile(r"Credential=[^/,]+/\d{8}/[^/,]+/([^/,]+)/aws4_request")


def _may_change_data_plane(environ: dict[str, Any]) -> bool:
    """False only for what surely changes nothing a data plane reads: a signed call to another
    service, or a read (Describe*, List*, Get*) of these. Anything unsigned (moto's reset) counts."""
    scope = _SCOPE.search(environ.get("HTTP_AUTHORIZATION", ""))
    if scope is None:
        return True
    if scope.group(1) not in _DATA_PLANE_SERVICES:
        return False
    action = parse_qs(environ.get("QUERY_STRING", "")).get("Action")
    if action is None and environ.get("REQUEST_METHOD") == "POST":
        # The query protocols (EC2, Auto Scaling, ELBv2) send the action in a form body: read it,
        # and hand moto the same bytes.
        length = int(environ.get("CONTENT_LENGTH") or 0)
        raw = environ["wsgi.input"].read(length) if length else b""
        environ["wsgi.input"] = io.BytesIO(raw)
        action = parse_qs(raw.decode("utf-8", "replace")).get("Action")
    return action is None or not action[0].startswith(_READS)


def _respond(start_response: StartResponse, status: int, payload: Any) -> list[bytes]:
    body = json.dumps(payload, default=str).encode()
    reason = {200: "OK", 400: "Bad Request", 404: "Not Found", 405: "Method Not Allowed", 409: "Conflict"}
    start_response(
        f"{status} {reason.get(status, 'Error')}",
        [("Content-Type", "application/json"), ("Content-Length", str(len(body)))],
    )
    return [body]


class GrayMiddleware:
    """Serves /_gray/*, and runs every request (moto's too) under the extension's lock."""

    def __init__(self, app: Callable[..., Iterable[bytes]]):
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path.startswith("/_gray/"):
            return self._control(environ, start_response, path)
        changes = _may_change_data_plane(environ)
        with state.LOCK:
            # Materialise the body inside the lock: moto builds it from live objects.
            result = self.app(environ, start_response)
            try:
                return [b"".join(result)]
            finally:
                close = getattr(result, "close", None)
                if close:
                    close()
                if changes:
                    state.bump()

    def _control(self, environ: dict[str, Any], start_response: StartResponse, path: str) -> list[bytes]:
        method = environ.get("REQUEST_METHOD", "GET")
        if (method, path.rstrip("/")) == ("GET", "/_gray/generation"):
            # Polled several times a second by every data plane: no lock (an int read), no bump.
            return _respond(start_response, 200, {"generation": state.generation()})
        handler = ROUTES.get((method, path.rstrip("/")))
        if handler is None:
            known = sorted({p for _, p in ROUTES} | {"/_gray/generation"})
            return _respond(start_response, 404, {"error": f"no control endpoint {method} {path}; known: {known}"})
        body: Any = {}
        if method == "POST":
            length = int(environ.get("CONTENT_LENGTH") or 0)
            raw = environ["wsgi.input"].read(length) if length else b""
            try:
                body = json.loads(raw) if raw.strip() else {}
            except json.JSONDecodeError as e:
                return _respond(start_response, 400, {"error": f"body is not JSON: {e}"})
        try:
            with state.LOCK:
                try:
                    return _respond(start_response, 200, handler(body))
                finally:
                    if method == "POST":  # target health reports, config, failures to come
                        state.bump()
        except ControlError as e:
            return _respond(start_response, e.status, {"error": e.message})
        except (KeyError, TypeError, ValueError, AttributeError) as e:
            return _respond(start_response, 400, {"error": f"bad request: {e!r}"})


def install() -> None:
    orig_reset = require(MotoAPIBackend, "reset", ["self"])

    def reset(self: Any) -> None:
        with state.LOCK:
            orig_reset(self)
            state.reset()

    replace(MotoAPIBackend, "reset", reset, "also reset the gray extension's state")
