"""The envelope of an offline form, and what its digest protects.

An exported form is one JSON object::

    {"docket_form": "ingest-request", "form_version": "1.1", "language": "en",
     "instructions": "...", "data": {...}, "schema": {...}, "digest": "<sha256 hex>"}

(``data`` holds, beside each field, a ``"//<field>"`` note: label, what it accepts, help; see
:mod:`docket.offline.annotate`.)

(a form that changes an existing request, such as ``file-resubmission``, also has ``"request"``:
the id it applies to). ``digest`` is the sha256 of the canonical JSON (:mod:`docket.canonical`) of
the envelope without ``digest`` and ``instructions`` — so it covers the form's name, version,
language, schema, the target request and the data. Instructions are help text and may be
translated or trimmed freely.

Two ways of filling are accepted, and everything else is *altered*:

* **sealed**: the digest matches the envelope as it is. Export writes a sealed blank; the notebook
  seals the filled form when it saves it. Editing a sealed form afterwards breaks the seal.
* **filled by hand**: the digest is still the one of the blank export, and only ``data`` (and an
  empty ``request``) changed — the provider typed into the JSON file with an editor. docket checks
  this by putting the form's blank back in place and recomputing the digest, so a changed name,
  version, language or schema is still caught.

The digest is tamper *evidence*, not a signature: it has no secret, anyone with docket can
recompute it. Whatever the envelope says, the data is always validated against the instance's
own schema, never against the schema carried in the file.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from docket.canonical import digest

FORM_KEY = "docket_form"
UNSEALED = frozenset({"digest", "instructions"})
KNOWN_KEYS = ("docket_form", "form_version", "language", "instructions", "request", "data", "schema", "digest")


def bundled_schema(form: Any) -> dict[str, Any]:
    """The form's schema with every docket schema it may ``$ref`` embedded (by ``$id``).

    A provider's own Jupyter or editor can then validate the form without docket installed: JSON
    Schema 2020-12 resolves a ``$ref`` to an embedded resource that has that ``$id``.
    """
    schema = copy.deepcopy(form.schema)
    defs = dict(schema.get("$defs", {}))
    for name in form.schemas.names():
        defs[f"docket:{name}"] = copy.deepcopy(form.schemas.schema(name))
    schema["$defs"] = defs
    return schema


def sealed_part(envelope: dict[str, Any]) -> dict[str, Any]:
    """What the digest covers: everything but the digest itself and the instructions."""
    return {k: v for k, v in envelope.items() if k not in UNSEALED}


def seal(envelope: dict[str, Any]) -> dict[str, Any]:
    """The envelope with ``digest`` set to the digest of its sealed part (a new dict)."""
    out = {k: v for k, v in envelope.items() if k != "digest"}
    out["digest"] = digest(sealed_part(out))
    return out


def build_envelope(form: Any, language: str, instructions: str, request: str | None = None) -> dict[str, Any]:
    """A sealed blank form, in the key order a person reads it (data before the long schema)."""
    env: dict[str, Any] = {
        FORM_KEY: form.name,
        "form_version": form.version,
        "language": language,
        "instructions": instructions,
    }
    if form.mode == "merge":
        env["request"] = request or ""
    # Each field's label, what it accepts and its help, in "//<key>" notes beside its value
    # (docket.offline.annotate); the importer drops them before reading the data.
    from docket.offline.annotate import annotated_blank  # loads the forms: only when exporting

    env["data"] = annotated_blank(form, language)
    env["schema"] = bundled_schema(form)
    return seal(env)


@dataclass(frozen=True)
class Verdict:
    """Whether an envelope is as docket (or the notebook) left it, and how it was filled."""

    status: str  # "sealed", "filled-by-hand" or "altered"
    message: str = ""

    @property
    def ok(self) -> bool:
        return self.status != "altered"


def verify(envelope: dict[str, Any], form: Any | None) -> Verdict:
    """Check the digest of ``envelope`` (see the module docstring); ``form`` is the instance's
    form of the name the envelope gives, or None when there is no such form."""
    given = envelope.get("digest")
    if not isinstance(given, str) or not given:
        return Verdict("altered", "the form has no digest: it was not exported by docket or the digest was removed")
    part = sealed_part(envelope)
    try:
        if digest(part) == given:
            return Verdict("sealed")
    except (TypeError, ValueError, RecursionError):  # not serialisable: cannot be what was sealed
        pass
    if form is not None:
        # The blank as exported: with its notes in the envelope's language (or, exported
        # before forms carried notes, without).
        from docket.offline.annotate import annotated_blank

        blanks = [form.blank()]
        language = envelope.get("language")
        if isinstance(language, str) and language in form.languages:
            blanks.insert(0, annotated_blank(form, language))
        candidates = []
        for data in blanks:
            blank = dict(part, data=data)
            candidates.append(blank)
            if "request" in blank and blank["request"] != "":
                candidates.append(dict(blank, request=""))
        if any(digest(c) == given for c in candidates):
            return Verdict("filled-by-hand")
    hints = []
    if form is None:
        hints.append(f"there is no form {envelope.get(FORM_KEY)!r}")
    elif envelope.get("form_version") != form.version:
        hints.append(f"its form_version {envelope.get('form_version')!r} is not this instance's {form.version!r}")
    hint = f" ({'; '.join(hints)})" if hints else ""
    return Verdict(
        "altered",
        "digest mismatch: the form was altered outside the form after docket exported it "
        f"(or after the notebook saved it){hint}; fill a freshly exported form",
    )
