"""The registry of checks: ``register(check_class)``, ``get(id)``, ``all_checks()``.

docket's own checks register themselves when their family module is imported. Third parties add
checks without touching docket through the entry-point group ``docket.checks``: each entry point
names a :class:`~docket.checks.base.Check` subclass (registered as is) or a module/callable whose
import or call registers its checks. A plug-in that fails to load is skipped and listed by
:func:`load_errors` (the report shows it) rather than breaking every run.
"""

from __future__ import annotations

import importlib

from docket.checks.base import SEVERITIES, Check
from docket.errors import BadInput, NotFound
from docket.plugins import load_entry_points

ENTRY_POINT_GROUP = "docket.checks"
#: docket's own check families. ``netcdf`` and ``cf`` import netCDF4 and compliance-checker only
#: when a NetCDF file is checked, so loading the registry stays as cheap as before.
_BUILTIN_MODULES = (
    "docket.checks.table",
    "docket.checks.metadata",
    "docket.vocabularies.checks",  # metadata.units: column units read by UDUNITS-2
    "docket.checks.congruence",
    "docket.checks.netcdf",
    "docket.checks.cf",
)

_checks: dict[str, type[Check]] = {}
_loaded = False
_load_errors: list[str] = []


def register(check: type[Check], *, replace: bool = False) -> type[Check]:
    """Add a check class; usable as a class decorator. Ids are unique unless ``replace``."""
    if not (isinstance(check, type) and issubclass(check, Check)) or not check.id:
        raise BadInput(f"cannot register {check!r}: not a Check subclass with an id")
    if check.default_severity not in SEVERITIES:
        raise BadInput(
            f"check {check.id}: default severity {check.default_severity!r} is not one of "
            f"{', '.join(SEVERITIES)}"
        )
    existing = _checks.get(check.id)
    if existing is not None and existing is not check and not replace:
        raise BadInput(f"check id {check.id!r} is already registered by {existing.__module__}")
    _checks[check.id] = check
    return check


def _load() -> None:
    global _loaded
    if _loaded:
        return
    _loaded = True
    for module in _BUILTIN_MODULES:
        importlib.import_module(module)
    load_entry_points(ENTRY_POINT_GROUP, Check, register, _load_errors)


def get(check_id: str) -> type[Check]:
    """The check class registered under ``check_id``; NotFound names the known ids."""
    _load()
    try:
        return _checks[check_id]
    except KeyError:
        raise NotFound(
            f"no check {check_id!r} is registered (known: {', '.join(sorted(_checks))})"
        ) from None


def all_checks(family: str | None = None) -> list[type[Check]]:
    """Every registered check class (of one family if given), in registration order."""
    _load()
    return [c for c in _checks.values() if family is None or c.family == family]


def load_errors() -> list[str]:
    """Entry points of the ``docket.checks`` group that failed to load, with the reason."""
    _load()
    return list(_load_errors)


def resolve_severities(overrides: dict[str, str] | None) -> dict[str, str]:
    """Validate a ``{check_id: severity}`` mapping (docket.toml ``[severities]``).

    A key may also name a whole family (``cf = "off"`` switches off CF conformance); a check
    named by its own id keeps its own setting.

    Unknown ids and unknown severities are bad input, named, so a typo in docket.toml does not
    silently leave a check at its default.
    """
    _load()
    out: dict[str, str] = {}
    families = {c.family for c in _checks.values()} - set(_checks)
    for check_id, severity in (overrides or {}).items():
        if check_id not in _checks and check_id not in families:
            raise BadInput(
                f"severities: unknown check id {check_id!r} (known: {', '.join(sorted(_checks))}; "
                f"or a whole family: {', '.join(sorted(families))})"
            )
        level = str(severity).lower()
        if level not in SEVERITIES:
            raise BadInput(
                f"severities: {check_id} = {severity!r} is not one of {', '.join(SEVERITIES)}"
            )
        out[check_id] = level
    # A family name (``cf = "off"``) sets every check of the family that is not named itself.
    for family in [k for k in out if k in families]:
        level = out.pop(family)
        for check in _checks.values():
            if check.family == family and check.id not in (overrides or {}):
                out[check.id] = level
    return out
