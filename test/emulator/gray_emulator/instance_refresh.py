"""Auto Scaling instance refresh: Start, Describe, Cancel and Rollback, really replacing instances.

moto 5.2.4 gap: none of the four actions exists (HTTP 500).

What this models, after the AWS documentation of instance refresh:
- A refresh replaces the group's InService instances (all of them, or with SkipMatching only those
  not launched from the desired launch template version) in batches sized by MinHealthyPercentage
  (and MaxHealthyPercentage > 100: launch the batch before terminating the old instances, otherwise
  terminate first). New instances are launched from the desired configuration and registered in the
  group's target groups; a batch is done when every new instance is `healthy` in every target group
  of the group (a test's data plane reports health through /_gray/target-health) and one step has
  passed (the emulator's stand-in for InstanceWarmup, which is recorded but not waited in real time).
  A new instance reported `unhealthy` fails the refresh.
- Statuses: Pending -> InProgress -> Successful | Failed | Cancelling -> Cancelled |
  RollbackInProgress -> RollbackSuccessful | RollbackFailed. PercentageComplete and
  InstancesToUpdate follow the replacements (during a rollback, the rollback's own progress).
- "Once the instance refresh succeeds, Amazon EC2 Auto Scaling updates the settings of the Auto
  Scaling group to reflect the new desired configuration": the group's launch template changes only
  on success. Cancel stops after the batch in flight and keeps what was replaced.
- Rollback (RollbackInstanceRefresh, or AutoRollback when a refresh fails) replaces every instance
  the refresh launched with instances of the group's previous configuration and leaves the group on
  it. Not supported without a desired configuration or with $Latest/$Default versions
  (IrreversibleInstanceRefresh); AutoRollback is refused in those cases at start.
- Failure on demand: POST /_gray/instance-refresh/fail-next {autoScalingGroupName, afterInstances}
  makes the group's next refresh fail once `afterInstances` instances (default 1) were replaced.
- Checkpoints (Preferences.CheckpointPercentages, CheckpointDelay): once the share of instances
  replaced reaches a checkpoint below 100, the refresh stays InProgress and waits CheckpointDelay
  seconds (3600 when only the percentages are given) before replacing more. Percentages must be
  ascending and unique; CheckpointDelay needs CheckpointPercentages (ValidationError otherwise).
- Alarms (Preferences.AlarmSpecification.Alarms, up to 10): while the refresh
  replaces instances (forward), an alarm in ALARM fails it — and with AutoRollback starts the
  rollback — with the reason naming the alarm, as "CloudWatch alarms can be used to identify any
  issues and fail the operation if an alarm threshold is met" (RefreshPreferences).

Time: one step is STATE.config.refresh_step_seconds (default 0.2 s); a background thread advances
every active refresh under the global lock.
"""

from __future__ import annotations

import math
import sys
import threading
import time
import traceback
from typing import Any

from moto.autoscaling.exceptions import AutoscalingClientError, ValidationError
from moto.autoscaling.models import AutoScalingBackend, FakeAutoScalingGroup
from moto.autoscaling.responses import AutoScalingResponse
from moto.core.responses import ActionResult
from moto.core.utils import utcnow
from moto.moto_api._internal import mock_random as random

from . import autoscaling as asg
from ._patching import add
from .state import LOCK, STATE, FailNext, bump
from .target_health import health_state

ACTIVE = ("Pending", "InProgress", "Cancelling", "RollbackInProgress", "Baking")


class InstanceRefreshInProgress(AutoscalingClientError):
    code = "InstanceRefreshInProgress"


class ActiveInstanceRefreshNotFound(AutoscalingClientError):
    code = "ActiveInstanceRefreshNotFound"


class IrreversibleInstanceRefresh(AutoscalingClientError):
    code = "IrreversibleInstanceRefresh"


def _is_numbered(version: str | None) -> bool:
    return version is not None and str(version).isdigit()


def _bool(v: Any) -> bool:
    return v is True or str(v).lower() == "true"


class Refresh:
    def __init__(
        self,
        backend: AutoScalingBackend,
        group: FakeAutoScalingGroup,
        desired: dict[str, Any] | None,
        prefs: dict[str, Any],
        fail: FailNext | None,
    ):
        self.id = str(random.uuid4())
        self.backend = backend
        self.group_name = group.name
        self.desired = desired
        self.prefs = prefs
        self.fail = fail
        self.status = "Pending"
        self.status_reason: str | None = None
        self.start_time = utcnow()
        self.end_time: Any = None
        self.rollback_details: dict[str, Any] | None = None
        self.mode = "forward"  # forward | rollback

        # The configuration the group had, to restore on rollback.
        self.prev_template = group.ec2_launch_template
        self.prev_version = group.launch_template_version if group.ec2_launch_template else None
        self.prev_provided_version = getattr(group, "provided_launch_template_version", None)

        # The configuration new instances are launched from.
        if desired and desired.get("LaunchTemplate"):
            spec = desired["LaunchTemplate"]
            ec2 = backend.ec2_backend
            if spec.get("LaunchTemplateId"):
                self.template = ec2.get_launch_template(spec["LaunchTemplateId"])
            else:
                self.template = ec2.get_launch_template_by_name(spec["LaunchTemplateName"])
            self.version_spec = spec.get("Version") or "$Default"
        else:
            self.template = group.ec2_launch_template
            self.version_spec = self.prev_version
        self.version_number = (
            asg.resolve_version(self.template, self.version_spec).number if self.template is not None else None
        )

        self.launched: list[str] = []  # instance ids this refresh launched (forward)
        self.queue = self._instances_to_replace(group)
        self.total = len(self.queue)
        self.done = 0
        self.batch: dict[str, Any] | None = None
        self.next_at = time.monotonic() + STATE.config.refresh_step_seconds
        # Checkpoints still ahead (percentages below 100) and the end of the current checkpoint's wait.
        self.checkpoints = [p for p in prefs.get("CheckpointPercentages") or [] if p < 100]
        self.checkpoint_until: float | None = None

    # --- selection and sizing -------------------------------------------------------------------

    def _instances_to_replace(self, group: FakeAutoScalingGroup) -> list[str]:
        refresh_protected = self.prefs.get("ScaleInProtectedInstances") == "Refresh"
        ids = []
        for s in group.instance_states:
            if s.lifecycle_state != "InService":
                continue  # StandbyInstances=Ignore (the default)
            if s.protected_from_scale_in and not refresh_protected:
                continue  # ScaleInProtectedInstances=Ignore (the default)
            if (
                _bool(self.prefs.get("SkipMatching"))
                and self.template is not None
                and asg.launched_from(s) == (self.template.id, str(self.version_number))
            ):
                continue
            ids.append(s.instance.id)
        return ids

    def _batch_size(self, group: FakeAutoScalingGroup) -> tuple[int, bool]:
        desired = group.desired_capacity or len(self.queue) or 1
        min_healthy = int(self.prefs.get("MinHealthyPercentage", 90))
        max_healthy = int(self.prefs.get("MaxHealthyPercentage") or 100)
        if max_healthy > 100:
            return max(1, math.floor(desired * (max_healthy - min_healthy) / 100)), True
        return max(1, math.floor(desired * (100 - min_healthy) / 100)), False

    @property
    def percentage_complete(self) -> int:
        return 100 if self.total == 0 else int(self.done * 100 / self.total)

    @property
    def instances_to_update(self) -> int:
        return self.total - self.done

    # --- the state machine, one step per call -----------------------------------------------------

    def step(self, now: float) -> None:
        if STATE.config.refreshes_paused:
            self.next_at = max(self.next_at, now)
            return
        if now < self.next_at:
            return
        group = self.backend.autoscaling_groups.get(self.group_name)
        if group is None:
            self._end("Failed", f"The Auto Scaling group {self.group_name} was deleted.")
            return
        if self.status == "Pending":
            self.status = "InProgress"
            self._wait(now)
            return
        if self.mode == "forward" and self.status == "InProgress":
            firing = self._alarm_in_alarm()
            if firing is not None:
                self._failed(group, f"CloudWatch alarm {firing} is in ALARM state.")
                return
        if self.checkpoint_until is not None:
            if now < self.checkpoint_until:
                return
            self.checkpoint_until = None
            self.status_reason = None
        if self.batch is not None:
            self._advance_batch(group, now)
            return
        if self.status == "Cancelling":
            self._end("Cancelled", "Instance refresh was cancelled.")
            return
        if self.mode == "forward" and self.fail and self.done >= min(self.fail.after_instances, self.total):
            self._failed(group, self.fail.reason)
            return
        present = {s.instance.id for s in group.instance_states}
        self.queue = [i for i in self.queue if i in present]
        if not self.queue:
            self._finish(group)
            return
        size, launch_first = self._batch_size(group)
        old, self.queue = self.queue[:size], self.queue[size:]
        if not launch_first:
            asg.terminate(group, old)
        if self.mode == "forward":
            template, version = self.template, self.version_number
        else:
            template = self.prev_template
            version = asg.resolve_version(template, self.prev_version).number if template else None
        new = [s.instance.id for s in asg.launch(group, len(old), template, version)]
        self.backend.update_attached_elbs(group.name)
        self.backend.update_attached_target_groups(group.name)
        if self.mode == "forward":
            self.launched.extend(new)
        self.batch = {"old": old, "new": new, "launch_first": launch_first}
        self._wait(now)

    def _advance_batch(self, group: FakeAutoScalingGroup, now: float) -> None:
        assert self.batch is not None
        states = self._health_of(group, self.batch["new"])
        bad = [i for i, s in states.items() if s in ("unhealthy", "unhealthy.draining")]
        if bad:
            reason = f"Instance {bad[0]} failed Elastic Load Balancing health checks."
            if self.mode == "rollback":
                self._end("RollbackFailed", reason)
            else:
                self._failed(group, reason)
            return
        if any(s != "healthy" for s in states.values()):
            return  # still `initial`: check again on the next tick
        if self.batch["launch_first"]:
            asg.terminate(group, self.batch["old"])
        self.done += len(self.batch["old"])
        self.batch = None
        self._wait(now)
        reached = [p for p in self.checkpoints if self.percentage_complete >= p]
        if self.mode == "forward" and reached and self.queue:
            self.checkpoints = [p for p in self.checkpoints if p not in reached]
            delay = int(self.prefs.get("CheckpointDelay", 3600))
            self.checkpoint_until = now + delay
            self.status_reason = f"Waiting {delay} seconds at checkpoint {max(reached)}% (CheckpointDelay)."

    def _alarm_in_alarm(self) -> str | None:
        names = (self.prefs.get("AlarmSpecification") or {}).get("Alarms") or []
        if not names:
            return None
        from moto.cloudwatch.models import cloudwatch_backends

        alarms = cloudwatch_backends[self.backend.account_id][self.backend.region_name].alarms
        for name in names:
            alarm = alarms.get(name)
            if alarm is not None and alarm.state_value == "ALARM":
                return name
        return None

    def _health_of(self, group: FakeAutoScalingGroup, instance_ids: list[str]) -> dict[str, str]:
        tgs = self.backend.elbv2_backend.describe_target_groups(
            target_group_arns=group.target_group_arns, load_balancer_arn=None, names=None
        ) if group.target_group_arns else []
        worst: dict[str, str] = {}
        for i in instance_ids:
            worst[i] = "healthy"
            for tg in tgs:
                state = health_state(tg, i) or "initial"
                if state != "healthy":
                    worst[i] = state
        return worst

    def _wait(self, now: float) -> None:
        self.next_at = now + STATE.config.refresh_step_seconds

    def _finish(self, group: FakeAutoScalingGroup) -> None:
        if self.mode == "rollback":
            self._restore_group(group)
            self._end("RollbackSuccessful", self.status_reason)
            return
        if self.template is not None and self.desired:
            group.ec2_launch_template = self.template
            group.launch_template_version = self.version_spec
            group.provided_launch_template_version = self.version_spec
        self._end("Successful", None)

    def _failed(self, group: FakeAutoScalingGroup, reason: str) -> None:
        self._discard_launch_first_batch(group)
        if _bool(self.prefs.get("AutoRollback")):
            self.start_rollback(group, f"{reason} Rolling back because AutoRollback is enabled.", "auto")
        else:
            self._end("Failed", reason)

    def _discard_launch_first_batch(self, group: FakeAutoScalingGroup) -> None:
        # New instances of a launch-before-terminate batch replaced nothing yet: drop them so the
        # group returns to its desired capacity.
        if self.batch is not None and self.batch["launch_first"]:
            asg.terminate(group, self.batch["new"])
            self.launched = [i for i in self.launched if i not in self.batch["new"]]
            self.queue = self.batch["old"] + self.queue
        self.batch = None

    def start_rollback(self, group: FakeAutoScalingGroup, reason: str, _by: str) -> None:
        self._discard_launch_first_batch(group)
        self.rollback_details = {
            "RollbackReason": reason,
            "RollbackStartTime": utcnow(),
            "PercentageCompleteOnRollback": self.percentage_complete,
            "InstancesToUpdateOnRollback": self.instances_to_update,
            "ProgressDetailsOnRollback": _progress(self.percentage_complete, self.instances_to_update),
        }
        present = {s.instance.id for s in group.instance_states}
        self.mode = "rollback"
        self.status = "RollbackInProgress"
        self.status_reason = reason
        self.queue = [i for i in self.launched if i in present]
        self.total = len(self.queue)
        self.done = 0
        self._restore_group(group)

    def _restore_group(self, group: FakeAutoScalingGroup) -> None:
        group.ec2_launch_template = self.prev_template
        group.launch_template_version = self.prev_version
        group.provided_launch_template_version = self.prev_provided_version

    def _end(self, status: str, reason: str | None) -> None:
        self.status = status
        self.status_reason = reason
        self.end_time = utcnow()
        self.batch = None
        if self in STATE.active_refreshes:
            STATE.active_refreshes.remove(self)

    # --- the API shape ------------------------------------------------------------------------

    def describe(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "InstanceRefreshId": self.id,
            "AutoScalingGroupName": self.group_name,
            "Status": self.status,
            "StartTime": self.start_time,
            "PercentageComplete": self.percentage_complete,
            "InstancesToUpdate": self.instances_to_update,
            "ProgressDetails": _progress(self.percentage_complete, self.instances_to_update),
            "Preferences": self.prefs,
            "Strategy": "Rolling",
        }
        if self.status_reason:
            out["StatusReason"] = self.status_reason
        if self.end_time is not None:
            out["EndTime"] = self.end_time
        if self.desired:
            out["DesiredConfiguration"] = self.desired
        if self.rollback_details:
            out["RollbackDetails"] = self.rollback_details
        return out


def _progress(pct: int, to_update: int) -> dict[str, Any]:
    return {
        "LivePoolProgress": {"PercentageComplete": pct, "InstancesToUpdate": to_update},
        "WarmPoolProgress": {"PercentageComplete": 100, "InstancesToUpdate": 0},
    }


def _refreshes(group: FakeAutoScalingGroup) -> list[Refresh]:
    if not hasattr(group, "_gray_refreshes"):
        group._gray_refreshes = []  # type: ignore[attr-defined]
    return group._gray_refreshes  # type: ignore[attr-defined]


def _group(backend: AutoScalingBackend, name: str | None) -> FakeAutoScalingGroup:
    group = backend.autoscaling_groups.get(name or "")
    if group is None:
        raise ValidationError(f"AutoScalingGroup name not found - AutoScalingGroup '{name}' not found")
    return group


def _active(group: FakeAutoScalingGroup) -> Refresh | None:
    return next((r for r in _refreshes(group) if r.status in ACTIVE), None)


def _prefs(raw: dict[str, Any] | None) -> dict[str, Any]:
    prefs = dict(raw or {})
    if prefs.get("CheckpointPercentages") is not None:
        points = [int(p) for p in prefs["CheckpointPercentages"]]
        if any(not 1 <= p <= 100 for p in points) or points != sorted(set(points)):
            raise ValidationError("CheckpointPercentages must be unique values between 1 and 100 in ascending order.")
        prefs["CheckpointPercentages"] = points
    elif prefs.get("CheckpointDelay") is not None:
        raise ValidationError("CheckpointDelay requires CheckpointPercentages.")
    spec = prefs.get("AlarmSpecification")
    if spec is not None:
        names = list((spec or {}).get("Alarms") or [])
        if len(names) > 10:
            raise ValidationError("AlarmSpecification: you can specify up to 10 alarms.")
        prefs["AlarmSpecification"] = {"Alarms": names}
    for key in ("MinHealthyPercentage", "MaxHealthyPercentage", "InstanceWarmup", "CheckpointDelay", "BakeTime"):
        if key in prefs and prefs[key] is not None:
            prefs[key] = int(prefs[key])
    for key in ("SkipMatching", "AutoRollback"):
        if key in prefs:
            prefs[key] = _bool(prefs[key])
    prefs.setdefault("MinHealthyPercentage", 90)
    prefs.setdefault("SkipMatching", False)
    prefs.setdefault("AutoRollback", False)
    prefs.setdefault("ScaleInProtectedInstances", "Ignore")
    prefs.setdefault("StandbyInstances", "Ignore")
    if not 0 <= prefs["MinHealthyPercentage"] <= 100:
        raise ValidationError("MinHealthyPercentage must be between 0 and 100.")
    if "MaxHealthyPercentage" in prefs:
        mx = prefs["MaxHealthyPercentage"]
        if not 100 <= mx <= 200 or mx - prefs["MinHealthyPercentage"] > 100:
            raise ValidationError(
                "MaxHealthyPercentage must be between 100 and 200 and at most 100 above MinHealthyPercentage."
            )
    return prefs


def start(backend: AutoScalingBackend, name: str, strategy: str | None, desired: Any, raw_prefs: Any) -> Refresh:
    group = _group(backend, name)
    if strategy not in (None, "", "Rolling"):
        raise ValidationError(f"Strategy {strategy} is not supported by the emulator; use Rolling.")
    if _active(group) is not None:
        raise InstanceRefreshInProgress(
            "An Instance Refresh is already in progress and blocks the execution of this Instance Refresh."
        )
    prefs = _prefs(raw_prefs)
    spec = (desired or {}).get("LaunchTemplate")
    if desired and not spec:
        raise ValidationError("The emulator supports DesiredConfiguration.LaunchTemplate only.")
    if spec and bool(spec.get("LaunchTemplateId")) == bool(spec.get("LaunchTemplateName")):
        raise ValidationError("Valid requests must contain either launchTemplateId or LaunchTemplateName")
    if prefs["AutoRollback"]:
        if not spec:
            raise ValidationError("AutoRollback requires a DesiredConfiguration.")
        if not _is_numbered(spec.get("Version")):
            raise ValidationError(
                "AutoRollback is not supported when the desired launch template version is $Latest or $Default."
            )
        if not _is_numbered(group.launch_template_version if group.ec2_launch_template else None):
            raise ValidationError(
                "AutoRollback is not supported when the Auto Scaling group uses $Latest or $Default."
            )
    key = (backend.account_id, backend.region_name, name)
    refresh = Refresh(backend, group, desired or None, prefs, STATE.fail_next.pop(key, None))
    _refreshes(group).append(refresh)
    STATE.active_refreshes.append(refresh)
    return refresh


def cancel(backend: AutoScalingBackend, name: str) -> Refresh:
    group = _group(backend, name)
    refresh = _active(group)
    if refresh is None or refresh.status not in ("Pending", "InProgress", "Baking"):
        raise ActiveInstanceRefreshNotFound("No in progress or pending Instance Refresh found for Auto Scaling group")
    refresh.status = "Cancelling"
    # Cancelling lasts at least one step, so a caller can observe it, as on AWS.
    refresh.next_at = max(refresh.next_at, time.monotonic() + STATE.config.refresh_step_seconds)
    return refresh


def rollback(backend: AutoScalingBackend, name: str) -> Refresh:
    group = _group(backend, name)
    refresh = _active(group)
    if refresh is None or refresh.status not in ("Pending", "InProgress", "Baking"):
        raise ActiveInstanceRefreshNotFound("No in progress or pending Instance Refresh found for Auto Scaling group")
    if not refresh.desired:
        raise IrreversibleInstanceRefresh("Instance refresh without a desired configuration cannot be rolled back.")
    if not _is_numbered(refresh.version_spec) or not _is_numbered(refresh.prev_version):
        raise IrreversibleInstanceRefresh(
            "Instance refresh cannot be rolled back when a launch template version is $Latest or $Default."
        )
    if refresh.status == "Pending":
        refresh.status = "InProgress"
    refresh.start_rollback(group, "Rollback initiated by the user (RollbackInstanceRefresh).", "user")
    return refresh


def fail_next(body: dict[str, Any]) -> dict[str, Any]:
    from .target_health import ControlError

    name = body.get("autoScalingGroupName")
    if not isinstance(name, str) or not name:
        raise ControlError(400, "autoScalingGroupName is required")
    after = body.get("afterInstances", 1)
    if not isinstance(after, int) or after < 0:
        raise ControlError(400, "afterInstances must be a non-negative integer")
    account = body.get("accountId", "123456789012")
    region = body.get("region")
    if not isinstance(region, str):
        raise ControlError(400, "region is required (the region of the Auto Scaling group)")
    reason = body.get("reason") or (
        "Instance refresh failed: new instances failed health checks "
        "(injected by the gray-deploy AWS emulator, POST /_gray/instance-refresh/fail-next)."
    )
    STATE.fail_next[(account, region, name)] = FailNext(after_instances=after, reason=reason)
    return {"autoScalingGroupName": name, "afterInstances": after, "region": region}


# --- the AWS actions, added to moto's Auto Scaling responses ---------------------------------------


def start_instance_refresh(self: Any) -> ActionResult:
    refresh = start(
        self.autoscaling_backend,
        self._get_param("AutoScalingGroupName"),
        self._get_param("Strategy"),
        self._get_param("DesiredConfiguration"),
        self._get_param("Preferences"),
    )
    return ActionResult({"InstanceRefreshId": refresh.id})


def describe_instance_refreshes(self: Any) -> ActionResult:
    group = _group(self.autoscaling_backend, self._get_param("AutoScalingGroupName"))
    ids = self._get_param("InstanceRefreshIds") or []
    items = [r for r in reversed(_refreshes(group)) if not ids or r.id in ids]  # newest first, as AWS
    max_records = int(self._get_param("MaxRecords") or 50)
    token = self._get_param("NextToken")
    start_at = int(token) if token and str(token).isdigit() else 0
    page = items[start_at : start_at + max_records]
    result: dict[str, Any] = {"InstanceRefreshes": [r.describe() for r in page]}
    if start_at + max_records < len(items):
        result["NextToken"] = str(start_at + max_records)
    return ActionResult(result)


def cancel_instance_refresh(self: Any) -> ActionResult:
    return ActionResult({"InstanceRefreshId": cancel(self.autoscaling_backend, self._get_param("AutoScalingGroupName")).id})


def rollback_instance_refresh(self: Any) -> ActionResult:
    refresh = rollback(self.autoscaling_backend, self._get_param("AutoScalingGroupName"))
    return ActionResult({"InstanceRefreshId": refresh.id})


def _worker(interval: float) -> None:
    while True:
        time.sleep(interval)
        with LOCK:
            now = time.monotonic()
            for refresh in list(STATE.active_refreshes):
                # A step that is due may launch, terminate or deregister instances: data planes
                # read again (one that is not due changes nothing).
                if not STATE.config.refreshes_paused and now >= refresh.next_at:
                    bump()
                try:
                    refresh.step(now)
                except Exception as e:  # a bug here must show up as a failed refresh, not a hang
                    traceback.print_exc(file=sys.stderr)
                    refresh._end("Failed", f"gray emulator internal error: {e!r}")


def install() -> None:
    add(AutoScalingResponse, "start_instance_refresh", start_instance_refresh, "StartInstanceRefresh")
    add(AutoScalingResponse, "describe_instance_refreshes", describe_instance_refreshes, "DescribeInstanceRefreshes")
    add(AutoScalingResponse, "cancel_instance_refresh", cancel_instance_refresh, "CancelInstanceRefresh")
    add(AutoScalingResponse, "rollback_instance_refresh", rollback_instance_refresh, "RollbackInstanceRefresh")


def start_worker(interval: float = 0.05) -> threading.Thread:
    t = threading.Thread(target=_worker, args=(interval,), name="gray-instance-refresh", daemon=True)
    t.start()
    return t
