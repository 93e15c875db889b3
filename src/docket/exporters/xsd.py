"""Validation of XML exports against the official XSD sets, each compiled once per process.

The sets live in the folder ``[publication] xsd_dir`` names (the layout of ``shared/xsd``:
``eml-2.2.0/eml.xsd``, ``datacite-4.5/metadata.xsd``, ``iso19139/all.xsd``). lxml compiles the
ISO set in well under a second where xmlschema takes over one, and gives each error its element,
XPath and rule, which is what a refusal must name. Imports resolve inside the set's own folder;
lxml's parser never goes to the network (``no_network``), so a missing file is an error, not a
download.
"""

from __future__ import annotations

import re
import threading
from pathlib import Path

from lxml import etree

from docket.errors import BadInput, Problem
from docket.exporters.settings import ExportSettings

#: format name -> the top-level schema inside xsd_dir
SCHEMA_FILES = {
    "eml": "eml-2.2.0/eml.xsd",
    "datacite": "datacite-4.5/metadata.xsd",
    "iso19139": "iso19139/all.xsd",
}
_PREFIXES = {
    "http://www.isotc211.org/2005/gmd": "gmd",
    "http://www.isotc211.org/2005/gco": "gco",
    "http://www.isotc211.org/2005/gmx": "gmx",
    "http://www.opengis.net/gml/3.2": "gml",
    "http://datacite.org/schema/kernel-4": "datacite",
    "https://eml.ecoinformatics.org/eml-2.2.0": "eml",
}
_cache: dict[Path, etree.XMLSchema] = {}
_lock = threading.Lock()
_validating = threading.Lock()


def schema_path(fmt: str, settings: ExportSettings) -> Path | None:
    """The top-level XSD for ``fmt`` in the configured folder; None when no folder is set."""
    if settings.xsd_dir is None:
        return None
    path = settings.xsd_dir / SCHEMA_FILES[fmt]
    if not path.is_file():
        raise BadInput(f"docket.toml [publication]: xsd_dir {settings.xsd_dir} has no {SCHEMA_FILES[fmt]} "
                       f"(the {fmt} schema set)")
    return path


def compiled(path: Path) -> etree.XMLSchema:
    """The compiled schema at ``path``, compiled at its first use in this process."""
    with _lock:
        schema = _cache.get(path)
        if schema is None:
            parser = etree.XMLParser(no_network=True, resolve_entities=False)
            try:
                schema = etree.XMLSchema(etree.parse(str(path), parser))
            except (etree.XMLSchemaParseError, etree.XMLSyntaxError, OSError) as exc:
                raise BadInput(f"cannot load the XML schema {path}: {exc}") from exc
            _cache[path] = schema
    return schema


def _short(text: str) -> str:
    """An lxml message with namespace URIs written as their usual prefixes."""
    def repl(m: re.Match[str]) -> str:
        prefix = _PREFIXES.get(m.group(1))
        return f"{prefix}:" if prefix else m.group(0)
    return re.sub(r"\{([^}]+)\}", repl, text)


def check(fmt: str, document: bytes | etree._Element, settings: ExportSettings) -> str | None:
    """Validate ``document`` against the ``fmt`` set; None when valid, else why not validated.

    An invalid document raises BadInput listing every error as its line, XPath and lxml's
    message (which names the element and the rule it breaks).
    """
    path = schema_path(fmt, settings)
    if path is None:
        return f"not validated: no xsd_dir set for {fmt} (set [publication] xsd_dir in docket.toml)"
    if isinstance(document, bytes):
        parser = etree.XMLParser(no_network=True, resolve_entities=False, huge_tree=False)
        tree = etree.fromstring(document, parser)
    else:
        tree = document
    schema = compiled(path)
    with _validating:  # one compiled schema and its error log are not for two threads at once
        if schema.validate(tree):
            return None
        problems = [Problem(f"line {e.line}, {_short(e.path or '')}", _short(e.message))
                    for e in schema.error_log]
    first = problems[0]
    raise BadInput(f"the {fmt} export is not valid against {SCHEMA_FILES[fmt]}: {first.message} "
                   f"(at {first.where})", problems)
