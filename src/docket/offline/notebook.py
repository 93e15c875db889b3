"""The offline form as a notebook a provider runs in their own Jupyter, without docket installed.

Cells: what to do; the fields in page order (label, what each accepts, help, in the form's
language); the fill-in cell (a Python dict, each line followed by its field's label as a comment,
tagged ``docket-fill-in``); the form itself (the sealed envelope and what the page knows of it:
labels, page order, the message catalogue of the language; hidden); the source of
:mod:`docket.messages.portable` (hidden); and a cell that cleans and checks the data with that
very code, as the page does, lists every problem as the page words it (label: message, in page
order) and, when there is none, saves the filled form, sealed with its digest, next to the
notebook. The same input gives the same answer here and on the page (tests/test_offline_parity.py).
"""

from __future__ import annotations

import inspect
import pprint
from typing import Any

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from docket.forms.definition import localize
from docket.messages import catalogue, portable
from docket.messages.fields import field_table, hints, ranks
from docket.offline.annotate import notes, python_literal

FILL_IN_TAG = "docket-fill-in"

TEXT = {
    "en": {
        "steps": "1. Fill in `data` in the first code cell below (leave a field empty if it does not apply).\n"
                 "2. Run all cells (*Run → Run All Cells*). Errors are listed under the last cell; correct them and run again.\n"
                 "3. When it says *Saved*, e-mail the file `{filled}` (next to this notebook) back as an attachment.\n\n"
                 "Do not edit the saved JSON file by hand: docket refuses a form changed after it was saved.",
        "fields": "Fields", "field": "field", "label": "label", "accepts": "accepts", "help": "help", "request": "The id of the request these changes apply to (e.g. `ocean-0007`):",
    },
    "fr": {
        "steps": "1. Remplissez `data` dans la première cellule de code ci-dessous (laissez vide un champ sans objet).\n"
                 "2. Exécutez toutes les cellules (*Run → Run All Cells*). Les erreurs s'affichent sous la dernière cellule ; corrigez-les et recommencez.\n"
                 "3. Quand *Saved* s'affiche, renvoyez le fichier `{filled}` (à côté de ce notebook) en pièce jointe d'un courriel.\n\n"
                 "Ne modifiez pas le fichier JSON enregistré à la main : docket refuse un formulaire modifié après son enregistrement.",
        "fields": "Champs", "field": "champ", "label": "libellé", "accepts": "accepte", "help": "aide", "request": "L'identifiant de la demande concernée (p. ex. `ocean-0007`) :",
    },
    "de": {
        "steps": "1. Füllen Sie `data` in der ersten Code-Zelle unten aus (nicht zutreffende Felder leer lassen).\n"
                 "2. Führen Sie alle Zellen aus (*Run → Run All Cells*). Fehler erscheinen unter der letzten Zelle; korrigieren und erneut ausführen.\n"
                 "3. Sobald *Saved* erscheint, senden Sie die Datei `{filled}` (neben diesem Notebook) als E-Mail-Anhang zurück.\n\n"
                 "Bearbeiten Sie die gespeicherte JSON-Datei nicht von Hand: docket weist ein nach dem Speichern geändertes Formular zurück.",
        "fields": "Felder", "field": "Feld", "label": "Bezeichnung", "accepts": "erlaubt", "help": "Hilfe", "request": "Die Kennung des betroffenen Antrags (z. B. `ocean-0007`):",
    },
}

SAVE_CODE = '''\
# Checks the form as the web page does and saves it, sealed, next to this notebook.
# No need to change anything here.
import hashlib
import json
from pathlib import Path


def canonical(document):
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def check(data):
    """The problems of the data, in the order of the form's fields: (path, where, words, message)."""
    filled = clean_value(data, KEEP_EMPTY)
    found = []
    if jsonschema is not None:
        checker = jsonschema.FormatChecker()
        checker.checks("orcid")(is_orcid)
        checker.checks("email")(is_email)
        validator = jsonschema.Draft202012Validator(FORM["schema"], format_checker=checker)
        found += [describe(error) for error in validator.iter_errors(filled)]
    if TARGET == "request" and isinstance(filled, dict):
        found += coverage_problems(filled) + file_name_problems(filled)
    out = {}
    for path, message_id, values in sorted(found, key=lambda p: order_key(p[0], RANKS)):
        where = json_path(path)
        text = render(MESSAGES, message_id, values)
        out.setdefault((where, text), (path, where, label_of(path, FIELDS), text))
    problems = list(out.values())
    if "request" in FORM and not str(request).strip():
        problems.insert(0, ([], "request", "request", render(MESSAGES, "request_required", {})))
    return filled, problems


try:
    import jsonschema
except ImportError:
    jsonschema = None
    print("(jsonschema is not installed here, so the form is not checked now: docket checks it on import)")

filled, problems = check(data)
if problems:
    print(render(MESSAGES, "problems_heading", {"count": str(len(problems))}))
    for _path, where, words, text in problems:
        print(f"  - {words or where}: {text}   [{where}]")
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
    print(render(MESSAGES, "saved", {"path": str(out.resolve())}))
'''


def _md_cell_text(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def fields_table(form: Any, language: str) -> str:
    """The fields in page order: key, label, what the field accepts (required, format, allowed
    values), help; in ``language``."""
    t = TEXT.get(language, TEXT["en"])
    rows = [f"| {t['field']} | {t['label']} | {t['accepts']} | {t['help']} |", "|---|---|---|---|"]
    for path, spec in form.iter_fields():
        shown = ".".join(path).replace(".*", "[]")
        rows.append(
            f"| `{shown}` | {_md_cell_text(localize(spec.get('label'), language))} "
            f"| {_md_cell_text('; '.join(hints(form, path, spec, language)))} "
            f"| {_md_cell_text(localize(spec.get('help'), language))} |"
        )
    return "\n".join(rows)


def portable_source() -> str:
    """The source of :mod:`docket.messages.portable`: the page's own cleaning, checks, message
    ids, rules, order and labels, run as they are in the provider's Jupyter."""
    return inspect.getsource(portable)


def build_notebook(form: Any, envelope: dict[str, Any], language: str, filled_name: str) -> str:
    """The notebook as JSON text (nbformat 4)."""
    t = TEXT.get(language, TEXT["en"])
    title = localize(form.title, language) or form.name
    description = localize(form.description, language)
    intro = f"# {title}\n\n" + (f"{description}\n\n" if description else "") + t["steps"].format(filled=filled_name)
    fill = "data = " + python_literal(form.blank(), notes(form, language)) + "\n"
    if "request" in envelope:
        fill = f"# {t['request']}\nrequest = {envelope['request']!r}\n\n" + fill
    header = {k: v for k, v in envelope.items() if k not in ("data", "digest")}
    form_code = (
        "# The form as docket exported it (name, version, language, schema) and what the web page\n"
        "# knows of it (labels, page order, messages in this language). Do not edit.\n"
        f"FILLED_NAME = {filled_name!r}\n"
        f"TARGET = {form.target!r}\n"
        f"KEEP_EMPTY = {sorted(form.keep_empty_paths())!r}\n"
        "FIELDS = " + pprint.pformat(field_table(form, language), width=100, sort_dicts=False) + "\n"
        "RANKS = " + pprint.pformat(ranks(form), width=100, sort_dicts=False) + "\n"
        "MESSAGES = " + pprint.pformat(catalogue(language), width=100, sort_dicts=True) + "\n"
        "FORM = " + pprint.pformat(header, width=100, sort_dicts=False) + "\n"
    )
    nb = new_notebook()
    nb.metadata.update({
        "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
        "language_info": {"name": "python"},
        "docket": {"form": form.name, "form_version": form.version, "language": language,
                   "blank_digest": envelope["digest"]},
    })
    hidden = {"jupyter": {"source_hidden": True}}
    nb.cells = [
        new_markdown_cell(intro),
        new_markdown_cell(f"## {t['fields']}\n\n" + fields_table(form, language)),
        new_code_cell(fill, metadata={"tags": [FILL_IN_TAG]}),
        new_code_cell(form_code, metadata={"tags": ["docket-form"], **hidden}),
        new_code_cell(portable_source(), metadata={"tags": ["docket-portable"], **hidden}),
        new_code_cell(SAVE_CODE, metadata={"tags": ["docket-save"]}),
    ]
    return nbformat.writes(nb)
