"""Units of measure for table columns, checked against UDUNITS-2 as the CF conventions use it.

A column's ``unit`` (``dataset_structural.fields[].unit``) is checked with ``cf-units`` (the
UDUNITS-2 library and its XML unit database, shipped inside the package; docket already installs
it with the IOOS compliance-checker). UDUNITS-2 reads symbols and names with prefixes, powers and
products (``m s-1``, ``kg m-3``, ``umol/kg``, ``degC``, ``days since 1970-01-01``), which is what
CF-netCDF files carry, so one vocabulary serves the form, the QA check and NetCDF files alike.

An unknown unit is a *warning* naming the value, never a refusal: units such as ``psu`` or
``NTU`` live in real datasets and the provider may know better. :func:`suggestions` is the
form's pick list: the units data centres see most first, then every symbol and name of the
UDUNITS-2 database.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache, lru_cache
from pathlib import Path

#: Longest unit examined; a longer value is not a unit (and never reaches the C library).
MAX_CHARS = 120
#: Units seen most in environmental tables: the head of the pick list.
COMMON = (
    "1", "%", "degC", "K", "m", "km", "cm", "mm", "s", "min", "h", "day", "m s-1", "km h-1", "Pa",
    "hPa", "dbar", "bar", "kg", "g", "kg m-3", "g m-3", "mg L-1", "ug L-1", "mol m-3", "umol kg-1",
    "umol L-1", "mmol m-3", "W m-2", "J", "W", "degree", "degrees_north", "degrees_east", "m2",
    "m3", "L", "m3 s-1", "mm day-1", "ppm", "ppb", "S m-1", "mS cm-1", "uS cm-1", "V", "A", "Hz",
    "lux", "days since 1970-01-01", "seconds since 1970-01-01 00:00:00",
)


@dataclass(frozen=True)
class Verdict:
    """What UDUNITS-2 makes of one unit string."""

    value: str
    ok: bool
    definition: str = ""  # UDUNITS-2's reading in base units (``m.s-1``), when ok
    message: str = ""  # why not, when not ok

    def __bool__(self) -> bool:
        return self.ok


@lru_cache(maxsize=4096)
def check(value: str) -> Verdict:
    """Whether ``value`` is a UDUNITS-2 unit; a Verdict with its definition or why not."""
    if not isinstance(value, str):
        return Verdict(str(value), False, message=f"{value!r} is not a text")
    text = value.strip()
    shown = text[:60] + ("…" if len(text) > 60 else "")
    if not text:
        return Verdict(value, False, message="the unit is empty")
    if len(text) > MAX_CHARS or any(ord(c) < 32 or ord(c) == 127 for c in text):
        return Verdict(value, False, message=f"{shown!r} is not a unit (too long, or control characters)")
    import cf_units

    try:
        unit = cf_units.Unit(text)
    except (ValueError, TypeError):
        return Verdict(value, False, message=f"{shown!r} is not a UDUNITS-2 unit (as CF uses them); "
                                             "check the spelling, e.g. m s-1, degC, umol kg-1")
    if unit.is_unknown() or unit.is_no_unit():
        return Verdict(value, False, message=f"{shown!r} names no unit; leave the unit empty instead")
    return Verdict(value, True, definition=str(unit.definition))


def database_folder() -> Path:
    """Where cf-units keeps the UDUNITS-2 XML database."""
    import cf_units

    return Path(cf_units.__file__).parent / "etc" / "share"


@cache
def database_units() -> tuple[str, ...]:
    """Every symbol and singular name (aliases included) of the UDUNITS-2 XML database."""
    from defusedxml import ElementTree

    found: dict[str, None] = {}
    for path in sorted(database_folder().glob("udunits2-*.xml")):
        if "prefixes" in path.name:
            continue
        root = ElementTree.parse(path).getroot()
        for unit in root.iter("unit"):
            for tag in ("symbol", "name/singular", "aliases/symbol", "aliases/name/singular"):
                for node in unit.findall(tag):
                    text = (node.text or "").strip()
                    if text and len(text) <= MAX_CHARS:
                        found.setdefault(text, None)
    return tuple(found)


@cache
def suggestions() -> tuple[str, ...]:
    """The pick list: :data:`COMMON` first, then the database's symbols and names, sorted."""
    rest = sorted((u for u in database_units() if u not in COMMON), key=str.casefold)
    return (*COMMON, *rest)
