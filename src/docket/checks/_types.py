"""Vectorised parsing of CSV text into Table Schema types, one Arrow column at a time.

Every function here takes a whole column of strings (a :class:`pyarrow.StringArray`) and returns
masks and typed values computed by Arrow compute kernels (regular expressions in RE2, casts,
``strptime``); nothing loops over cells in Python. Parsing is strict: a date must match its
format completely (no leading blanks, no trailing text) and must exist in the calendar
(``2021-02-30`` is refused, although ``strptime`` alone would roll it over to 2 March). Numbers
with more than 18 digits are valid integers but are left out of minimum/maximum comparisons.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from docket.checks._hashes import hash_strings

#: Key bit of a datetime or time written with a time zone (Z or an offset).
_AWARE = np.uint64(0x9AE16A3B2F90404F)

TYPES = (
    "string", "integer", "number", "boolean", "date", "datetime", "time", "year",
    "yearmonth", "duration", "any",
)
#: Types docket recognises but does not parse (their values are not type-checked).
UNPARSED_TYPES = ("object", "array", "geopoint", "geojson")

DEFAULT_TRUE = ["true", "True", "TRUE", "1"]
DEFAULT_FALSE = ["false", "False", "FALSE", "0"]

_STRING_FORMATS = {
    "email": r"^[^@\s]+@[^@\s]+\.[^@\s]+$",
    "uri": r"^[A-Za-z][A-Za-z0-9+.\-]*:\S+$",
    "uuid": r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$",
    "binary": r"^[A-Za-z0-9+/]*={0,2}$",
}
_INTEGER_RE = r"^[+-]?\d+$"
_NUMBER_RE = r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$|^[+-]?(INF|inf|Infinity)$|^(NaN|nan)$"
_ISO_DATETIME_RE = r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:?\d{2})?$"
_ISO_TIME_RE = r"^\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:?\d{2})?$"
_DURATION_RE = r"^P(\d+Y)?(\d+M)?(\d+W)?(\d+D)?(T(\d+H)?(\d+M)?(\d+(\.\d+)?S)?)?$"
_ANY_DATE_FORMATS = (
    "%Y-%m-%d", "%d/%m/%Y", "%m/%d/%Y", "%Y/%m/%d", "%d.%m.%Y", "%d-%m-%Y", "%Y%m%d",
    "%d %B %Y", "%d %b %Y", "%B %d, %Y", "%b %d, %Y",
)
_ANY_DATETIME_FORMATS = ("%Y-%m-%d %H:%M", "%d/%m/%Y %H:%M:%S", "%d/%m/%Y %H:%M", "%Y%m%dT%H%M%S")
_DIRECTIVES = {
    "Y": r"\d{4}", "m": r"\d{1,2}", "d": r"(?P<day>\d{1,2})", "H": r"\d{1,2}", "M": r"\d{1,2}",
    "S": r"\d{1,2}", "I": r"\d{1,2}", "y": r"\d{2}", "b": r"[A-Za-z]+", "B": r"[A-Za-z]+",
    "a": r"[A-Za-z]+", "A": r"[A-Za-z]+", "p": r"[AaPp][Mm]", "j": r"\d{1,3}", "f": r"\d{1,9}",
    "z": r"(?:Z|[+-]\d{2}:?\d{2})", "Z": r"[A-Za-z]+", "%": "%",
}


@dataclass
class FieldSpec:
    """One declared field, with its parsing options resolved and any problem with it noted."""

    name: str
    type: str = "string"
    format: str | None = None
    constraints: dict[str, Any] = field(default_factory=dict)
    missing_values: list[str] = field(default_factory=lambda: [""])
    true_values: list[str] = field(default_factory=lambda: list(DEFAULT_TRUE))
    false_values: list[str] = field(default_factory=lambda: list(DEFAULT_FALSE))
    bare_number: bool = True
    decimal_char: str = "."
    group_char: str | None = None
    problems: list[str] = field(default_factory=list)
    #: Values of ``enum``/``minimum``/``maximum`` parsed with this field's own parser.
    parsed_constraints: dict[str, Any] = field(default_factory=dict)
    #: (constraint key, message) for constraint values not of the field's type: a schema refusal.
    constraint_errors: list[tuple[str, str]] = field(default_factory=list)

    @property
    def parsable(self) -> bool:
        return self.type in TYPES

    @classmethod
    def from_descriptor(cls, desc: dict[str, Any], missing_values: list[str]) -> FieldSpec:
        spec = cls(name=str(desc.get("name", "")))
        spec.type = str(desc.get("type") or "string")
        fmt = desc.get("format")
        spec.format = None if fmt in (None, "default") else str(fmt)
        if spec.format and spec.format.startswith("fmt:"):
            spec.format = spec.format[4:]
        spec.constraints = dict(desc.get("constraints") or {})
        if desc.get("required") is True and "required" not in spec.constraints:
            # a field-level required is a misplaced constraint (schema.warnings says so): honoured
            spec.constraints["required"] = True
        spec.missing_values = missing_texts(desc.get("missingValues", missing_values))
        spec.true_values = [str(v) for v in desc.get("trueValues", DEFAULT_TRUE)]
        spec.false_values = [str(v) for v in desc.get("falseValues", DEFAULT_FALSE)]
        spec.bare_number = bool(desc.get("bareNumber", True))
        spec.decimal_char = str(desc.get("decimalChar", "."))
        spec.group_char = desc.get("groupChar")
        if spec.type not in TYPES:
            spec.problems.append(
                f"field {spec.name!r}: type {spec.type!r} is not checked by docket"
                if spec.type in UNPARSED_TYPES
                else f"field {spec.name!r}: unknown type {spec.type!r}"
            )
        spec._prepare_constraints()
        return spec

    def _prepare_constraints(self) -> None:
        """Parse enum/minimum/maximum with the field's parser; a bad one is a schema problem."""
        if not self.parsable:
            return
        for key in ("enum", "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
            if key not in self.constraints:
                continue
            raw = self.constraints[key]
            items = raw if key == "enum" else [raw]
            if key == "enum" and not isinstance(raw, list):
                self.constraint_errors.append((key, "must be a list"))
                continue
            if key != "enum" and self.type in ("string", "boolean", "any"):
                self.constraint_errors.append((key, f"does not apply to type {self.type}"))
                continue
            texts = pa.array([_as_text(v, self) for v in items], pa.string())
            parsed = parse_column(self, texts, missing=np.zeros(len(texts), bool))
            if parsed.bad.any():
                bad = [items[i] for i in np.flatnonzero(parsed.bad)]
                self.constraint_errors.append((key, (
                    f"value(s) {bad!r} are not of the field's type {self.type}"
                    + (f" with format {self.format!r}" if self.format else ""))))
                continue
            self.parsed_constraints[key] = parsed.typed
        for key in ("pattern",):
            if key in self.constraints:
                try:
                    pc.match_substring_regex(pa.array([""]), f"^(?:{self.constraints[key]})$")
                except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
                    self.problems.append(
                        f"field {self.name!r}: pattern {self.constraints[key]!r} is not a "
                        f"regular expression docket can run ({exc})"
                    )
                    self.constraints.pop(key)


def missing_texts(values: Any) -> list[str]:
    """missingValues as texts: v1 lists texts, v2 may list ``{"value": ..., "label": ...}``."""
    if not isinstance(values, list):
        return [""]
    return [str(v.get("value", "")) if isinstance(v, dict) else str(v) for v in values]


def _as_text(value: Any, spec: FieldSpec) -> str:
    if isinstance(value, bool):
        return (spec.true_values if value else spec.false_values)[0]
    return str(value)


@dataclass
class Parsed:
    """A parsed column: which cells are missing, which are present but not of the type, values."""

    missing: np.ndarray
    bad: np.ndarray
    typed: pa.Array
    #: What equality needs beyond ``typed`` (datetimes: whether a time zone was given, and digits
    #: below the microsecond), as a 64-bit hash per value; None when ``typed`` says it all.
    key: np.ndarray | None = None

    @property
    def good(self) -> np.ndarray:
        return ~(self.missing | self.bad)


def mask(arr: pa.Array) -> np.ndarray:
    """A numpy bool array from an Arrow boolean result (nulls count as False)."""
    return np.asarray(pc.fill_null(arr, False).to_numpy(zero_copy_only=False), dtype=bool)


def _match(s: pa.Array, pattern: str) -> np.ndarray:
    return mask(pc.match_substring_regex(s, pattern))


def parse_column(spec: FieldSpec, s: pa.Array, missing: np.ndarray | None = None) -> Parsed:
    """Parse a column of strings as ``spec`` says; vectorised, never raising on bad values."""
    if missing is None:
        if spec.missing_values == [""]:  # the default: a length test, far cheaper than is_in
            missing = pc.binary_length(s).to_numpy(zero_copy_only=False) == 0
        else:
            missing = mask(pc.is_in(s, value_set=pa.array(spec.missing_values, pa.string())))
    present = ~missing
    kind = spec.type
    if kind in ("string", "any") or not spec.parsable:
        ok = np.ones(len(s), bool)
        if kind == "string" and spec.format in _STRING_FORMATS:
            ok = _match(s, _STRING_FORMATS[spec.format])
        return _done(missing, present & ~ok, s, ok)
    if kind == "integer":
        t = _numeric_text(spec, s)
        # Plain digits (most values) need no regular expression: ascii_is_decimal is ~10x
        # faster; only the rest (signs, missing and bad values) go through _INTEGER_RE.
        ok = mask(pc.ascii_is_decimal(t))
        signed = np.zeros(len(t), bool)
        rest = np.flatnonzero(~ok)
        if len(rest):
            sub = t.take(pa.array(rest))
            ok[rest] = _match(sub, _INTEGER_RE)
            signed[rest] = _match(sub, r"^[+-]")
        # What passes is ASCII, so bytes are characters. Up to 18 digits always fit in an
        # int64; longer integers are valid but not compared (see the module's note).
        digits = pc.binary_length(t).to_numpy(zero_copy_only=False) - signed
        castable = ok & (digits <= 18)
        typed = pc.cast(_where_or_zero(castable & present, _unplussed(t, signed)), pa.int64())
        return _done(missing, present & ~ok, typed, castable)
    if kind == "number":
        t = _numeric_text(spec, s)
        ok = _match(t, _NUMBER_RE)
        typed = pc.cast(_where_or_zero(ok & present, t), pa.float64())
        typed = pc.add(typed, 0.0)  # -0 is the number 0 (enum, unique): -0.0 + 0.0 is 0.0
        return _done(missing, present & ~ok, typed, ok)
    if kind == "boolean":
        yes = mask(pc.is_in(s, value_set=pa.array(spec.true_values, pa.string())))
        no = mask(pc.is_in(s, value_set=pa.array(spec.false_values, pa.string())))
        ok = yes | no
        return _done(missing, present & ~ok, pa.array(yes), ok)
    if kind == "year":
        ok = _match(s, r"^[+-]?\d{4}$")
        typed = pc.cast(_where_or_zero(ok & present, _unplussed(s, ok)), pa.int64())
        return _done(missing, present & ~ok, typed, ok)
    if kind == "yearmonth":
        ok = _match(s, r"^\d{4}-(0[1-9]|1[0-2])$")
        return _done(missing, present & ~ok, s, ok)
    if kind == "duration":
        ok = _match(s, _DURATION_RE) & mask(pc.not_equal(s, "P")) & mask(pc.not_equal(s, "PT"))
        return _done(missing, present & ~ok, s, ok)
    if kind == "date":
        if spec.format is None:
            typed, ok = _iso_dates(s)
        else:
            formats = _ANY_DATE_FORMATS if spec.format == "any" else (spec.format,)
            typed, ok = _parse_formats(s, formats)
        return _done(missing, present & ~ok, typed, ok)
    if kind == "datetime":
        key = None
        if spec.format in (None, "any"):
            typed, ok, key = _parse_iso_datetime(s)
            if spec.format == "any":
                more, ok2 = _parse_formats(s, _ANY_DATETIME_FORMATS)
                typed = pc.if_else(pa.array(ok), typed, _as_micro(more))
                ok = ok | ok2
        else:
            typed, ok = _parse_formats(s, (spec.format,))
        return _done(missing, present & ~ok, typed, ok, key)
    if kind == "time":
        key = None
        if spec.format in (None, "any"):
            head = pc.utf8_slice_codeunits(s, 0, 8)
            typed, ok, key, _ = _iso_instant(s, head, "%H:%M:%S", _match(s, _ISO_TIME_RE), 8)
        else:
            typed, ok = _parse_formats(s, (spec.format,))
        return _done(missing, present & ~ok, typed, ok, key)
    raise AssertionError(kind)  # pragma: no cover - TYPES is exhaustive


def _where_or_zero(castable: np.ndarray, t: pa.Array) -> pa.Array:
    """``t`` with ``"0"`` where not ``castable``, ready for Arrow's cast (which stops at the
    first value it cannot read); no copy when every value is castable (most columns)."""
    return t if castable.all() else pc.if_else(pa.array(castable), t, "0")


def _done(missing: np.ndarray, bad: np.ndarray, typed: pa.Array, ok: np.ndarray,
          key: np.ndarray | None = None) -> Parsed:
    good = ok & ~missing & ~bad
    if key is not None:
        key = np.where(good, key, np.uint64(0)).astype(np.uint64)
    if not good.all():  # values without one become null (every value has one: no copy)
        typed = pc.if_else(pa.array(good), typed, pa.scalar(None, typed.type))
    return Parsed(missing=missing, bad=bad, typed=typed, key=key)


_MONTH_DAYS = np.array([0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31], np.int32)
_NO_DATE = np.frombuffer(b"0000-00-00", np.uint8)


def _iso_dates(s: pa.Array) -> tuple[pa.Array, np.ndarray]:
    """ISO dates (``YYYY-MM-DD``, real calendar days) as timestamps, without regex or strptime.

    Exactly what the ``%Y-%m-%d`` strptime path with its shape check accepted (ten ASCII bytes:
    digits and two dashes, a month 1-12 and a day that exists in that month of that year), and
    the same values (seconds at midnight), computed with numpy on the bytes: the ten-byte
    values lie end to end in Arrow's data buffer, one row of a ``(n, 10)`` matrix each.
    """
    n = len(s)
    s = s.cast(pa.string()) if not pa.types.is_string(s.type) else s
    offsets = np.frombuffer(s.buffers()[1], np.int32)[s.offset: s.offset + n + 1]
    ten = np.diff(offsets) == 10
    ok = np.zeros(n, bool)
    seconds = np.zeros(n, np.int64)
    rows = np.flatnonzero(ten)
    if len(rows):
        sub = s if len(rows) == n else s.filter(pa.array(ten))
        sub_offsets = np.frombuffer(sub.buffers()[1], np.int32)[sub.offset: sub.offset + len(rows) + 1]
        start = int(sub_offsets[0])
        m = np.frombuffer(sub.buffers()[2], np.uint8)[start: start + 10 * len(rows)].reshape(-1, 10)
        d = m - _NO_DATE  # digits become 0-9, the dashes 0; anything else wraps past 9
        good = (d <= 9).all(axis=1) & (m[:, 4] == 0x2D) & (m[:, 7] == 0x2D)
        x = d.astype(np.int32)
        year = x[:, 0] * 1000 + x[:, 1] * 100 + x[:, 2] * 10 + x[:, 3]
        month = x[:, 5] * 10 + x[:, 6]
        day = x[:, 8] * 10 + x[:, 9]
        leap = (year % 4 == 0) & ((year % 100 != 0) | (year % 400 == 0))
        good &= (month >= 1) & (month <= 12)
        last = _MONTH_DAYS[np.where(good, month, 0)] + (leap & (month == 2))
        good &= (day >= 1) & (day <= last)
        ok[rows] = good
        seconds[rows] = _days_from_civil(year.astype(np.int64), month, day) * 86_400
    return pa.array(seconds, pa.int64()).cast(pa.timestamp("s")), ok


def _days_from_civil(year: np.ndarray, month: np.ndarray, day: np.ndarray) -> np.ndarray:
    """Days since 1970-01-01 of proleptic Gregorian dates (H. Hinnant's algorithm)."""
    y = year - (month <= 2)
    era = np.floor_divide(y, 400)
    yoe = y - era * 400
    doy = (153 * (month + np.where(month > 2, -3, 9)) + 2) // 5 + day - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146_097 + doe - 719_468


def _unplussed(t: pa.Array, candidates: np.ndarray) -> pa.Array:
    """``t`` without the leading ``+`` of values among ``candidates`` (Arrow's integer cast
    refuses ``+5``, which Table Schema's integers allow)."""
    if not candidates.any():
        return t
    plus = mask(pc.starts_with(t, "+")) & candidates
    if not plus.any():
        return t
    return pc.if_else(pa.array(plus), pc.utf8_slice_codeunits(t, 1), t)


def _numeric_text(spec: FieldSpec, s: pa.Array) -> pa.Array:
    """Apply groupChar/decimalChar/bareNumber so numeric text becomes plain ``1234.5``."""
    t = s
    if spec.group_char:
        t = pc.replace_substring(t, spec.group_char, "")
    if spec.type == "number" and spec.decimal_char != ".":
        t = pc.replace_substring(t, spec.decimal_char, ".")
    if not spec.bare_number:
        t = pc.replace_substring_regex(t, r"^[^0-9+\-.]+|[^0-9.]+$", "")
    return t


def format_regex(fmt: str) -> str | None:
    """A full-match RE2 pattern for a strptime format, or None if it uses an odd directive."""
    out, i = ["^"], 0
    while i < len(fmt):
        ch = fmt[i]
        if ch == "%" and i + 1 < len(fmt):
            directive = _DIRECTIVES.get(fmt[i + 1])
            if directive is None:
                return None
            out.append(directive)
            i += 2
        else:
            out.append(re.escape(ch))
            i += 1
    out.append("$")
    pattern = "".join(out)
    return pattern if pattern.count("(?P<day>") <= 1 else None


def _strptime(s: pa.Array, fmt: str, where: np.ndarray | None = None) -> tuple[pa.Array, np.ndarray]:
    typed = pc.strptime(s, format=fmt, unit="s", error_is_null=True)
    ok = ~mask(pc.is_null(typed))
    if where is not None:
        ok &= where
    return typed, ok


def _parse_formats(s: pa.Array, formats: tuple[str, ...]):
    """Try each format in turn on what is still unparsed; strict full match, real calendar days."""
    typed: pa.Array | None = None
    ok = np.zeros(len(s), bool)
    for fmt in formats:
        pattern = format_regex(fmt)
        shape_ok = _match(s, pattern) if pattern else np.ones(len(s), bool)
        todo = shape_ok & ~ok
        if not todo.any():
            continue
        got, good = _strptime(s, fmt, todo)
        if pattern and "(?P<day>" in pattern:
            good &= ~_rolled_over(s, got, good, pattern)
        if typed is None:
            typed = got
        else:
            if got.type != typed.type:  # a %z format next to naive ones: compare in UTC
                got = pc.cast(got, typed.type) if typed.type.tz is None else got
            typed = pc.if_else(pa.array(good), got, typed)
        ok |= good
    if typed is None:
        typed = pa.nulls(len(s), pa.timestamp("s"))
    return typed, ok


def _rolled_over(s: pa.Array, got: pa.Array, good: np.ndarray, pattern: str) -> np.ndarray:
    """Rows where strptime rolled an impossible day over into the next month (31 April...).

    Only parsed days 1-3 can be the result of a roll-over, so only those rows are re-read.
    """
    out = np.zeros(len(s), bool)
    candidates = good & mask(pc.less_equal(pc.day(got), 3))
    if not candidates.any():
        return out
    idx = np.flatnonzero(candidates)
    sub = s.take(pa.array(idx))
    day_text = pc.struct_field(pc.extract_regex(sub, pattern), "day")
    written = pc.cast(day_text, pa.int64())
    parsed = pc.day(got.take(pa.array(idx)))
    out[idx] = mask(pc.not_equal(written, parsed))
    return out


def _as_micro(ts: pa.Array) -> pa.Array:
    """A timestamp column in microseconds, UTC, whatever unit/zone it came in."""
    if ts.type.tz is not None:
        ts = pc.cast(ts, pa.timestamp(ts.type.unit))
    return pc.cast(ts, pa.timestamp("us"))


def _iso_instant(s: pa.Array, head: pa.Array, head_format: str, shape: np.ndarray,
                 head_len: int) -> tuple[pa.Array, np.ndarray, np.ndarray, pa.Array]:
    """ISO 8601 text as the instant it names: fractions and a time zone offset applied.

    Returns ``(typed, ok, key, base)``: ``typed`` is UTC microseconds (``15:00:00+03:00`` is
    ``12:00:00Z``); ``key`` is a 64-bit hash of what the instant does not hold: whether a zone
    was given (a value without one is local time, never equal to a zoned one, as Python's
    datetimes compare) and the digits below the microsecond; ``base`` the wall-clock seconds.
    Only values with a fraction or a numeric offset go through the regular expression.
    """
    base, ok = _strptime(head, head_format, shape)
    n = len(s)
    length = pc.fill_null(pc.utf8_length(s), 0).to_numpy(zero_copy_only=False)
    zulu = mask(pc.ends_with(s, "Z"))
    simple = (length == head_len) | ((length == head_len + 1) & zulu)
    micro = np.zeros(n, np.int64)
    offset = np.zeros(n, np.int64)
    key = np.where(zulu & simple, _AWARE, np.uint64(0)).astype(np.uint64)
    rest = np.flatnonzero(ok & ~simple)
    if len(rest):
        parts = pc.extract_regex(s.take(pa.array(rest)), rf"^.{{{head_len}}}(?:\.(?P<f>\d+))?"
                                 r"(?P<z>Z|(?P<sign>[+-])(?P<hh>\d{2}):?(?P<mm>\d{2}))?$")
        field_ = {k: pc.fill_null(pc.struct_field(parts, k), "") for k in ("f", "z", "sign", "hh", "mm")}
        hh = pc.cast(pc.if_else(pc.equal(field_["hh"], ""), "0", field_["hh"]), pa.int64()).to_numpy()
        mm = pc.cast(pc.if_else(pc.equal(field_["mm"], ""), "0", field_["mm"]), pa.int64()).to_numpy()
        frac = field_["f"]
        sub = pc.cast(pc.utf8_slice_codeunits(pc.utf8_rpad(frac, 6, "0"), 0, 6), pa.int64())
        micro[rest] = sub.to_numpy()
        sign = np.where(mask(pc.equal(field_["sign"], "-")), -1, 1)
        offset[rest] = sign * (hh * 60 + mm) * 60_000_000
        ok[rest] &= (hh <= 23) & (mm <= 59)
        below = pc.utf8_rtrim(pc.utf8_slice_codeunits(frac, 6, 1 << 20), "0")
        below_hash = np.where(mask(pc.equal(below, "")), np.uint64(0), hash_strings(below))
        aware = np.where(mask(pc.not_equal(field_["z"], "")), _AWARE, np.uint64(0))
        key[rest] = below_hash ^ aware.astype(np.uint64)
    seconds = pc.cast(pc.fill_null(base, pa.scalar(0, base.type)), pa.int64()).to_numpy()
    total = seconds * 1_000_000 + micro - offset
    typed = pa.array(total, pa.int64()).cast(pa.timestamp("us"))
    return typed, ok, key, base


def _parse_iso_datetime(s: pa.Array) -> tuple[pa.Array, np.ndarray, pa.Array]:
    shape = _match(s, _ISO_DATETIME_RE)
    head = pc.replace_substring(pc.utf8_slice_codeunits(s, 0, 19), " ", "T")
    typed, ok, key, base = _iso_instant(s, head, "%Y-%m-%dT%H:%M:%S", shape, 19)
    ok &= ~_rolled_over(head, base, ok, r"^\d{4}-\d{2}-(?P<day>\d{2})T")
    return typed, ok, key
