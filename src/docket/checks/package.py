"""Data Packages: ``docket check datapackage.json`` (or a Data Resource descriptor).

A package is checked in three steps, and refused (exit 2) before any data are read when its
descriptor is wrong:

1. the descriptor itself, against the official Data Package (or Data Resource) profile of its
   version (``profiles/``; 2.0 when ``$schema`` names it, else 1.0), resource names unique;
2. every resource's location: a path relative to the descriptor that stays inside its folder.
   Provider input is hostile, so a URL, an absolute path, a ``..`` or a symbolic link leading out
   is refused naming the resource (docket never fetches or reads elsewhere); the same holds for a
   ``schema`` or ``dialect`` given as a path. Each schema must be a valid Table Schema, each
   dialect a Table Dialect docket can read, and each foreign key must name a resource of the
   package and fields that resource declares;
3. the data: each tabular resource runs through the table checks with its own schema, dialect
   and encoding, and foreign keys to other resources look their keys up through
   :class:`PackageKeys` (one streamed key pass per referenced resource and key).

The result is one report: every check result names its resource (``file``), and each entry of
``files`` is the resource's section (its name, path, whether it was checked, its own verdict and
summary). Resources docket cannot check as tables (inline ``data``, several files in one
``path``, non-tabular formats) are listed with the reason.
"""

from __future__ import annotations

import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from docket.checks import registry
from docket.checks._hashes import KeySet
from docket.checks._run import (
    _schema_warnings,
    load_table_schema,
    scan_file,
    table_context,
)
from docket.checks._scan import (
    MAX_BLOCK_SIZE,
    _Straddle,
    block_size_for,
    iter_chunks,
)
from docket.checks._types import FieldSpec
from docket.checks.base import DEFAULT_SAMPLE_SIZE, Check, CheckResult
from docket.checks.dialect import validate_dialect
from docket.checks.foreign_keys import (
    KEY_LIMIT_FACTOR,
    ForeignKeyDecl,
    Referenced,
    by_value,
    key_hashes,
    key_values,
    text_modes,
)
from docket.checks.report import Report, build_report
from docket.checks.schema import (
    PACKAGE_PROFILES,
    descriptor_problems,
    descriptor_version,
    reference_problems,
)
from docket.documents import load_descriptor
from docket.errors import BadInput, NotFound, Problem

_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*:")
#: What makes a resource tabular when it says neither ``type: table`` nor ``tabular-data-resource``.
_TABULAR_FORMATS = ("csv", "tsv")
_TABULAR_MEDIA_TYPES = ("text/csv", "text/tab-separated-values", "application/csv")
_TABULAR_SUFFIXES = (".csv", ".tsv", ".tab")
_SNIFF_BYTES = 4096


def descriptor_kind(value: Any) -> str | None:
    """``"package"`` for a Data Package descriptor, ``"resource"`` for a Data Resource one."""
    if not isinstance(value, dict):
        return None
    if isinstance(value.get("resources"), list):
        return "package"
    if "fields" not in value and ("path" in value or "data" in value):
        return "resource"
    return None


def descriptor_at(path: Path) -> str | None:
    """The kind of descriptor a ``.json`` FILE argument is, or None when it is not JSON at all.

    A JSON object that is neither a package nor a resource is refused here with what it is
    (a Table Schema given as the data, for instance), rather than read as a CSV.
    """
    if path.suffix.lower() != ".json" or not path.is_file():
        return None
    try:
        with open(path, "rb") as fh:
            head = fh.read(_SNIFF_BYTES).lstrip(b"\xef\xbb\xbf \t\r\n")
    except OSError:
        return None
    if not head.startswith(b"{"):
        return None
    value = load_descriptor(path, "descriptor")
    kind = descriptor_kind(value)
    if kind is None and isinstance(value, dict) and "fields" in value:
        raise BadInput(f"{path.name} is a Table Schema, not data: give the CSV file to check and "
                       f"this schema with --schema {path.name}")
    if kind is None:
        raise BadInput(f"{path.name} is a JSON object but neither a Data Package (no 'resources' "
                       "list) nor a Data Resource (no 'path' or 'data'); docket check reads CSV "
                       "files and Frictionless Data Package or Data Resource descriptors")
    return kind


@dataclass
class Resource:
    """One resource of a package, resolved: where its file is and how to read it."""

    index: int
    name: str
    #: The path as declared (relative to the descriptor), or None for inline data.
    declared_path: str | None
    path: Path | None
    schema: dict[str, Any] | None = None
    dialect: dict[str, Any] | None = None
    encoding: str | None = None
    #: Why the resource is not checked as a table (inline data, several files, not tabular).
    reason: str | None = None


@dataclass
class Package:
    """A loaded, validated package (a lone resource descriptor is a package of one)."""

    path: Path
    kind: str
    version: str
    name: str
    resources: list[Resource] = field(default_factory=list)

    def resource(self, name: str) -> Resource | None:
        return next((r for r in self.resources if r.name == name), None)


def inside(base: Path, value: Any, what: str) -> Path:
    """``value`` as a file path inside ``base``; a BadInput naming ``what`` for anything else.

    Refused: not a text, a URL or any ``scheme:`` (``file:``, ``C:``), an absolute or home path,
    a ``..`` step, a NUL byte, and a path that resolves outside ``base`` through a link.
    """
    if not isinstance(value, str) or not value.strip():
        raise BadInput(f"{what}: the path must be a non-empty text, not {value!r}")
    if "\x00" in value:
        raise BadInput(f"{what}: the path {value!r} holds a NUL byte")
    if "://" in value or _SCHEME.match(value):
        raise BadInput(f"{what}: {value!r} is a URL; docket checks only files inside the "
                       "package's folder and never fetches data (download it beside the "
                       "descriptor and give its relative path)")
    if value.startswith(("/", "\\", "~")):
        raise BadInput(f"{what}: {value!r} is an absolute path; give a path relative to the "
                       "descriptor, inside its folder")
    if ".." in re.split(r"[\\/]", value):
        raise BadInput(f"{what}: {value!r} leaves the package's folder ('..'); resources must "
                       "stay inside the folder of the descriptor")
    root = base.resolve()
    target = (root / value).resolve()
    if not target.is_relative_to(root):
        raise BadInput(f"{what}: {value!r} leads outside the package's folder (through a "
                       "symbolic link); resources must stay inside the folder of the descriptor")
    return target


def load_package(path: str | Path) -> Package:
    """Read and validate a package or resource descriptor; BadInput (exit 2) when it is wrong."""
    path = Path(path)
    if not path.is_file():
        raise NotFound(f"{path}: no such file")
    desc = load_descriptor(path, "Data Package")
    kind = descriptor_kind(desc)
    if kind is None:
        raise BadInput(f"{path.name} is neither a Data Package (no 'resources' list) nor a Data "
                       "Resource (no 'path' or 'data')")
    raw = desc["resources"] if kind == "package" else [desc]
    prefix = "$.resources[{}]" if kind == "package" else "$"
    base = path.parent
    for i, res in enumerate(raw):  # hostile locations first: their refusal is the clearest
        if isinstance(res, dict):
            _check_locations(base, res, _label(res, i, kind))
    profile = "datapackage" if kind == "package" else "dataresource"
    problems = descriptor_problems(desc, profile)
    names = [r.get("name") for r in raw if isinstance(r, dict)]
    for i, name in enumerate(names):
        if isinstance(name, str) and name in names[:i]:
            problems.append(Problem(f"{prefix.format(i)}.name",
                                    f"resource name {name!r} is already used by "
                                    f"resources[{names.index(name)}]"))
    if problems:
        _refuse(path, f"the {PACKAGE_PROFILES[profile]} descriptor is invalid", problems)
    version = descriptor_version(desc)
    resources = [_resource(base, res, i, kind, prefix.format(i)) for i, res in enumerate(raw)]
    schemas = {r.name: r.schema for r in resources}
    for r in resources if kind == "package" else []:  # a lone resource names no other
        if r.schema is not None:
            where = f"{prefix.format(r.index)}.schema"
            problems += [Problem(where + p.where[1:], p.message)
                         for p in reference_problems(r.schema, schemas)]
    if problems:
        _refuse(path, "a foreign key points nowhere", problems)
    name = desc.get("name") if isinstance(desc.get("name"), str) else path.name
    return Package(path=path, kind=kind, version=version, name=name, resources=resources)


def _refuse(path: Path, what: str, problems: list[Problem]) -> None:
    count = "" if len(problems) == 1 else f" ({len(problems)} problems)"
    raise BadInput(f"{path.name}: {what}{count}: {problems[0]}", problems)


def _label(res: dict[str, Any], i: int, kind: str) -> str:
    name = res.get("name")
    where = f"resources[{i}]" if kind == "package" else "the resource"
    return f"resource {name!r} ({where})" if isinstance(name, str) else where


def _check_locations(base: Path, res: dict[str, Any], label: str) -> None:
    paths = res.get("path")
    for p in paths if isinstance(paths, list) else [paths] if paths is not None else []:
        inside(base, p, label)
    for key in ("schema", "dialect"):
        if isinstance(res.get(key), str):
            inside(base, res[key], f"{label} {key}")


def _resource(base: Path, res: dict[str, Any], i: int, kind: str, where: str) -> Resource:
    label = _label(res, i, kind)
    declared = res.get("path")
    out = Resource(index=i, name=str(res.get("name", "")), path=None,
                   declared_path=declared if isinstance(declared, str) else None)
    if isinstance(declared, str):
        out.path = inside(base, declared, label)
    elif isinstance(declared, list):
        out.reason = f"its data are split over {len(declared)} files; docket does not join them yet"
    else:
        out.reason = "inline data (no file); docket checks files"
    out.schema = _schema(base, res.get("schema"), label, f"{where}.schema")
    dialect = res.get("dialect")
    if isinstance(dialect, str):
        dialect = load_descriptor(inside(base, dialect, f"{label} dialect"), "Table Dialect")
    if dialect is not None:
        out.dialect = validate_dialect(dialect, f"{label}: the dialect")
    encoding = res.get("encoding")
    out.encoding = encoding if isinstance(encoding, str) else None
    if out.reason is None and not _tabular(res, declared):
        out.reason = "not a tabular resource (no schema, not CSV)"
    return out


def _schema(base: Path, schema: Any, label: str, where: str) -> dict[str, Any] | None:
    if schema is None:
        return None
    shown = where
    if isinstance(schema, str):
        shown = f"{schema} $"
        schema = load_descriptor(inside(base, schema, f"{label} schema"), "Table Schema")
    if not isinstance(schema, dict) or not isinstance(schema.get("fields"), list):
        at = shown if not isinstance(schema, dict) else f"{shown}.fields"
        raise BadInput(f"{label}: the Table Schema must be a JSON object with a 'fields' list",
                       [Problem(at, "must be a list of field descriptors" if isinstance(schema, dict)
                                else "must be a Table Schema (a JSON object)")])
    try:
        return load_table_schema(schema)
    except BadInput as exc:
        problems = [Problem(shown + p.where[1:] if p.where.startswith("$") else p.where, p.message)
                    for p in exc.problems]
        raise BadInput(f"{label}: {exc.message}", problems) from None


def _tabular(res: dict[str, Any], path: Any) -> bool:
    if res.get("type") == "table" or res.get("profile") == "tabular-data-resource":
        return True
    if res.get("schema") is not None:
        return True
    fmt = str(res.get("format") or "").lower()
    media = str(res.get("mediatype") or "").split(";")[0].strip().lower()
    if fmt in _TABULAR_FORMATS or media in _TABULAR_MEDIA_TYPES:
        return True
    return isinstance(path, str) and path.lower().endswith(_TABULAR_SUFFIXES)


class PackageKeys:
    """The keys of the package's resources that foreign keys refer to (a ``KeySource``).

    Each (resource, fields, comparison) is read once, streamed, into a :class:`KeySet` kept for
    every table that refers to it; its memory is bounded by ``spill_rows`` like the scan's.
    """

    def __init__(self, package: Package, spill_dir: Path, spill_rows: int | None,
                 sample_size: int) -> None:
        self.package = package
        self.spill_dir = spill_dir
        self.spill_rows = spill_rows
        self.sample_size = sample_size
        self._cache: dict[tuple, Referenced] = {}

    def referenced(self, decl: ForeignKeyDecl, local: list[FieldSpec]) -> Referenced:
        res = self.package.resource(decl.resource)
        if res is None:
            return Referenced(None, reason=f"resource {decl.resource!r} is not in the package")
        if res.path is None or res.reason:
            return Referenced(None, reason=f"resource {res.name!r} cannot be read ({res.reason})")
        if not res.path.is_file():
            return Referenced(None, reason=f"resource {res.name!r}: its file "
                                           f"{res.declared_path!r} was not found")
        table = table_context(res.path, res.schema, name=res.name, encoding=res.encoding,
                              dialect=res.dialect, sample_size=self.sample_size,
                              spill_rows=self.spill_rows)
        if table.unreadable:
            return Referenced(None, reason=f"resource {res.name!r} cannot be read "
                                           f"({table.unreadable})")
        if res.schema is None:  # no schema: its columns by header name, compared as text
            table.fields = [FieldSpec(name=label) for label in table.header]
            table.field_columns = list(range(len(table.header)))
        names = {spec.name: i for i, spec, _ in table.mapped_fields()}
        absent = [n for n in decl.ref_fields if n not in names]
        if absent:
            return Referenced(None, reason=f"resource {res.name!r} has no column(s) {absent}")
        ref = [names[n] for n in decl.ref_fields]
        specs = [table.fields[i] if res.schema else None for i in ref]
        modes = text_modes(local, specs)
        valued = by_value(local, specs, modes)
        key = (res.name, decl.ref_fields, modes, valued)
        if key not in self._cache:
            self._cache[key] = self._read_keys(table, ref, modes, valued, len(self._cache))
        return self._cache[key]

    def _read_keys(self, table, ref: list[int], modes: tuple[bool, ...], valued: bool,
                   n: int) -> Referenced:
        size = block_size_for(table.prepass.size)
        limit = table.spill_rows * KEY_LIMIT_FACTOR
        while True:
            keys = KeySet(self.spill_dir / f"keys-{n}-{size}", limit, "keys")
            values: list[pa.Array] | None = [] if valued else None
            held = 0
            try:
                for chunk in iter_chunks(table, size):
                    keys.add(key_hashes(chunk, ref, modes)[0])
                    if values is not None:  # the values themselves, while they are few
                        got, none = key_values(chunk, ref[0], modes[0])
                        values.append(pc.unique(got.filter(pa.array(~none))))
                        held += len(values[-1])
                        values = values if held <= limit else None
                if values is not None:
                    distinct = pc.unique(pa.concat_arrays(values)) if values else None
                    return Referenced(keys, modes, values=distinct)
                return Referenced(keys, modes)
            except _Straddle:
                if size >= MAX_BLOCK_SIZE:
                    return Referenced(None, reason=f"resource {table.name!r} has a row longer "
                                                   f"than {MAX_BLOCK_SIZE >> 20} MiB")
                size = min(size * 4, MAX_BLOCK_SIZE)
            except (pa.ArrowException, UnicodeDecodeError, OSError) as exc:
                return Referenced(None, reason=f"resource {table.name!r} cannot be read to the "
                                               f"end ({type(exc).__name__}: {exc})")


class ResourceFile(Check):
    """A resource's file is where the descriptor says (not registered: it only exists in a
    package run, and a request's files have ``congruence.*`` checks of their own)."""

    id = "package.resource-file"
    name = "Resource file present"
    description = "Every resource's path names a file in the package's folder."
    family = "package"
    default_severity = "error"
    expected = "the file named by the resource's path"
    suggestion = "Add the file to the package's folder, or correct the resource's path."

    def missing(self, res: Resource) -> CheckResult:
        findings = self.findings(res.name)
        findings.add([None], None, [res.declared_path], extra={"note": "no such file"})
        return self.result(findings, found=f"no file {res.declared_path!r} beside the descriptor")

    def present(self, res: Resource) -> CheckResult:
        return self.result(found=f"{res.declared_path} is present", file=res.name)


def check_package(
    path: str | Path,
    *,
    severities: dict[str, str] | None = None,
    sample_size: int = DEFAULT_SAMPLE_SIZE,
    block_size: int | None = None,
    spill_rows: int | None = None,
) -> Report:
    """Check a Data Package (or one Data Resource) descriptor and every resource it lists."""
    package = load_package(path)
    sev = registry.resolve_severities(severities)
    results: list[CheckResult] = []
    infos: list[dict[str, Any]] = []
    notes = registry.load_errors()
    with tempfile.TemporaryDirectory(prefix="docket-keys-") as tmp:
        keys = PackageKeys(package, Path(tmp), spill_rows, sample_size)
        for res in package.resources:
            section = {"name": res.name, "resource": res.name, "path": res.declared_path}
            if res.reason or res.path is None:
                infos.append({**section, "checked": False, "reason": res.reason})
                continue
            if not res.path.is_file():
                results.append(ResourceFile(sev.get(ResourceFile.id)).missing(res))
                infos.append({**section, "checked": False, "reason": "no such file"})
                continue
            results.append(ResourceFile(sev.get(ResourceFile.id)).present(res))
            found, info = scan_file(
                res.path, res.schema, name=res.name, severities=sev, encoding=res.encoding,
                dialect=res.dialect, sample_size=sample_size, block_size=block_size,
                spill_rows=spill_rows, references=keys if package.kind == "package" else None)
            results.extend(found)
            infos.append({**info, **section})
            notes.extend(f"resource {res.name!r}: {w}" for w in _schema_warnings(res.schema))
    subject = {"kind": package.kind if package.kind == "package" else "resource",
               "name": package.name, "descriptor": package.path.name,
               "profile": package.version}
    report = build_report(results, infos, subject=subject, notes=notes)
    for info in infos:
        mine = [c for c in report.checks if c.file == info["name"]]
        info["valid"] = not any(c.status == "error" for c in mine)
        info["summary"] = {s: sum(1 for c in mine if c.status == s)
                           for s in ("valid", "info", "warn", "error", "not-checked")}
    return report


# --------------------------------------------------------------------------- a request's package


def request_problems(document: dict[str, Any]) -> list[Problem]:
    """What a request's JSON Schema cannot say about its tables, each with its JSON path:

    * a ``dataset_structural`` that is a Data Package is held to the official Data Package
      profile (``profiles/``), each resource's inline schema to the Table Schema profile and its
      prose rules (:func:`~docket.checks._run.load_table_schema`), each dialect to the Table
      Dialect profile and docket's reader (:func:`~docket.checks.dialect.validate_dialect`), and
      each foreign key must name a resource of the package and fields it declares;
    * each resource describes exactly one of the request's files, and no file is described by two
      resources (how a resource names its file: :mod:`docket.structural`);
    * a file's ``dialect`` is one docket can read, and is not given both in its file entry and in
      its resource (one declaration per file).

    Called by the request's validation (``docket.validation``) on a document its JSON Schema
    accepted, so shapes may be trusted; values are still looked at before use.
    """
    from docket import structural as st

    problems: list[Problem] = []
    base = "$.metadata.dataset_structural"
    pkg = st.structural_of(document)
    files = document.get("files") if isinstance(document.get("files"), list) else []
    names = [f.get("name") for f in files if isinstance(f, dict)]
    if pkg is not None and st.is_package(pkg):
        if "fields" in pkg:
            problems.append(Problem(f"{base}.fields", "a Data Package gives the columns in each "
                                    "resource's schema, not beside 'resources'"))
        problems += [_under(base, p) for p in descriptor_problems(pkg, "datapackage")]
        schemas: dict[str, dict[str, Any] | None] = {}
        described: dict[str, int] = {}
        for i, res in enumerate(pkg["resources"]):
            where = f"{base}.resources[{i}]"
            if not isinstance(res, dict):
                continue
            rname = res.get("name")
            if isinstance(rname, str) and rname in schemas:
                problems.append(Problem(f"{where}.name", f"resource name {rname!r} is used twice"))
            schema = res.get("schema") if isinstance(res.get("schema"), dict) else None
            if schema is not None:
                try:
                    load_table_schema(schema)
                except BadInput as exc:
                    problems += [_under(f"{where}.schema", p) for p in exc.problems] or [
                        Problem(f"{where}.schema", exc.message)]
                    schema = None
            if isinstance(rname, str):
                schemas.setdefault(rname, schema)
            if isinstance(res.get("dialect"), dict):
                problems += _dialect_problems(res["dialect"], f"{where}.dialect")
            mine = [n for n in names if isinstance(n, str) and n in st.names_of(res)]
            if not mine:
                shown = ", ".join(repr(n) for n in names[:10]) or "none"
                problems.append(Problem(f"{where}.path", f"{res.get('path')!r} names no file of the "
                                        f"request (files: {shown}); a resource's name, path or the "
                                        "path's last part must be a file's name"))
            for n in mine:
                if n in described:
                    problems.append(Problem(f"{where}.path", f"describes file {n!r}, which "
                                            f"resources[{described[n]}] already describes"))
                described.setdefault(n, i)
        for i, res in enumerate(pkg["resources"]):
            schema = res.get("schema") if isinstance(res, dict) else None
            if isinstance(schema, dict) and schemas.get(res.get("name")) is not None:
                problems += [_under(f"{base}.resources[{i}].schema", p)
                             for p in reference_problems(schema, schemas)]
    for i, entry in enumerate(files):
        if not isinstance(entry, dict) or not isinstance(entry.get("dialect"), dict):
            continue
        problems += _dialect_problems(entry["dialect"], f"$.files[{i}].dialect")
        res = st.resource_for(pkg, entry.get("name"))
        if res is not None and isinstance(res.get("dialect"), dict):
            problems.append(Problem(f"$.files[{i}].dialect", "the file's resource in "
                                    "dataset_structural gives a dialect too; declare it in one place"))
    return problems


def _under(base: str, problem: Problem) -> Problem:
    """``problem`` (whose path starts at a descriptor's ``$``) placed under ``base``."""
    where = problem.where
    return Problem(base + where[1:] if where.startswith("$") else f"{base}.{where}", problem.message)


def _dialect_problems(dialect: dict[str, Any], where: str) -> list[Problem]:
    try:
        validate_dialect(dialect, where)
    except BadInput as exc:
        return [_under(where, p) for p in exc.problems] or [Problem(where, exc.message)]
    return []
