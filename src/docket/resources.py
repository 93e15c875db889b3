"""Where docket finds its packaged data: PROV templates, forms, notebooks, JSON Schemas and the
PROV vocabulary.

The repository keeps ``prov_templates/``, ``forms/`` and ``notebooks/`` at its top level (so a data
centre sees and edits them as files); a wheel carries copies under ``docket/_data``. This module is
the one place that knows both layouts.
"""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


def data_dir(name: str) -> Path:
    """The packaged folder ``name`` (``prov_templates``, ``forms`` or ``notebooks``)."""
    for candidate in (_PACKAGE / "_data" / name, _PACKAGE.parent.parent / name):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"docket's packaged folder {name!r} is missing from this installation")


def vocabulary_path() -> Path:
    """docket's own RDF vocabulary (``vocabulary/vocabulary.ttl``): the ``dkt:`` terms its PROV
    uses, and the mapping of docket 0.1's ``https://docket.invalid/ns#`` terms to them."""
    return data_dir("vocabulary") / "vocabulary.ttl"


def schema_dir() -> Path:
    """The packaged JSON Schemas (draft 2020-12) of the record and its parts."""
    return _PACKAGE / "schemas"
