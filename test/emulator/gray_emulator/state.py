"""State the extension keeps beside moto's backends, and the one lock that guards both.

moto's backends are plain dicts and lists with no locking; the server is threaded and the instance
refresh worker mutates the same objects from a background thread. Every request and every worker
step therefore runs under LOCK (see control.py), which is cheap at test scale.

State that belongs to one moto object (a target's health, a group's refreshes) lives on that object,
so moto's reset drops it with the object. Only what is keyed by name before the object exists, or is
global, lives here; `reset()` clears it and runs on every POST /moto-api/reset.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field
from typing import Any

LOCK = threading.RLock()


def _env_float(name: str, default: float) -> float:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return float(raw)
    except ValueError as e:
        raise SystemExit(f"gray emulator: {name}={raw!r} is not a number") from e


@dataclass
class Config:
    # When true, targets registered from now on report `initial` until a test reports their health
    # through POST /_gray/target-health (a real ALB starts every new target in `initial`).
    new_targets_initial: bool = False
    # Seconds per instance refresh step (Pending -> InProgress, each batch's launch, its warm-up).
    # Small so tests can observe InProgress without waiting minutes.
    refresh_step_seconds: float = 0.2
    # When true, no instance refresh advances (a test holds one InProgress for as long as it needs,
    # e.g. across a crashed process and its rerun); false lets each go on from where it stood.
    refreshes_paused: bool = False


def default_config() -> Config:
    return Config(
        new_targets_initial=os.environ.get("GRAY_EMULATOR_NEW_TARGETS_INITIAL", "") in ("1", "true"),
        refresh_step_seconds=_env_float("GRAY_EMULATOR_REFRESH_STEP_SECONDS", 0.2),
    )


@dataclass
class FailNext:
    after_instances: int
    reason: str


@dataclass
class ExtState:
    config: Config = field(default_factory=default_config)
    # (account, region, group name) -> failure to inject into that group's next instance refresh
    fail_next: dict[tuple[str, str, str], FailNext] = field(default_factory=dict)
    # every refresh that is not finished, for the worker thread
    active_refreshes: list[Any] = field(default_factory=list)


STATE = ExtState()

# How many times the state a load balancer's data plane reads (rules, groups, instances, target
# health) may have changed: every request that can write it (control.py) and every instance refresh
# step bump it. GET /_gray/generation serves it, so a test's data plane re-reads only after a change
# instead of polling the AWS API several times a second (issue 14: that polling was most of the
# emulator's work). It only grows, across resets too.
_generation = 0


def bump() -> None:
    global _generation
    with LOCK:
        _generation += 1


def generation() -> int:
    return _generation


def reset() -> None:
    with LOCK:
        STATE.config = default_config()
        STATE.fail_next.clear()
        STATE.active_refreshes.clear()
