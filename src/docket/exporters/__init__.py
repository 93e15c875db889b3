"""Metadata exports: ISO 19139, DataCite 4.5, EML 2.2.0, schema.org JSON-LD and DCAT.

Each format is an :class:`~docket.exporters.registry.Exporter` in a registry (entry-point group
``docket.exporters``). Every export is validated before it is returned: XML against its official
XSD set (``[publication] xsd_dir``), schema.org against a JSON Schema and DCAT against SHACL
shapes that docket ships. Where it cannot be validated the result carries a warning saying so;
an invalid document is never returned.

Python API::

    render(docket, "ocean-0007.2", "eml")   -> Export (data, media type, warnings)
    export(docket, "ocean-0007.2", "eml")   -> bytes  (warnings as ExportNotValidated warnings)
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any

from docket.errors import BadInput
from docket.exporters.registry import (
    Exporter,
    all_exporters,
    get,
    load_errors,
    names,
    register,
    unregister,
)
from docket.exporters.settings import ExportSettings, from_config

__all__ = ["Export", "ExportNotValidated", "Exporter", "ExportSettings", "all_exporters", "export",
           "export_record", "get", "load_errors", "names", "register", "render", "settings_of", "unregister"]


class ExportNotValidated(UserWarning):
    """An export was returned without being validated (no XSD set configured, no validator)."""


@dataclass
class Export:
    """One export: the document, what it is, and why it was not validated (if it was not)."""

    format: str
    ref: str
    media_type: str
    extension: str
    data: bytes
    warnings: list[str] = field(default_factory=list)

    @property
    def validated(self) -> bool:
        return not self.warnings

    def as_dict(self) -> dict[str, Any]:
        return {"ref": self.ref, "format": self.format, "media_type": self.media_type,
                "validated": self.validated, "warnings": list(self.warnings)}


def settings_of(docket: Any) -> ExportSettings:
    """The export settings of an open :class:`~docket.api.Docket` (checks ``[publication]``)."""
    return from_config(docket.config, docket.instance.root)


def export_record(record: dict[str, Any], fmt: str, settings: ExportSettings) -> Export:
    """Export one stored revision (a ``Docket.get`` document) as ``fmt``, validated."""
    from docket.exporters.neutral import from_record

    exporter = get(fmt)
    dataset = from_record(record, settings)
    try:
        data = exporter.build(dataset, settings)
    except ValueError as exc:  # lxml refuses text XML cannot hold (control characters...)
        raise BadInput(f"{dataset.ref}: cannot write {fmt}: {exc}") from exc
    why_not = exporter.validate(data, settings)
    return Export(fmt, dataset.ref, exporter.media_type, exporter.extension, data,
                  [why_not] if why_not else [])


def render(docket: Any, ref: str, fmt: str) -> Export:
    """Export request ``ref`` (``ID`` or ``ID.REV``) of an open Docket as ``fmt``."""
    from docket.drafts import missing_in_record

    get(fmt)  # an unknown format is named before the record is read
    settings = settings_of(docket)
    record = docket.get(ref)
    # only a draft may be incomplete (docket.drafts); what was submitted was complete then
    lacking = missing_in_record(docket.schemas, record) if record.get("review_state") == "draft" else []
    if lacking:
        raise BadInput(f"{record['id']}.{record['revision']} is an incomplete draft: a {fmt} export needs the "
                       f"whole request; fill {', '.join(p.where for p in lacking)} first", lacking)
    return export_record(record, fmt, settings)


def export(docket: Any, ref: str, fmt: str) -> bytes:
    """The document alone; a document that could not be validated also warns (ExportNotValidated)."""
    result = render(docket, ref, fmt)
    for message in result.warnings:
        warnings.warn(message, ExportNotValidated, stacklevel=2)
    return result.data
