"""What an export needs from the instance: ``[publication]`` in docket.toml, and a few settings.

``[publication]`` is not one of the tables :mod:`docket.instance` knows, so it arrives in
``config.extra``; it is checked here, naming the bad setting, so that a typo in docket.toml is
an error at the first export instead of a silently unvalidated one.

    [publication]
    xsd_dir = "xsd"                 # folder of the official XSD sets (relative to the instance)
    publisher = "Marine Data Centre" # DataCite/EML/DCAT publisher when a record names none
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from docket.errors import BadInput

_KNOWN = {"xsd_dir", "publisher"}


@dataclass(frozen=True)
class ExportSettings:
    """The instance settings exporters read; built once per export from the instance."""

    base_uri: str
    languages: list[str] = field(default_factory=lambda: ["en"])
    xsd_dir: Path | None = None
    publisher: str | None = None
    doi_prefix: str | None = None


def from_config(config: Any, root: Path) -> ExportSettings:
    """Check ``[publication]`` (and ``[datacite] prefix``) of an instance's config."""
    table = (getattr(config, "extra", None) or {}).get("publication", {})
    if not isinstance(table, dict):
        raise BadInput(f"docket.toml: [publication] must be a table, not {table!r}")
    unknown = sorted(set(table) - _KNOWN)
    if unknown:
        raise BadInput(f"docket.toml [publication]: unknown setting {unknown[0]!r} "
                       f"(known: {', '.join(sorted(_KNOWN))})")
    xsd_dir: Path | None = None
    raw = table.get("xsd_dir")
    if raw is not None:
        if not isinstance(raw, str) or not raw.strip():
            raise BadInput(f"docket.toml [publication]: xsd_dir must be a folder path, not {raw!r}")
        xsd_dir = (root / raw).resolve() if not Path(raw).is_absolute() else Path(raw)
        if not xsd_dir.is_dir():
            raise BadInput(f"docket.toml [publication]: xsd_dir {raw!r} is not a folder ({xsd_dir})")
    publisher = table.get("publisher")
    if publisher is not None and not (isinstance(publisher, str) and publisher.strip()):
        raise BadInput(f"docket.toml [publication]: publisher must be a name, not {publisher!r}")
    datacite = getattr(config, "datacite", None) or {}
    prefix = datacite.get("prefix") if isinstance(datacite, dict) else None
    if prefix is not None and not (isinstance(prefix, str) and prefix.startswith("10.")):
        raise BadInput(f"docket.toml [datacite]: prefix must be a DOI prefix like '10.5072', not {prefix!r}")
    return ExportSettings(base_uri=config.base_uri, languages=list(config.languages),
                          xsd_dir=xsd_dir, publisher=publisher, doi_prefix=prefix)
