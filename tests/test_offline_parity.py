"""The offline form matches the page: same definition, same cleaning, same answers, same words.

Every case is given to the three places a provider can fill the form -- the page (a FormView, as
``docket serve`` renders it), the exported notebook (executed with nbclient in a real kernel, the
way a provider runs it) and the JSON export (filled by hand and read by ``docket import``) -- and
must be accepted or refused by all three alike, with the same messages, in the form's language;
what is accepted must be the same record.
"""

from __future__ import annotations

import copy
import html
import json
import mailbox
import re
from email.message import EmailMessage
from email.policy import default as policy
from pathlib import Path
from typing import Any

import nbformat
import pytest

import docket
from docket.forms.definition import load_form, request_part
from docket.forms.renderer import FormView
from docket.offline.envelope import verify
from docket.offline.notebook import FILL_IN_TAG
from tests.conftest import EXAMPLES
from tests.offline_helpers import cli, fill, write_json

LANG = "fr"  # not English: the messages must follow the form's language everywhere
LI = re.compile(r"<li data-path='([^']*)'[^>]*>(?:<b>(.*?)</b>: )?(.*?)</li>", re.S)
NB_LINE = re.compile(r"^  - (.*?): (.*)   \[(.*)\]$")


def valid_values() -> dict[str, Any]:
    """A complete request in the page's own shape (titles per language, dates as YYYY-MM-DD)."""
    return {
        "project": "soil",
        "provider": {"name": "Jonas Weber", "email": "j.weber@soil-lab.example.de",
                     "orcid": "0000-0002-1825-0097", "organisation": "Soil Lab Freiburg"},
        "metadata": {
            "project_descriptive": {
                "title": {"en": "Topsoil chemistry of twenty-five Black Forest sites"},
                "abstract": {"en": "Soil pH and organic carbon measured at three depths in cores from "
                                   "twenty-five monitoring sites in the southern Black Forest."},
                "keywords": ["soil", "pH", "organic carbon"],
            },
            "dataset_administrative": {
                "licence": "CC-BY-4.0",
                "contact": {"name": "Jonas Weber", "email": "j.weber@soil-lab.example.de"},
                "access_rights": "embargoed",
                "embargo_until": "2025-06-30",
            },
            "experiment_contextual": {
                "temporal_coverage": {"start": "2023-04-01", "end": "2023-09-30"},
                "spatial_coverage": {"west": 7.0, "east": 8.0, "south": 47.0, "north": 48.0},
            },
        },
        "files": [{"name": "soil_sites.csv", "location": "https://data.example.org/incoming/soil_sites.csv",
                   "size": 896}],
    }


def changed(**paths: Any) -> dict[str, Any]:
    """``valid_values()`` with the value at each ``a__b__0__c`` path replaced."""
    data = valid_values()
    for dotted, value in paths.items():
        keys = [int(k) if k.isdigit() else k for k in dotted.split("__")]
        node: Any = data
        for key in keys[:-1]:
            node = node[key]
        node[keys[-1]] = value
    return data


# -- the three places ---------------------------------------------------------------------------


def page_answer(form: Any, data: dict[str, Any], language: str = LANG) -> tuple[dict | None, list[tuple]]:
    """What the page does with ``data`` on Submit: the request it would store, or the refused list
    as shown: (JSON path, field words, message) in the order of the list."""
    view = FormView(form, language=language, data=copy.deepcopy(data))
    document = view.submit()
    if document is not None:
        return document, []
    items = [(html.unescape(p), html.unescape(w or ""), html.unescape(m)) for p, w, m in LI.findall(view.status.value)]
    assert items, view.status.value
    return None, items


class Notebook:
    """The exported notebook in a live kernel: fill the fill-in cell, run the save cell."""

    def __init__(self, path: Path) -> None:
        from nbclient import NotebookClient

        self.path = path
        self.nb = nbformat.read(path, as_version=4)
        self.client = NotebookClient(self.nb, timeout=60, kernel_name="python3",
                                     resources={"metadata": {"path": str(path.parent)}})
        self.fill = next(i for i, c in enumerate(self.nb.cells) if FILL_IN_TAG in c.metadata.get("tags", []))
        self.save = len(self.nb.cells) - 1

    def __enter__(self) -> Notebook:
        self._ctx = self.client.setup_kernel()
        self._ctx.__enter__()
        for index, cell in enumerate(self.nb.cells):  # as "Run All" would, once
            if cell.cell_type == "code" and index not in (self.fill, self.save):
                self.client.execute_cell(cell, index)
        return self

    def __exit__(self, *exc: object) -> None:
        self._ctx.__exit__(*exc)

    def answer(self, data: dict[str, Any]) -> tuple[dict | None, list[tuple]]:
        """The sealed envelope the notebook saved, or its problems: (path, words, message)."""
        saved = self.path.parent / f"{self.path.stem}.filled.json"
        saved.unlink(missing_ok=True)
        cell = self.nb.cells[self.fill]
        cell.source = "data = " + repr(data)
        self.client.execute_cell(cell, self.fill)
        self.client.execute_cell(self.nb.cells[self.save], self.save)
        said = "".join(o.get("text", "") for o in self.nb.cells[self.save].outputs)
        if saved.exists():
            return json.loads(saved.read_text(encoding="utf-8")), []
        items = []
        for line in said.splitlines()[1:]:
            m = NB_LINE.match(line)
            assert m, line
            words, message, where = m.groups()
            items.append((where, "" if words == where else words, message))
        assert items, said
        return None, items


def import_answer(instance: Path, folder: Path, blank: dict, data: dict, name: str) -> tuple[dict | None, list]:
    """``docket import`` of the JSON export filled by hand with ``data``: the stored request (its
    request part), or the report's problems (path in the form's data, message), in its order."""
    path = write_json(folder / f"{name}.json", fill(blank, data))
    run = cli("import", path, "--json", "--lang", LANG, instance=instance)
    item = run.json()["items"][0]
    if item["status"] in ("imported", "already-imported"):
        with docket.open(instance) as d:
            record = d.get(item["id"], item["revision"]) if "revision" in item else d.get(item["id"])
        return request_part(record), []
    assert item["status"] == "refused", item
    return None, [("$" + p["where"][len("$.data"):], p["message"]) for p in item["problems"]]


# -- fixtures: one instance, one exported notebook and JSON, one kernel -----------------------------


@pytest.fixture(scope="module")
def instance(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("parity") / "inst"
    docket.init(folder, project="soil", base_uri="https://data.example.org/soil/",
                local_roots=["inbox", str(EXAMPLES)]).close()
    return folder


@pytest.fixture(scope="module")
def exported(instance: Path) -> dict[str, Path]:
    folder = instance.parent / "export"
    folder.mkdir()
    out = {}
    for fmt in ("json", "ipynb"):
        out[fmt] = folder / f"demande.{fmt}"
        run = cli("form", "export", "ingest-request", "--format", fmt, "--lang", LANG, "-o", out[fmt],
                  instance=instance)
        assert run.code == 0, run.err
    return out


@pytest.fixture(scope="module")
def notebook(exported: dict[str, Path]) -> Any:
    with Notebook(exported["ipynb"]) as nb:
        yield nb


@pytest.fixture(scope="module")
def form(instance: Path) -> Any:
    return load_form("ingest-request", instance)


def _envelope_free(record: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in record.items() if k not in ("links",)}


# -- the table ----------------------------------------------------------------------------------

CASES = {
    "complete": (valid_values(), []),
    "empty optional sections": (
        changed(metadata__dataset_structural={"fields": [], "missingValues": [], "primaryKey": ""},
                metadata__instrument_technical={"instruments": [], "software": []},
                metadata__project_descriptive__authors=[], metadata__project_descriptive__project_name=" "),
        []),
    "blank structural column": (
        changed(metadata__dataset_structural={"fields": [{"name": "", "type": None, "unit": ""}]}),
        [("$.metadata.dataset_structural.fields[0].name", "est obligatoire")]),
    "invalid e-mail": (
        changed(provider__email="jonas.weber(at)soil-lab.example.de"),
        [("$.provider.email", "'jonas.weber(at)soil-lab.example.de' n'est pas une adresse de courriel valide "
                              "(p. ex. nom@example.org)")]),
    "bad date": (
        changed(metadata__dataset_administrative__embargo_until="30/06/2025"),
        [("$.metadata.dataset_administrative.embargo_until",
          "'30/06/2025' n'est pas une date : écrivez-la AAAA-MM-JJ, p. ex. 2024-05-31")]),
    "end before start": (
        changed(metadata__experiment_contextual__temporal_coverage={"start": "2023-09-30", "end": "2023-04-01"}),
        [("$.metadata.experiment_contextual.temporal_coverage.end", "la fin 2023-04-01 précède le début 2023-09-30")]),
    "bad ORCID and no name": (
        changed(provider__orcid="0000-0002-1825-0098", provider__name="  "),
        [("$.provider.name", "est obligatoire"),
         ("$.provider.orcid", "'0000-0002-1825-0098' n'est pas un ORCID iD valide (16 chiffres, "
                              "p. ex. 0000-0002-1825-0097 ; vérifiez le format et le dernier chiffre)")]),
    "access not one of the allowed values": (
        changed(metadata__dataset_administrative__access_rights="public"),
        [("$.metadata.dataset_administrative.access_rights",
          "'public' n'est pas une des valeurs permises : open, embargoed, restricted")]),
    "size not a number": (
        changed(files__0__size="douze"),
        [("$.files[0].size", "'douze' n'est pas un nombre entier")]),
}


@pytest.mark.parametrize("case", list(CASES))
def test_the_page_the_notebook_and_the_import_give_the_same_answer(
        case: str, form: Any, notebook: Notebook, instance: Path, exported: dict[str, Path]) -> None:
    data, expected = CASES[case]
    blank = json.loads(exported["json"].read_text(encoding="utf-8"))
    page_doc, page_items = page_answer(form, data)
    nb_env, nb_items = notebook.answer(copy.deepcopy(data))
    imported, import_items = import_answer(instance, exported["json"].parent, blank, data, case.replace(" ", "-"))

    if not expected:
        assert page_items == [] and nb_items == [] and import_items == [], (page_items, nb_items, import_items)
        assert nb_env is not None and verify(nb_env, form).status == "sealed"
        # the same record: what the page would store, what the notebook saved, what was imported
        assert nb_env["data"] == page_doc
        assert _envelope_free(imported) == _envelope_free(page_doc)
        return
    # refused alike, with the same messages in the same (page) order, naming the same fields
    assert [(p, m) for p, _w, m in page_items] == expected
    assert nb_items == page_items
    assert import_items == expected
    assert all(w for _p, w, _m in page_items), page_items  # every problem names its field in words


def test_dropped_sections_are_dropped_by_the_one_cleaning_function(form: Any) -> None:
    """Online and offline clean with Form.clean's code (docket.messages.portable.clean_value)."""
    from docket.messages.portable import clean_value

    data = CASES["empty optional sections"][0]
    cleaned = form.clean(data)
    assert "dataset_structural" not in cleaned["metadata"] and "instrument_technical" not in cleaned["metadata"]
    assert clean_value(data, form.keep_empty_paths()) == cleaned
    # a required object left empty stays, so its fields are each named
    assert form.clean({"provider": {"name": ""}})["provider"] == {}


# -- the JSON export: labels and help beside the values ---------------------------------------------


def test_the_json_export_carries_labels_help_formats_and_allowed_values(exported: dict[str, Path]) -> None:
    blank = json.loads(exported["json"].read_text(encoding="utf-8"))
    data = blank["data"]
    admin = data["metadata"]["dataset_administrative"]
    assert data["provider"]["//email"].startswith("Courriel — obligatoire; une adresse de courriel")
    assert "AAAA-MM-JJ (p. ex. 2024-05-31)" in admin["//embargo_until"]
    assert "open (ouvert)" in admin["//access_rights"] and "embargoed" in admin["//access_rights"]
    assert "un texte par langue (en, fr, de) ; une langue suffit" in data["metadata"]["project_descriptive"]["//title"]
    # the note comes just before its value, as a person reads the file
    keys = list(data["provider"])
    assert keys.index("//email") + 1 == keys.index("email")
    # the fill-in cell of the notebook has the same notes, as comments after each value
    nb = nbformat.read(exported["ipynb"], as_version=4)
    fill_cell = next(c for c in nb.cells if FILL_IN_TAG in c.metadata.get("tags", []))
    assert "'embargo_until': '',  # " + admin["//embargo_until"] in fill_cell.source
    import ast

    assert ast.literal_eval(fill_cell.source.partition("=")[2].strip()) == load_form("ingest-request").blank()


def test_notes_left_in_a_filled_json_are_ignored_whatever_they_hold(
        instance: Path, exported: dict[str, Path], tmp_path: Path) -> None:
    blank = json.loads(exported["json"].read_text(encoding="utf-8"))
    data = valid_values()
    data["metadata"]["project_descriptive"]["title"] = {"en": "Notes are not data: a soil survey in 2023"}
    plain = cli("import", write_json(tmp_path / "plain.json", fill(blank, data)), "--json", instance=instance)
    assert plain.code == 0, plain.out
    first = plain.json()["items"][0]
    # hostile notes: a note at every level, holding objects, lists, markup, a would-be field
    # (a NUL, there as anywhere in the file, is refused by docket's one JSON reader)
    noted = copy.deepcopy(data)
    noted["//provider"] = {"name": "Mallory", "nested": [{"//": ["x" * 10_000]}]}
    noted["provider"]["//name"] = "<script>alert(1)</script>\u202e"
    noted["files"][0]["//location"] = {"location": "/etc/passwd"}
    noted["metadata"]["//"] = [[[[]]]]
    run = cli("import", write_json(tmp_path / "noted.json", fill(blank, noted)), "--json", instance=instance)
    item = run.json()["items"][0]
    assert item["status"] == "already-imported" and item["id"] == first["id"], item  # the same form
    with docket.open(instance) as d:
        stored = d.get(first["id"])
    assert stored["provider"]["name"] == "Jonas Weber" and "//provider" not in json.dumps(stored)


# -- the import report names the sender of each e-mail -----------------------------------------------


def test_the_import_report_names_the_sender_of_each_mail(instance: Path, tmp_path: Path,
                                                        exported: dict[str, Path]) -> None:
    blank = json.loads(exported["json"].read_text(encoding="utf-8"))
    box = mailbox.mbox(str(tmp_path / "inbox.mbox"))
    senders = ["Ana Lima <ana@example.org>", "=?utf-8?q?J=C3=BCrgen_M=C3=BCller?= <jm@example.de>",
               "Eve " + "x" * 400 + " <eve@example.net>"]
    for n, sender in enumerate(senders):
        data = valid_values()
        data["metadata"]["project_descriptive"]["title"] = {"en": f"Mailed soil survey number {n} of 2023"}
        if n == 2:
            data["provider"]["email"] = "eve(at)example.net"
        msg = EmailMessage(policy=policy)
        msg["From"], msg["To"], msg["Subject"] = sender, "desk@example.org", "Formulaire"
        msg.set_content("Ci-joint.\n")
        msg.add_attachment(json.dumps(fill(blank, data)).encode(), maintype="application", subtype="json",
                           filename="demande.json")
        box.add(mailbox.mboxMessage(msg))
    box.flush()
    run = cli("import", tmp_path / "inbox.mbox", "--json", "--lang", LANG, instance=instance)
    items = run.json()["items"]
    assert [i["sender"] for i in items[:2]] == ["Ana Lima <ana@example.org>", "Jürgen Müller <jm@example.de>"]
    assert items[2]["status"] == "refused" and items[2]["sender"].startswith("Eve xxx")
    assert len(items[2]["sender"]) <= 200
    assert items[2]["problems"][0]["message"].startswith("'eve(at)example.net' n'est pas une adresse")
    text = cli("import", tmp_path / "inbox.mbox", instance=instance).out
    assert "(from Ana Lima <ana@example.org>)" in text and "(from Jürgen Müller <jm@example.de>)" in text
    # the example e-mail of examples/offline, as the README describes it
    example = cli("import", EXAMPLES / "offline" / "mail" / "weather-form.eml", "--json", instance=instance)
    assert example.json()["items"][0]["sender"]


def test_the_notebook_needs_no_docket_only_the_standard_library_and_jsonschema(exported: dict[str, Path]) -> None:
    import ast

    nb = nbformat.read(exported["ipynb"], as_version=4)
    imported: set[str] = set()
    for cell in nb.cells:
        if cell.cell_type == "code":
            for node in ast.walk(ast.parse(cell.source)):
                if isinstance(node, ast.Import):
                    imported.update(a.name.split(".")[0] for a in node.names)
                elif isinstance(node, ast.ImportFrom):
                    imported.add((node.module or "").split(".")[0])
    assert imported <= {"__future__", "re", "datetime", "typing", "json", "hashlib", "pathlib", "jsonschema"}, imported
