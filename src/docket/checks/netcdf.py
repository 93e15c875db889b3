"""Structural checks on NetCDF files (``netcdf.*``): what a data manager looks at before CF.

The file is opened once, with netCDF4 (imported only when a NetCDF file is checked, so
``docket check`` on a CSV never loads it), and summarised into a :class:`Summary` of plain Python
values: dimensions, variables with their *raw* attributes and types (no CF decoding: a
``_FillValue`` of the wrong type is exactly what decoding would hide), and the values of the
coordinate variables. Every check then reads the summary.

Locations name the variable in ``column`` (so "errors per column" reads as errors per variable)
and the attribute in ``path`` in CDL notation: ``temperature:_FillValue`` for a variable's
attribute, ``:Conventions`` for a global one, ``depth[3]`` for one value of a coordinate.

NetCDF-4 groups are walked to the bottom (bounded: :data:`MAX_GROUP_DEPTH`, :data:`MAX_GROUPS`):
a variable or dimension of a subgroup is named by its path from the root, ``ocean/temperature``
or ``ocean/deep/depth:units``, so the unit, fill-value and coordinate checks see every variable
of the file; ``Conventions`` is the root group's global attribute, as CF says.

Declared structure: a file entry of the request may say what the file holds,
``"structure": {"dimensions": {"depth": 50, "time": null}, "variables": {"temperature":
{"dimensions": ["depth"], "units": "degree_Celsius"}}}`` (``variables`` may also be a plain
list of names; a dimension of ``null`` is any length). Without it, the request's
``dataset_structural`` is used when some of its field names are variables of the file: each
field must then be a variable, with the field's ``unit`` as its ``units``.
"""

from __future__ import annotations

import math
import re
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from docket.checks.base import CheckResult
from docket.checks.media import NETCDF, FileCheck, FileSubject
from docket.checks.registry import register

#: ``CF-1.8`` (also inside a list such as ``CF-1.8 ACDD-1.3`` or ``CF-1.8, ACDD-1.3``).
CF_VERSION = re.compile(r"\bCF-(\d+)\.(\d+)\b")
_STRING_KINDS = ("S", "U", "O")


@dataclass
class Variable:
    """One variable as stored: dimensions, numpy type, raw attributes."""

    name: str
    dimensions: tuple[str, ...]
    dtype: np.dtype | None
    attrs: dict[str, Any]
    shape: tuple[int, ...] = ()

    @property
    def is_string(self) -> bool:
        return self.dtype is None or self.dtype.kind in _STRING_KINDS

    @property
    def local(self) -> str:
        """The name inside its group (``temperature`` of ``ocean/temperature``)."""
        return self.name.rsplit("/", 1)[-1]

    @property
    def is_coordinate(self) -> bool:
        """A NUG coordinate variable: one dimension, of its own name."""
        return self.dimensions == (self.local,)


@dataclass
class Summary:
    """A NetCDF file as the checks see it; ``error`` when it could not be opened."""

    error: str | None = None
    format: str = ""
    dimensions: dict[str, int | None] = field(default_factory=dict)
    variables: dict[str, Variable] = field(default_factory=dict)
    attrs: dict[str, Any] = field(default_factory=dict)
    coordinates: dict[str, np.ndarray] = field(default_factory=dict)
    #: Paths of the subgroups read (``ocean``, ``ocean/deep``), depth first.
    groups: list[str] = field(default_factory=list)
    #: Subgroups not read (beyond MAX_GROUP_DEPTH or MAX_GROUPS).
    skipped_groups: int = 0


def summary(subject: FileSubject) -> Summary:
    """The file's :class:`Summary`, read once per file and kept in ``subject.cache``."""
    if "netcdf" not in subject.cache:
        subject.cache["netcdf"] = _read(subject)
    return subject.cache["netcdf"]


def _read(subject: FileSubject) -> Summary:
    try:
        import netCDF4
    except ImportError:  # pragma: no cover - a dependency, but a site may strip it
        return Summary(error="netCDF4 is not installed, so NetCDF files cannot be read")
    if subject.path.stat().st_size == 0:
        return Summary(error="the file is empty (0 bytes)")
    try:
        ds = netCDF4.Dataset(str(subject.path), "r")
    except (OSError, RuntimeError, ValueError) as exc:
        return Summary(error=f"netCDF4 cannot open it: {exc}")
    try:
        ds.set_auto_maskandscale(False)
        out = Summary(format=str(ds.data_model))
        out.attrs = {a: ds.getncattr(a) for a in ds.ncattrs()}
        for prefix, group in _groups(ds, out):
            out.dimensions.update({prefix + n: (None if d.isunlimited() else len(d))
                                   for n, d in group.dimensions.items()})
            for name, var in group.variables.items():
                _add_variable(out, prefix + name, var)
        return out
    except (OSError, RuntimeError, ValueError, IndexError) as exc:
        return Summary(error=f"netCDF4 cannot read it: {exc}")
    finally:
        ds.close()


#: How deep and how many NetCDF-4 groups are read: a file is provider input, and a crafted one
#: could nest groups without end; what lies beyond is named in a note instead.
MAX_GROUP_DEPTH = 32
MAX_GROUPS = 1000


def _groups(ds: Any, out: Summary):
    """``(prefix, group)`` for the root group and every subgroup, depth first, in file order.

    Names in a subgroup are its path from the root without the leading ``/``
    (``ocean/temperature``, ``ocean/deep/depth``), so every check names where a variable or
    dimension is; the root group's names stay bare, as in a file without groups. The paths of
    the subgroups go to ``out.groups``; past :data:`MAX_GROUP_DEPTH` levels or
    :data:`MAX_GROUPS` groups, ``out.skipped_groups`` counts what was not read.
    """
    stack: list[tuple[str, Any, int]] = [("", ds, 0)]
    taken = 0
    while stack:
        prefix, group, depth = stack.pop()
        if prefix:
            out.groups.append(prefix[:-1])
        yield prefix, group
        kept = []
        for name, child in group.groups.items():
            if depth + 1 > MAX_GROUP_DEPTH or taken >= MAX_GROUPS:
                out.skipped_groups += 1
                continue
            taken += 1
            kept.append((f"{prefix}{name}/", child, depth + 1))
        stack.extend(reversed(kept))


def _add_variable(out: Summary, name: str, var: Any) -> None:
    try:
        dtype = np.dtype(var.dtype) if var.dtype is not str else None
    except TypeError:  # user-defined (compound, enum, vlen) types
        dtype = None
    attrs = {a: var.getncattr(a) for a in var.ncattrs()}
    info = Variable(name, tuple(var.dimensions), dtype, attrs, tuple(var.shape))
    out.variables[name] = info
    if info.is_coordinate and not info.is_string and dtype is not None and dtype.kind in "iuf":
        out.coordinates[name] = np.asarray(var[:])


def shown(value: Any) -> Any:
    """An attribute value fit for a report location (numbers, text or a list of them)."""
    if isinstance(value, np.ndarray):
        items = [shown(v) for v in value.tolist()]
        return items[0] if len(items) == 1 else items
    if isinstance(value, np.generic):
        return shown(value.item())
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, bytes):
        return value.decode("latin-1")
    return value


def plural(n: int, word: str) -> str:
    """``1 variable``, ``2 variables``."""
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def type_name(value: Any) -> str:
    """The NetCDF-ish name of an attribute's type: float32, int16, text..."""
    if isinstance(value, str):
        return "text"
    return str(np.asarray(value).dtype)


class NetcdfCheck(FileCheck, ABC):
    """A check on a NetCDF file's summary; ``not-checked`` when the file cannot be opened."""

    family = "netcdf"
    kinds = (NETCDF,)

    def check(self, subject: FileSubject) -> CheckResult:
        info = summary(subject)
        if info.error is not None:
            return self.not_checked(f"the file cannot be opened ({info.error})", subject.name)
        return self.inspect(subject, info)

    @abstractmethod
    def inspect(self, subject: FileSubject, info: Summary) -> CheckResult:
        """The check proper, on a file that opened."""

    def fail(self, subject: FileSubject, problems: list[dict[str, Any]], found: str,
             passed: str, *, unlisted: int = 0) -> CheckResult:
        """A result from ``problems`` (each: variable, path, value, note), or a pass.

        ``unlisted`` counts failures beyond the sample that were not made into locations."""
        findings = self.findings(subject.name)
        for p in problems:
            findings.add([None], p.get("variable"), [p.get("value")],
                         extra={k: p[k] for k in ("path", "note") if p.get(k) is not None})
        findings.count += unlisted
        return self.result(findings, found=found if problems else passed, file=subject.name)


@register
class Opens(NetcdfCheck):
    id = "netcdf.opens"
    name = "NetCDF file opens"
    description = "The file is a NetCDF file (classic or NetCDF-4) that the netCDF library can read."
    default_severity = "error"
    expected = "a NetCDF file the netCDF library opens"
    suggestion = ("Send the file as the instrument or model wrote it; a cut transfer or a file "
                  "saved by another tool under a .nc name cannot be read.")

    def check(self, subject: FileSubject) -> CheckResult:
        info = summary(subject)
        if info.error is not None:
            findings = self.findings(subject.name)
            findings.add([None], None, [subject.media.detail], extra={"note": info.error})
            return self.result(findings, found=f"cannot be opened: {info.error}")
        return self.inspect(subject, info)

    def inspect(self, subject: FileSubject, info: Summary) -> CheckResult:
        groups = f", {plural(len(info.groups), 'group')} below the root" if info.groups else ""
        if info.skipped_groups:
            groups += (f" ({plural(info.skipped_groups, 'more group')} not read: deeper than "
                       f"{MAX_GROUP_DEPTH} levels or more than {MAX_GROUPS} groups)")
            subject.notes.append(f"{subject.name}: {plural(info.skipped_groups, 'group')} of the file "
                                 "were not read (too deep or too many); their variables are not checked")
        return self.result(found=(f"{subject.media.detail}: {plural(len(info.dimensions), 'dimension')}, "
                                  f"{plural(len(info.variables), 'variable')}{groups}"), file=subject.name)


def declared_structure(subject: FileSubject, info: Summary) -> tuple[dict[str, Any], dict[str, dict]] | None:
    """Declared ``(dimensions, variables)`` for the file, or None when nothing is declared.

    From the file entry's ``structure``; else from ``dataset_structural`` fields when at least
    one field name is a variable of the file (fields become variables, ``unit`` their units).
    """
    declared = subject.entry.get("structure") if isinstance(subject.entry, dict) else None
    if isinstance(declared, dict):
        dims = declared.get("dimensions") or {}
        if isinstance(dims, list):
            dims = dict.fromkeys(map(str, dims))
        variables = declared.get("variables") or {}
        if isinstance(variables, list):
            variables = {str(v): {} for v in variables}
        if isinstance(dims, dict) and isinstance(variables, dict):
            return dims, {str(k): (v if isinstance(v, dict) else {}) for k, v in variables.items()}
        subject.notes.append(f"{subject.name}: 'structure' must hold 'dimensions' and 'variables' "
                             "objects (or lists of names); it was not used")
        return None
    fields = (subject.structural or {}).get("fields")
    if not isinstance(fields, list):
        return None
    names = [f.get("name") for f in fields if isinstance(f, dict) and isinstance(f.get("name"), str)]
    if not any(n in info.variables for n in names):
        return None
    variables = {}
    for f in fields:
        if isinstance(f, dict) and isinstance(f.get("name"), str):
            variables[f["name"]] = {"units": f["unit"]} if isinstance(f.get("unit"), str) else {}
    return {}, variables


@register
class Structure(NetcdfCheck):
    id = "netcdf.structure"
    name = "Dimensions and variables as declared"
    description = ("Every dimension and variable the request declares for the file is in it, with "
                   "the declared length, dimensions and units.")
    default_severity = "error"
    expected = "the dimensions and variables the request declares"
    suggestion = ("Correct the declaration in the request, or send the file that holds what was "
                  "declared.")

    def inspect(self, subject: FileSubject, info: Summary) -> CheckResult:
        declared = declared_structure(subject, info)
        if declared is None:
            return self.not_checked("the request declares no dimensions or variables for this file",
                                    subject.name)
        dims, variables = declared
        problems: list[dict[str, Any]] = []
        for dim, length in dims.items():
            if dim not in info.dimensions:
                problems.append({"path": dim, "value": None, "note": "declared dimension is missing"})
            elif isinstance(length, int) and not isinstance(length, bool) and \
                    info.dimensions[dim] is not None and info.dimensions[dim] != length:
                problems.append({"path": dim, "value": info.dimensions[dim],
                                 "note": f"declared length {length}"})
        for name, spec in variables.items():
            var = info.variables.get(name)
            if var is None:
                problems.append({"variable": name, "value": None, "note": "declared variable is missing"})
                continue
            want_dims = spec.get("dimensions")
            if isinstance(want_dims, list) and tuple(map(str, want_dims)) != var.dimensions:
                problems.append({"variable": name, "value": list(var.dimensions),
                                 "note": f"declared dimensions {list(want_dims)}"})
            want_units = spec.get("units")
            if isinstance(want_units, str) and str(var.attrs.get("units", "")) != want_units:
                problems.append({"variable": name, "path": f"{name}:units",
                                 "value": shown(var.attrs.get("units")),
                                 "note": f"declared units {want_units!r}"})
        checked = " and ".join(([plural(len(dims), "dimension")] if dims else [])
                               + [plural(len(variables), "variable")])
        return self.fail(subject, problems, f"{plural(len(problems), 'difference')} from the declared {checked}",
                         f"the declared {checked} are in the file, as declared")


def _needs_units(var: Variable, info: Summary) -> bool:
    """Data variables need units; text, flags, grid mappings and scalar containers do not."""
    if var.is_string or var.dtype is None or var.dtype.kind not in "iuf":
        return False
    if "flag_values" in var.attrs or "flag_masks" in var.attrs or "grid_mapping_name" in var.attrs:
        return False
    if {var.name, var.local} & _referenced(info, "grid_mapping"):
        return False
    if not var.dimensions:  # a scalar: a coordinate or a measurement, or a container of attributes
        return "standard_name" in var.attrs or "axis" in var.attrs or bool(
            {var.name, var.local} & _referenced(info, "coordinates"))
    return True


def _referenced(info: Summary, attribute: str) -> set[str]:
    """Names listed in an attribute of any variable (``coordinates``, ``grid_mapping``)."""
    names: set[str] = set()
    for var in info.variables.values():
        value = var.attrs.get(attribute)
        if isinstance(value, str):
            names.update(w.rstrip(":") for w in value.split())
    return names


@register
class Units(NetcdfCheck):
    id = "netcdf.units"
    name = "Units on data variables"
    description = ("Every numeric data and coordinate variable has a non-empty 'units' attribute "
                   "(text, flag and grid-mapping variables need none).")
    default_severity = "error"
    expected = "a 'units' attribute on every numeric data and coordinate variable"
    suggestion = ("Add a UDUNITS 'units' attribute (e.g. 'm', 'degree_Celsius', '1' for a "
                  "dimensionless quantity) to each variable named.")

    def inspect(self, subject: FileSubject, info: Summary) -> CheckResult:
        problems = []
        needing = [v for v in info.variables.values() if _needs_units(v, info)]
        for var in needing:
            units = var.attrs.get("units")
            if units is None:
                problems.append({"variable": var.name, "path": f"{var.name}:units", "value": None,
                                 "note": "no units attribute"})
            elif not isinstance(units, str) or not units.strip():
                problems.append({"variable": var.name, "path": f"{var.name}:units", "value": shown(units),
                                 "note": "units must be a non-empty text"})
        return self.fail(subject, problems, f"{len(problems)} of {len(needing)} variables without units",
                         f"units on all {len(needing)} data and coordinate variables")


def _range_of(var: Variable) -> tuple[float, float] | None:
    """The valid interval from ``valid_range`` or ``valid_min``/``valid_max``, if declared."""
    rng = var.attrs.get("valid_range")
    try:
        if rng is not None:
            values = np.asarray(rng, dtype=float).ravel()
            if values.size == 2:
                return float(values[0]), float(values[1])
        low, high = var.attrs.get("valid_min"), var.attrs.get("valid_max")
        if low is not None or high is not None:
            return (float(np.asarray(low).ravel()[0]) if low is not None else -math.inf,
                    float(np.asarray(high).ravel()[0]) if high is not None else math.inf)
    except (TypeError, ValueError, IndexError):
        return None
    return None


@register
class FillValue(NetcdfCheck):
    id = "netcdf.fill-value"
    name = "_FillValue and missing_value"
    description = ("A variable's _FillValue is one value of the variable's own type, missing_value "
                   "has the variable's type, and neither lies inside the valid range.")
    default_severity = "error"
    expected = "_FillValue and missing_value of the variable's type and outside valid_range"
    suggestion = ("Write _FillValue (and missing_value) with the variable's exact type, e.g. a "
                  "float32 -999.0f for a float variable, and choose it outside valid_range; "
                  "otherwise readers mask real data or keep fill values as data.")

    def inspect(self, subject: FileSubject, info: Summary) -> CheckResult:
        problems: list[dict[str, Any]] = []
        seen = 0
        for var in info.variables.values():
            if var.dtype is None or var.dtype.kind not in "iuf":
                continue
            valid = _range_of(var)
            for attr in ("_FillValue", "missing_value"):
                if attr not in var.attrs:
                    continue
                seen += 1
                value = var.attrs[attr]
                where = {"variable": var.name, "path": f"{var.name}:{attr}", "value": shown(value)}
                array = np.asarray(value)
                if isinstance(value, str) or array.dtype != var.dtype:
                    problems.append({**where, "note": f"{attr} is {type_name(value)}, the variable is "
                                                      f"{var.dtype}"})
                    continue
                if attr == "_FillValue" and array.size != 1:
                    problems.append({**where, "note": f"_FillValue must be one value, not {array.size}"})
                    continue
                if valid is not None:
                    inside = [float(v) for v in array.ravel() if valid[0] <= float(v) <= valid[1]]
                    if inside:
                        problems.append({**where, "note": f"inside the valid range "
                                                          f"[{shown(valid[0])}, {shown(valid[1])}]"})
        return self.fail(subject, problems, f"{len(problems)} of {seen} fill/missing values are wrong",
                         f"{plural(seen, 'fill/missing value')} of the right type, outside any valid range"
                         if seen else "no variable declares _FillValue or missing_value")


@register
class Conventions(NetcdfCheck):
    id = "netcdf.conventions"
    name = "CF Conventions declared"
    description = "The global 'Conventions' attribute names the CF version the file follows (CF-1.x)."
    default_severity = "error"
    expected = "a global Conventions attribute naming a CF version, e.g. 'CF-1.8'"
    suggestion = ("Add the global attribute Conventions = \"CF-1.8\" (or the version the file "
                  "follows), so readers and the CF checker know which rules apply.")

    def inspect(self, subject: FileSubject, info: Summary) -> CheckResult:
        value = info.attrs.get("Conventions", info.attrs.get("conventions"))
        if value is None:
            return self.fail(subject, [{"path": ":Conventions", "value": None, "note": "missing"}],
                             "no Conventions attribute", "")
        version = cf_version(value)
        if version is None:
            return self.fail(subject, [{"path": ":Conventions", "value": shown(value),
                                        "note": "names no CF version"}],
                             f"Conventions is {shown(value)!r}, which names no CF version", "")
        return self.result(found=f"Conventions {value!r} (CF-{version[0]}.{version[1]})", file=subject.name)


def cf_version(value: Any) -> tuple[int, int] | None:
    """The CF version a Conventions attribute names, e.g. (1, 8); None if it names none."""
    match = CF_VERSION.search(str(shown(value)))
    return (int(match.group(1)), int(match.group(2))) if match else None


@register
class Coordinates(NetcdfCheck):
    id = "netcdf.coordinates"
    name = "Coordinate variables monotonic"
    description = ("Each coordinate variable (one dimension, of its own name) is strictly "
                   "increasing or strictly decreasing and has no missing values.")
    default_severity = "error"
    expected = "strictly monotonic coordinate variables without missing values"
    suggestion = ("Sort the data along the coordinate, remove duplicated coordinate values, and "
                  "give every coordinate value (CF §1.3: coordinate variables must be monotonic).")

    def inspect(self, subject: FileSubject, info: Summary) -> CheckResult:
        problems: list[dict[str, Any]] = []
        unlisted = 0
        for name, values in info.coordinates.items():
            var = info.variables[name]
            values = values.astype(float, copy=False).ravel()
            fills = [np.asarray(var.attrs[a], dtype=float).ravel() for a in ("_FillValue", "missing_value")
                     if a in var.attrs and not isinstance(var.attrs[a], str)]
            missing = np.isnan(values)
            for fill in fills:
                missing |= np.isin(values, fill)
            unlisted += max(0, int(missing.sum()) - self.sample_size)
            for i in np.flatnonzero(missing)[:self.sample_size]:
                problems.append({"variable": name, "path": f"{name}[{i}]", "value": shown(values[i]),
                                 "note": "missing value in a coordinate"})
            if missing.any() or values.size < 2:
                continue
            steps = np.diff(values)
            direction = 1.0 if steps[0] > 0 else -1.0
            bad = np.flatnonzero(steps * direction <= 0)
            unlisted += max(0, len(bad) - self.sample_size)
            for i in bad[:self.sample_size]:
                problems.append({"variable": name, "path": f"{name}[{i + 1}]", "value": shown(values[i + 1]),
                                 "note": f"not {'greater' if direction > 0 else 'less'} than "
                                         f"{name}[{i}] = {shown(values[i])}"})
        return self.fail(subject, problems,
                         f"{len(problems) + unlisted} values break the order of "
                         f"{len({p['variable'] for p in problems})} coordinate variables",
                         f"{plural(len(info.coordinates), 'coordinate variable')} strictly monotonic",
                         unlisted=unlisted)
