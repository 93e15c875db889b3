"""A request's ``dataset_structural`` read one way everywhere: a Table Schema, or a Data Package.

``metadata.dataset_structural`` is either one Frictionless Table Schema (``fields``), which then
describes every tabular file of the request, or a whole Data Package descriptor (``resources``),
one resource per tabular file with its own ``schema`` and ``dialect``. A request carries no
package folder, so a resource names its file rather than locating it: a resource describes the
request's file entry whose ``name`` is the resource's ``name``, its ``path``, or the last part of
its ``path`` (``data/sites.csv`` describes ``sites.csv``). The file entry itself says where the
file is.

A table's dialect (how it is written: delimiter, line terminator, quote, header lines) is given
either in its file entry (``files[i].dialect``: where ``docket import-metadata`` puts what an EML
``physical`` declares) or in its package resource; not in both, so a file has one declaration
(:func:`docket.checks.package.request_problems` refuses both at submit). The QA checks, the congruence checks, the exporters and the
request's validation all read through these functions, so they agree on which schema and dialect
belong to which file. Pure Python on plain dicts: no check, store or XML library is imported.
"""

from __future__ import annotations

from typing import Any


def structural_of(record: dict[str, Any] | None) -> dict[str, Any] | None:
    """The request's ``metadata.dataset_structural`` when it is an object, else None."""
    meta = record.get("metadata") if isinstance(record, dict) else None
    structural = meta.get("dataset_structural") if isinstance(meta, dict) else None
    return structural if isinstance(structural, dict) else None


def is_package(structural: Any) -> bool:
    """Whether ``dataset_structural`` is a Data Package descriptor (it has a ``resources`` list)."""
    return isinstance(structural, dict) and isinstance(structural.get("resources"), list)


def resources(structural: Any) -> list[dict[str, Any]]:
    """The resources of a package (objects only); [] for a Table Schema or nothing."""
    if not is_package(structural):
        return []
    return [r for r in structural["resources"] if isinstance(r, dict)]


def names_of(resource: dict[str, Any]) -> list[str]:
    """The file names a resource may describe: its name, its path and the path's last part."""
    out: list[str] = []
    path = resource.get("path")
    for value in (resource.get("name"), path,
                  path.replace("\\", "/").rsplit("/", 1)[-1] if isinstance(path, str) else None):
        if isinstance(value, str) and value and value not in out:
            out.append(value)
    return out


def resource_for(structural: Any, file_name: Any) -> dict[str, Any] | None:
    """The package resource that describes the file entry named ``file_name`` (the first, when a
    malformed package names a file twice: the request's validation refuses that)."""
    if not isinstance(file_name, str):
        return None
    return next((r for r in resources(structural) if file_name in names_of(r)), None)


def schema_for(structural: Any, file_name: Any) -> dict[str, Any] | None:
    """The Table Schema of a file: ``dataset_structural`` itself when it is a Table Schema, else
    the inline schema of the file's resource (None when it has none, or gives it as a path)."""
    if not isinstance(structural, dict):
        return None
    if isinstance(structural.get("fields"), list) and not is_package(structural):
        return structural
    res = resource_for(structural, file_name)
    schema = res.get("schema") if res is not None else None
    return schema if isinstance(schema, dict) else None


def dialect_for(structural: Any, entry: dict[str, Any]) -> dict[str, Any] | None:
    """The dialect declared for a file: its file entry's ``dialect``, else its resource's."""
    own = entry.get("dialect") if isinstance(entry, dict) else None
    if isinstance(own, dict):
        return own
    res = resource_for(structural, entry.get("name") if isinstance(entry, dict) else None)
    dialect = res.get("dialect") if res is not None else None
    return dialect if isinstance(dialect, dict) else None


def encoding_for(structural: Any, entry: dict[str, Any]) -> str | None:
    """The declared encoding of a file: its file entry's, else its resource's."""
    own = entry.get("encoding") if isinstance(entry, dict) else None
    if isinstance(own, str) and own:
        return own
    res = resource_for(structural, entry.get("name") if isinstance(entry, dict) else None)
    enc = res.get("encoding") if res is not None else None
    return enc if isinstance(enc, str) and enc else None


def all_fields(structural: Any) -> list[dict[str, Any]]:
    """Every column described, for the views of a whole dataset (search, catalogue records):
    the Table Schema's fields, or each resource's in turn; a name met twice is listed once."""
    schemas = [structural] if isinstance(structural, dict) and not is_package(structural) else [
        r.get("schema") for r in resources(structural)]
    out: list[dict[str, Any]] = []
    seen: set[str] = set()
    for schema in schemas:
        fields = schema.get("fields") if isinstance(schema, dict) else None
        for f in fields if isinstance(fields, list) else []:
            if isinstance(f, dict) and isinstance(f.get("name"), str) and f["name"] not in seen:
                seen.add(f["name"])
                out.append(f)
    return out
