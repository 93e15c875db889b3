"""Plug-ins from other packages: the entry points of a group, loaded into one of docket's registries.

Checks (``docket.checks``) and exporters (``docket.exporters``) share the contract, as papermill's
engines and frictionless' checks do: an entry point names a class of the registry's kind, which is
registered as it is, or a callable (a module's ``register`` function) whose call registers what it
brings. A plug-in that fails to load is skipped and its reason kept, so one broken package never
breaks every run; the registry lists the reasons where a user sees them (the report, ``--help``).
"""

from __future__ import annotations

from collections.abc import Callable
from importlib.metadata import entry_points
from typing import Any


def load_entry_points(group: str, kind: type, register: Callable[[Any], Any], errors: list[str]) -> None:
    """Register every plug-in of ``group`` (classes of ``kind``, or callables that register)."""
    for ep in entry_points(group=group):
        try:
            obj = ep.load()
            if isinstance(obj, type) and issubclass(obj, kind):
                register(obj)
            elif callable(obj):
                obj()
        except Exception as exc:  # noqa: BLE001 - a broken plug-in must not break every run
            errors.append(f"{ep.name} ({ep.value}): {type(exc).__name__}: {exc}")
