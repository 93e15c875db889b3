"""Form definitions and the ipywidgets renderer, driven through their Python API.

Widgets are filled by setting their values, exactly as the browser's messages do in Voila; the
request page stores through the real core API into a real instance.
"""

from __future__ import annotations

import json
import re
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from docket.api import Docket
from docket.errors import BadInput, InstanceError, NotFound, Refused
from docket.forms import list_forms, load_form
from docket.forms.page import RequestPage, query_parameters, request_page
from docket.forms.renderer import FormView, render
from docket.validation import SchemaSet

from .conftest import EXAMPLES, ROOT, example_requests, invalid_examples

CTD = EXAMPLES / "requests" / "ctd-multilingual.json"


def load(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def fill_minimal(view: FormView, *, email: str = "ana.lima@example.org") -> None:
    """The smallest valid request, typed field by field."""
    values = {
        "provider.name": "Ana Lima",
        "provider.email": email,
        "provider.orcid": "0000-0002-1825-0097",
        "metadata.project_descriptive.title.en": "CTD casts",
        "metadata.project_descriptive.title.fr": "Profils CTD",
        "metadata.project_descriptive.abstract.en": "Temperature and salinity profiles.",
        "metadata.project_descriptive.keywords": "ocean, CTD",
        "metadata.dataset_administrative.licence": "CC-BY-4.0",
        "metadata.dataset_administrative.contact.name": "Ana Lima",
        "metadata.dataset_administrative.contact.email": "ana.lima@example.org",
        "files.0.name": "ctd.csv",
        "files.0.location": "https://data.example.org/ctd.csv",
    }
    for path, value in values.items():
        set_input(view, path, value)


def errors(view: FormView, path: str) -> str:
    """What the field at ``path`` shows as its error(s) now."""
    return " ".join(view.field(path).errors)


def set_input(view: FormView, path: str, value: object) -> None:
    parts = path.split(".")
    if parts[-1] in view.content_languages and parts[-2] in ("title", "abstract", "methods"):
        view.field(".".join(parts[:-1])).inputs[parts[-1]].value = value
    else:
        view.field(path).input.value = value


# -- definitions -----------------------------------------------------------------------------


def test_packaged_forms_are_listed_and_load() -> None:
    assert {"ingest-request", "file-resubmission"} <= set(list_forms())
    form = load_form("ingest-request")
    assert form.version == "1.1" and {"en", "fr", "de"} <= set(form.title)
    assert form.schema["$ref"].endswith("/request.schema.json")
    assert [s["id"] for s in form.sections()][1:6] == [
        "project_descriptive", "dataset_administrative", "dataset_structural",
        "instrument_technical", "experiment_contextual",
    ]


def test_every_label_exists_in_three_languages() -> None:
    for name in list_forms():
        form = load_form(name)
        for path, spec in form.iter_fields():
            for key in ("label", "help", "add_label", "row_label"):
                if key in spec:
                    assert {"en", "fr", "de"} <= set(spec[key]), f"{name}: {key} of {'.'.join(path)}"
        for section in form.sections():
            assert {"en", "fr", "de"} <= set(section["title"]), f"{name}: section {section['id']}"


def test_unknown_form_is_named() -> None:
    with pytest.raises(NotFound, match="no form 'nope'.*ingest-request"):
        load_form("nope")


def test_instance_form_overrides_packaged(dk: Docket) -> None:
    folder = dk.instance.root / "forms"
    assert folder.is_dir()  # docket init makes it, for a data centre to find
    definition = load(ROOT / "forms" / "ingest-request.json")
    definition["title"]["en"] = "Our own request form"
    (folder / "ingest-request.json").write_text(json.dumps(definition), encoding="utf-8")
    form = load_form("ingest-request", dk)
    assert form.source == "instance" and form.title["en"] == "Our own request form"
    (folder / "broken.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(InstanceError, match="broken.json"):
        load_form("broken", dk)


def test_form_and_core_agree_on_every_example() -> None:
    """The form's problems are the core's problems, with the same JSON paths."""
    form = load_form("ingest-request")
    core = SchemaSet()
    for path in example_requests():
        assert form.problems(load(path)) == []
    for path in invalid_examples():
        try:
            doc = load(path)
        except ValueError:
            continue  # malformed JSON never reaches a form
        if "steps" in doc:
            continue  # workflow state is not the form's business; the core checks it
        assert form.problems(doc) == core.problems("request", doc), path.name


def test_blank_lists_what_is_required() -> None:
    form = load_form("ingest-request")
    blank = form.blank()
    assert blank["metadata"]["project_descriptive"]["title"] == {"en": "", "fr": "", "de": ""}
    assert len(blank["files"]) == 1 and blank["metadata"]["project_descriptive"]["authors"] == []
    where = {p.where for p in form.problems(blank)}
    assert {"$.provider.name", "$.provider.email", "$.metadata.project_descriptive.title",
            "$.metadata.dataset_administrative.licence", "$.files[0].name"} <= where


def test_resubmission_merges_into_the_existing_record(dk: Docket) -> None:
    first = dk.submit(CTD)
    record = dk.get(first["id"])
    form = load_form("file-resubmission", dk)
    data = form.from_record(record)
    assert set(data) <= {"provider", "files", "comment"}
    data["files"] = [{"name": "ctd_v2.csv", "location": "https://data.example.org/ctd_v2.csv"}]
    assert form.problems(data) == []
    doc = form.to_request(data, record)
    assert doc["metadata"] == record["metadata"] and "revision" not in doc
    second = dk.revise(first["id"], doc, expected_revision=1)
    assert second["revision"] == 2
    assert [f["name"] for f in dk.get(first["id"])["files"]] == ["ctd_v2.csv"]


# -- the renderer ----------------------------------------------------------------------------


def test_live_errors_appear_on_touched_fields_only() -> None:
    view = render(load_form("ingest-request"), language="en", content_languages=["en", "fr", "de"])
    assert all(not f.errors for f in view.walk()), "a fresh form shows no errors"
    set_input(view, "provider.email", "not-an-email")
    assert "not a valid e-mail" in errors(view, "provider.email")
    assert errors(view, "provider.name") == "", "an untouched field stays quiet"
    set_input(view, "provider.email", "ana@example.org")
    assert errors(view, "provider.email") == ""

    set_input(view, "provider.orcid", "0000-0002-1825-0098")  # wrong check digit
    assert "ORCID" in errors(view, "provider.orcid")
    set_input(view, "provider.orcid", "0000-0002-1825-0097")
    assert errors(view, "provider.orcid") == ""


def test_date_range_error_shows_at_the_end_date() -> None:
    from datetime import date

    view = render(load_form("ingest-request"), language="en")
    set_input(view, "metadata.experiment_contextual.temporal_coverage.start", date(2024, 5, 13))
    set_input(view, "metadata.experiment_contextual.temporal_coverage.end", date(2024, 5, 11))
    error = errors(view, "metadata.experiment_contextual.temporal_coverage.end")
    assert "before the start 2024-05-13" in error


def test_submit_is_refused_with_every_error_and_nothing_stored(dk: Docket) -> None:
    page = RequestPage(dk.anonymously(), "ingest-request", "en", None)  # as served: nobody signed in
    view = page.view
    fill_minimal(view, email="broken@")
    set_input(view, "provider.orcid", "0000-0002-1825-0098")
    assert view.submit() is None
    listed = {p.where for p in view.problems}
    assert listed == {"$.provider.email", "$.provider.orcid"}
    assert "$.provider.email" in view.status.value and "$.provider.orcid" in view.status.value
    assert dk.list() == []

    set_input(view, "provider.email", "ana.lima@example.org")
    set_input(view, "provider.orcid", "0000-0002-1825-0097")
    result = view.submit()
    assert result["id"] == "ocean-0001" and result["revision"] == 1
    assert "ocean-0001" in view.status.value and "docket-summary" in view.status.value
    record = dk.get("ocean-0001")
    assert record["metadata"]["project_descriptive"]["title"] == {"en": "CTD casts", "fr": "Profils CTD"}
    assert record["metadata"]["project_descriptive"]["keywords"] == ["ocean", "CTD"]
    provn = dk.prov("ocean-0001").get_provn()
    assert '"https://orcid.org/0000-0002-1825-0097" %% xsd:anyURI' in provn and "Ana Lima" in provn

    # Submitting again from the same page is a new revision, not a second request; "Submit for
    # review" revises and resubmits in one action (issue 12), so it stays in the review queue.
    set_input(view, "metadata.project_descriptive.title.de", "CTD-Profile")
    again = view.submit()
    assert (again["id"], again["revision"]) == ("ocean-0001", 2)
    assert len(dk.list()) == 1 and dk.get("ocean-0001")["review_state"] == "submitted"


def test_repeatable_groups_add_and_remove() -> None:
    view = render(load_form("ingest-request"), language="en")
    authors = view.field("metadata.project_descriptive.authors")
    for name in ("A", "B", "C"):
        row = authors.add_row()
        row.children[0].input.value = name
    authors.rows[1].remove.click()
    names = [a["name"] for a in view.data()["metadata"]["project_descriptive"]["authors"]]
    assert names == ["A", "C"]
    assert "docket-field-metadata-project_descriptive-authors-1-name" in authors.rows[1].children[0].input._dom_classes
    authors.rows[1].children[1].input.value = "bad"
    assert "e-mail" in errors(view, "metadata.project_descriptive.authors.1.email")
    columns = view.field("metadata.dataset_structural.fields")
    columns.add_row()
    view.field("metadata.dataset_structural.fields.0.name").input.value = "depth_m"
    view.field("metadata.dataset_structural.fields.0.type").input.value = "number"
    view.field("metadata.dataset_structural.fields.0.constraints.required").input.value = True
    assert view.form.clean(view.data())["metadata"]["dataset_structural"] == {
        "fields": [{"name": "depth_m", "type": "number", "constraints": {"required": True}}]}


def test_a_column_takes_every_constraint_the_checks_use() -> None:
    view = render(load_form("ingest-request"), language="de")
    view.field("metadata.dataset_structural.fields").add_row()
    for key, value in {"name": "station", "type": "string", "constraints.enum": "ALP-1, ALP-2",
                       "constraints.pattern": "^ALP-[0-9]$", "constraints.minimum": "", "format": ""}.items():
        set_input(view, f"metadata.dataset_structural.fields.0.{key}", value)
    view.field("metadata.dataset_structural.fields").add_row()
    for key, value in {"name": "obs_date", "type": "date", "format": "%Y-%m-%d",
                       "constraints.minimum": "2022-07-01", "constraints.maximum": "2022-07-31"}.items():
        set_input(view, f"metadata.dataset_structural.fields.1.{key}", value)
    set_input(view, "metadata.dataset_structural.primaryKey", "obs_date")
    assert view.form.clean(view.data())["metadata"]["dataset_structural"] == {
        "fields": [
            {"name": "station", "type": "string", "constraints": {"enum": ["ALP-1", "ALP-2"], "pattern": "^ALP-[0-9]$"}},
            {"name": "obs_date", "type": "date", "format": "%Y-%m-%d",
             "constraints": {"minimum": "2022-07-01", "maximum": "2022-07-31"}},
        ],
        "primaryKey": "obs_date",
    }
    assert "Erlaubte Werte" in view.field("metadata.dataset_structural.fields.0.constraints.enum").label.value


@pytest.mark.parametrize(("language", "label", "submit", "required"), [
    ("en", "E-mail", "Submit request", "is required"),
    ("fr", "Courriel", "Envoyer la demande", "est obligatoire"),
    ("de", "E-Mail", "Antrag senden", "ist erforderlich"),
])
def test_three_languages(language: str, label: str, submit: str, required: str) -> None:
    view = render(load_form("ingest-request"), language="en", content_languages=["en", "fr", "de"])
    view.set_language(language)
    assert f"'docket-label-text'>{label}</label>" in view.field("provider.email").label.value
    assert view.submit_button.description == submit
    view.submit()
    assert required in errors(view, "provider.name")
    options = dict(view.field("metadata.dataset_administrative.access_rights").input.options)
    assert set(options.values()) == {None, "open", "embargoed", "restricted"}
    title = view.field("metadata.project_descriptive.title")
    assert list(title.inputs) == ["en", "fr", "de"]


def test_the_page_says_a_password_was_not_stored(dk: Docket) -> None:
    first = dk.submit(CTD)
    page = RequestPage(dk, "ingest-request", "en", dk.new_link(first["id"])["link"])
    set_input(page.view, "files.0.location", "https://alice:s3cret@data.example.org/ctd.csv")
    result = page.view.submit()
    assert result["revision"] == 2
    assert dk.get(first["id"])["files"][0]["location"] == "https://alice@data.example.org/ctd.csv"
    summary = page.describe(result, "en")
    assert "docket-warnings" in summary and "files[0].location" in summary and "s3cret" not in summary


def test_editing_a_record_keeps_what_the_form_does_not_show(dk: Docket) -> None:
    first = dk.submit(CTD)
    page = RequestPage(dk, "ingest-request", "fr", dk.new_link(first["id"])["link"])
    assert page.view.problems == []
    set_input(page.view, "metadata.project_descriptive.title.en", "CTD casts, corrected")
    result = page.view.submit()
    assert result["revision"] == 2
    new, old = dk.get(first["id"]), dk.get(first["id"], 1)
    assert new["metadata"]["project_descriptive"]["title"]["en"] == "CTD casts, corrected"
    # md5 and Table Schema constraints are not on the form, yet survive the edit.
    assert new["files"] == old["files"]
    assert new["metadata"]["dataset_structural"] == old["metadata"]["dataset_structural"]


def test_page_language_and_link_come_from_the_url(dk: Docket, monkeypatch: pytest.MonkeyPatch) -> None:
    first = dk.anonymously().submit(CTD)  # as the page does: the provider gets her secret link
    link = first["link"]
    assert first["link_url"].endswith(f"?link={link}")
    assert query_parameters(f"lang=de&link={link}") == {"lang": "de", "link": link}
    monkeypatch.setenv("DOCKET_INSTANCE", str(dk.instance.root))
    widget = request_page(query=f"lang=de&link={link}")
    html = " ".join(str(getattr(w, "value", "")) for w in _widgets(widget))
    assert "Antrag auf Datenaufnahme" in html and "ocean-0001" in html and link not in html
    wrong = request_page(query="link=dl_" + "0" * 12 + "_" + "A" * 32)  # well formed, not a live link
    assert "this link is not valid" in wrong.value and "ocean-0001" not in wrong.value
    by_id = request_page(query="id=ocean-0001")  # ids are sequential: they open nothing
    assert "?id: is not a parameter" in by_id.value and "ocean-0001" not in by_id.value
    monkeypatch.delenv("DOCKET_INSTANCE")
    nowhere = request_page(query="")
    assert "no docket instance" in nowhere.value


@pytest.mark.parametrize(("query", "why"), [
    ("instance=/srv/other&id=ocean-0001", "?instance: is not a parameter"),
    ("language=fr", "?language: is not a parameter"),
    ("lang=fr&lang=de", "?lang: is given more than once"),
    ("id=ocean-0001", "?id: is not a parameter"),
    ("id=../../other/ocean-0001", "?id: is not a parameter"),
    ("form=../../notebooks/qa", "not a valid form name"),
    ("form=forms/ingest-request", "not a valid form name"),
    ("form=", "not a valid form name"),
    ("lang=../fr", "not a valid language code"),
    ("lang=fr&" + "x" * 600, "too long"),
    ("&".join(f"lang=fr{i}" for i in range(7)), "too many parameters"),
])
def test_page_address_is_checked_before_anything_opens(query: str, why: str) -> None:
    """Only lang, form and link, once each and well-formed; anything else is refused, named."""
    with pytest.raises(BadInput) as info:
        query_parameters(query)
    assert why in " ".join([info.value.message, *map(str, info.value.problems)])
    widget = request_page(query=query)  # no DOCKET_INSTANCE either: refused before it is looked up
    assert "docket-page-error" in widget.value and "no docket instance" not in widget.value


@pytest.mark.parametrize("query", ["link=../../other/ocean-0001", "link=ocean-0001", "link=",
                                   "lang=fr&link=dl_" + "0" * 12 + "_short"])
def test_a_malformed_link_is_refused_as_a_wrong_one(query: str) -> None:
    """A link's shape is no business of a guesser: one message, never the value echoed."""
    with pytest.raises(Refused, match="this link is not valid"):
        query_parameters(query)
    widget = request_page(query=query)
    assert "this link is not valid" in widget.value and "ocean-0001" not in widget.value
    assert "no docket instance" not in widget.value  # refused before the instance is looked up


def test_page_serves_only_the_servers_instance(dk: Docket, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Neither the address nor the notebook can point the page at another folder (the finding:
    ``?instance=`` opened any instance, read its records and made stores where it said)."""
    import inspect
    import json as json_

    from .test_serve import OTHER_EMAIL, make_crafted_folder, make_other_instance

    link = dk.new_link(dk.submit(CTD)["id"])["link"]
    other = make_other_instance(tmp_path)
    crafted, target = make_crafted_folder(tmp_path)
    monkeypatch.setenv("DOCKET_INSTANCE", str(dk.instance.root))
    for query in (f"instance={other}&id=ocean-0001", f"instance={crafted}", f"instance={crafted}&id=ocean-0001"):
        widget = request_page(query=query)
        shown = " ".join(str(getattr(w, "value", "")) for w in _widgets(widget))
        assert "docket-page-error" in shown and OTHER_EMAIL not in shown
    assert not target.exists() and sorted(p.name for p in crafted.iterdir()) == ["docket.toml"]
    # Forms and languages must be the instance's; the served instance's request opens as before.
    assert "no form &#x27;qa&#x27;" in request_page(query="form=qa").value
    assert "not written in &#x27;xx&#x27;" in request_page(query="lang=xx").value
    shown = " ".join(str(getattr(w, "value", "")) for w in _widgets(request_page(query=f"link={link}")))
    assert "ocean-0001" in shown and OTHER_EMAIL not in shown
    # Nor can the notebook: neither it nor request_page has an instance parameter any more.
    assert "instance" not in inspect.signature(request_page).parameters
    notebook = json_.loads((ROOT / "notebooks" / "request.ipynb").read_text(encoding="utf-8"))
    code = "".join("".join(c["source"]) for c in notebook["cells"] if c["cell_type"] == "code")
    assert not re.search(r"^\s*instance\s*=", code, re.M) and "instance=" not in code


def test_page_never_creates_or_migrates_a_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Even the served instance's store is opened as it is: a missing SQLite file stays missing."""
    crafted, target = make_crafted_folder_for_page(tmp_path)
    monkeypatch.setenv("DOCKET_INSTANCE", str(crafted))
    widget = request_page(query="")
    assert "does not exist; the page never creates one" in widget.value
    assert not target.exists()
    target.write_bytes(b"")  # an empty database: not at the newest migration, and left so
    assert "not at the newest migration" in request_page(query="").value
    with sqlite3.connect(target) as conn:
        assert conn.execute("SELECT name FROM sqlite_master").fetchall() == []


def make_crafted_folder_for_page(root: Path) -> tuple[Path, Path]:
    from .test_serve import make_crafted_folder

    return make_crafted_folder(root)


def _widgets(widget):
    yield widget
    for child in getattr(widget, "children", ()):
        yield from _widgets(child)


def test_resubmission_page_needs_an_id(dk: Docket) -> None:
    page = RequestPage(dk, "file-resubmission", "en", None)
    assert page.view.submit_button.disabled
    first = dk.submit(CTD)
    page = RequestPage(dk, "file-resubmission", "en", dk.new_link(first["id"])["link"])
    row = page.view.field("files").add_row()
    row.children[0].input.value = "extra.csv"
    row.children[1].input.value = "https://data.example.org/extra.csv"
    assert page.view.submit()["revision"] == 2
    assert [f["name"] for f in dk.get(first["id"])["files"]] == ["ctd_bay_of_biscay_2024.csv", "extra.csv"]


def test_notebooks_run_under_nbval(tmp_path: Path, dk: Docket) -> None:
    """``pytest --nbval-lax notebooks/`` executes every notebook (the form page against a real
    instance; the QA notebook, given no request, on docket's example file)."""
    import os

    env = {**os.environ, "DOCKET_INSTANCE": str(dk.instance.root)}
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--nbval-lax",
         str(ROOT / "notebooks")],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=240,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]


def test_serve_refuses_bad_usage_before_starting(dk: Docket) -> None:
    import socket

    from .clirun import docket_cli

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        busy = docket_cli("serve", "--port", str(port), "--no-browser", instance=dk.instance.root)
    assert busy.code == 2 and f"port {port}" in busy.err and "Traceback" not in busy.err
    nowhere = docket_cli("serve", "--no-browser", instance=dk.instance.root / "missing")
    assert nowhere.code == 2 and "no docket instance" in nowhere.err
