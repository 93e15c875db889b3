"""Issue 12's "Done when", end to end: one provider's journey through a real ``docket serve`` in
headless Chromium, then the data centre's own command line on what the page stored.

The provider fills part of the form with a four-word title (QA's title check is set to ``warn``
in this instance's ``docket.toml``), uploads two example files (the second one's connection is
cut mid-file and the page resumes it), saves a draft and closes the browser. A new browser comes
back with the secret link the summary showed: the same values and both uploads are back, and the
findings under the fields and in the checklist are exactly what QA's own metadata checks
(:func:`docket.checks.check_request` with :func:`docket.steps.qa.selected_severities`) give for
the *stored* draft. The provider fixes them and double-clicks "Submit for review": one submitted
revision, holding both files with size, sha256 and md5 of the originals, in
``inbox/<request-id>/``. A reviewer approves; ``docket transfer`` and ``docket qa`` (the real
CLI) store both files with the same checksums and report no metadata finding.

That the offline notebook and the page accept and refuse the same inputs with the same messages
(the rest of "Done when") is tests/test_offline_parity.py's job. Screenshots of every stage go
to ``test-artifacts/journey-*.png``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

import docket

from .browser import ARTIFACTS, browser_fixture, served_instance, title_only_warns
from .clirun import docket_cli
from .test_browser import field, open_form, type_in
from .test_upload_browser import (
    CHUNK,
    FIRST,
    SECOND,
    upload,
    upload_context,
    upload_cut_once,
    wait_filled,
)

pytestmark = pytest.mark.browser

TITLE = field("metadata-project_descriptive-title-en")

PART = {  # what the provider types before saving the draft: the title is one word short for QA
    field("provider-name"): "Ana Lima",
    field("provider-email"): "ana.lima@example.org",
    TITLE: "Alpine weather, Biscay casts",
    field("metadata-project_descriptive-keywords"): "weather, CTD",
    field("metadata-project_descriptive-abstract-en", "textarea"): (
        "Hourly air temperature, humidity and precipitation at an alpine station through 2022, and "
        "conductivity, temperature and depth casts in the Bay of Biscay in 2024, uploaded from the browser."),
    field("metadata-dataset_administrative-licence"): "CC-BY-4.0",
}
REST = {  # what the provider adds when they come back, after reading QA's findings
    TITLE: "Alpine weather and Bay of Biscay CTD casts, 2022 to 2024",
    field("metadata-dataset_administrative-contact-name"): "Ana Lima",
    field("metadata-dataset_administrative-contact-email"): "ana.lima@example.org",
    field("metadata-experiment_contextual-temporal_coverage-start"): "2022-01-01",
    field("metadata-experiment_contextual-temporal_coverage-end"): "2024-12-31",
    field("metadata-experiment_contextual-spatial_coverage-west"): "-6",
    field("metadata-experiment_contextual-spatial_coverage-east"): "11",
    field("metadata-experiment_contextual-spatial_coverage-south"): "43",
    field("metadata-experiment_contextual-spatial_coverage-north"): "47.5",
}
# The QA findings the page shows, one per line under its field: (check, severity, text).
SHOWN = """() => [...document.querySelectorAll('.docket-finding .docket-finding-line')].map(
  l => [l.dataset.check, l.dataset.severity, l.textContent])"""


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    with served_instance(tmp_path_factory, "provider-journey", title_only_warns) as (base, folder, _proc):
        yield base, folder


browser = browser_fixture()


def shot(page: Any, name: str, show: str | None = None, full: bool = False) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    if show:
        page.locator(show).first.scroll_into_view_if_needed()
    page.screenshot(path=str(ARTIFACTS / f"journey-{name}.png"), full_page=full)


def fill(page: Any, values: dict[str, str]) -> None:
    for css, value in values.items():
        type_in(page, css, value)


def row_of(page: Any, row: int) -> tuple[str, str, str, str]:
    """What the page's file row ``row`` holds: name, location, size, sha256."""
    return tuple(page.locator(field(f"files-{row}-{key}")).input_value()  # type: ignore[return-value]
                 for key in ("name", "location", "size", "sha256"))


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def qa_metadata_findings(folder: Path, request_id: str) -> list[tuple[str, str, str]]:
    """What QA's own metadata checks say about the stored request: (check, severity, note),
    one per failing location, with the instance's severities, as ``docket qa --checks metadata``."""
    from docket.checks import check_request
    from docket.steps.qa import selected_severities

    with docket.open(folder) as d:
        record = d.get(request_id)
        severities = selected_severities(d.config.severities, ["metadata"])
    report = check_request(record, {}, severities=severities).to_dict()
    return sorted((c["id"], c["status"], str(loc.get("note") or c.get("found") or ""))
                  for c in report["checks"] if c["family"] == "metadata" and c["status"] in ("error", "warn", "info")
                  for loc in (c.get("locations") or [{}]))


def test_upload_draft_come_back_fix_submit_transfer_qa(browser: Any, served: tuple[str, Path]) -> None:
    base, folder = served
    first, second = FIRST.read_bytes(), SECOND.read_bytes()

    # -- 1. Part of the form, the four-word title warned about at the field and in the checklist.
    ctx = upload_context(browser)
    page = ctx.new_page()
    open_form(page, base, "?lang=en")
    fill(page, PART)
    title_note = page.locator(".docket-finding-for-metadata-project_descriptive-title.docket-finding-warn")
    title_note.get_by_text("4 words (en), at least 5 needed").wait_for(timeout=15_000)
    # The section is otherwise complete: its checklist entry is the title's warning.
    entry = page.locator(".docket-checklist [data-section='project_descriptive'][data-state='warnings']")
    entry.get_by_text("1 warning(s)").wait_for(timeout=15_000)
    shot(page, "1-title-warning", ".docket-finding-for-metadata-project_descriptive-title")
    shot(page, "1-checklist", ".docket-checklist")

    # -- 2. File 1 uploaded whole; file 2 cut on its second chunk and resumed where the server stopped.
    upload(page, 0, FIRST)
    wait_filled(page, 0, FIRST)
    calls, dropped = upload_cut_once(page, 1, SECOND)
    assert dropped == [str(CHUNK)], "the connection was cut on the second chunk"
    assert calls.count("POST") == 1, "resumed, not uploaded again from the start"
    assert "HEAD" in calls, "the page asked the server where to resume"
    assert calls.count("PATCH") == -(-len(second) // CHUNK) + 1  # every chunk once, the cut one twice
    shot(page, "2-uploaded", ".docket-box-files-1-location")

    # -- 3. Save draft: the summary shows the link once; the browser is closed.
    page.click(".docket-save-draft")
    page.locator(".docket-summary").wait_for(timeout=30_000)
    request_id = page.locator(".docket-summary .docket-request-id").first.inner_text().strip()
    href = page.locator(".docket-summary .docket-link a").first.get_attribute("href")
    (link,) = parse_qs(urlsplit(href).query)["link"]
    shot(page, "3-draft-saved", ".docket-summary")
    before = {css: page.locator(css).first.input_value() for css in PART}
    rows = [row_of(page, 0), row_of(page, 1)]
    ctx.close()

    with docket.open(folder) as d:
        draft = d.get(request_id)
    assert (draft["revision"], draft["review_state"]) == (1, "draft")
    assert [f["name"] for f in draft["files"]] == [FIRST.name, SECOND.name]
    assert [f["location"] for f in draft["files"]] == [f"{request_id}/{FIRST.name}", f"{request_id}/{SECOND.name}"]
    assert (folder / "inbox" / request_id / SECOND.name).read_bytes() == second
    expected = qa_metadata_findings(folder, request_id)
    assert ("metadata.title", "warn", "4 words (en), at least 5 needed") in expected
    assert any(severity == "error" for _check, severity, _note in expected), expected  # contact, coverage

    # -- 4. A new browser, the link from the summary: values, uploads and QA's findings are back.
    ctx = upload_context(browser)
    try:
        page = ctx.new_page()
        open_form(page, base, f"?link={link}&lang=en")
        assert {css: page.locator(css).first.input_value() for css in PART} == before
        assert [row_of(page, 0), row_of(page, 1)] == rows
        assert rows[1][1] == f"{request_id}/{SECOND.name}"
        page.wait_for_function(f"() => ({SHOWN})().length >= {len(expected)}", timeout=15_000)
        shown = page.evaluate(SHOWN)
        assert sorted((check, severity) for check, severity, _text in shown) == [(c, s) for c, s, _n in expected]
        for check, severity, note in expected:  # each of QA's notes, worded as QA words it
            assert any(c == check and s == severity and note in text for c, s, text in shown), (check, note, shown)
        warnings = sum(1 for _c, s, _n in expected if s == "warn")
        errors = sum(1 for _c, s, _n in expected if s == "error")
        gate = page.locator(".docket-qa-gate").inner_text()
        assert f"({errors} error(s)" in gate, gate
        # The title's section has nothing but QA's warning: its checklist entry says so.
        entry = page.locator(".docket-checklist [data-section='project_descriptive']")
        assert (entry.get_attribute("data-state"), entry.inner_text().split(": ")[-1]) == (
            "warnings", f"{warnings} warning(s)")
        counts = page.locator(".docket-checklist .docket-check-count").all_inner_texts()
        # A section's entry counts its worst kind; the schema's own problems count beside QA's errors.
        assert sum(int(c.split()[0]) for c in counts if "error" in c) >= errors, counts
        assert warnings == 0 or f"{warnings} warning(s)" in gate or errors, gate
        shot(page, "4-back-with-link", ".docket-checklist")
        shot(page, "4-back-findings", ".docket-finding-for-metadata-project_descriptive-title")
        shot(page, "4-back-files", ".docket-box-files-0-location")

        # -- 5. Fixed; every metadata finding gone from the page; a double click submits once.
        fill(page, REST)
        page.locator(".docket-finding-for-metadata-project_descriptive-title:not(.docket-finding-warn)").wait_for(
            timeout=15_000)
        page.wait_for_function(f"() => ({SHOWN})().length === 0", timeout=20_000)
        page.locator(".docket-checklist [data-state='complete']").first.wait_for(timeout=15_000)
        assert not page.locator(".docket-checklist [data-state='errors'], .docket-checklist [data-state='warnings']"
                                ).count()
        shot(page, "5-fixed", ".docket-checklist")
        page.locator(".docket-submit").dblclick()
        page.locator(".docket-summary .docket-request-revision").get_by_text("2").wait_for(timeout=30_000)
        page.wait_for_timeout(1000)  # the second click's turn in the kernel
        shot(page, "6-submitted", ".docket-summary")
        shot(page, "6-submitted-top", "h2, h1, .docket-checklist")
    finally:
        ctx.close()

    # -- 6. One submitted revision; the record holds both uploads, with the originals' checksums.
    with docket.open(folder) as d:
        record = d.get(request_id)
        history = d.history(request_id)
        assert len(d.list()) == 1
    assert (record["revision"], record["review_state"]) == (2, "submitted")
    assert [(h["from"], h["to"]) for h in history if h["kind"] == "review"] == [(None, "draft"), ("draft", "submitted")]
    assert [f["name"] for f in record["files"]] == [FIRST.name, SECOND.name]
    for entry, path, data in zip(record["files"], (FIRST, SECOND), (first, second), strict=True):
        assert entry["location"] == f"{request_id}/{path.name}"
        assert entry["size"] == len(data)
        assert entry["sha256"] == hashlib.sha256(data).hexdigest()
        assert entry["md5"] == hashlib.md5(data).hexdigest()
        assert (folder / "inbox" / request_id / path.name).read_bytes() == data
    assert qa_metadata_findings(folder, request_id) == []
    staging = folder / "inbox" / "uploads"
    assert not staging.exists() or not any(staging.iterdir()), "the staging folders are gone"

    # -- 7. The data centre: approve, then the real CLI transfers and runs QA.
    from .people import as_role

    with docket.open(folder) as d:
        as_role(d, "reviewer").review(request_id, "approved")
    transferred = docket_cli("transfer", request_id, "--json", instance=folder)
    assert transferred.code == 0, transferred.err
    assert transferred.json()["outcome"] == "done" and not transferred.json()["failures"]
    with docket.open(folder) as d:
        stored = {f["name"]: f for f in d.files(request_id)}
    for path, data in ((FIRST, first), (SECOND, second)):
        entry = stored[path.name]
        assert entry["status"] == "stored"
        assert entry["sha256"] == hashlib.sha256(data).hexdigest()
        assert Path(entry["location"]).read_bytes() == data
    qa = docket_cli("qa", request_id, "--json", instance=folder)
    assert qa.code == 0, qa.out + qa.err  # the metadata are fixed and the example files are clean
    assert (qa.json()["outcome"], qa.json()["errors"], qa.json()["warnings"]) == ("done", 0, 0)
    report = json.loads(Path(qa.json()["report"]).read_text(encoding="utf-8"))
    checks = {c["id"]: c for c in report["checks"] if c.get("file") is None}
    metadata = [c for c in checks.values() if c["family"] == "metadata"]
    assert len(metadata) >= 7 and all(c["status"] == "valid" for c in metadata), metadata
    # QA compared the stored copies with what the upload measured: size, md5 and sha256 of both.
    for check in ("congruence.size", "congruence.md5", "congruence.sha256"):
        assert checks[check]["status"] == "valid" and "2 files" in checks[check]["found"], checks[check]
    assert sorted((f["name"], f["size"]) for f in report["files"]) == sorted(
        [(FIRST.name, len(first)), (SECOND.name, len(second))])
