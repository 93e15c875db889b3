"""Running checks: on one CSV file (``check_table``) or on a whole request (``check_request``)."""

from __future__ import annotations

import dataclasses
import tempfile
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from docket.checks import foreign_keys, registry
from docket.checks._scan import (
    EncodingGuessed,
    Prepass,
    TableContext,
    block_size_for,
    finish_prepass,
    prepass,
    run_table_checks,
    settle_dialect,
    spill_rows_for,
    start_prepass,
)
from docket.checks._types import FieldSpec, missing_texts
from docket.checks.base import DEFAULT_SAMPLE_SIZE, CheckResult, RecordContext
from docket.checks.congruence import declared_files
from docket.checks.dialect import load_dialect, validate_dialect
from docket.checks.report import Report, build_report
from docket.documents import load_descriptor
from docket.errors import BadInput, NotFound, Problem

TABULAR_MEDIA_TYPES = ("text/csv", "text/tab-separated-values", "application/csv")
TABULAR_SUFFIXES = (".csv", ".tsv", ".tab")


def load_table_schema(schema: dict[str, Any] | str | Path | None) -> dict[str, Any] | None:
    """A Table Schema from a dict or a JSON file; BadInput when it is not one.

    The file is read by docket's bounded JSON reader (no NaN, no 100,000-deep nesting), and the
    keys the checks use must have the types they use them as: a ``constraints`` that is a number
    is a refusal naming its path here, not a ``TypeError`` deep inside a check.
    """
    if schema is None:
        return None
    source = None
    if isinstance(schema, str | Path):
        source = Path(schema)
        schema = load_descriptor(schema, "Table Schema")
    if not isinstance(schema, dict) or not isinstance(schema.get("fields"), list):
        raise BadInput(_not_a_schema(schema, source))
    for i, desc in enumerate(schema["fields"]):
        if not isinstance(desc, dict) or not isinstance(desc.get("name"), str):
            raise BadInput(f"Table Schema fields[{i}] must be an object with a string 'name'")
    from docket.checks import schema as profile

    problems = list(_shape_problems(schema))  # docket's own words first, then the profile's
    covered = {p.where for p in problems}
    problems += [p for p in profile.profile_problems(schema) + profile.prose_problems(schema)
                 if p.where not in covered]
    if not problems:
        missing = missing_texts(schema.get("missingValues", [""]))
        specs = [FieldSpec.from_descriptor(d, missing) for d in schema["fields"]]
        problems = profile.constraint_problems(schema, specs)
    if problems:
        first = "" if len(problems) == 1 else f" ({len(problems)} problems)"
        raise BadInput(f"the Table Schema is invalid{first}: {problems[0]}", problems)
    return schema


def _not_a_schema(value: Any, source: Path | None) -> str:
    """Why ``value`` is not a Table Schema, naming the descriptor it is when it is another one
    (people hand ``--schema`` the datapackage.json they have)."""
    name = source.name if source is not None else "the descriptor"
    if isinstance(value, dict) and isinstance(value.get("resources"), list):
        return (f"{name} is a Data Package descriptor, not a Table Schema: check the whole package "
                f"with `docket check {source or 'datapackage.json'}` (no --schema)")
    if isinstance(value, dict) and ("path" in value or "data" in value):
        return (f"{name} is a Data Resource descriptor, not a Table Schema: check the resource "
                f"with `docket check {source or 'resource.json'}` (no --schema), or give its "
                "'schema' as --schema")
    return "the Table Schema must be a JSON object with a 'fields' list"


_TEXT_LIST = "a list of texts"
_FIELD_SHAPES: dict[str, tuple[Any, str]] = {
    "type": (str, "a text"), "format": (str, "a text"), "constraints": (dict, "an object"),
    "missingValues": (list, _TEXT_LIST), "trueValues": (list, _TEXT_LIST), "falseValues": (list, _TEXT_LIST),
    "decimalChar": (str, "a text"), "groupChar": (str, "a text"),
}


def _shape_problems(schema: dict[str, Any]) -> Any:
    """The keys the checks read, each with the JSON type they read it as; yields Problems."""
    if "missingValues" in schema and not _texts(schema["missingValues"], labelled=True):
        yield Problem("$.missingValues", "must be a list of texts")
    pk = schema.get("primaryKey")
    if pk is not None and not (isinstance(pk, str) or _texts(pk)):
        yield Problem("$.primaryKey", "must be a field name or a list of field names")
    for i, desc in enumerate(schema["fields"]):
        for key, (kind, what) in _FIELD_SHAPES.items():
            value = desc.get(key)
            if value is not None and not (isinstance(value, kind) and (
                    kind is not list or _texts(value, labelled=key == "missingValues"))):
                yield Problem(f"$.fields[{i}].{key}", f"must be {what}")
        constraints = desc.get("constraints")
        if not isinstance(constraints, dict):
            continue
        for key in ("minLength", "maxLength"):
            value = constraints.get(key)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int)
                                      or not 0 <= value < 2**62):
                yield Problem(f"$.fields[{i}].constraints.{key}", "must be a whole number, 0 or more")
        if "pattern" in constraints and not isinstance(constraints["pattern"], str):
            yield Problem(f"$.fields[{i}].constraints.pattern", "must be a text")


def _texts(value: Any, labelled: bool = False) -> bool:
    """A list of texts (numbers tolerated); ``labelled``: Table Schema 2's ``{"value": ...}`` too."""
    return isinstance(value, list) and all(
        (isinstance(v, str | int | float) and not isinstance(v, bool))
        or (labelled and isinstance(v, dict) and isinstance(v.get("value"), str)) for v in value)


def _apply_schema(table: TableContext, schema: dict[str, Any] | None) -> None:
    if schema is None:
        return
    missing = missing_texts(schema.get("missingValues", [""]))
    table.fields = [FieldSpec.from_descriptor(d, missing) for d in schema["fields"]]
    names = [f.name for f in table.fields]
    for name in {n for n in names if names.count(n) > 1}:
        table.schema_problems.append(f"field name {name!r} is declared more than once")
    for spec in table.fields:
        table.schema_problems.extend(spec.problems)
    pk = schema.get("primaryKey") or []
    table.primary_key = [pk] if isinstance(pk, str) else [str(p) for p in pk]
    for name in table.primary_key:
        if name not in names:
            table.schema_problems.append(f"primaryKey names {name!r}, which is not a declared field")
    # Map fields to columns: by name first, then by position for columns nobody claimed.
    position = {}
    for col, label in enumerate(table.header):
        position.setdefault(label, col)
    mapping: list[int | None] = [position.get(spec.name) for spec in table.fields]
    claimed = {c for c in mapping if c is not None}
    for i, col in enumerate(mapping):
        if col is None and i < len(table.header) and i not in claimed:
            mapping[i] = i
            claimed.add(i)
    table.field_columns = mapping


def table_context(
    path: Path,
    schema: dict[str, Any] | None,
    *,
    name: str | None = None,
    encoding: str | None = None,
    dialect: dict[str, Any] | None = None,
    sample_size: int = DEFAULT_SAMPLE_SIZE,
    spill_rows: int | None = None,
    beside: bool = False,
    known: Prepass | None = None,
) -> TableContext:
    """A file made ready to stream: bytes measured, dialect and header settled, schema mapped.

    Shared by the scan and by the key pass over a resource that foreign keys refer to, so both
    read a file exactly alike. ``unreadable`` says why no rows can be read, if so. With
    ``beside`` the prepass of a large UTF-8 file may still be running when this returns
    (:func:`~docket.checks._scan.start_prepass`); ``known`` is a prepass already taken.
    """
    table = TableContext(path=path, name=name or path.name, schema=schema, sample_size=sample_size)
    if known is not None:
        table.prepass = known
    elif beside:
        table.prepass, table.prepass_pending = start_prepass(path, table.name, encoding, sample_size)
    else:
        table.prepass = prepass(path, table.name, encoding, sample_size)
    table.spill_rows = spill_rows if spill_rows is not None else spill_rows_for(table.prepass.size)
    if table.prepass.size == 0:
        table.unreadable = "the file is empty (0 bytes)"
    else:
        settle_dialect(table, dialect)  # the dialect, comment lines before the header, the header
        if table.dialect.needs_filter:  # its reader tells CR-only files from the line counts
            finish_prepass(table)
    _apply_schema(table, schema)
    return table


def scan_file(
    path: Path,
    schema: dict[str, Any] | None,
    *,
    name: str | None = None,
    severities: dict[str, str] | None = None,
    encoding: str | None = None,
    dialect: dict[str, Any] | None = None,
    sample_size: int = DEFAULT_SAMPLE_SIZE,
    block_size: int | None = None,
    spill_rows: int | None = None,
    references: foreign_keys.KeySource | None = None,
) -> tuple[list[CheckResult], dict[str, Any]]:
    """Run every table check on one file; returns the results and the file's entry.

    ``references`` looks up the keys of other resources for foreign keys (a Data Package).
    """
    sev = severities or {}
    classes = registry.all_checks("table")

    def make_checks():
        return [cls(severity=sev.get(cls.id), sample_size=sample_size)
                for cls in classes if sev.get(cls.id) != "off"]

    known: Prepass | None = None
    while True:
        try:
            table = table_context(path, schema, name=name, encoding=encoding, dialect=dialect,
                                  sample_size=sample_size, spill_rows=spill_rows,
                                  beside=known is None, known=known)
            foreign_keys.attach_key_source(table, references)
            if table.unreadable:
                finish_prepass(table)
                checks = make_checks()
                for check in checks:
                    check.start(table)
                results = [c.conclude(table) for c in checks]
            else:
                results = run_table_checks(table, make_checks,
                                           block_size or block_size_for(table.prepass.size))
            break
        except EncodingGuessed as guessed:  # not UTF-8 after all: again, read as the prepass says
            known = guessed.prepass
    off = [cls(severity="off").not_checked("turned off by the severity settings", table.name)
           for cls in classes if sev.get(cls.id) == "off"]
    info = {
        "name": table.name,
        "size": table.prepass.size,
        "rows": table.rows,
        "columns": len(table.header),
        "header": list(table.header),
        "encoding": table.prepass.encoding,
        "delimiter": table.dialect.delimiter,
        # lines ending in each terminator (the prepass's count): congruence.delimiters compares
        # them with a declared record delimiter
        "line_endings": {"crlf": table.prepass.line_ends["\r\n"], "lf": table.prepass.line_ends["\n"],
                         "cr": table.prepass.line_ends["\r"]},
        "schema": schema is not None,
        "checked": not table.unreadable,
        "reason": table.unreadable,
    }
    return results + off, info


def check_table(
    path: str | Path,
    table_schema: dict[str, Any] | str | Path | None = None,
    *,
    severities: dict[str, str] | None = None,
    encoding: str | None = None,
    dialect: dict[str, Any] | str | Path | None = None,
    sample_size: int = DEFAULT_SAMPLE_SIZE,
    block_size: int | None = None,
    spill_rows: int | None = None,
) -> Report:
    """Check one CSV file, optionally against a Table Schema (a dict or a JSON file).

    ``severities`` overrides default severities (``{check_id: "info"|"warn"|"error"|"off"}``).
    ``block_size`` (bytes read per chunk) and ``spill_rows`` (hash entries held in memory before
    spilling to disk; by default more for files small enough to read in large blocks) bound
    memory; the report does not depend on them.
    """
    path = Path(path)
    if path.is_dir():
        raise BadInput(f"{path} is a folder; give the CSV file to check")
    if not path.is_file():
        raise NotFound(f"{path}: no such file")
    schema = load_table_schema(table_schema)
    dialect_desc = load_dialect(dialect)
    sev = registry.resolve_severities(severities)
    results, info = scan_file(
        path, schema, severities=sev, encoding=encoding, dialect=dialect_desc,
        sample_size=sample_size, block_size=block_size, spill_rows=spill_rows,
    )
    return build_report(results, [info], subject={"kind": "table", "name": path.name},
                        notes=registry.load_errors() + _schema_warnings(schema))


def _schema_warnings(schema: dict[str, Any] | None) -> list[str]:
    """What the schema allows but almost surely did not mean, as report notes."""
    if schema is None:
        return []
    from docket.checks.schema import warnings

    return [f"Table Schema: {w}" for w in warnings(schema)]


def schema_for(record: dict[str, Any], file: dict[str, Any]) -> dict[str, Any] | None:
    """The Table Schema that applies to a declared file: dataset_structural itself, or, when
    dataset_structural is a whole Data Package, the inline schema of the resource whose ``name``,
    ``path`` or path's last part is the file's name (:mod:`docket.structural`; a schema given as
    a path cannot be read: a request carries no package folder)."""
    from docket import structural

    return structural.schema_for(structural.structural_of(record), file.get("name"))


def is_tabular(file: dict[str, Any], path: str | Path | None = None) -> bool:
    """Whether a declared file gets the table checks: by its bytes when it is on disk at ``path``
    (a methods ``.txt`` or a zip named ``.csv`` is not a table), else by its declaration."""
    from docket.checks.media import TABLE, declares_table, sniff

    if path is not None and Path(path).is_file():
        return sniff(path, file.get("media_type"), file.get("name")).kind == TABLE
    return declares_table(file.get("media_type"), file.get("name"))


def check_request(
    record: dict[str, Any],
    files: dict[str, str | Path],
    measured: dict[str, dict[str, Any]] | None = None,
    *,
    severities: dict[str, str] | None = None,
    sample_size: int = DEFAULT_SAMPLE_SIZE,
    block_size: int | None = None,
    spill_rows: int | None = None,
) -> Report:
    """Every check on a request: metadata completeness, congruence, and the checks each file's
    kind calls for, the kind measured from its bytes (:func:`docket.checks.media.sniff`): the table
    checks of a table against its declared Table Schema, ``text.encoding`` for other text, the
    ``netcdf.*`` and ``cf.*`` checks for NetCDF; other binary files get size and checksums only.

    The request is read as a Data Package (:class:`RequestKeys`): a foreign key of one file to
    another of its tables (by the resource name ``dataset_structural`` gives it, its file name or
    that name without extension) is checked across the two files, as ``check_package`` does.

    ``files`` maps declared file names to where they are on disk; ``measured`` maps names to
    measured ``size``/``md5``/``sha256`` (and ``media_type``, from the transfer); missing facts are
    measured here.
    """
    from docket.checks.base import RecordCheck
    from docket.checks.media import TABLE, sniff

    if not isinstance(record, dict):
        raise BadInput("the request record must be a JSON object")
    sev = registry.resolve_severities(severities)
    context = RecordContext(
        record=record,
        files={k: Path(v) for k, v in (files or {}).items()},
        measured={k: dict(v) for k, v in (measured or {}).items()},
    )
    results: list[CheckResult] = []
    after_tables: list[type[RecordCheck]] = []  # they compare with what the table scan counted
    for cls in registry.all_checks():
        if not issubclass(cls, RecordCheck):  # table and file checks run per file, below
            continue
        if sev.get(cls.id) == "off":
            results.append(cls(severity="off").not_checked("turned off by the severity settings"))
            continue
        if getattr(cls, "after_tables", False):
            after_tables.append(cls)
            continue
        results.extend(cls(severity=sev.get(cls.id), sample_size=sample_size).run(context))
    infos: list[dict[str, Any]] = []
    notes = registry.load_errors()
    # First every file is measured and its schema and dialect settled; then the tables are
    # scanned with the whole request at hand, so a foreign key to another of its files is checked.
    plans: list[tuple[dict[str, Any], Any]] = []
    counted: dict[str, int] = {}  # data rows of each table the scan read, by declared name
    read: dict[str, dict[str, Any]] = {}  # its header, line endings and delimiter, likewise
    for f in declared_files(record):
        name = str(f.get("name", ""))
        path = context.files.get(name)
        if path is None or not path.is_file():
            plans.append(({"name": name, "size": f.get("size"), "checked": False, "reason": "not received"}, None))
            continue
        declared = f.get("media_type") or context.measured.get(name, {}).get("media_type")
        try:
            media = sniff(path, declared, name)
        except OSError as exc:
            plans.append(({"name": name, "size": f.get("size"), "checked": False,
                           "reason": f"cannot be read ({exc.strerror})"}, None))
            continue
        notes.extend(media_notes(name, media, declared))
        if media.kind != TABLE:
            plans.append((f, (path, media, None)))
            continue
        schema, dialect, table_notes = _table_settings(record, f, name)
        notes.extend(table_notes)
        from docket import structural

        encoding = structural.encoding_for(structural.structural_of(record), f)
        plans.append((f, (path, media, _RequestTable(name, f, path, schema, dialect, encoding))))
    tables = [p[2] for _, p in plans if p is not None and p[2] is not None]
    # Keys spill to a temporary folder; without a table there is nothing to spill, and the
    # request form runs this on every change of a field, so no folder is made (and removed).
    spill: Any = tempfile.TemporaryDirectory(prefix="docket-keys-") if tables else nullcontext(None)
    with spill as tmp:
        keys = RequestKeys(record, tables, Path(tmp) if tmp else Path(tempfile.gettempdir()),
                           spill_rows, sample_size)
        for f, plan in plans:
            if plan is None:  # not received or unreadable: ``f`` is its entry in the report
                infos.append(f)
                continue
            path, media, table = plan
            name = str(f.get("name", ""))
            if table is None:
                file_results, info, file_notes = check_media(
                    path, media, name=name, entry=f, structural=schema_for(record, f), severities=sev,
                    sample_size=sample_size)
                results.extend(file_results)
                infos.append(info)
                notes.extend(file_notes)
                continue
            table_results, info = scan_file(
                path, table.schema, name=name, severities=sev, encoding=table.encoding,
                dialect=table.dialect, sample_size=sample_size, block_size=block_size,
                spill_rows=spill_rows, references=keys,
            )
            results.extend(_hand_over_terminator(table_results, table, sev, sample_size))
            infos.append({**info, "media_type": media.media_type, "kind": media.kind})
            if info.get("checked"):
                counted[name] = int(info["rows"])
                read[name] = {"header": list(info["header"]), "line_endings": dict(info["line_endings"]),
                              "delimiter": info["delimiter"]}
    # Data rows, headers and line endings are known only now, and only for the tables that were
    # read: such facts given with ``measured`` are replaced, so congruence.rows and
    # congruence.delimiters compare with what the scan found.
    for facts in context.measured.values():
        for key in ("rows", "header", "line_endings", "delimiter"):
            facts.pop(key, None)
    for name, rows in counted.items():
        context.measured.setdefault(name, {}).update(rows=rows, **read[name])
    for cls in after_tables:
        results.extend(cls(severity=sev.get(cls.id), sample_size=sample_size).run(context))
    subject = {"kind": "request", "id": _str_or_none(record.get("id")),
               "revision": record.get("revision")}
    return build_report(results, infos, subject=subject, notes=notes)


def _table_settings(record: dict[str, Any], f: dict[str, Any], name: str
                    ) -> tuple[dict[str, Any] | None, dict[str, Any] | None, list[str]]:
    """A declared table's Table Schema and dialect, each validated, and notes on what was set
    aside: a provider's broken schema or dialect is reported, and the file checked without it."""
    notes: list[str] = []
    schema = schema_for(record, f)
    try:
        schema = load_table_schema(schema) if schema is not None else None
    except BadInput as exc:
        notes.append(f"{name}: dataset_structural is not a usable Table Schema ({exc.message}); "
                     "the file was checked without it")
        schema = None
    notes.extend(f"{name}: {w}" for w in _schema_warnings(schema))
    from docket import structural

    dialect = structural.dialect_for(structural.structural_of(record), f)  # its entry's, else its resource's
    try:
        dialect = validate_dialect(dialect, f"{name}: dialect") if dialect is not None else None
    except BadInput as exc:
        notes.append(f"{exc.message}; the file was checked without it "
                     f"({'; '.join(str(p) for p in exc.problems)})")
        dialect = None
    return schema, dialect, notes


def _hand_over_terminator(results: list[CheckResult], table: _RequestTable, sev: dict[str, str],
                          sample_size: int) -> list[CheckResult]:
    """A request's table whose dialect declares a ``lineTerminator`` has it compared with the
    file by ``congruence.delimiters`` (what was declared against what arrived): its
    ``table.line-terminator`` result says so instead of reporting the same lines a second time."""
    if sev.get("congruence.delimiters") == "off" or "lineTerminator" not in (table.dialect or {}):
        return results
    cls = registry.get("table.line-terminator")
    return [cls(severity=sev.get(cls.id), sample_size=sample_size).not_checked(
                "the declared lineTerminator is compared with the file by congruence.delimiters",
                table.name) if r.id == cls.id and r.status != "not-checked" else r for r in results]


@dataclass
class _RequestTable:
    """A table of a request as the checks read it: the same schema, dialect and encoding for its
    own scan and for the key pass of a foreign key that points to it, so both read it alike."""

    name: str
    entry: dict[str, Any]
    path: Path
    schema: dict[str, Any] | None
    dialect: dict[str, Any] | None
    #: The declared encoding: the file entry's, else its package resource's.
    encoding: str | None = None


def resource_names(record: dict[str, Any], f: dict[str, Any]) -> list[str]:
    """The names a foreign key may give to the declared file ``f`` as its ``resource``.

    When ``dataset_structural`` is a Data Package, the ``name`` of the resource that describes the
    file (matched as :func:`schema_for` matches it); always the file's own name, and that name
    without its extension (``soil_sites`` for ``soil_sites.csv``), since a request's files have
    no other names.
    """
    from docket import structural

    name = str(f.get("name", ""))
    out: list[str] = []
    res = structural.resource_for(structural.structural_of(record), name)
    if res is not None and isinstance(res.get("name"), str):
        out.append(res["name"])
    out.append(name)
    stem = name.rsplit(".", 1)[0] if "." in name.lstrip(".") else name
    if stem not in out:
        out.append(stem)
    return out


class RequestKeys:
    """The keys of a request's files that foreign keys refer to (a ``KeySource``): the request
    seen as a Data Package, one resource per declared table with its schema, dialect and encoding.

    The key passes themselves are :class:`~docket.checks.package.PackageKeys`' (one streamed pass
    per referenced file and key, bounded by ``spill_rows``), so a request and a datapackage.json
    agree on what a foreign key finds. A name that means two files (a stem shared by
    ``a.csv`` and ``a.tsv``) is ambiguous and refers to neither.
    """

    def __init__(self, record: dict[str, Any], tables: list[_RequestTable], spill_dir: Path,
                 spill_rows: int | None, sample_size: int) -> None:
        from docket.checks.package import Package, PackageKeys, Resource

        resources = [Resource(index=i, name=t.name, declared_path=t.name, path=t.path, schema=t.schema,
                              dialect=t.dialect, encoding=t.encoding)
                     for i, t in enumerate(tables)]
        owners: dict[str, set[str]] = {}
        for t in tables:
            for alias in resource_names(record, t.entry):
                owners.setdefault(alias, set()).add(t.name)
        #: resource name -> the file it means, or None when it means two files.
        self.aliases: dict[str, str | None] = {
            alias: next(iter(names)) if len(names) == 1 else None for alias, names in owners.items()}
        for t in tables:  # a file's own name always means that file
            self.aliases[t.name] = t.name
        self.declared = {str(f.get("name", "")) for f in declared_files(record)}
        package = Package(path=Path(str(record.get("id") or "request")), kind="package",
                          version="request", name=str(record.get("id") or "request"), resources=resources)
        self.keys = PackageKeys(package, spill_dir, spill_rows, sample_size)

    def referenced(self, decl: foreign_keys.ForeignKeyDecl, local: list[FieldSpec]) -> foreign_keys.Referenced:
        target = self.aliases.get(decl.resource, "")
        if target is None:
            return foreign_keys.Referenced(None, reason=f"resource {decl.resource!r} names more than "
                                                        "one file of the request")
        if not target:
            received = " (it was not received, or is not a table)" if decl.resource in self.declared else ""
            return foreign_keys.Referenced(None, reason=f"resource {decl.resource!r} is not a table "
                                                        f"of the request{received}")
        return self.keys.referenced(dataclasses.replace(decl, resource=target), local)


def media_notes(name: str, media: Any, declared: str | None) -> list[str]:
    """A note when the bytes contradict the declaration (a "CSV" that is a zip, a NetCDF file
    declared as something else): the checks follow the bytes, and the reader should know why."""
    from docket.checks.media import NETCDF, TABLE, declares_netcdf, declares_table

    if declares_table(declared, name) and media.kind != TABLE:
        return [f"{name}: declared as a table, but its bytes are {media.detail} ({media.media_type}); "
                f"it was checked as such"]
    if declares_netcdf(declared, name) and media.kind != NETCDF:
        return [f"{name}: declared as NetCDF, but its bytes are {media.detail} ({media.media_type}); "
                f"it was checked as such"]
    return []


def check_media(
    path: Path,
    media: Any,
    *,
    name: str | None = None,
    entry: dict[str, Any] | None = None,
    structural: dict[str, Any] | None = None,
    severities: dict[str, str] | None = None,
    sample_size: int = DEFAULT_SAMPLE_SIZE,
) -> tuple[list[CheckResult], dict[str, Any], list[str]]:
    """The file checks for a file that is not a table: every registered
    :class:`~docket.checks.media.FileCheck` whose ``kinds`` include ``media.kind`` (text:
    ``text.encoding``; NetCDF: ``netcdf.*`` and ``cf.*``; plug-ins alike). Returns the results,
    the file's entry for the report and notes. ``severities`` must be resolved already.
    """
    from docket.checks.media import FileCheck, FileSubject

    name = name or path.name
    sev = severities or {}
    subject = FileSubject(path=path, name=name, media=media, entry=dict(entry or {}),
                          structural=structural if isinstance(structural, dict) else None)
    classes = [c for c in registry.all_checks() if issubclass(c, FileCheck) and media.kind in c.kinds]
    results: list[CheckResult] = []
    for cls in classes:
        if sev.get(cls.id) == "off":
            results.append(cls(severity="off").not_checked("turned off by the severity settings", name))
            continue
        results.append(cls(severity=sev.get(cls.id), sample_size=sample_size).check(subject))
    ran = any(r.status != "not-checked" for r in results)
    info: dict[str, Any] = {"name": name, "size": path.stat().st_size, "media_type": media.media_type,
                            "kind": media.kind, "checked": ran, "reason": None}
    if not classes:
        info["reason"] = f"{media.detail}: no content checks apply (size and checksums only)"
    elif not ran:
        info["reason"] = next((r.found for r in results if r.status == "not-checked"), None)
    if subject.cache.get("encoding"):
        info["encoding"] = subject.cache["encoding"]
    opened = subject.cache.get("netcdf")
    if opened is not None and opened.error is None:
        info["dimensions"] = {k: v for k, v in opened.dimensions.items()}
        info["variables"] = list(opened.variables)
    return results, info, subject.notes


def check_file(
    path: str | Path,
    table_schema: dict[str, Any] | str | Path | None = None,
    *,
    severities: dict[str, str] | None = None,
    encoding: str | None = None,
    dialect: dict[str, Any] | str | Path | None = None,
    media_type: str | None = None,
    sample_size: int = DEFAULT_SAMPLE_SIZE,
    block_size: int | None = None,
    spill_rows: int | None = None,
) -> Report:
    """Check one file by what its bytes are (``docket check FILE``): a table gets
    :func:`check_table`; text, NetCDF and other files get the checks of their kind.

    ``media_type`` is the declared type, when there is one (the name is the declaration
    otherwise). For a NetCDF file, a Table Schema given as ``table_schema`` declares its
    variables (field names; ``unit`` their units); a dialect applies to tables only.
    """
    from docket.checks.media import TABLE, sniff

    path = Path(path)
    if path.is_dir():
        raise BadInput(f"{path} is a folder; give the file to check")
    if not path.is_file():
        raise NotFound(f"{path}: no such file")
    try:
        media = sniff(path, media_type, path.name)
    except OSError as exc:
        raise BadInput(f"{path}: cannot be read ({exc.strerror})") from None
    if media.kind == TABLE:
        return check_table(path, table_schema, severities=severities, encoding=encoding,
                           dialect=dialect, sample_size=sample_size, block_size=block_size,
                           spill_rows=spill_rows)
    schema = load_table_schema(table_schema)
    sev = registry.resolve_severities(severities)
    notes = registry.load_errors() + media_notes(path.name, media, media_type)
    if dialect is not None:
        notes.append(f"{path.name}: a dialect says how a table is written; the file is "
                     f"{media.detail}, so it was not used")
    entry = {"encoding": encoding} if encoding else {}
    results, info, file_notes = check_media(path, media, entry=entry, structural=schema,
                                            severities=sev, sample_size=sample_size)
    # The report format (1.x) knows the subject kinds "table" and "request"; a single file is
    # reported as "table", with its measured media type beside it.
    subject = {"kind": "table", "name": path.name, "media_type": media.media_type}
    return build_report(results, [info], subject=subject, notes=notes + file_notes)


def _str_or_none(value: Any) -> str | None:
    return None if value is None else str(value)
