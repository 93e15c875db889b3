"""Checks on a CSV file: bytes, structure, header, and every value against its Table Schema.

Each class is one check with a stable id (``table.*``). They are fed chunk by chunk by
:mod:`docket.checks._scan`; per chunk they work on whole Arrow columns (masks, ``take``), and
between chunks they keep only counts, a capped sample and, for repeats, compact hashes.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from docket.checks._hashes import NONE_HASH, DuplicateTracker, combine, hash_strings, hash_values
from docket.checks._scan import Chunk, TableContext, small_file
from docket.checks._types import FieldSpec, Parsed, mask, parse_column
from docket.checks.base import CheckResult, Findings, TableCheck
from docket.checks.registry import register

#: Fields longer than this many bytes are reported by ``table.field-size``.
FIELD_SIZE_LIMIT = 1 << 20
#: Codes people use for "no value" that, when not declared in missingValues, deserve a warning.
COMMON_MISSING_CODES = (
    "NA", "N/A", "n/a", "na", "NaN", "nan", "null", "NULL", "Null", "None", "none", "-", "--",
    ".", "?", "#N/A", "missing", "MISSING", "-999", "-9999",
)


def describe_type(spec: FieldSpec) -> str:
    text = f"a {spec.type}" if spec.type[0] not in "aeiou" else f"an {spec.type}"
    if spec.format and spec.type in ("date", "datetime", "time"):
        text += f" in format {spec.format!r}" if spec.format != "any" else " (any common format)"
    elif spec.type == "date":
        text += " in format '%Y-%m-%d'"
    elif spec.type == "datetime":
        text += " in ISO 8601 form (YYYY-MM-DDThh:mm:ss)"
    elif spec.format and spec.type == "string":
        text += f" of format {spec.format!r}"
    return text


def _fail_once(check: TableCheck, table: TableContext, found: str, *, row=None, column=None,
               value=None, note=None) -> CheckResult:
    """A failing result with a single location (file-level problems)."""
    findings = check.findings(table.name)
    findings.add([row], column, [value], extra={"note": note} if note else None)
    return check.result(findings, found=found)


# -- bytes and structure ------------------------------------------------------------------------


@register
class EmptyFile(TableCheck):
    id = "table.empty"
    name = "File has data"
    description = "The file is not empty: it has a header row and at least one data row."
    default_severity = "error"
    needs_data = False
    expected = "a header row followed by at least one data row"
    suggestion = "Send the complete file; an empty or header-only file holds no data."

    def chunk(self, table: TableContext, chunk: Chunk) -> None:
        pass

    def finish(self, table: TableContext) -> CheckResult:
        if table.prepass.size == 0:
            return _fail_once(self, table, "the file is empty (0 bytes)")
        if not table.header:
            return _fail_once(self, table, "the file has no header row", row=0)
        if table.rows == 0 and not table.parse_error:
            return _fail_once(self, table, "the file has a header but no data rows", row=0)
        return self.result(found=f"header and {table.rows} data rows", file=table.name)


@register
class Encoding(TableCheck):
    id = "table.encoding"
    name = "Text encoding"
    description = "Every byte of the file decodes in the expected encoding (UTF-8 unless declared)."
    default_severity = "error"
    needs_data = False

    def chunk(self, table: TableContext, chunk: Chunk) -> None:
        pass

    def finish(self, table: TableContext) -> CheckResult:
        pre = table.prepass
        expected = f"text encoded as {pre.expected_encoding}"
        findings = pre.invalid or Findings(self.sample_size, table.name)
        delim = table.dialect.delimiter
        for loc in findings.locations():
            prefix = loc.pop("_prefix", b"").decode("latin-1")
            rest = loc.pop("_rest", b"").decode("latin-1").rstrip("\r")
            col = prefix.count(delim)
            loc["value"] = prefix.split(delim)[-1] + rest.split(delim)[0]
            if table.header and col < len(table.header):
                loc["column"] = table.header[col]
                loc["position"] = col + 1
        if not findings.count:
            return self.result(expected=expected, found=f"valid {pre.expected_encoding}",
                               file=table.name)
        first = findings.locations()[0]
        more = "" if pre.invalid_count_exact else " or more"
        found = (
            f"not valid {pre.expected_encoding}: {findings.count}{more} invalid byte sequences, "
            f"the first at line {first.get('line')}; the file was read as latin-1 (ISO-8859-1) "
            "to check the rest"
        )
        suggestion = (
            f"Save the file as {pre.expected_encoding}, or declare the encoding it really has "
            "(for example latin-1 or windows-1252) in the file's metadata."
        )
        return self.result(findings, expected=expected, found=found, suggestion=suggestion)


@register
class ByteOrderMark(TableCheck):
    id = "table.bom"
    name = "Byte-order mark"
    description = "The file does not start with a UTF-8 byte-order mark (BOM)."
    default_severity = "warn"
    needs_data = False
    expected = "no byte-order mark"
    suggestion = (
        "Save the file without a BOM: docket ignores it, but many tools read it into the name "
        "of the first column."
    )

    def chunk(self, table: TableContext, chunk: Chunk) -> None:
        pass

    def finish(self, table: TableContext) -> CheckResult:
        if not table.prepass.bom:
            return self.result(found="no byte-order mark", file=table.name)
        column = table.header[0] if table.header else None
        return _fail_once(self, table, "the file starts with a UTF-8 byte-order mark (EF BB BF)",
                          row=0, column=column, value="EF BB BF")


@register
class LineEndings(TableCheck):
    id = "table.line-endings"
    name = "Line endings"
    description = "Lines end with LF; CRLF (Windows) or mixed line endings are noted."
    default_severity = "info"
    needs_data = False
    expected = "LF line endings"
    suggestion = "Nothing to do for CRLF; for mixed endings, save the file again with one kind."

    def chunk(self, table: TableContext, chunk: Chunk) -> None:
        pass

    def finish(self, table: TableContext) -> CheckResult:
        pre = table.prepass
        lone_cr = pre.cr - pre.crlf
        if pre.crlf == 0 and lone_cr == 0:
            return self.result(found="LF line endings", file=table.name)
        if pre.crlf and pre.crlf == pre.lf and not lone_cr:
            found = f"CRLF (Windows) line endings on {pre.crlf} lines"
        elif pre.lf == 0:
            found = f"CR (old Mac) line endings on {lone_cr} lines"
        else:
            found = f"mixed line endings: {pre.crlf} CRLF, {pre.lf - pre.crlf} LF, {lone_cr} CR"
        findings = self.findings(table.name)
        findings.count = pre.crlf + lone_cr
        return self.result(findings, found=found)


_TERMINATOR_NAMES = {"\r\n": "CRLF (\\r\\n)", "\n": "LF (\\n)", "\r": "CR (\\r)"}


@register
class LineTerminator(TableCheck):
    """A declared ``lineTerminator`` is what the lines end with.

    The Table Dialect says which sequence terminates rows; a file saved by another system (a
    ``\\r\\n`` dialect on a file with bare ``\\n`` lines, or the reverse) reads the same here, but
    not in every tool, and says the declaration is wrong. ``table.line-endings`` describes the
    endings whatever is declared; this check holds them to the declaration, from the counts and
    first lines the prepass took in its one read (no further read of the file). A line break
    inside a quoted value is counted as a line ending too: the prepass does not parse quotes.
    """

    id = "table.line-terminator"
    name = "Declared line terminator"
    description = "Every line ends with the dialect's declared lineTerminator."
    default_severity = "warn"
    needs_data = False
    expected = "every line ending with the declared lineTerminator"
    suggestion = ("Declare the lineTerminator the file really has in its dialect, or save the file "
                  "again with the declared one.")

    def chunk(self, table: TableContext, chunk: Chunk) -> None:
        pass

    def finish(self, table: TableContext) -> CheckResult:
        declared = table.dialect.declared.get("lineTerminator")
        if not isinstance(declared, str) or declared not in _TERMINATOR_NAMES:
            # Only a declaration is held to: the spec's default (\r\n) is not what most CSV
            # files have, and table.line-endings already describes them.
            return self.not_checked("no lineTerminator declared in the dialect", table.name)
        pre = table.prepass
        ends = pre.line_ends
        others = {t: n for t, n in ends.items() if t != declared and n}
        if not others:
            return self.result(found=f"every line ends with {_TERMINATOR_NAMES[declared]}, as declared",
                               file=table.name)
        firsts = {t: pre.first_line_ending(t) for t in others}
        first_kind = min(others, key=lambda t: firsts[t] or 0)
        first = firsts[first_kind]
        count = sum(others.values())
        kinds = ", ".join(f"{n} {_TERMINATOR_NAMES[t]}" for t, n in others.items())
        findings = self.findings(table.name)
        findings.add([None], None, [_TERMINATOR_NAMES[first_kind]],
                     extra={"line": first, "note": f"line {first} ends with "
                            f"{_TERMINATOR_NAMES[first_kind]}, not the declared {_TERMINATOR_NAMES[declared]}"})
        findings.count = count
        return self.result(findings, expected=f"every line ending with {_TERMINATOR_NAMES[declared]} "
                                              "(the declared lineTerminator)",
                           found=f"{count} line(s) do not end with the declared "
                                 f"{_TERMINATOR_NAMES[declared]} ({kinds}); the first is line {first}")


@register
class Parsable(TableCheck):
    id = "table.parsable"
    name = "CSV can be parsed"
    description = "The whole file parses as CSV (the header and every row can be read)."
    default_severity = "error"
    needs_data = False
    expected = "a file that parses as CSV from the first to the last byte"
    suggestion = (
        "Look at the named row: a quote that is never closed or a field of many megabytes "
        "usually explains it."
    )

    def chunk(self, table: TableContext, chunk: Chunk) -> None:
        pass

    def finish(self, table: TableContext) -> CheckResult:
        if table.header_error:
            return _fail_once(self, table, table.header_error, row=0)
        pre = table.prepass
        unclosed = None
        if pre.quotes % 2 and table.dialect.quote_char == '"' and not table.dialect.escape_char:
            first = pre.first_odd_quote_line or pre.last_open_quote_line
            unclosed = (f"a quoted value is never closed (the file holds an odd number of quotes); the first "
                        f"line with an unbalanced quote is line {first}, and from line "
                        f"{pre.last_open_quote_line} to the end the file reads as one value")
        if table.parse_error:
            found = table.parse_error + (f"; {unclosed}" if unclosed else "")
            return _fail_once(self, table, found, row=table.parse_error_row)
        if unclosed:
            first = pre.first_odd_quote_line or pre.last_open_quote_line or 1
            return _fail_once(self, table, unclosed, row=max(first - 1, 0), note=f"line {first}")
        if table.prepass.size == 0:
            return self.not_checked("the file is empty (0 bytes)", table.name)
        return self.result(found=f"parsed {table.rows} data rows", file=table.name)


@register
class ColumnCount(TableCheck):
    id = "table.column-count"
    name = "Consistent column count"
    description = "Every row has as many values as the header has columns."
    default_severity = "error"
    suggestion = (
        "Fix the named rows (a missing or extra delimiter, or an unquoted value containing the "
        "delimiter); they are left out of every other check until then."
    )

    def chunk(self, table: TableContext, chunk: Chunk) -> None:
        pass

    def finish(self, table: TableContext) -> CheckResult:
        findings = table.ragged or self.findings(table.name)
        width = len(table.header)
        found = (
            f"every row has {width} values" if not findings.count
            else f"{findings.count} rows do not have {width} values"
        )
        return self.result(findings, expected=f"{width} values in every row", found=found)


@register
class BlankRow(TableCheck):
    id = "table.blank-row"
    name = "No blank rows"
    description = "No row is entirely empty (empty rows are left out of the other checks)."
    default_severity = "error"
    expected = "no empty rows"
    suggestion = "Remove the empty rows."

    def chunk(self, table: TableContext, chunk: Chunk) -> None:
        rows = chunk.blank_rows
        self._findings.add(rows, None, [""] * len(rows))

    def describe(self, findings: Findings, table: TableContext) -> str:
        return f"{findings.count} blank rows" if findings.count else "no blank rows"


@register
class BlankHeader(TableCheck):
    id = "table.blank-header"
    name = "No blank column names"
    description = "Every column of the header has a name."
    default_severity = "error"
    needs_data = False
    expected = "a name for every column"
    suggestion = "Give every column a name (the one declared in the Table Schema)."

    def chunk(self, table: TableContext, chunk: Chunk) -> None:
        pass

    def finish(self, table: TableContext) -> CheckResult:
        if not table.header:
            return self.not_checked("the file has no header row", table.name)
        blank = [i for i, label in enumerate(table.header) if not label.strip()]
        findings = self.findings(table.name)
        for i in blank:
            findings.add([0], table.header[i], [table.header[i]], position=i)
        found = f"{len(blank)} columns without a name" if blank else "every column has a name"
        return self.result(findings, found=found)


@register
class DuplicateHeader(TableCheck):
    id = "table.duplicate-header"
    name = "No duplicate column names"
    description = "No two columns of the header have the same name."
    default_severity = "error"
    needs_data = False
    expected = "distinct column names"
    suggestion = "Rename the repeated columns so each name is used once."

    def chunk(self, table: TableContext, chunk: Chunk) -> None:
        pass

    def finish(self, table: TableContext) -> CheckResult:
        if not table.header:
            return self.not_checked("the file has no header row", table.name)
        seen: dict[str, int] = {}
        findings = self.findings(table.name)
        for i, label in enumerate(table.header):
            if not label.strip():
                continue  # blank names are table.blank-header's business
            if label in seen:
                findings.add([0], label, [label], position=i,
                             extra={"note": f"same name as column {seen[label] + 1}"})
            else:
                seen[label] = i
        found = f"{findings.count} repeated column names" if findings.count else "distinct names"
        return self.result(findings, found=found)


@register
class HeaderMatchesSchema(TableCheck):
    id = "table.header"
    name = "Header matches the declared columns"
    description = "The header names exactly the fields of the Table Schema, in the same order."
    default_severity = "error"
    needs_data = False
    needs_schema = True
    suggestion = (
        "Make the header and the Table Schema agree: add or rename the columns, or correct the "
        "schema."
    )

    def chunk(self, table: TableContext, chunk: Chunk) -> None:
        pass

    def finish(self, table: TableContext) -> CheckResult:
        if not table.header:
            return self.not_checked("the file has no header row", table.name)
        declared = [f.name for f in table.fields]
        expected = f"columns {declared}"
        findings = self.findings(table.name)
        used = {c for c in table.field_columns if c is not None}
        for spec, col in zip(table.fields, table.field_columns, strict=True):
            if col is None:
                findings.add([0], spec.name, [None], extra={"note": "declared field missing from the header"})
            elif table.header[col] != spec.name:
                findings.add([0], table.header[col], [table.header[col]], position=col,
                             extra={"note": f"the schema declares {spec.name!r} at this position"})
        for col, label in enumerate(table.header):
            if col not in used:
                findings.add([0], label, [label], position=col,
                             extra={"note": "column not declared in the schema"})
        mapped = [c for c in table.field_columns if c is not None]
        order_ok = mapped == sorted(mapped)
        if not findings.count and not order_ok:
            findings.add([0], None, [", ".join(table.header)],
                         extra={"note": f"columns are in a different order than declared: {declared}"})
        found = "the header names the declared fields in order" if not findings.count else (
            f"{findings.count} differences between the header and the declared fields"
        )
        return self.result(findings, expected=expected, found=found)


@register
class FieldSize(TableCheck):
    id = "table.field-size"
    name = "Field size"
    description = f"No single value is longer than {FIELD_SIZE_LIMIT >> 20} MiB."
    default_severity = "warn"
    expected = f"values shorter than {FIELD_SIZE_LIMIT >> 20} MiB"
    suggestion = "Very long values are usually a quoting error or data that belongs in its own file."

    def chunk(self, table: TableContext, chunk: Chunk) -> None:
        for col, arr in enumerate(chunk.columns):
            if _text_bytes(arr) <= FIELD_SIZE_LIMIT:  # no value can be longer than all together
                continue
            lengths = pc.binary_length(arr)
            if (pc.max(lengths).as_py() or 0) <= FIELD_SIZE_LIMIT:
                continue
            idx = np.flatnonzero(mask(pc.greater(lengths, FIELD_SIZE_LIMIT)))
            self._findings.add(chunk.rows[idx], table.column_label(col),
                               lambda k, idx=idx, col=col: chunk.values(col, idx[k]), position=col)

    def describe(self, findings: Findings, table: TableContext) -> str:
        return f"{findings.count} values longer than the limit" if findings.count else "no huge values"


def _text_bytes(arr: pa.Array) -> int:
    """Bytes of text all values of a string column hold together (read from its offsets)."""
    offsets = np.frombuffer(arr.buffers()[1], np.int32 if arr.type == pa.string() else np.int64)
    return int(offsets[arr.offset + len(arr)] - offsets[arr.offset])


# -- values against the Table Schema ------------------------------------------------------------


def _missing(p: Parsed, text: pa.Array) -> np.ndarray:
    """Which values are missing (for :meth:`Chunk.per_value`)."""
    return p.missing


def _bad(p: Parsed, text: pa.Array) -> np.ndarray:
    """Which values are present but not of their field's type (for :meth:`Chunk.per_value`)."""
    return p.bad


class _FieldCheck(TableCheck, ABC):
    """A check applied field by field on parsed chunks; subclasses pick fields and failing rows."""

    needs_schema = True

    def applies(self, spec: FieldSpec) -> bool:
        return spec.parsable

    @abstractmethod
    def failing(self, table: TableContext, chunk: Chunk, index: int, spec: FieldSpec) -> np.ndarray:
        """A boolean mask of the chunk's rows whose value in field ``index`` fails."""

    def note(self, spec: FieldSpec) -> str | None:
        return None

    def start(self, table: TableContext) -> None:
        super().start(table)
        self._fields = [(i, s, c) for i, s, c in table.mapped_fields() if self.applies(s)]

    def prepare(self, table: TableContext, chunk: Chunk):
        return [lambda i=index: chunk.per_value(i, _missing) for index, _, _ in self._fields]

    def chunk(self, table: TableContext, chunk: Chunk) -> None:
        for index, spec, col in self._fields:
            bad = self.failing(table, chunk, index, spec)
            idx = np.flatnonzero(bad)
            if len(idx):
                note = self.note(spec)
                self._findings.add(
                    chunk.rows[idx], table.column_label(col),
                    lambda k, idx=idx, col=col: chunk.values(col, idx[k]),
                    position=col, extra={"note": note} if note else None,
                )

    def finish(self, table: TableContext) -> CheckResult | None:
        if not self._fields:
            return None
        return super().finish(table)


@register
class TypeAndFormat(_FieldCheck):
    id = "table.type"
    name = "Values match their declared type"
    description = (
        "Every value that is not a declared missing-value code parses as its field's type and "
        "format (integer, number, boolean, date, datetime, time, year...)."
    )
    default_severity = "error"
    expected = "every value of its field's declared type and format"
    suggestion = (
        "Correct the values, declare the codes used for 'no value' in missingValues, or fix "
        "the field's type/format in the Table Schema."
    )

    def applies(self, spec: FieldSpec) -> bool:
        return spec.parsable and spec.type not in ("string", "any") or spec.format in (
            "email", "uri", "uuid", "binary")

    def failing(self, table, chunk, index, spec):
        return chunk.per_value(index, _bad)

    def note(self, spec: FieldSpec) -> str:
        return f"expected {describe_type(spec)}"

    def describe(self, findings, table):
        if not findings.count:
            return "every value has its declared type"
        cols = ", ".join(f"{c} ({n})" for c, n in sorted(findings.counts.items()))
        return f"{findings.count} values not of the declared type: {cols}"


@register
class Required(_FieldCheck):
    id = "table.required"
    name = "Required values present"
    description = "Fields declared required (and primary-key fields) have a value in every row."
    default_severity = "error"
    expected = "a value in every row for required fields"
    suggestion = "Fill in the missing values; a required field may not use a missing-value code."

    def applies(self, spec):
        return bool(spec.constraints.get("required")) or spec.name in self._pk

    def start(self, table):
        self._pk = set(table.primary_key)
        super().start(table)

    def failing(self, table, chunk, index, spec):
        return chunk.per_value(index, _missing)

    def note(self, spec):
        return "required" if spec.constraints.get("required") else "primary-key field"

    def describe(self, findings, table):
        if not findings.count:
            return "no required value is missing"
        cols = ", ".join(f"{c} ({n})" for c, n in sorted(findings.counts.items()))
        return f"{findings.count} required values missing: {cols}"


class _ConstraintCheck(_FieldCheck):
    constraint = ""

    def applies(self, spec):
        return spec.parsable and self.constraint in spec.parsed_constraints


@register
class Enum(_ConstraintCheck):
    id = "table.enum"
    name = "Values in their enumeration"
    description = "Fields with an enum constraint hold only the listed values."
    default_severity = "error"
    expected = "only the values each field's enum lists"
    suggestion = "Use one of the allowed values, or extend the enum in the Table Schema."
    constraint = "enum"

    def failing(self, table, chunk, index, spec):
        allowed = spec.parsed_constraints["enum"]
        return chunk.per_value(index, lambda p, text: p.good & ~mask(pc.is_in(p.typed, value_set=allowed)),
                               key=self.id)

    def note(self, spec):
        return f"allowed: {spec.constraints['enum']}"

    def describe(self, findings, table):
        return f"{findings.count} values outside their enum" if findings.count else "all values allowed"


class _Bound(_FieldCheck):
    """A minimum or a maximum: the two differ only in the constraint names and the comparison."""

    bound: str  # "minimum" or "maximum"
    exclusive: str  # "exclusiveMinimum" or "exclusiveMaximum"
    beyond = staticmethod(pc.less)  # value past the inclusive bound
    at_or_beyond = staticmethod(pc.less_equal)  # value past or on the exclusive bound
    past: str  # "below" / "above"
    none_past: str

    def applies(self, spec):
        return spec.parsable and bool({self.bound, self.exclusive} & set(spec.parsed_constraints))

    def failing(self, table, chunk, index, spec):
        def past(p: Parsed, text: pa.Array) -> np.ndarray:
            bad = np.zeros(len(p.missing), bool)
            if pa.types.is_floating(p.typed.type):  # NaN is beyond every bound (unless missing)
                bad |= mask(pc.is_nan(p.typed))
            if self.bound in spec.parsed_constraints:
                bad |= mask(self.beyond(p.typed, spec.parsed_constraints[self.bound][0]))
            if self.exclusive in spec.parsed_constraints:
                bad |= mask(self.at_or_beyond(p.typed, spec.parsed_constraints[self.exclusive][0]))
            return bad

        return chunk.per_value(index, past, key=self.id)

    def note(self, spec):
        key = self.bound if self.bound in spec.constraints else self.exclusive
        return f"{key} {spec.constraints[key]}"

    def describe(self, findings, table):
        return f"{findings.count} values {self.past} their {self.bound}" if findings.count else self.none_past


@register
class Minimum(_Bound):
    id = "table.minimum"
    name = "Values not below their minimum"
    description = "Fields with a minimum (or exclusiveMinimum) constraint hold no smaller value."
    default_severity = "error"
    expected = "no value below its field's minimum"
    suggestion = "Correct the values, or the minimum declared in the Table Schema."
    bound, exclusive, past, none_past = "minimum", "exclusiveMinimum", "below", "no value too small"


@register
class Maximum(_Bound):
    id = "table.maximum"
    name = "Values not above their maximum"
    description = "Fields with a maximum (or exclusiveMaximum) constraint hold no larger value."
    default_severity = "error"
    expected = "no value above its field's maximum"
    suggestion = "Correct the values, or the maximum declared in the Table Schema."
    bound, exclusive, past, none_past = "maximum", "exclusiveMaximum", "above", "no value too large"
    beyond = staticmethod(pc.greater)
    at_or_beyond = staticmethod(pc.greater_equal)


@register
class Pattern(_FieldCheck):
    id = "table.pattern"
    name = "Values match their pattern"
    description = "Fields with a pattern constraint hold only values matching it entirely."
    default_severity = "error"
    expected = "every value matching its field's pattern"
    suggestion = "Correct the values, or the pattern declared in the Table Schema."

    def applies(self, spec):
        return "pattern" in spec.constraints

    def failing(self, table, chunk, index, spec):
        pattern = f"^(?:{spec.constraints['pattern']})$"
        return chunk.per_value(index, lambda p, text: ~p.missing & ~mask(
            pc.match_substring_regex(text, pattern)), key=self.id)

    def note(self, spec):
        return f"pattern {spec.constraints['pattern']}"

    def describe(self, findings, table):
        return f"{findings.count} values not matching" if findings.count else "all values match"


@register
class Length(_FieldCheck):
    id = "table.length"
    name = "Values within their length limits"
    description = "Fields with minLength/maxLength hold values of an allowed length (characters)."
    default_severity = "error"
    expected = "every value within its field's minLength/maxLength"
    suggestion = "Correct the values, or the length limits declared in the Table Schema."

    def applies(self, spec):
        return bool({"minLength", "maxLength"} & set(spec.constraints))

    def failing(self, table, chunk, index, spec):
        def wrong_length(p: Parsed, text: pa.Array) -> np.ndarray:
            length = pc.utf8_length(text)
            bad = np.zeros(len(p.missing), bool)
            if "minLength" in spec.constraints:
                bad |= mask(pc.less(length, int(spec.constraints["minLength"])))
            if "maxLength" in spec.constraints:
                bad |= mask(pc.greater(length, int(spec.constraints["maxLength"])))
            return bad & ~p.missing

        return chunk.per_value(index, wrong_length, key=self.id)

    def note(self, spec):
        c = spec.constraints
        return ", ".join(f"{k} {c[k]}" for k in ("minLength", "maxLength") if k in c)

    def describe(self, findings, table):
        return f"{findings.count} values of a wrong length" if findings.count else "all lengths allowed"


@register
class MissingValues(_FieldCheck):
    id = "table.missing-values"
    name = "Missing values declared"
    description = (
        "Values that look like 'no value' codes (NA, n/a, null, -999...) are declared in the "
        "schema's missingValues; declared codes are counted."
    )
    default_severity = "warn"
    expected = "every 'no value' code declared in missingValues"
    suggestion = (
        "Declare the codes you use for 'no value' in the Table Schema's missingValues (or "
        "replace them with an empty value)."
    )

    def applies(self, spec):
        return True

    def start(self, table):
        super().start(table)
        self._declared: dict[str, int] = {}
        #: Each field's codes, worked out when first needed: a typed field's only once one of its
        #: values fails its type (parsing the codes as the field's type compiles its regular
        #: expressions, ~1 ms a field, for nothing in a clean file).
        self._codes: dict[int, pa.Array] = {}

    @staticmethod
    def _anywhere(spec: FieldSpec) -> bool:
        """Whether a code can stand in any cell of the field (a text field), not only where the
        value failed its type (a typed field)."""
        return spec.type in ("string", "any") or not spec.parsable

    @classmethod
    def _codes_for(cls, spec: FieldSpec) -> pa.Array:
        """The undeclared codes to look for in the field.

        In a typed field a code that is a value of the type (``-999`` for an integer, ``-``
        declared among a boolean's trueValues) is data, not a code; the others (``NA`` is no
        integer) can only stand where the value failed its type: only those cells are looked at.
        """
        codes = [c for c in COMMON_MISSING_CODES if c not in spec.missing_values]
        if spec.type == "number":
            codes = [c for c in codes if c not in ("NaN", "nan", "-999", "-9999")]
        if spec.type == "integer":
            codes = [c for c in codes if c not in ("-999", "-9999")]
        if cls._anywhere(spec) or not codes:
            return pa.array(codes, pa.string())
        parsed = parse_column(spec, pa.array(codes, pa.string()), missing=np.zeros(len(codes), bool))
        return pa.array([c for c, good in zip(codes, parsed.good, strict=True) if not good],
                        pa.string())

    def failing(self, table, chunk, index, spec):
        n_missing = int(chunk.per_value(index, _missing).sum())
        if n_missing:
            label = spec.name
            self._declared[label] = self._declared.get(label, 0) + n_missing
        def codes() -> pa.Array:
            if index not in self._codes:
                self._codes[index] = self._codes_for(spec)
            return self._codes[index]

        def undeclared(p: Parsed, text: pa.Array) -> np.ndarray:
            if self._anywhere(spec):
                return ~p.missing & mask(pc.is_in(text, value_set=codes()))
            bad = np.flatnonzero(p.bad)
            out = np.zeros(len(p.bad), bool)
            if len(bad) and len(found := codes()):
                out[bad] = mask(pc.is_in(text.take(pa.array(bad)), value_set=found))
            return out

        return chunk.per_value(index, undeclared, key=self.id)

    def note(self, spec):
        return f"not in missingValues {spec.missing_values}"

    def describe(self, findings, table):
        declared = ", ".join(f"{k} ({v})" for k, v in sorted(self._declared.items()))
        text = f"{findings.count} undeclared 'no value' codes" if findings.count else (
            "no undeclared 'no value' codes")
        return text + (f"; declared missing values: {declared}" if declared else "")


# -- repeats -----------------------------------------------------------------------------------


def _key_hashes(chunk: Chunk, table: TableContext, indexes: list[int]) -> tuple[np.ndarray, np.ndarray]:
    """(hashes, chunk positions) of rows whose key fields all have a value (computed once per
    chunk: a field both ``unique`` and the primary key is hashed once)."""
    def compute() -> tuple[np.ndarray, np.ndarray]:
        keep = np.ones(len(chunk), bool)
        hashes: np.ndarray | None = None
        for index in indexes:
            keep &= ~chunk.per_value(index, _missing)
            h = _field_hashes(chunk, table, index)
            hashes = h if hashes is None else combine(hashes, h)
        assert hashes is not None
        idx = np.flatnonzero(keep)
        return hashes[idx], idx

    return chunk.memo(("key", tuple(indexes)), compute)


def _key_tracker(table: TableContext, indexes: list[int], owner: str) -> DuplicateTracker:
    """The repeat tracker of a key (one or more fields) for check ``owner``.

    In a small file the checks that need the same key share one tracker and one sort at the end
    (a field both ``unique`` and the primary key; duplicate rows through the primary key). A
    larger file's tracker is read once, bucket by bucket, in bounded memory: each check has its
    own, as before.
    """
    shared = small_file(table.prepass.size)
    parts = ["key", *map(str, indexes)] + ([] if shared else [owner])
    key = tuple(parts)
    if key not in table.shared:
        table.shared[key] = DuplicateTracker(table.spill_dir, table.spill_rows, "-".join(parts),
                                             keep_repeats=shared)
    return table.shared[key]


def _track_keys(chunk: Chunk, table: TableContext, indexes: list[int], owner: str
                ) -> tuple[np.ndarray, np.ndarray]:
    """:func:`_key_hashes`, added to the key's tracker (:func:`_key_tracker`) once per chunk."""
    h, idx = _key_hashes(chunk, table, indexes)
    tracker = _key_tracker(table, indexes, owner)
    chunk.memo(("tracked", id(tracker)),
               lambda: tracker.add(h, chunk.rows[idx], _orderable(chunk, indexes, idx)))
    return h, idx


def _orderable(chunk: Chunk, indexes: list[int], idx: np.ndarray) -> np.ndarray | None:
    """The values of a one-field key at chunk positions ``idx`` as numbers that order as the
    values do (integers, numbers, dates, datetimes, years), or None (text keys, composite keys,
    mistyped values, or a column whose values repeat anyway)."""
    if len(indexes) != 1:
        return None
    parsed = chunk.parsed_rows(indexes[0])
    if parsed is None:
        return None
    typed = parsed.typed
    if not (pa.types.is_integer(typed.type) or pa.types.is_floating(typed.type)
            or pa.types.is_timestamp(typed.type) or pa.types.is_date(typed.type)):
        return None
    values = typed.take(pa.array(idx))
    if values.null_count:  # mistyped values: no number to order by
        return None
    if pa.types.is_date32(typed.type):
        values = values.cast(pa.int32())
    elif pa.types.is_timestamp(typed.type) or pa.types.is_date64(typed.type):
        values = values.cast(pa.int64())
    return values.to_numpy(zero_copy_only=False)


#: Whether duplicate rows may be looked for through the primary key (see DuplicateRow); a test
#: turns it off to compare the two ways.
DEFER_TO_PRIMARY_KEY = True


def _primary_key_fields(table: TableContext) -> list[int] | None:
    """The field indexes of the primary key, or None when there is none or the file lacks one
    of its fields."""
    names = {spec.name: i for i, spec, _ in table.mapped_fields()}
    if not table.primary_key or not all(n in names for n in table.primary_key):
        return None
    return [names[n] for n in table.primary_key]


def _deferring_key(table: TableContext) -> list[int] | None:
    """The primary key's field indexes, when duplicate rows can be found through it: a complete
    key, in a file small enough to hold its repeated rows' numbers (larger files hash every row,
    in bounded memory, as before)."""
    if not DEFER_TO_PRIMARY_KEY or not small_file(table.prepass.size):
        return None
    return _primary_key_fields(table)


#: Marks a value hashed by its text because it has no typed value (it failed its type).
_AS_TEXT = np.uint64(0x5BD1E995)


def _field_hashes(chunk: Chunk, table: TableContext, index: int) -> np.ndarray:
    """Each row's value of field ``index`` as a 64-bit hash (once per chunk; do not modify).

    Typed values hash by value, as the type reads them (``1`` and ``01`` are the same
    integer; ``15:00+03:00`` and ``12:00Z`` the same instant); text fields by their text; values
    without a typed value (wrong type, integers too long to compare) by their text, marked;
    every missing value alike (:data:`NONE_HASH`: each missing-value code is the same absence).
    """
    spec = table.fields[index]

    def value_hashes(p: Parsed, text: pa.Array) -> np.ndarray:
        if spec.type in ("string", "any") or not spec.parsable:
            h = hash_strings(text)
        else:
            h = hash_values(p.typed)
            if p.key is not None:  # datetimes: zoned or local, digits below the microsecond
                h = combine(h, p.key)
            odd = ~p.missing & mask(pc.is_null(p.typed))
            if odd.any():
                pos = np.flatnonzero(odd)
                h[pos] = hash_strings(text.take(pa.array(pos))) ^ _AS_TEXT
        h[p.missing] = NONE_HASH
        return h

    return chunk.memo(("field", index), lambda: chunk.per_value(index, value_hashes, key="hash"))


class _RepeatCheck(TableCheck):
    needs_schema = True
    fill_values = True

    def _report(self, table: TableContext, tracker: DuplicateTracker, label: str | None,
                position: int | None, positions: list[int] | None = None) -> None:
        count, rows, firsts = tracker.duplicates(self.sample_size)
        self._findings.count += count - len(rows)
        if label is not None and count:
            self._findings.counts[label] = self._findings.counts.get(label, 0) + count - len(rows)
        for row, first in zip(rows, firsts, strict=True):
            extra = {"note": f"same as row {int(first)}"}
            if positions:
                extra["_positions"] = positions
            self._findings.add([int(row)], label, [None],
                               position=-1 if position is None else position, extra=extra)


@register
class Unique(_RepeatCheck):
    id = "table.unique"
    name = "Unique values are unique"
    description = "Fields with the unique constraint never repeat a value (missing values aside)."
    default_severity = "error"
    expected = "no repeated value in unique fields"
    suggestion = "Correct the repeated values, or drop the unique constraint if repeats are fine."

    def start(self, table):
        super().start(table)
        self._trackers = {
            i: _key_tracker(table, [i], self.id) for i, spec, _ in table.mapped_fields()
            if spec.constraints.get("unique") and spec.parsable
        }

    def prepare(self, table, chunk):
        return [lambda i=i: _key_hashes(chunk, table, [i]) for i in self._trackers]

    def chunk(self, table, chunk):
        for i in self._trackers:
            _track_keys(chunk, table, [i], self.id)

    def finish(self, table):
        if not self._trackers:
            return None
        for i, tracker in self._trackers.items():
            col = table.field_columns[i]
            self._report(table, tracker, table.column_label(col), col)
        return super().finish(table)

    def describe(self, findings, table):
        return f"{findings.count} repeated values" if findings.count else "no repeats"


@register
class PrimaryKey(_RepeatCheck):
    id = "table.primary-key"
    name = "Primary key is unique"
    description = "The primaryKey fields, taken together, identify each row: no two rows share them."
    default_severity = "error"
    expected = "a different primary key in every row"
    suggestion = "Give each row its own key, or correct the primaryKey in the Table Schema."

    def start(self, table):
        super().start(table)
        self._indexes = _primary_key_fields(table) or []
        self._complete = bool(self._indexes)
        if self._complete:
            self._tracker = _key_tracker(table, self._indexes, self.id)

    def prepare(self, table, chunk):
        return [lambda: _key_hashes(chunk, table, self._indexes)] if self._complete else []

    def chunk(self, table, chunk):
        if self._complete:
            _track_keys(chunk, table, self._indexes, self.id)

    def finish(self, table):
        if not table.primary_key:
            return None
        if not self._complete:
            return self.not_checked(
                f"primary key {table.primary_key} names fields not in the file", table.name)
        cols = [table.field_columns[i] for i in self._indexes]
        label = ",".join(table.column_label(c) for c in cols)
        single = cols[0] if len(cols) == 1 else None
        self._report(table, self._tracker, label, single, None if single is not None else cols)
        return super().finish(table)

    def describe(self, findings, table):
        return (f"{findings.count} rows repeat the primary key {table.primary_key} of an earlier row"
                if findings.count else f"primary key {table.primary_key} unique")


@register
class DuplicateRow(_RepeatCheck):
    id = "table.duplicate-row"
    name = "No duplicate rows"
    description = (
        "No row repeats an earlier row value for value (a declared field's values compare as "
        "its type reads them: 1 and 01 are the same integer, as frictionless compares rows)."
    )
    default_severity = "warn"
    needs_schema = False
    expected = "every row different from every other"
    suggestion = "Remove the repeated rows, unless repeating is meaningful in this data."

    def start(self, table):
        super().start(table)
        self._tracker = DuplicateTracker(table.spill_dir, table.spill_rows, "rows")
        # a declared field's cells compare as values of its type (as frictionless compares
        # parsed rows); other columns, and every column without a schema, by their text
        self._field_of = {col: i for i, spec, col in table.mapped_fields() if spec.parsable}
        self._key = _deferring_key(table)
        self._keys = _key_tracker(table, self._key, self.id) if self._key is not None else None
        self._failed: str | None = None

    def _column_hashes(self, table, chunk, col: int) -> np.ndarray:
        index = self._field_of.get(col)
        return chunk.text_hashes(col) if index is None else _field_hashes(chunk, table, index)

    def _row_hashes(self, table, chunk) -> np.ndarray:
        hashes = self._column_hashes(table, chunk, 0)
        for col in range(1, len(chunk.columns)):
            hashes = combine(hashes, self._column_hashes(table, chunk, col))
        return hashes

    def prepare(self, table, chunk):
        if self._key is not None:
            return [lambda: _key_hashes(chunk, table, self._key)]
        return [lambda c=c: self._column_hashes(table, chunk, c) for c in range(len(chunk.columns))]

    def chunk(self, table, chunk):
        # entirely empty rows never get here (the scan sets them aside for table.blank-row)
        if self._key is None:
            self._tracker.add(self._row_hashes(table, chunk), chunk.rows)
            return
        # Two equal rows have equal keys: remember each row's key (shared with the primary-key
        # check) and look at whole rows only where a key repeats (after the scan, see revisit).
        # A row lacking part of its key has no key to go by: it is hashed whole now (rare).
        _, idx = _track_keys(chunk, table, self._key, self.id)
        if len(idx) < len(chunk):
            keyless = np.ones(len(chunk), bool)
            keyless[idx] = False
            self._tracker.add(self._row_hashes(table, chunk)[keyless], chunk.rows[keyless])

    def revisit(self, table):
        return None if self._keys is None else self._keys.repeated_rows()

    def seen_again(self, table, chunk):
        self._tracker.add(self._row_hashes(table, chunk), chunk.rows)

    def revisit_failed(self, table, reason):
        self._failed = reason

    def finish(self, table):
        if self._failed:
            return self.not_checked(f"the rows sharing a primary key could not be read again "
                                    f"({self._failed})", table.name)
        self._report(table, self._tracker, None, None)
        return super().finish(table)

    def describe(self, findings, table):
        return f"{findings.count} rows repeat an earlier row" if findings.count else "no repeated rows"


@register
class SchemaUsable(TableCheck):
    id = "table.schema"
    name = "Table Schema is usable"
    description = (
        "Every declared field of the (valid) Table Schema has a type docket can check and "
        "patterns it can run; an invalid schema is refused before this (exit 2)."
    )
    default_severity = "error"
    needs_data = False
    needs_schema = True
    expected = "a Table Schema whose every field and constraint can be checked"
    suggestion = "Correct the Table Schema; the fields named here were not (fully) checked."

    def chunk(self, table, chunk):
        pass

    def finish(self, table):
        findings = self.findings(table.name)
        for problem in table.schema_problems:
            findings.add([None], None, [None], extra={"note": problem})
        found = "; ".join(table.schema_problems) if table.schema_problems else (
            f"{len(table.fields)} fields, all checkable")
        return self.result(findings, found=found)
