"""Foreign keys (Table Schema ``foreignKeys``): every referring row's key is found where it points.

A foreign key names local ``fields`` and a ``reference``: a ``resource`` (``""`` or absent: this
same table; otherwise the name of another resource of the Data Package) and its ``fields``. Each
row's values of the local fields, taken together, must equal the referenced fields of some row of
the referenced resource. A row whose key fields are all missing is not checked (the spec: a
missing value means "no reference"); a value that fails its type counts as missing here, since
``table.type`` already reports it. Values compare by type (``1``, ``01`` and ``1.0`` are one
number; datetimes as instants) when both fields have the same type, or both are numbers;
otherwise, and when the referenced resource declares no schema, by their text.

Memory is bounded as for the other repeat checks: keys are 64-bit hashes
(:mod:`docket.checks._hashes`). The referenced keys of another resource are read first, in one
streamed pass, into a :class:`~docket.checks._hashes.KeySet`; while it fits in memory, each chunk
of the referring table is judged as it streams, with its values at hand. A key set too large for
memory, and every self-reference (the whole table's keys are needed before any row can be judged),
keep the referring rows as (hash, row) pairs, spilled to bucket files past ``spill_rows``, and
compare them bucket by bucket at the end; the values of the few rows reported are then read back
by the scanner (``fill_values``).

Keys of other resources come from a :class:`KeySource` that the package layer
(:mod:`docket.checks.package`) attaches to the table with :func:`attach_key_source`; without one
(a single CSV file), a key to another resource is ``not-checked`` with the reason.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

import docket.checks.table  # noqa: F401  - registered first, so this check replaces its placeholder
from docket.checks._hashes import (
    NONE_HASH,
    PENDING_ENTRY,
    BucketSpill,
    KeySet,
    combine,
    hash_canonical,
    unmatched,
)
from docket.checks._scan import Chunk, TableContext
from docket.checks._types import FieldSpec, Parsed, mask
from docket.checks.base import CheckResult, Findings, TableCheck
from docket.checks.registry import register

#: Single-field keys of these types (the same on both sides) are also compared by value, with
#: Arrow's hash table (``is_in``), while the referenced values are few: no hashing per row.
VALUE_TYPES = frozenset(("string", "integer"))
#: Distinct referenced keys held in memory, as a multiple of the run's ``spill_rows`` (1: sorting
#: and splitting a larger set when it spills costs tens of MB, measured on 2 GiB files).
KEY_LIMIT_FACTOR = 1
_NUMERIC = frozenset(("integer", "number"))


@dataclass(frozen=True)
class ForeignKeyDecl:
    """One ``foreignKeys`` entry of a (validated) Table Schema."""

    number: int
    fields: tuple[str, ...]
    resource: str
    ref_fields: tuple[str, ...]

    @property
    def self_reference(self) -> bool:
        return self.resource == ""

    @property
    def target(self) -> str:
        return "this table" if self.self_reference else f"resource {self.resource!r}"


def declarations(schema: dict[str, Any] | None) -> list[ForeignKeyDecl]:
    """The foreign keys a schema declares (its shape was validated when it was loaded)."""
    out = []
    for number, fk in enumerate((schema or {}).get("foreignKeys") or []):
        if not isinstance(fk, dict) or not isinstance(fk.get("reference"), dict):
            continue
        ref = fk["reference"]
        resource = ref.get("resource") or ""
        out.append(ForeignKeyDecl(number, _names(fk.get("fields")), str(resource),
                                  _names(ref.get("fields"))))
    return out


def _names(value: Any) -> tuple[str, ...]:
    return (value,) if isinstance(value, str) else tuple(str(v) for v in value or [])


def text_modes(local: list[FieldSpec], referenced: list[FieldSpec | None]) -> tuple[bool, ...]:
    """Per field pair, True when the two values compare by text rather than by typed value."""
    out = []
    for a, b in zip(local, referenced, strict=True):
        same = b is not None and (a.type == b.type or {a.type, b.type} <= _NUMERIC)
        out.append(not (same and a.parsable and b is not None and b.parsable))
    return tuple(out)


def key_hashes(chunk: Chunk, indexes: list[int], modes: tuple[bool, ...]
               ) -> tuple[np.ndarray, np.ndarray]:
    """(hash of each row's key, its chunk position) for rows whose key fields are not all missing.

    ``indexes`` are field indexes of ``chunk.table``; ``modes`` (from :func:`text_modes`) says per
    field whether it hashes its text or its typed value. Missing and mistyped values hash as
    :data:`NONE_HASH`, so a partly missing key is still a key (and rarely found).
    """
    table = chunk.table
    hashes: np.ndarray | None = None
    all_none = np.ones(len(chunk), bool)
    for index, by_text in zip(indexes, modes, strict=True):
        none = chunk.per_value(index, _no_value)
        if by_text:
            col = table.field_columns[index]
            assert col is not None
            h = chunk.text_hashes(col)  # shared with duplicate rows (np.where below copies)
        else:
            h = chunk.per_value(index, _canonical_hashes)
        h = np.where(none, NONE_HASH, h)
        all_none &= none
        hashes = h if hashes is None else combine(hashes, h)
    assert hashes is not None
    keep = np.flatnonzero(~all_none)
    return hashes[keep], keep


def _no_value(p: Parsed, text: pa.Array) -> np.ndarray:
    """Missing or mistyped: no value to compare (for :meth:`Chunk.per_value`)."""
    return p.missing | p.bad


def _canonical_hashes(p: Parsed, text: pa.Array) -> np.ndarray:
    h = hash_canonical(p.typed)
    if p.key is not None:  # datetimes: time zone given or not, digits below the microsecond
        h = combine(h, p.key)
    return h


def _not_among(allowed: pa.Array, by_text: bool) -> Callable[[Parsed, pa.Array], np.ndarray]:
    """A per-value test: which values (their text, or typed values) are not ``allowed``."""
    def test(p: Parsed, text: pa.Array) -> np.ndarray:
        found = mask(pc.is_in(text if by_text else p.typed, value_set=allowed))
        return ~(p.missing | p.bad) & ~found

    return test


def by_value(local: list[FieldSpec], referenced: list[FieldSpec | None],
             modes: tuple[bool, ...]) -> bool:
    """Whether the key can be compared value by value (:data:`VALUE_TYPES`, one field)."""
    if len(local) != 1:
        return False
    ref = referenced[0]
    return modes[0] or (ref is not None and local[0].type == ref.type and ref.type in VALUE_TYPES)


def key_values(chunk: Chunk, index: int, by_text: bool) -> tuple[pa.Array, np.ndarray]:
    """(values, missing-or-mistyped mask) of one key field: its text, or its typed values."""
    p = chunk.parsed(index)
    if by_text:
        col = chunk.table.field_columns[index]
        assert col is not None
        return chunk.columns[col], p.missing | p.bad
    return p.typed, p.missing | p.bad


@dataclass
class Referenced:
    """The keys a foreign key points to, how to compare them, or why they are unavailable.

    ``values`` holds the distinct referenced values themselves when :func:`by_value` allows and
    they are few: membership is then Arrow's ``is_in``, faster than hashing every referring row.
    """

    keys: KeySet | None
    modes: tuple[bool, ...] = ()
    reason: str | None = None
    values: pa.Array | None = None


class KeySource(Protocol):
    """Where the keys of other resources come from (a Data Package, :mod:`.package`)."""

    def referenced(self, decl: ForeignKeyDecl, local: list[FieldSpec]) -> Referenced:
        """The referenced keys of ``decl`` (another resource), compared with ``local`` fields."""
        ...


def attach_key_source(table: TableContext, source: KeySource | None) -> None:
    """Let the foreign-key check of ``table`` look up keys in other resources through ``source``."""
    table.key_source = source  # type: ignore[attr-defined]


def key_source(table: TableContext) -> KeySource | None:
    return getattr(table, "key_source", None)


@dataclass
class _Active:
    """One foreign key being checked over the stream."""

    decl: ForeignKeyDecl
    local: list[int]
    columns: list[int]
    modes: tuple[bool, ...]
    keys: KeySet
    label: str
    #: Field indexes of the referenced fields when the key refers to this same table.
    ref: list[int] | None = None
    #: Referring rows waiting for the end (self-references, key sets too large for memory).
    pending: BucketSpill | None = None
    #: The referenced values, when compared by value (see :class:`Referenced`).
    values: pa.Array | None = None

    @property
    def note(self) -> str:
        return f"not found in {self.decl.target} ({', '.join(self.decl.ref_fields)})"


class ForeignKey(TableCheck):
    id = "table.foreign-key"
    name = "Foreign keys resolve"
    description = (
        "Every row's foreignKeys values are found in the referenced fields of the referenced "
        "resource (this table, or another resource of the Data Package); rows whose key fields "
        "are all missing are not checked."
    )
    default_severity = "error"
    needs_schema = True
    fill_values = True
    expected = "every foreign key value present in the referenced resource"
    suggestion = (
        "Correct the values, add the missing keys to the referenced resource, or correct the "
        "foreignKeys of the Table Schema."
    )

    def start(self, table: TableContext) -> None:
        super().start(table)
        self._declared = declarations(table.schema)
        self._active: list[_Active] = []
        self._skipped: list[str] = []
        names = {spec.name: i for i, spec, _ in table.mapped_fields()}
        for decl in self._declared:
            where = f"foreignKeys[{decl.number}]"
            absent = [n for n in decl.fields if n not in names]
            if absent:
                self._skipped.append(f"{where}: field(s) {absent} are not in the file")
                continue
            local = [names[n] for n in decl.fields]
            specs = [table.fields[i] for i in local]
            columns = [table.field_columns[i] for i in local]
            label = ",".join(table.column_label(c) for c in columns)  # type: ignore[arg-type]
            limit = table.spill_rows * KEY_LIMIT_FACTOR
            assert table.spill_dir is not None
            if decl.self_reference:
                absent = [n for n in decl.ref_fields if n not in names]
                if absent:
                    self._skipped.append(f"{where}: referenced field(s) {absent} are not in the file")
                    continue
                ref = [names[n] for n in decl.ref_fields]
                keys = KeySet(table.spill_dir, limit, f"fk{decl.number}-keys")
                modes = text_modes(specs, [table.fields[i] for i in ref])
                active = _Active(decl, local, columns, modes, keys, label, ref=ref)  # type: ignore[arg-type]
            else:
                source = key_source(table)
                if source is None:
                    self._skipped.append(
                        f"{where} refers to resource {decl.resource!r}: outside a Data Package "
                        "docket does not check foreign keys to other resources (check the "
                        "package: docket check datapackage.json)")
                    continue
                got = source.referenced(decl, specs)
                if got.keys is None:
                    self._skipped.append(f"{where}: {got.reason}")
                    continue
                active = _Active(decl, local, columns, got.modes, got.keys, label,  # type: ignore[arg-type]
                                 values=got.values)
            if active.ref is not None or not active.keys.in_memory:
                active.pending = BucketSpill(table.spill_dir, table.spill_rows,
                                             f"fk{decl.number}-rows", PENDING_ENTRY)
            self._active.append(active)

    def chunk(self, table: TableContext, chunk: Chunk) -> None:
        for a in self._active:
            if a.values is not None:
                unknown = _not_among(a.values, by_text=a.modes[0])
                self._report_now(chunk, a, np.flatnonzero(
                    chunk.per_value(a.local[0], unknown, key=(self.id, a.decl.number))))
                continue
            if a.ref is not None:  # this chunk's keys join the table's key set
                a.keys.add(key_hashes(chunk, a.ref, a.modes)[0])
            h, pos = key_hashes(chunk, a.local, a.modes)
            if a.pending is not None:
                entries = np.empty(len(h), PENDING_ENTRY)
                entries["h"] = h
                entries["r"] = chunk.rows[pos]
                a.pending.add(entries)
                continue
            self._report_now(chunk, a, pos[~a.keys.contains(h)])

    def _report_now(self, chunk: Chunk, a: _Active, bad: np.ndarray) -> None:
        """Failing rows found while streaming (chunk positions ``bad``), values at hand."""
        if len(bad):
            self._findings.add(
                chunk.rows[bad], a.label,
                lambda k: _values(chunk, a.columns, bad[k]),
                position=a.columns[0] if len(a.columns) == 1 else -1,
                extra={"note": a.note})

    def finish(self, table: TableContext) -> CheckResult | None:
        if not self._declared:
            return None
        if not self._active:
            return self.not_checked("; ".join(self._skipped), table.name)
        for a in self._active:
            if a.pending is not None:
                self._report_pending(a)
        result = super().finish(table)
        if self._skipped:
            result.found += "; not checked: " + "; ".join(self._skipped)
        return result

    def _report_pending(self, a: _Active) -> None:
        assert a.pending is not None
        count, rows = unmatched(a.keys, a.pending, self.sample_size)
        findings: Findings = self._findings
        findings.count += count - len(rows)
        if count:
            findings.counts[a.label] = findings.counts.get(a.label, 0) + count - len(rows)
        extra: dict[str, Any] = {"note": a.note}
        if len(a.columns) > 1:
            extra["_positions"] = list(a.columns)  # the scanner reads the values back
        for row in rows:
            findings.add([int(row)], a.label, [None],
                         position=a.columns[0] if len(a.columns) == 1 else -1, extra=dict(extra))

    def describe(self, findings: Findings, table: TableContext) -> str:
        if not findings.count:
            keys = len(self._active)
            return f"every value of {keys} foreign key(s) found in the referenced resource"
        cols = ", ".join(f"{c} ({n})" for c, n in sorted(findings.counts.items()))
        return f"{findings.count} rows whose foreign key is not found: {cols}"


def _values(chunk: Chunk, columns: list[int], idx: np.ndarray) -> list[str]:
    """The key values of rows ``idx`` of the chunk, joined with ', ' for composite keys."""
    parts = [chunk.values(c, idx) for c in columns]
    return [", ".join(str(v) for v in vals) for vals in zip(*parts, strict=True)]


register(ForeignKey, replace=True)
