"""``docket prov ID --format html``: the request's story as a timeline page a person reads.

One instance goes through the whole workflow on the command line (submit, reject with a comment,
revise, resubmit, approve, transfer, QA), with a provider whose title, name and the reviewer's
comment are hostile HTML; the page is then read back with lxml (one entry per PROV activity in
time order, the right people, the comment, links that reach the stored files) and opened in
headless Chromium at 1280x800 (no horizontal scroll, nothing fetched). Screenshots land in the
test's tmp_path.
"""

from __future__ import annotations

import copy
import json
import os
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import lxml.html
import pytest
from prov.model import PROV, PROV_LABEL, PROV_LOCATION, PROV_ROLE, PROV_TYPE, Literal, ProvDocument

import docket
from docket.errors import BadInput
from docket.provenance import export
from docket.provenance.html import clean_svg, href, render
from tests.clirun import docket_cli
from tests.people import key_file

from .browser import CHROMIUM, CHROMIUM_ARGS
from .conftest import EXAMPLES

TITLE = 'Soil <script>alert("title")</script> & "cores" </p><p>'
PROVIDER = "Jonas <b onmouseover=alert(1)>Weber</b>"
REVIEWER = "Dr. Eva Novak"
OPERATOR = "Mara Data"
COMMENT = "Please add the ORCID iD <img src=x onerror=alert(2)> & the methods."
STEP_KINDS = ["Submission", "Review", "Submission", "Review", "Review", "Transfer", "QA run"]


def _request(title: str) -> dict[str, Any]:
    doc = json.loads((EXAMPLES / "requests" / "soil-several-files.json").read_text(encoding="utf-8"))
    doc = copy.deepcopy(doc)
    doc["metadata"]["project_descriptive"]["title"] = title
    doc["provider"]["name"] = PROVIDER
    for entry in doc["files"]:  # the example's relative locations, made absolute for tmp_path
        entry["location"] = str((EXAMPLES / "files" / entry["name"]).resolve())
    return doc


def _ok(*args: Any, instance: Path) -> Any:
    result = docket_cli(*args, instance=instance)
    assert result.code == 0, (args, result.out, result.err)
    return result


@pytest.fixture(scope="module")
def workflow(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """An instance after the full workflow, driven through the CLI; returns what the tests read."""
    root = tmp_path_factory.mktemp("prov-html")
    inst = root / "inst"
    docket.init(inst, project="soil", base_uri="https://data.example.org/soil/",
                local_roots=["inbox", str(EXAMPLES)]).close()
    first = root / "request.json"
    first.write_text(json.dumps(_request(TITLE)), encoding="utf-8")
    request_id = _ok("submit", first, "--json", instance=inst).json()["id"]
    reviewer = key_file(inst, "reviewer", REVIEWER, email="eva.novak@datacentre.example.org")
    operator = key_file(inst, "data-manager", OPERATOR)
    provider = root / "provider.link"  # the provider has no account: her request's secret link
    fd = os.open(provider, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(_ok("link", "new", request_id, "--json", instance=inst).json()["link"])
    _ok("--key-file", reviewer, "review", request_id, "rejected", "-m", COMMENT, instance=inst)
    edited = _request(TITLE)
    edited["metadata"]["dataset_administrative"]["contact"]["orcid"] = "0000-0002-9079-593X"
    second = root / "edited.json"
    second.write_text(json.dumps(edited), encoding="utf-8")
    _ok("--link-file", provider, "revise", request_id, second, instance=inst)
    _ok("--link-file", provider, "review", request_id, "submitted", instance=inst)
    _ok("--key-file", reviewer, "review", request_id, "approved", "-m", "Complete.", instance=inst)
    _ok("--key-file", operator, "transfer", request_id, instance=inst)
    _ok("--key-file", operator, "qa", request_id, instance=inst)
    page = root / "prov.html"
    _ok("prov", request_id, "--format", "html", "--output", page, instance=inst)
    prov_json = json.loads(_ok("prov", request_id, "--format", "json", instance=inst).out)
    return {"instance": inst, "id": request_id, "page": page, "html": page.read_text(encoding="utf-8"),
            "prov": prov_json}


def _activities(prov_json: dict) -> list[tuple[str, str]]:
    """(start time, identifier) of every activity in every bundle of a PROV-JSON document."""
    found: dict[str, str] = {}
    for bundle in [prov_json, *prov_json.get("bundle", {}).values()]:
        for identifier, attrs in bundle.get("activity", {}).items():
            for record in attrs if isinstance(attrs, list) else [attrs]:
                found[identifier] = record.get("prov:startTime") or found.get(identifier, "")
    return sorted(((t, i) for i, t in found.items()), key=lambda p: datetime.fromisoformat(p[0]))


def _steps(tree: Any) -> list[Any]:
    return tree.xpath('//ol[@class="timeline"]/li[contains(@class, "step")]')


# --------------------------------------------------------------------------- the page's content


def test_one_entry_per_activity_in_time_order_with_the_actors(workflow: dict[str, Any]) -> None:
    tree = lxml.html.document_fromstring(workflow["html"])
    steps = _steps(tree)
    expected = _activities(workflow["prov"])
    assert [s.get("data-activity") for s in steps] == [i for _, i in expected]
    assert [s.xpath("string(.//h2)").strip() for s in steps] == STEP_KINDS
    starts = [datetime.fromisoformat(s.xpath(".//time/@datetime")[0]) for s in steps]
    assert starts == sorted(starts)
    who = [s.xpath('string(.//p[@class="agents"])') for s in steps]
    for index, name in ((0, PROVIDER), (1, REVIEWER), (2, PROVIDER), (3, PROVIDER), (4, REVIEWER),
                        (5, OPERATOR), (6, OPERATOR)):
        assert name in who[index], (index, who[index])
    for index in (5, 6):  # docket itself ran the transfer and the notebook
        assert steps[index].xpath('.//span[contains(@class, "software")]'), who[index]
    assert "qa.ipynb" in who[6]  # the QA notebook is an agent, following its plan


def test_review_decisions_comment_and_qa_outcome(workflow: dict[str, Any]) -> None:
    tree = lxml.html.document_fromstring(workflow["html"])
    steps = _steps(tree)
    comments = [q.text_content() for q in steps[1].xpath('.//blockquote[@class="comment"]')]
    assert comments == [COMMENT]
    assert "submitted → rejected" in steps[1].xpath('string(.//p[@class="summary"])')
    assert "submitted → approved" in steps[4].xpath('string(.//p[@class="summary"])')
    qa = steps[6].xpath('string(.//p[@class="summary"])')
    assert "0 errors" in qa and "checks run" in qa
    header = tree.xpath("string(//header)")
    assert TITLE in header and "approved" in header


def test_stored_files_report_and_notebook_are_links_that_resolve(workflow: dict[str, Any]) -> None:
    tree = lxml.html.document_fromstring(workflow["html"])
    links = {a.get("href") for a in tree.xpath("//main//a[@href]")
             if not a.xpath("ancestor::*[local-name()='svg']")}
    files = {unquote(urlsplit(h).path) for h in links if h.startswith("file:")}
    stored = sorted((workflow["instance"] / "files" / workflow["id"]).rglob("*.*"))
    assert stored and {str(p) for p in stored} <= files
    runs = sorted((workflow["instance"] / "runs" / workflow["id"]).iterdir())
    assert any(p.name.endswith(".report.json") for p in runs)
    assert any(p.suffix == ".ipynb" for p in runs)
    # the QA report and the executed notebook, the run's PROV entities (the report's page for the
    # provider, qa-N.report.html, is a rendering of the report made for the mail, not an entity)
    recorded = {str(p) for p in runs if p.name.endswith(".report.json") or p.suffix == ".ipynb"}
    assert len(recorded) == 2 and recorded <= files
    assert all(Path(f).is_file() for f in files), files - {f for f in files if Path(f).is_file()}
    # sizes and abbreviated checksums with the full value at hand
    transfer = _steps(tree)[5]
    assert "kB (2,835 bytes)" in transfer.text_content() and "896 bytes" in transfer.text_content()
    hashes = transfer.xpath('.//code[@class="hash"]')
    assert hashes and all(h.text.endswith("…") and len(h.get("title")) >= 32 for h in hashes)


def test_hostile_text_is_text_and_the_page_loads_nothing(workflow: dict[str, Any]) -> None:
    page = workflow["html"]
    assert page.startswith("<!DOCTYPE html>")
    tree = lxml.html.document_fromstring(page)
    assert not tree.xpath("//script | //img | //iframe | //object | //embed | //link | //base")
    assert not [(el.tag, a) for el in tree.iter() if isinstance(el.tag, str)
                for a in el.attrib if a.lower().startswith("on")]
    assert not tree.xpath("//@src")  # nothing is fetched: no images, scripts or frames
    assert "<script>" not in page and "&lt;script&gt;" in page
    assert tree.xpath("string(//title)").endswith(TITLE)
    csp = tree.xpath('//meta[@http-equiv="Content-Security-Policy"]/@content')
    assert csp and "default-src 'none'" in csp[0] and "script-src" not in csp[0]
    assert all(h.split(":", 1)[0] in ("file", "http", "https") for h in tree.xpath("//a/@href"))


def test_the_graph_is_inline_svg_in_a_closed_details(workflow: dict[str, Any]) -> None:
    tree = lxml.html.document_fromstring(workflow["html"])
    graph = tree.xpath('//details[@class="graph"]')
    assert len(graph) == 1 and graph[0].get("open") is None
    svg = graph[0].xpath(".//*[local-name()='svg']")
    assert len(svg) == 1 and "Dr. Eva Novak" in svg[0].text_content()


def test_api_gives_the_same_page_and_html_is_export_only(workflow: dict[str, Any]) -> None:
    with docket.open(workflow["instance"]) as d:
        assert d.export_prov(workflow["id"], "html") == workflow["page"].read_bytes()
    assert "html" in export.FORMATS and not export.get("html").readable
    assert export.get("html").media_type == "text/html"
    with pytest.raises(BadInput):
        export.deserialize(b"<html></html>", "html")


# --------------------------------------------------------------------------- in a browser


@pytest.mark.browser
def test_fits_1280_wide_without_horizontal_scroll(workflow: dict[str, Any], tmp_path: Path) -> None:
    if CHROMIUM is None:
        pytest.skip("Debian's chromium is not installed (apt-get install chromium)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed")
    url = workflow["page"].as_uri()
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 800})
            requested: list[str] = []
            page.on("request", lambda r: requested.append(r.url))
            page.goto(url)
            width = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
            page.screenshot(path=str(tmp_path / "prov-timeline.png"))
            page.screenshot(path=str(tmp_path / "prov-timeline-full.png"), full_page=True)
            assert width[0] <= width[1] == 1280, width
            assert page.locator("ol.timeline > li.step").count() == len(STEP_KINDS)
            assert page.locator("h1").inner_text().startswith("Provenance of")
            # the graph, opened: it scrolls in its own box, the page still does not
            page.locator("details.graph > summary").click()
            assert page.locator("details.graph svg").is_visible()
            opened = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
            page.locator("details.graph").scroll_into_view_if_needed()
            page.screenshot(path=str(tmp_path / "prov-graph-open.png"))
            assert opened[0] <= opened[1], opened
            # and on a phone-sized screen
            page.set_viewport_size({"width": 390, "height": 800})
            narrow = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
            assert narrow[0] <= narrow[1], narrow
            assert requested == [url], requested  # nothing else was fetched
        finally:
            browser.close()
    assert (tmp_path / "prov-timeline.png").stat().st_size > 10_000


# --------------------------------------------------------------------------- from the structure


def _foreign_document() -> ProvDocument:
    """A story in another vocabulary than docket's: what matters is the PROV structure."""
    doc = ProvDocument()
    ex = doc.add_namespace("ex", "https://example.org/other#")
    schema = doc.add_namespace("s", "https://schema.org/")
    person, software = PROV["Person"], PROV["SoftwareAgent"]
    doc.agent(ex["ana"], [(PROV_TYPE, person), (schema["name"], "Ana <Ruiz>")])
    doc.agent(ex["bot"], [(PROV_TYPE, software), (schema["softwareVersion"], "2.1")])
    doc.entity(ex["data"], [(PROV_TYPE, ex["Dataset"]), (PROV_LABEL, Literal("Données", langtag="fr")),
                            (PROV_LABEL, Literal("Daten", langtag="de")),
                            (PROV_LABEL, Literal("Data", langtag="en")),
                            (PROV_LOCATION, "javascript:alert(3)")])
    doc.entity(ex["copy"], [(PROV_TYPE, ex["StoredFile"]), (PROV_LOCATION, "https://data.example.org/c.csv"),
                            (ex["byteSize"], 2_500_000), (ex["sha256"], "ab" * 32)])
    later = doc.activity(ex["copying"], "2026-01-02T10:00:00+00:00", "2026-01-02T10:02:05+00:00",
                         [(PROV_TYPE, ex["Copying"]), (ex["outcome"], "failed"), (ex["reason"], "disk <full>")])
    first = doc.activity(ex["checking"], "2026-01-01T09:00:00+00:00", "2026-01-01T09:00:00+00:00",
                         [(PROV_TYPE, ex["Checking"])])
    doc.used(later, ex["data"])
    doc.wasGeneratedBy(ex["copy"], later)
    doc.wasAssociatedWith(later, ex["bot"])
    doc.wasAssociatedWith(first, ex["ana"], other_attributes=[(PROV_ROLE, ex["checker"])])
    doc.used(first, ex["data"])
    return doc


def test_any_vocabulary_is_read_from_the_structure_in_the_first_language() -> None:
    tree = lxml.html.document_fromstring(render(_foreign_document(), languages=["de", "en"]))
    steps = _steps(tree)
    assert [s.xpath("string(.//h2)").strip() for s in steps] == ["Checking", "Copying"]  # by time
    assert "Ana <Ruiz>" in steps[0].text_content() and "checker" in steps[0].text_content()
    assert "2.1" in steps[1].xpath('string(.//p[@class="agents"])')
    assert "failed" in steps[1].text_content() and "disk <full>" in steps[1].text_content()
    assert "2 min 5 s" in steps[1].xpath('string(.//span[@class="when"])')
    label = steps[0].xpath('.//span[@class="name"][@lang]')
    assert [(x.text, x.get("lang")) for x in label] == [("Daten", "de")]
    assert not tree.xpath('//a[starts-with(@href, "javascript")]')  # shown, never a link
    assert "javascript:alert(3)" in tree.text_content()
    assert tree.xpath('//a[@href="https://data.example.org/c.csv"]')
    assert "2.50\u00a0MB" in steps[1].text_content()
    french = lxml.html.document_fromstring(render(_foreign_document(), languages=["fr"]))
    assert french.xpath('string(//span[@class="name"][@lang="fr"])') == "Données"


def test_links_only_for_safe_locations() -> None:
    assert href("/srv/files/a b.csv") == "file:///srv/files/a%20b.csv"
    assert href("file:///srv/files/a.csv") == "file:///srv/files/a.csv"
    assert href("https://data.example.org/x?y=1") == "https://data.example.org/x?y=1"
    for bad in ("javascript:alert(1)", "JavaScript:alert(1)", " javascript:alert(1)", "data:text/html,x",
                "vbscript:x", "../files/a.csv", "//evil.example/x", "https:/no-host", "\x01file:///x", ""):
        assert href(bad) is None, bad


def test_svg_is_cleaned_before_it_is_inlined() -> None:
    hostile = (b'<?xml version="1.0"?><!DOCTYPE svg [<!ENTITY x "boom">]>'
               b'<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" onload="alert(1)">'
               b'<script>alert(2)</script><foreignObject><div>x</div></foreignObject>'
               b'<a xlink:href="javascript:alert(3)"><text>&x;</text></a>'
               b'<a xlink:href="https://data.example.org/ok"><text style="x">ok</text></a></svg>')
    out = clean_svg(hostile)
    assert "script" not in out and "onload" not in out and "foreignObject" not in out
    assert "javascript" not in out and "style" not in out and "boom" not in out
    assert "https://data.example.org/ok" in out


def test_page_without_a_renderer_still_tells_the_story(tmp_path: Path) -> None:
    data = export.serialize(_foreign_document(), "html", renderer=str(tmp_path / "no-dot"))
    tree = lxml.html.document_fromstring(data)
    assert len(_steps(tree)) == 2
    assert "No picture" in tree.xpath('string(//details[@class="graph"])')
