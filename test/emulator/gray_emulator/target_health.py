"""ELBv2 target health that a test's data plane can drive.

moto 5.2.4 gap: every registered target is always `healthy` (only a stopped instance is `unused`).
A real ALB starts a new target in `initial`, then reports what its health checks see. There is no
health checker here, so the test's data plane (which really sends requests to the processes that
stand for the instances) reports results through POST /_gray/target-health; the override is kept
on the target group object, so moto's reset drops it with the group.

Switch `newTargetsInitial` (POST /_gray/config) makes targets registered afterwards start in
`initial` until reported; by default they start `healthy`, as moto always did.
"""

from __future__ import annotations

from typing import Any

from moto.elbv2.models import FakeHealthStatus, FakeTargetGroup, elbv2_backends

from ._patching import replace, require
from .state import STATE

# What a real ALB reports with each state when the reporter gives no reason.
DEFAULT_REASONS: dict[str, tuple[str | None, str | None]] = {
    "healthy": (None, None),
    "initial": ("Elb.InitialHealthChecking", "Initial health checks in progress"),
    "unhealthy": ("Target.FailedHealthChecks", "Health checks failed"),
    "unhealthy.draining": ("Target.FailedHealthChecks", "Health checks failed"),
    "draining": ("Target.DeregistrationInProgress", "Target deregistration is in progress"),
    "unused": ("Target.NotInUse", "Target group is not configured to receive traffic from the load balancer"),
    "unavailable": ("Target.HealthCheckDisabled", "Health checks disabled"),
}


class ControlError(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


def _overrides(tg: Any) -> dict[str, tuple[str, str | None, str | None]]:
    if not hasattr(tg, "_gray_health"):
        tg._gray_health = {}
    return tg._gray_health


def health_state(tg: Any, target_id: str) -> str | None:
    """The state DescribeTargetHealth reports for a registered target, None when not registered."""
    if target_id not in tg.targets:
        return None
    o = _overrides(tg).get(target_id)
    return o[0] if o else "healthy"


def install() -> None:
    orig_register = require(FakeTargetGroup, "register", ["self", "targets"])
    orig_deregister = require(FakeTargetGroup, "deregister", ["self", "targets"])
    orig_deregister_terminated = require(FakeTargetGroup, "deregister_terminated_instances", ["self", "instance_ids"])
    orig_health_for = require(FakeTargetGroup, "health_for", ["self", "target", "ec2_backend"])

    def register(self: Any, targets: list[dict[str, Any]]) -> None:
        new_ids = [t["Id"] for t in targets if t["Id"] not in self.targets]
        orig_register(self, targets)
        overrides = _overrides(self)
        for target_id in new_ids:
            if STATE.config.new_targets_initial:
                overrides[target_id] = ("initial", "Elb.RegistrationInProgress", "Target registration is in progress")
            else:
                overrides.pop(target_id, None)

    def deregister(self: Any, targets: list[dict[str, Any]]) -> None:
        orig_deregister(self, targets)
        for t in targets:
            _overrides(self).pop(t["Id"], None)

    def deregister_terminated_instances(self: Any, instance_ids: list[str]) -> None:
        orig_deregister_terminated(self, instance_ids)
        for target_id in instance_ids:
            _overrides(self).pop(target_id, None)

    def health_for(self: Any, target: dict[str, Any], ec2_backend: Any) -> FakeHealthStatus:
        registered = self.targets.get(target["Id"])
        override = _overrides(self).get(target["Id"])
        if registered is None or override is None:
            return orig_health_for(self, target, ec2_backend)
        state, reason, description = override
        return FakeHealthStatus(
            registered["Id"], registered["Port"], self.health_check_port, state, reason, description
        )

    replace(FakeTargetGroup, "register", register, "new targets may start `initial`")
    replace(FakeTargetGroup, "deregister", deregister, "forget reported health")
    replace(FakeTargetGroup, "deregister_terminated_instances", deregister_terminated_instances, "forget reported health")
    replace(FakeTargetGroup, "health_for", health_for, "report the health a test set, not always `healthy`")


def find_target_group(arn: str) -> Any:
    for account in list(dict.values(elbv2_backends)):
        for backend in list(dict.values(account)):
            tg = backend.target_groups.get(arn)
            if tg is not None:
                return tg
    raise ControlError(404, f"target group {arn} not found (create it first, or was the emulator reset?)")


def set_target_health(body: dict[str, Any]) -> dict[str, Any]:
    """Body: {targetGroupArn, targetId, state, reason?, description?}."""
    arn = body.get("targetGroupArn")
    target_id = body.get("targetId")
    state = body.get("state")
    if not isinstance(arn, str) or not isinstance(target_id, str):
        raise ControlError(400, "targetGroupArn and targetId are required strings")
    if state not in DEFAULT_REASONS:
        raise ControlError(400, f"state must be one of {sorted(DEFAULT_REASONS)}, got {state!r}")
    tg = find_target_group(arn)
    if target_id not in tg.targets:
        raise ControlError(409, f"target {target_id} is not registered in {arn}")
    default_reason, default_description = DEFAULT_REASONS[state]
    reason = body.get("reason", default_reason)
    description = body.get("description", default_description if reason == default_reason else None)
    _overrides(tg)[target_id] = (state, reason, description)
    return {"targetGroupArn": arn, "targetId": target_id, "state": state, "reason": reason}
