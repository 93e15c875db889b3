"""Congruence: what arrived is what the provider declared (presence, size, md5, sha256, the
number of data rows of a table, and the encoding of text files that are not tables:
``text.encoding``).

The measured facts normally come from the transfer step, which computes size and both hashes in
the single read that stores the file; they are passed in as data (``measured[name] = {"size":...,
"md5": ..., "sha256": ...}``). When a fact is missing and the file is on disk, it is measured here,
once per file, in one streaming read.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any, ClassVar

from docket.checks.base import CheckResult, RecordCheck, RecordContext
from docket.checks.media import FileCheck, FileSubject
from docket.checks.registry import register

_READ = 8 << 20


def declared_files(record: dict[str, Any]) -> list[dict[str, Any]]:
    files = record.get("files") if isinstance(record, dict) else None
    return [f for f in files if isinstance(f, dict)] if isinstance(files, list) else []


def measure(path: Path) -> dict[str, Any]:
    """Size, md5 and sha256 of a file in one read."""
    md5, sha = hashlib.md5(usedforsecurity=False), hashlib.sha256()
    size = 0
    with open(path, "rb") as fh:
        while block := fh.read(_READ):
            size += len(block)
            md5.update(block)
            sha.update(block)
    return {"size": size, "md5": md5.hexdigest(), "sha256": sha.hexdigest()}


def measured_for(context: RecordContext, name: str, key: str) -> Any:
    """The measured ``key`` of file ``name``: given, else measured now (None if no file)."""
    facts = context.measured.setdefault(name, {})
    if facts.get(key) is None:
        path = context.files.get(name)
        if path is None or not Path(path).is_file():
            return None
        facts.update({k: v for k, v in measure(Path(path)).items() if facts.get(k) is None})
    return facts.get(key)


class _CongruenceCheck(RecordCheck):
    family = "congruence"


@register
class FilePresent(_CongruenceCheck):
    id = "file.reachable"
    name = "Files reachable"
    description = "Every file the request declares has arrived and can be read."
    default_severity = "error"
    expected = "every declared file present and readable"
    suggestion = "Transfer the missing files again, or correct their names/locations in the request."

    def run(self, context: RecordContext) -> list[CheckResult]:
        findings = self.findings(None)
        declared = declared_files(context.record)
        for f in declared:
            name = str(f.get("name", ""))
            path = context.files.get(name)
            if path is None:
                findings.add([None], None, [f.get("location")],
                             extra={"file": name, "note": "not received"})
            elif not Path(path).is_file():
                findings.add([None], None, [str(path)], extra={"file": name, "note": "not found on disk"})
        if not declared:
            return [self.not_checked("the request declares no files")]
        found = (f"{len(declared)} files present" if not findings.count
                 else f"{findings.count} of {len(declared)} files missing")
        return [self.result(findings, found=found)]


class _FactCheck(_CongruenceCheck):
    key = ""
    label = ""

    def run(self, context: RecordContext) -> list[CheckResult]:
        findings = self.findings(None)
        compared = 0
        for f in declared_files(context.record):
            name = str(f.get("name", ""))
            declared = f.get(self.key)
            if declared in (None, ""):
                continue
            measured = measured_for(context, name, self.key)
            if measured is None:
                continue
            compared += 1
            same = (int(declared) == int(measured)) if self.key == "size" else (
                str(declared).strip().lower() == str(measured).lower())
            if not same:
                findings.add([None], None, [measured],
                             extra={"file": name, "note": f"declared {declared}"})
        if not compared:
            return [self.not_checked(f"no received file declares its {self.label}")]
        found = (f"{self.label} matches for {compared} files" if not findings.count
                 else f"{findings.count} of {compared} files differ from the declared {self.label}")
        return [self.result(findings, found=found)]


@register
class Size(_FactCheck):
    id = "congruence.size"
    name = "Size as declared"
    description = "Each file's size in bytes equals the size the provider declared."
    default_severity = "error"
    expected = "measured size equal to the declared size"
    suggestion = "The file was cut or changed in transit, or the declaration is wrong: transfer again."
    key = "size"
    label = "size"


@register
class Md5(_FactCheck):
    id = "congruence.md5"
    name = "MD5 as declared"
    description = "Each file's MD5 digest equals the one the provider declared."
    default_severity = "error"
    expected = "measured MD5 equal to the declared MD5"
    suggestion = "The file differs from what the provider checksummed: transfer it again."
    key = "md5"
    label = "md5"


@register
class Sha256(_FactCheck):
    id = "congruence.sha256"
    name = "SHA-256 as declared"
    description = "Each file's SHA-256 digest equals the one the provider declared."
    default_severity = "error"
    expected = "measured SHA-256 equal to the declared SHA-256"
    suggestion = "The file differs from what the provider checksummed: transfer it again."
    key = "sha256"
    label = "sha256"


@register
class Rows(_CongruenceCheck):
    """The declared record count (``rows``, e.g. EML's ``numberOfRecords``) against the data rows
    the table scan counted.

    Only the scan knows how many data rows a table has (after its header, with its dialect and
    comment lines settled), so this check runs after the tables are scanned: ``check_request``
    puts each scanned table's count into ``context.measured[name]["rows"]`` and nothing else
    does; a count the transfer (or a caller) passed in is not trusted.
    """

    id = "congruence.rows"
    name = "Record count as declared"
    description = ("Each table has as many data rows (header lines excluded) as the record count "
                   "the provider declared.")
    default_severity = "error"
    expected = "number of data rows equal to the declared record count"
    suggestion = ("Rows were lost or added (a cut transfer, a stray header or blank line), or the "
                  "declared record count is wrong: compare the file with its source, transfer it "
                  "again, or correct the declared count.")
    #: Run by ``check_request`` after the table scan, which is where the counts come from.
    after_tables: ClassVar[bool] = True

    def run(self, context: RecordContext) -> list[CheckResult]:
        results: list[CheckResult] = []
        for f in declared_files(context.record):
            declared = f.get("rows")
            if declared is None or declared == "":
                continue
            name = str(f.get("name", ""))
            if isinstance(declared, bool) or not str(declared).strip().isdigit():
                results.append(self.not_checked(
                    f"the declared record count {declared!r} is not a whole number", name))
                continue
            counted = context.measured.get(name, {}).get("rows")
            if counted is None:
                results.append(self.not_checked(
                    "the file was not received, could not be read, or is not a table", name))
                continue
            want = int(str(declared).strip())
            findings = self.findings(name)
            if int(counted) != want:
                findings.add([None], None, [int(counted)], extra={"note": f"declared {want}"})
            found = (f"{want} rows, as declared" if not findings.count
                     else f"declared {want} rows, found {int(counted)}")
            results.append(self.result(findings, found=found))
        return results or [self.not_checked("no received table declares its record count")]


#: How a line terminator is named in words (and the escapes EML writes it with).
TERMINATORS = {"\r\n": "CRLF (\\r\\n)", "\n": "LF (\\n)", "\r": "CR (\\r)"}
_ENDING_KEYS = {"crlf": "\r\n", "lf": "\n", "cr": "\r"}
#: Field delimiters a table may use instead of the declared one.
_CANDIDATES = (",", ";", "\t", "|")


def _shown(delimiter: str) -> str:
    return {"\t": "tab (\\t)", " ": "space"}.get(delimiter, repr(delimiter))


def arrived_delimiter(declared: str, header: list[str], fields: int) -> str | None:
    """The field delimiter the file uses when it is not ``declared``, else None.

    Read with the declared delimiter, a file written with another one has one column whose label
    holds the other delimiter (``"site,temp_c"`` read with ``;``); a schema of one field, whose
    name is that label, is the exception.
    """
    if len(header) != 1 or fields == 1:
        return None
    counts = {d: header[0].count(d) for d in _CANDIDATES if d != declared}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else None


@register
class Delimiters(_CongruenceCheck):
    """The record delimiter and field delimiter a table's dialect declares (its file entry's
    ``dialect``, e.g. EML's ``recordDelimiter`` and ``fieldDelimiter``, or its package resource's)
    against the file that arrived.

    What arrived is what the table scan found (``check_request`` puts it in
    ``context.measured[name]``): the lines ending in each terminator, counted in the scan's
    prepass (a line break inside a quoted value counts too), and the header read by the declared
    dialect. A table whose dialect declares a ``lineTerminator`` is compared here rather than by
    ``table.line-terminator``, so one difference is reported once.
    """

    id = "congruence.delimiters"
    name = "Delimiters as declared"
    description = ("Each table's lines end with the record delimiter (lineTerminator) its dialect "
                   "declares, and its fields are separated by the declared field delimiter.")
    default_severity = "error"
    expected = "the declared record and field delimiters"
    suggestion = ("The file was saved on another system or by another tool than the one described "
                  "(Windows CRLF against Unix LF line ends, commas against semicolons): correct the "
                  "dialect declared for the file (or the EML's recordDelimiter / fieldDelimiter), "
                  "or save the file again with the declared delimiters.")
    #: Run by ``check_request`` after the table scan, which is where the facts come from.
    after_tables: ClassVar[bool] = True

    def run(self, context: RecordContext) -> list[CheckResult]:
        from docket import structural

        pkg = structural.structural_of(context.record)
        results: list[CheckResult] = []
        for f in declared_files(context.record):
            dialect = structural.dialect_for(pkg, f)
            if not dialect or not ({"lineTerminator", "delimiter"} & set(dialect)):
                continue
            name = str(f.get("name", ""))
            facts = context.measured.get(name, {})
            if facts.get("line_endings") is None:
                results.append(self.not_checked(
                    "the file was not received, could not be read, or is not a table", name))
                continue
            findings = self.findings(name)
            said: list[str] = []
            term = dialect.get("lineTerminator")
            if term in TERMINATORS:
                ends = {_ENDING_KEYS[k]: int(v) for k, v in facts["line_endings"].items() if k in _ENDING_KEYS}
                others = {t: n for t, n in ends.items() if t != term and n}
                if others:
                    kinds = ", ".join(f"{n} {TERMINATORS[t]}" for t, n in others.items())
                    findings.add([None], None, [max(others, key=lambda t: others[t])],
                                 extra={"note": f"declared record delimiter {TERMINATORS[term]}; "
                                                f"lines end with {kinds}"})
                    said.append(f"lines end with {kinds}, not the declared {TERMINATORS[term]}")
                else:
                    said.append(f"lines end with {TERMINATORS[term]}")
            delim = dialect.get("delimiter")
            if isinstance(delim, str) and delim:
                schema = structural.schema_for(pkg, name)
                fields = len(schema.get("fields") or []) if isinstance(schema, dict) else 0
                other = arrived_delimiter(delim, list(facts.get("header") or []), fields)
                if other is not None:
                    findings.add([None], None, [other],
                                 extra={"note": f"declared field delimiter {_shown(delim)}; the header "
                                                f"is separated by {_shown(other)}"})
                    said.append(f"fields are separated by {_shown(other)}, not the declared {_shown(delim)}")
                else:
                    said.append(f"fields separated by {_shown(delim)}")
            found = "; ".join(said) + ("" if findings.count else ", as declared")
            results.append(self.result(findings, found=found))
        return results or [self.not_checked("no received table declares its delimiters (a dialect)")]


@register
class TextEncoding(FileCheck):
    """The encoding check of a text file that is not a table (a methods note, a README).

    Tables get ``table.encoding`` with columns named; other text has only lines, so it gets
    this check, which reads the bytes with the same streaming decoder and names lines.
    """

    id = "text.encoding"
    name = "Text encoding as declared"
    description = ("Every byte of a text file that is not a table decodes in its declared encoding "
                   "(UTF-8 unless declared).")
    family = "text"
    kinds = ("text",)
    default_severity = "error"
    suggestion = ("Save the file as UTF-8, or declare the encoding it really has (for example "
                  "latin-1 or windows-1252) in the file's metadata.")

    def check(self, subject: FileSubject) -> CheckResult:
        from docket.checks._scan import prepass

        declared = subject.entry.get("encoding") if isinstance(subject.entry, dict) else None
        pre = prepass(subject.path, subject.name, str(declared) if declared else None, self.sample_size)
        expected = f"text encoded as {pre.expected_encoding}"
        subject.cache["encoding"] = pre.encoding  # what the file entry of the report shows
        invalid = pre.invalid
        if invalid is None or not invalid.count:
            return self.result(expected=expected, found=f"valid {pre.expected_encoding} "
                               f"({pre.size} bytes)", file=subject.name)
        findings = self.findings(subject.name)  # lines, not rows: a text file has no header
        for loc in invalid.locations():
            findings.add([None], None, [loc["value"]], extra={"line": loc["line"], "note": loc["note"]})
        findings.count = invalid.count
        more = "" if pre.invalid_count_exact else " or more"
        first = findings.locations()[0]
        found = (f"not valid {pre.expected_encoding}: {findings.count}{more} invalid byte sequences, "
                 f"the first at line {first.get('line')}")
        return self.result(findings, expected=expected, found=found)
