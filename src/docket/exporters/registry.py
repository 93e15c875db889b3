"""The registry of metadata exporters: ``register(exporter)``, ``get(name)``, ``all_exporters()``.

docket's own exporters (ISO 19139, DataCite, EML, schema.org, DCAT) register themselves when their
module is imported. A data centre adds a format without touching docket through the entry-point
group ``docket.exporters``: each entry point names an :class:`Exporter` subclass (registered as
is) or a callable whose call registers its exporters. A plug-in that fails to load is skipped and
listed by :func:`load_errors` instead of breaking every export, as for the checks registry.
"""

from __future__ import annotations

import importlib
from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, ClassVar

from docket.errors import BadInput, NotFound
from docket.plugins import load_entry_points

if TYPE_CHECKING:  # pragma: no cover
    from docket.exporters.neutral import Dataset
    from docket.exporters.settings import ExportSettings

ENTRY_POINT_GROUP = "docket.exporters"
#: The built-in formats, by name; importing a module registers its exporter.
BUILTIN = {
    "iso19139": "docket.exporters.iso19139",
    "datacite": "docket.exporters.datacite",
    "eml": "docket.exporters.eml",
    "schemaorg": "docket.exporters.schemaorg",
    "dcat": "docket.exporters.dcat",
}


class Exporter(ABC):
    """One metadata format: turns docket's neutral view of a record into a document.

    Subclasses set ``name`` (the ``--format`` value), ``media_type`` and ``extension``, and
    implement :meth:`build` and :meth:`validate`. ``validate`` returns ``None`` when the document
    was checked against the standard's schema, or the reason it could not be (no XSD configured,
    validator missing), which docket shows as a warning: never a silent pass. A document that
    breaks its schema is :class:`~docket.errors.BadInput` naming the element and the rule.
    """

    name: ClassVar[str] = ""
    media_type: ClassVar[str] = "application/octet-stream"
    extension: ClassVar[str] = ""
    description: ClassVar[str] = ""

    @abstractmethod
    def build(self, dataset: Dataset, settings: ExportSettings) -> bytes:
        """The document, from docket's neutral view of the record."""

    @abstractmethod
    def validate(self, document: bytes, settings: ExportSettings) -> str | None:
        """None when checked against the standard's schema, else why it could not be."""


_exporters: dict[str, type[Exporter]] = {}
_loaded = False
_load_errors: list[str] = []


def register(exporter: type[Exporter], *, replace: bool = False) -> type[Exporter]:
    """Add an exporter class; usable as a class decorator. Names are unique unless ``replace``."""
    if not (isinstance(exporter, type) and issubclass(exporter, Exporter)) or not exporter.name:
        raise BadInput(f"cannot register {exporter!r}: not an Exporter subclass with a name")
    existing = _exporters.get(exporter.name)
    if existing is not None and existing is not exporter and not replace:
        raise BadInput(f"export format {exporter.name!r} is already registered by {existing.__module__}")
    _exporters[exporter.name] = exporter
    return exporter


def unregister(name: str) -> None:
    """Remove a format (a plug-in withdrawn at run time, a test's own format)."""
    _exporters.pop(name, None)


def _load() -> None:
    global _loaded
    if _loaded:
        return
    _loaded = True
    for module in BUILTIN.values():
        importlib.import_module(module)
    load_entry_points(ENTRY_POINT_GROUP, Exporter, register, _load_errors)


def names() -> list[str]:
    """Every registered format name, sorted."""
    _load()
    return sorted(_exporters)


def get(name: str) -> Exporter:
    """An instance of the exporter registered as ``name``; NotFound names the known formats."""
    _load()
    try:
        return _exporters[name]()
    except KeyError:
        raise NotFound(
            f"unknown export format {name!r} (known: {', '.join(sorted(_exporters))})"
        ) from None


def all_exporters() -> list[type[Exporter]]:
    """Every registered exporter class, in registration order."""
    _load()
    return list(_exporters.values())


def load_errors() -> list[str]:
    """Entry points of the ``docket.exporters`` group that failed to load, with the reason."""
    _load()
    return list(_load_errors)
