"""The same checks before submitting (issue 12, item 3), at the Python level of the served page.

A real instance (SQLite), the page as ``docket serve`` builds it (:class:`RequestPage` on
:func:`served_docket`), widgets changed as the browser changes them. The live findings are
compared with what QA itself reports for the stored request (``docket.steps.qa.run_checks``,
the function the QA notebook runs), with the instance's configured severities; the data checks
and the column inference run on real files from ``examples/`` put into the instance's inbox.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import ipywidgets as W
import pytest

import docket
from docket.forms.checklist import Finding
from docket.forms.file_tools import FileTools
from docket.forms.page import RequestPage, served_docket
from docket.forms.renderer import FormView
from docket.steps.qa import run_checks

from .conftest import EXAMPLES

CTD = EXAMPLES / "requests" / "ctd-multilingual.json"
OBSERVATIONS = json.loads((EXAMPLES / "data" / "observations.schema.json").read_text())
TITLE = "$.metadata.project_descriptive.title.en"


def configure(folder: Path, severities: str = "", extra: str = "") -> None:
    """Set ``[severities]`` lines (and extra tables) in the instance's docket.toml."""
    path = folder / "docket.toml"
    text = path.read_text()
    assert "[severities]\n" in text
    path.write_text(text.replace("[severities]\n", f"[severities]\n{severities}\n") + extra)


@pytest.fixture
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh instance in which QA treats a missing spatial coverage as a warning, the rest
    as errors."""
    root = tmp_path / "inst"
    docket.init(root, project="ocean", base_uri="https://data.example.org/ocean/").close()
    configure(root, '"metadata.spatial-coverage" = "warn"')
    monkeypatch.setenv("DOCKET_INSTANCE", str(root))
    return root


@pytest.fixture
def page(folder: Path) -> Iterator[RequestPage]:
    dk = served_docket()
    try:
        yield RequestPage(dk, "ingest-request", "en", None)
    finally:
        dk.close()


def set_text(view: FormView, path: str, value: str) -> None:
    """Type into a field as the browser does (the widget's value changes; the form refreshes)."""
    field = view.field(path)
    if hasattr(field, "inputs"):  # multilingual: path ends with the language
        raise AssertionError("use set_lang for multilingual fields")
    box = getattr(field, "location", None)  # a file's location: a text input beside the upload
    (box if isinstance(box, W.Text) else field.input).value = value


def set_lang(view: FormView, path: str, language: str, value: str) -> None:
    view.field(path).inputs[language].value = value


def states(page: RequestPage) -> dict[str, str]:
    return {s.id: s.state for s in page.checks.states}


def qa_findings(folder: Path, request_id: str) -> set[tuple[str, str, str, str]]:
    """What QA's own run reports for the stored request: (check, status, JSON path, note) of every
    failing location of the metadata checks."""
    from docket.forms.checklist import to_json_path

    with docket.open(folder) as d:
        report = run_checks(d, request_id).to_dict()
    out = set()
    for check in report["checks"]:
        if check["family"] == "metadata" and check["status"] in ("error", "warn", "info"):
            for loc in check["locations"]:
                out.add((check["id"], check["status"], to_json_path(loc["path"]), loc["note"]))
    return out


def as_set(findings: list[Finding]) -> set[tuple[str, str, str, str]]:
    return {(f.check, f.severity, f.where, f.note) for f in findings}


def put_in_inbox(folder: Path, source: Path, relative: str) -> str:
    target = folder / "inbox" / relative
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(source, target)
    return relative


def file_bar(page: RequestPage, index: int = 0) -> tuple[Any, Any, Any, Any]:
    """(check button, fill button, hint, result) of file row ``index``."""
    tools: FileTools = page.file_tools
    row = page.view.field(["files"]).rows[index]
    _, check, fill, hint, out = tools.bars[id(row)]
    return check, fill, hint, out


# -- live metadata checks ------------------------------------------------------------------------


def test_live_findings_are_what_qa_reports_with_the_configured_severities(page: RequestPage, folder: Path) -> None:
    view = page.view
    record = json.loads(CTD.read_text())
    for entry in record["files"]:  # a location in this instance's inbox (relative to it)
        entry["location"] = entry["name"]
    view.set_data(page.form.from_record(record))
    view.refresh()
    assert page.checks.findings == [], "the complete example passes every metadata check"
    assert page.checks.gate.value == ""
    # Now what QA rejects but the schema accepts: a four-word title, no spatial coverage; and a
    # licence left out, which both refuse.
    del record["metadata"]["experiment_contextual"]["spatial_coverage"]
    view.set_data(page.form.from_record(record))
    set_lang(view, "metadata.project_descriptive.title", "en", "CTD casts, spring 2024")
    set_text(view, "metadata.dataset_administrative.licence", "")
    live = as_set(page.checks.findings)
    assert ("metadata.title", "error", TITLE, "4 words (en), at least 5 needed") in live
    assert ("metadata.spatial-coverage", "warn", "$.metadata.experiment_contextual.spatial_coverage",
            "no spatial coverage") in live
    # The severities are the instance's, as QA reads them: spatial coverage a warning, the rest errors.
    assert {f.severity for f in page.checks.findings} == {"warn", "error"}
    # Each finding at its field, styled by severity, apart from the schema's errors.
    title_note = next(n for f, n in page.checks.notes.values() if f.path[-1] == "title")
    assert "docket-finding-error" in title_note._dom_classes
    assert "QA error" in title_note.value and "4 words (en), at least 5 needed" in title_note.value
    view.submit()  # refused (no licence); every finding is shown now, even at untouched fields
    box_note = next(n for f, n in page.checks.notes.values() if f.path[-1] == "spatial_coverage")
    assert "docket-finding-warn" in box_note._dom_classes and "QA warning" in box_note.value
    assert "would reject" in page.checks.gate.value

    # A licence is required by the schema: submit is refused for it, not for the findings.
    assert view.submit() is None
    set_text(view, "metadata.dataset_administrative.licence", "CC-BY-4.0")
    live = as_set(page.checks.findings)
    # QA's error-severity findings do not block the store (the core accepts the request); the
    # gate beside the button says plainly that QA would reject it.
    result = view.submit()
    assert result is not None and result["revision"] == 1, view.status.value
    assert "would reject" in page.checks.gate.value
    assert live == qa_findings(folder, result["id"]), "the form says what QA says, no more, no less"
    assert live, "and it said something"

    # The provider comes back with their link: the same findings, shown at once at their fields.
    assert result.get("link"), "the first submit's result carries the provider's link"
    dk = served_docket()
    try:
        again = RequestPage(dk, "ingest-request", "en", result["link"])
        assert as_set(again.checks.findings) == live
        shown = {tuple(f.path): n.value for f, n in again.checks.notes.values() if n.value}
        assert "no spatial coverage" in shown[("metadata", "experiment_contextual", "spatial_coverage")]
    finally:
        dk.close()


def test_severities_follow_docket_toml(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Turning a check off (or down to info) in docket.toml changes the form as it changes QA."""
    root = tmp_path / "inst"
    docket.init(root, project="ocean", base_uri="https://data.example.org/ocean/").close()
    configure(root, '"metadata.title" = "off"\n"metadata.abstract" = "info"')
    monkeypatch.setenv("DOCKET_INSTANCE", str(root))
    dk = served_docket()
    try:
        page = RequestPage(dk, "ingest-request", "en", None)
        set_lang(page.view, "metadata.project_descriptive.title", "en", "Two words")
        set_lang(page.view, "metadata.project_descriptive.abstract", "en", "Short.")
        checks = {f.check: f.severity for f in page.checks.findings}
        assert "metadata.title" not in checks and checks["metadata.abstract"] == "info"
        # A QA note counts neither as a warning nor as an error in the checklist.
        section = next(s for s in page.checks.states if s.id == "project_descriptive")
        assert section.warnings == 0
    finally:
        dk.close()


def test_checklist_states_per_section(page: RequestPage) -> None:
    view = page.view
    first = states(page)
    assert list(first) == [s.get("id") for s in page.form.sections()], "one entry per section, in page order"
    assert first["provider"] == "errors"  # name and e-mail are required
    assert first["instrument_technical"] == "complete"  # nothing asked, nothing wrong
    set_text(view, "provider.name", "Ana Lima")
    set_text(view, "provider.email", "ana.lima@example.org")
    assert states(page)["provider"] == "complete"
    # Context: no period (a QA error) and no area (a warning here); then a period: only the
    # warning is left; then an area: complete.
    assert states(page)["experiment_contextual"] == "errors"
    data = view.data()
    data["metadata"]["experiment_contextual"]["temporal_coverage"] = {"start": "2024-05-01", "end": "2024-05-20"}
    view.set_data(data)
    view.refresh()
    assert states(page)["experiment_contextual"] == "warnings"
    data["metadata"]["experiment_contextual"]["spatial_coverage"] = {"west": -5.0, "east": -1.5, "south": 43.5, "north": 47.0}
    view.set_data(data)
    view.refresh()
    assert states(page)["experiment_contextual"] == "complete"
    set_lang(view, "metadata.project_descriptive.title", "en", "CTD casts in the Bay of Biscay, spring 2024")
    set_lang(view, "metadata.project_descriptive.abstract", "en", " ".join(["word"] * 25))
    set_text(view, "metadata.project_descriptive.keywords", "ocean, CTD")
    assert states(page)["project_descriptive"] == "complete"
    set_lang(view, "metadata.project_descriptive.title", "en", "Only four words here")
    section = next(s for s in page.checks.states if s.id == "project_descriptive")
    assert section.state == "errors" and section.first == TITLE
    # The checklist's HTML: every entry names its section and the path of its first problem,
    # as the refused-submit list does (data-path), for the page's focus handling.
    html = page.checks.checklist.value
    assert ("data-section='project_descriptive' data-state='errors' "
            f"data-path='{TITLE}'") in html
    assert "data-section='provider' data-state='complete'" in html
    # In French, the same checklist in French words.
    page.set_language("fr")
    assert "Liste de contrôle avant l&#x27;envoi" in page.checks.checklist.value
    assert "1 erreur(s)" in page.checks.checklist.value


def test_findings_show_at_a_field_once_it_is_filled_or_touched(page: RequestPage) -> None:
    """An empty, untouched form lists its findings in the checklist, not under every field."""
    assert all(not n.value for _, n in page.checks.notes.values())
    assert any(f.check == "metadata.licence" for f in page.checks.findings)
    page.view.submit()  # an attempt shows everything
    notes = {tuple(f.path): n.value for f, n in page.checks.notes.values()}
    assert "no licence" in notes[("metadata", "dataset_administrative", "licence")]


# -- the file tools --------------------------------------------------------------------------------


def test_fill_columns_from_an_examples_csv(page: RequestPage, folder: Path) -> None:
    view = page.view
    location = put_in_inbox(folder, EXAMPLES / "data" / "clean.csv", "uploads/u1/clean.csv")
    set_text(view, "files.0.name", "clean.csv")
    set_text(view, "files.0.location", location)
    check, fill, _, out = file_bar(page)
    assert not check.disabled and not fill.disabled
    fill.click()
    assert "9 column(s) added from clean.csv" in out.value, out.value
    fields = view.data()["metadata"]["dataset_structural"]["fields"]
    got = [(f["name"], f["type"]) for f in fields]
    assert got == [(f["name"], f["type"]) for f in OBSERVATIONS["fields"]], "docket's own parsers agree with the schema"
    # The rows are ordinary rows: editable afterwards.
    set_text(view, "metadata.dataset_structural.fields.5.unit", "degC")
    assert view.data()["metadata"]["dataset_structural"]["fields"][5]["unit"] == "degC"
    assert view.field("metadata.dataset_structural.fields.8.type").input.value == "boolean"


def test_fill_columns_never_overwrites_declared_ones(page: RequestPage, folder: Path) -> None:
    view = page.view
    location = put_in_inbox(folder, EXAMPLES / "files" / "soil_sites.csv", "soil_sites.csv")
    columns = view.field("metadata.dataset_structural.fields")
    columns.add_row()
    set_text(view, "metadata.dataset_structural.fields.0.name", "site_id")
    set_text(view, "metadata.dataset_structural.fields.0.unit", "code")
    columns.add_row()
    set_text(view, "metadata.dataset_structural.fields.1.name", "depth_cm")  # not in the file
    set_text(view, "files.0.location", location)
    _, fill, _, out = file_bar(page)
    fill.click()
    rows = view.data()["metadata"]["dataset_structural"]["fields"]
    assert [r["name"] for r in rows] == ["site_id", "depth_cm", "latitude", "longitude", "elevation_m", "land_use"]
    assert rows[0]["unit"] == "code" and rows[0]["type"] is None, "a declared column stays as it was"
    assert [r["type"] for r in rows[2:]] == ["number", "number", "integer", "string"]
    assert "4 column(s) added" in out.value and "2 column(s) already declared" in out.value
    assert "Declared but not in the file: depth_cm" in out.value
    fill.click()  # again: nothing more to add
    assert "every column is already declared" in out.value
    assert len(view.data()["metadata"]["dataset_structural"]["fields"]) == 6


def test_check_this_file_shows_its_known_errors(page: RequestPage, folder: Path) -> None:
    """type_errors.csv against the columns filled from clean.csv: the four values the examples'
    README lists, as ``docket check`` reports them."""
    view = page.view
    put_in_inbox(folder, EXAMPLES / "data" / "clean.csv", "clean.csv")
    put_in_inbox(folder, EXAMPLES / "data" / "type_errors.csv", "uploads/u2/type_errors.csv")
    set_text(view, "files.0.location", "clean.csv")
    check, fill, _, out = file_bar(page)
    fill.click()
    set_text(view, "files.0.name", "type_errors.csv")
    set_text(view, "files.0.location", "uploads/u2/type_errors.csv")
    check.click()
    assert "type_errors.csv: 4 error(s), 0 warning(s) in 10 row(s)." in out.value, out.value
    assert "data-check='table.type'" in out.value
    for where in ("row 3 obs_id &#x27;3a&#x27;", "row 5 temperature &#x27;warm&#x27;", "row 7 rain &#x27;yes&#x27;"):
        assert where in out.value
    assert "<iframe sandbox=''" in out.value and "srcdoc=" in out.value  # the full report, no script
    # The same file checked clean against its own inferred columns: no errors.
    set_text(view, "files.0.location", "clean.csv")
    set_text(view, "files.0.name", "clean.csv")
    check.click()
    assert "clean.csv: no errors" in out.value


def test_file_tools_refuse_what_is_not_a_plain_file_in_the_inbox(page: RequestPage, folder: Path) -> None:
    view = page.view
    check, fill, hint, out = file_bar(page)
    set_text(view, "files.0.location", "https://data.example.org/ctd.csv")
    assert check.disabled and fill.disabled, "a remote file is checked after the transfer"
    assert "is not one" in hint.value
    outside = folder / "docket.toml"
    (folder / "inbox" / "link.csv").symlink_to(outside)
    os.link(folder / "docket.toml", folder / "inbox" / "hard.csv")
    for location, says in [("../docket.toml", "climbs out of its folder"),
                           ("/etc/passwd", "outside the folders"),
                           (str(outside), "outside the folders"),
                           ("link.csv", "symbolic link"),
                           ("hard.csv", "hard links"),
                           ("missing.csv", "no such file")]:
        set_text(view, "files.0.location", location)
        check.click()
        assert says in out.value, (location, out.value)
        if str(folder) not in location:  # (a path the provider typed may be echoed)
            assert str(folder) not in out.value, "the server's folders are not the provider's business"
    assert view.data()["metadata"]["dataset_structural"]["fields"] == []


def test_a_file_over_the_limit_is_refused_before_it_is_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "inst"
    docket.init(root, project="ocean", base_uri="https://data.example.org/ocean/").close()
    configure(root, extra="\n[form_checks]\nmax_bytes = 500\n")
    monkeypatch.setenv("DOCKET_INSTANCE", str(root))
    dk = served_docket()
    try:
        page = RequestPage(dk, "ingest-request", "en", None)
        put_in_inbox(root, EXAMPLES / "data" / "type_errors.csv", "big.csv")  # 767 bytes
        set_text(page.view, "files.0.location", "big.csv")
        check, fill, _, out = file_bar(page)
        check.click()
        assert "big.csv is 767 bytes; the form checks files of at most 500 bytes" in out.value
        fill.click()
        assert "at most 500 bytes" in out.value
        assert page.view.data()["metadata"]["dataset_structural"]["fields"] == []
    finally:
        dk.close()


def test_every_file_row_has_its_own_tools_after_rows_come_and_go(page: RequestPage, folder: Path) -> None:
    view = page.view
    put_in_inbox(folder, EXAMPLES / "files" / "soil_sites.csv", "soil_sites.csv")
    files = view.field("files")
    files.add_row()
    set_text(view, "files.1.location", "soil_sites.csv")
    view.remove_row(files.rows[0])  # the second row becomes the first
    assert len(files.rows) == 1 and len(page.file_tools.bars) == 1
    bars = [c for c in files.rows[0].box.children if "docket-file-tools" in c._dom_classes]
    assert len(bars) == 1 and "docket-file-tools-files-0" in bars[0]._dom_classes
    check, _, _, out = file_bar(page)
    check.click()
    assert "soil_sites.csv: no errors" in out.value, out.value


def test_a_broken_severities_table_is_said_and_the_page_still_works(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "inst"
    docket.init(root, project="ocean", base_uri="https://data.example.org/ocean/").close()
    configure(root, '"metadata.titel" = "warn"')
    monkeypatch.setenv("DOCKET_INSTANCE", str(root))
    dk = served_docket()
    try:
        page = RequestPage(dk, "ingest-request", "en", None)
        assert "unknown check id &#x27;metadata.titel&#x27;" in page.checks.checklist.value
        set_lang(page.view, "metadata.project_descriptive.title", "en", "Two words")
        assert any(f.check == "metadata.title" and f.severity == "error" for f in page.checks.findings)
    finally:
        dk.close()
