"""The offline form as a notebook a provider runs in their own Jupyter, without docket installed.

Cells: what to do; the fields (label, required, help, in the chosen language); the fill-in cell
(a Python dict, tagged ``docket-fill-in``); the form itself (the sealed envelope, hidden); and a
cell that cleans the data the way docket does, validates it with ``jsonschema`` when that is
installed, and saves the filled form, sealed with its digest, next to the notebook.
"""

from __future__ import annotations

import pprint
from typing import Any

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from docket.forms.definition import localize

FILL_IN_TAG = "docket-fill-in"

TEXT = {
    "en": {
        "steps": "1. Fill in `data` in the first code cell below (leave a field empty if it does not apply).\n"
                 "2. Run all cells (*Run → Run All Cells*). Errors are listed under the last cell; correct them and run again.\n"
                 "3. When it says *Saved*, e-mail the file `{filled}` (next to this notebook) back as an attachment.\n\n"
                 "Do not edit the saved JSON file by hand: docket refuses a form changed after it was saved.",
        "fields": "Fields", "field": "field", "label": "label", "required": "required", "help": "help",
        "yes": "yes", "request": "The id of the request these changes apply to (e.g. `ocean-0007`):",
    },
    "fr": {
        "steps": "1. Remplissez `data` dans la première cellule de code ci-dessous (laissez vide un champ sans objet).\n"
                 "2. Exécutez toutes les cellules (*Run → Run All Cells*). Les erreurs s'affichent sous la dernière cellule ; corrigez-les et recommencez.\n"
                 "3. Quand *Saved* s'affiche, renvoyez le fichier `{filled}` (à côté de ce notebook) en pièce jointe d'un courriel.\n\n"
                 "Ne modifiez pas le fichier JSON enregistré à la main : docket refuse un formulaire modifié après son enregistrement.",
        "fields": "Champs", "field": "champ", "label": "libellé", "required": "obligatoire", "help": "aide",
        "yes": "oui", "request": "L'identifiant de la demande concernée (p. ex. `ocean-0007`) :",
    },
    "de": {
        "steps": "1. Füllen Sie `data` in der ersten Code-Zelle unten aus (nicht zutreffende Felder leer lassen).\n"
                 "2. Führen Sie alle Zellen aus (*Run → Run All Cells*). Fehler erscheinen unter der letzten Zelle; korrigieren und erneut ausführen.\n"
                 "3. Sobald *Saved* erscheint, senden Sie die Datei `{filled}` (neben diesem Notebook) als E-Mail-Anhang zurück.\n\n"
                 "Bearbeiten Sie die gespeicherte JSON-Datei nicht von Hand: docket weist ein nach dem Speichern geändertes Formular zurück.",
        "fields": "Felder", "field": "Feld", "label": "Bezeichnung", "required": "Pflicht", "help": "Hilfe",
        "yes": "ja", "request": "Die Kennung des betroffenen Antrags (z. B. `ocean-0007`):",
    },
}

SAVE_CODE = '''\
# Checks the form and saves it, sealed, next to this notebook. No need to change anything here.
import hashlib
import json
import re
from datetime import date
from pathlib import Path


def clean(value):
    """As docket does: empty strings, None and empty objects mean "not given"."""
    def blank(v):
        return v is None or v == {} or (isinstance(v, str) and not v.strip())
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            item = clean(item)
            if not blank(item):
                out[key] = item
        return out
    if isinstance(value, list):
        items = [clean(v) for v in value]
        if all(not isinstance(v, dict) for v in items):
            return [v for v in items if not blank(v)]
        return [{} if v is None else v for v in items]
    return value.strip() if isinstance(value, str) else value


def canonical(document):
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def orcid_ok(value):
    match = re.match(r"^(?:https?://orcid\\.org/)?(\\d{4}-\\d{4}-\\d{4}-\\d{3}[\\dX])$", value)
    if not match:
        return False
    digits = match.group(1).replace("-", "")
    total = 0
    for ch in digits[:-1]:
        total = (total + int(ch)) * 2
    check = (12 - total % 11) % 11
    return digits[-1] == ("X" if check == 10 else str(check))


def json_path(parts):
    return "$" + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in parts)


filled = clean(data)
problems = []
try:
    import jsonschema
except ImportError:
    jsonschema = None
    print("(jsonschema is not installed here, so the form is not checked now: docket checks it on import)")
if jsonschema is not None:
    checker = jsonschema.FormatChecker()
    checker.checks("orcid")(lambda v: not isinstance(v, str) or orcid_ok(v))
    checker.checks("email")(lambda v: not isinstance(v, str) or bool(
        re.match(r"^[^@\\s]+@[A-Za-z0-9-]+(\\.[A-Za-z0-9-]+)+$", v)))
    validator = jsonschema.Draft202012Validator(FORM["schema"], format_checker=checker)
    for error in validator.iter_errors(filled):
        problems.append((json_path(error.absolute_path), error.message))
coverage = filled.get("metadata", {}).get("experiment_contextual", {}).get("temporal_coverage", {})
try:
    if date.fromisoformat(coverage["end"]) < date.fromisoformat(coverage["start"]):
        problems.append(("$.metadata.experiment_contextual.temporal_coverage.end", "ends before it starts"))
except (KeyError, TypeError, ValueError):
    pass
if "request" in FORM and not str(request).strip():
    problems.append(("request", "give the id of the request these changes apply to"))

if problems:
    print(f"{len(problems)} problem(s); the form was NOT saved. Correct them and run this cell again:")
    for where, message in sorted(problems):
        print(f"  - {where}: {message}")
else:
    envelope = {k: v for k, v in FORM.items() if k != "schema"}
    if "request" in envelope:
        envelope["request"] = str(request).strip()
    envelope["data"] = filled
    envelope["schema"] = FORM["schema"]
    sealed = {k: v for k, v in envelope.items() if k not in ("digest", "instructions")}
    envelope["digest"] = hashlib.sha256(canonical(sealed)).hexdigest()
    out = Path(FILLED_NAME)
    out.write_text(json.dumps(envelope, indent=2, ensure_ascii=False) + "\\n", encoding="utf-8")
    print(f"Saved {out.resolve()}: e-mail it back as an attachment.")
'''


def _md_cell_text(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def fields_table(form: Any, language: str) -> str:
    t = TEXT.get(language, TEXT["en"])
    rows = [f"| {t['field']} | {t['label']} | {t['required']} | {t['help']} |", "|---|---|---|---|"]
    for path, spec in form.iter_fields():
        shown = ".".join(path).replace(".*", "[]")
        try:
            required = t["yes"] if form.is_required(path) else ""
        except Exception:  # noqa: BLE001 - a path the schema does not describe is simply not marked
            required = ""
        rows.append(
            f"| `{shown}` | {_md_cell_text(localize(spec.get('label'), language))} | {required} "
            f"| {_md_cell_text(localize(spec.get('help'), language))} |"
        )
    return "\n".join(rows)


def build_notebook(form: Any, envelope: dict[str, Any], language: str, filled_name: str) -> str:
    """The notebook as JSON text (nbformat 4)."""
    t = TEXT.get(language, TEXT["en"])
    title = localize(form.title, language) or form.name
    description = localize(form.description, language)
    intro = f"# {title}\n\n" + (f"{description}\n\n" if description else "") + t["steps"].format(filled=filled_name)
    fill = "data = " + pprint.pformat(envelope["data"], width=100, sort_dicts=False) + "\n"
    if "request" in envelope:
        fill = f"# {t['request']}\nrequest = {envelope['request']!r}\n\n" + fill
    header = {k: v for k, v in envelope.items() if k not in ("data", "digest")}
    form_code = (
        "# The form as docket exported it (name, version, language, schema). Do not edit.\n"
        f"FILLED_NAME = {filled_name!r}\n"
        "FORM = " + pprint.pformat(header, width=100, sort_dicts=False) + "\n"
    )
    nb = new_notebook()
    nb.metadata.update({
        "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
        "language_info": {"name": "python"},
        "docket": {"form": form.name, "form_version": form.version, "language": language,
                   "blank_digest": envelope["digest"]},
    })
    nb.cells = [
        new_markdown_cell(intro),
        new_markdown_cell(f"## {t['fields']}\n\n" + fields_table(form, language)),
        new_code_cell(fill, metadata={"tags": [FILL_IN_TAG]}),
        new_code_cell(form_code, metadata={"tags": ["docket-form"], "jupyter": {"source_hidden": True}}),
        new_code_cell(SAVE_CODE, metadata={"tags": ["docket-save"]}),
    ]
    return nbformat.writes(nb)
