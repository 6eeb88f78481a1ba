"""Guarded monkey-patching of moto internals.

Every patch names the moto attribute it replaces and checks that it exists (and, for functions, that
its parameters are the ones the patch was written against) before touching it. A moto upgrade that
renames or reshapes one of them makes the emulator refuse to start with a message naming the
attribute, instead of silently dropping a behaviour the tests rely on.
"""

from __future__ import annotations

import inspect
from typing import Any, Callable

APPLIED: list[str] = []


class MotoInternalsChanged(RuntimeError):
    pass


def require(owner: Any, name: str, params: list[str] | None = None) -> Any:
    """Returns owner.name, failing loudly when it is missing or its signature changed."""
    where = f"{getattr(owner, '__module__', '?')}.{getattr(owner, '__qualname__', owner)}.{name}"
    if not hasattr(owner, name):
        raise MotoInternalsChanged(
            f"gray emulator: moto internal {where} is missing; the patch that needs it was written for "
            "moto 5.2.4 (vendor/aws-emulator). Update test/emulator/gray_emulator for this moto version."
        )
    value = inspect.getattr_static(owner, name)
    if params is not None:
        fn = value.fget if isinstance(value, property) else value
        fn = getattr(fn, "__func__", fn)
        actual = list(inspect.signature(fn).parameters)
        if actual[: len(params)] != params:
            raise MotoInternalsChanged(
                f"gray emulator: moto internal {where} has parameters {actual}, expected {params}; "
                "review the patch in test/emulator/gray_emulator before trusting this moto version."
            )
    return getattr(owner, name)


def replace(owner: Any, name: str, new: Any, why: str, params: list[str] | None = None) -> Any:
    """Replaces owner.name (after `require`) and returns the original."""
    original = require(owner, name, params)
    setattr(owner, name, new)
    APPLIED.append(f"{owner.__module__}.{owner.__qualname__}.{name}: {why}")
    return original


def add(owner: Any, name: str, new: Callable[..., Any], why: str) -> None:
    """Adds a method moto does not have (e.g. an unimplemented AWS action)."""
    if hasattr(owner, name):
        raise MotoInternalsChanged(
            f"gray emulator: {owner.__qualname__}.{name} now exists in moto; compare it with the "
            "emulator's version in test/emulator/gray_emulator and drop one of them."
        )
    setattr(owner, name, new)
    APPLIED.append(f"{owner.__module__}.{owner.__qualname__}.{name}: {why}")
