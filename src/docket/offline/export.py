"""``docket form export``: a blank form as JSON (any editor) or as a notebook (the provider's Jupyter).

Both carry the same sealed envelope (:mod:`docket.offline.envelope`); the notebook only adds the
cells that let a provider fill the data as a Python dict, validate it, and save the filled JSON
(sealed again) next to itself.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from docket.errors import BadInput
from docket.offline.envelope import build_envelope

FORMATS = ("json", "ipynb")

INSTRUCTIONS = {
    "en": (
        "Fill in the \"data\" object below (leave a field empty if it does not apply), keep every other "
        "key as it is, and e-mail the file back as an attachment. Changing anything outside \"data\" "
        "makes docket refuse the form as altered. Before each field, its \"//\" note gives its label, what it "
        "accepts and help; notes are ignored on import, so keep or delete them as you like."
    ),
    "fr": (
        "Remplissez l'objet \"data\" ci-dessous (laissez vide un champ sans objet), ne modifiez aucune "
        "autre clé, et renvoyez le fichier en pièce jointe d'un courriel. Toute modification hors de "
        "\"data\" fait refuser le formulaire comme altéré. Avant chaque champ, sa note \"//\" donne son libellé, ce "
        "qu'il accepte et de l'aide ; les notes sont ignorées à l'import, gardez-les ou supprimez-les."
    ),
    "de": (
        "Füllen Sie das Objekt \"data\" unten aus (lassen Sie nicht zutreffende Felder leer), ändern Sie "
        "keinen anderen Schlüssel, und senden Sie die Datei als E-Mail-Anhang zurück. Jede Änderung "
        "außerhalb von \"data\" lässt docket das Formular als verändert zurückweisen. Vor jedem Feld "
        "nennt seine \"//\"-Notiz Bezeichnung, erlaubte Werte und Hilfe; Notizen werden beim Import "
        "ignoriert, Sie können sie behalten oder löschen."
    ),
}


def instructions(language: str) -> str:
    return INSTRUCTIONS.get(language, INSTRUCTIONS["en"])


def check_language(form: Any, language: str) -> str:
    if language not in form.languages:
        raise BadInput(f"form {form.name} has no language {language!r} (it has {', '.join(form.languages)})")
    return language


def export_form(form: Any, fmt: str, language: str, request: str | None = None,
                filled_name: str | None = None) -> str:
    """The text of the exported form in ``fmt`` (``json`` or ``ipynb``)."""
    check_language(form, language)
    if request and form.mode != "merge":
        raise BadInput(f"form {form.name} makes a new request; --request is for forms that change one")
    envelope = build_envelope(form, language, instructions(language), request)
    if fmt == "json":
        return json.dumps(envelope, indent=2, ensure_ascii=False) + "\n"
    if fmt == "ipynb":
        from docket.offline.notebook import build_notebook

        return build_notebook(form, envelope, language, filled_name or f"{form.name}.filled.json")
    raise BadInput(f"unknown format {fmt!r} (formats: {', '.join(FORMATS)})")


def write_export(text: str, output: Path, force: bool = False) -> Path:
    """Write the export, refusing to overwrite a file unless asked (a filled form may be there)."""
    if output.exists() and not force:
        raise BadInput(f"{output} exists; choose another --output or add --force to overwrite it")
    try:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise BadInput(f"cannot write {output}: {exc.strerror or exc}") from exc
    return output
