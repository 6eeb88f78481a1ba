"""gray-deploy's AWS API emulator: moto 5.2.4 plus the behaviours gray-deploy's tests need.

`install()` patches moto in-process before its server starts; each module says which moto gap it
closes and fails loudly at startup when a moto internal it relies on has changed.
"""

from __future__ import annotations

from ._patching import APPLIED


def install() -> list[str]:
    from . import (
        autoscaling,
        cloudwatch,
        control,
        instance_refresh,
        lambda_invoke,
        launch_templates,
        target_health,
    )

    if APPLIED:
        return APPLIED
    launch_templates.install()
    autoscaling.install()
    target_health.install()
    instance_refresh.install()
    cloudwatch.install()
    lambda_invoke.install()
    control.install()
    return APPLIED
