"""The quality report as a page a provider can read (issue 11, part 6).

Reports come from real runs: ``docket check FILE --schema ... --output report.json`` on the
seeded-error files of examples/data (whose README lists every error, row, column and value), and
one ``docket qa`` run through papermill. Pages are read back with lxml, so an assertion looks at
what a browser would show (the text of a cell), not at how the HTML happens to be spelled; one
screenshot in Debian's Chromium shows the page to a person (``test-artifacts/report-html.png``).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import lxml.html
import pytest

import docket
from docket.reports.html import render
from docket.reports.messages import MESSAGES, choose_language
from tests.clirun import docket_cli
from tests.test_qa import DATA, ROOT, SEEDED, init, ready, seeded_request

from .browser import CHROMIUM, CHROMIUM_ARGS

SCHEMA = DATA / "observations.schema.json"
FAILING = ["out_of_range.csv", "constraint_violations.csv", "missing_values.csv"]
SCRIPT = "<script>document.title='pwned'</script>"
IMG = "<img src=x onerror=\"document.title='pwned'\"> and enough words to pass forty characters"


def check_report(csv: Path, out: Path) -> dict[str, Any]:
    """``docket check CSV --schema observations --output OUT``: the report JSON it wrote."""
    result = docket_cli("check", csv, "--schema", SCHEMA, "--output", out)
    assert result.code == 1, result.err  # every file used here has errors
    return json.loads(out.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def reports(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    """The report of each seeded file in FAILING, and of a file whose values are HTML."""
    folder = tmp_path_factory.mktemp("report-html")
    hostile = folder / "hostile.csv"
    rows = (DATA / "clean.csv").read_text(encoding="utf-8").splitlines()
    cells = rows[1].split(",")
    quoted = '"' + IMG.replace('"', '""') + '"'
    cells[1], cells[2], cells[5] = SCRIPT, quoted, "99.5"  # pattern, length, maximum all fail
    hostile.write_text("\n".join([rows[0], ",".join(cells), *rows[2:]]) + "\n", encoding="utf-8")
    out = {name: check_report(DATA / name, folder / f"{name}.json") for name in FAILING}
    out["hostile.csv"] = check_report(hostile, folder / "hostile.json")
    return out


def page_of(html: str) -> Any:
    return lxml.html.document_fromstring(html)


def text(element: Any) -> str:
    return " ".join(element.text_content().split())


def summary_counts(page: Any, file: str) -> dict[str, int]:
    row = page.xpath(f'//table[contains(@class, "summary")]//tr[@data-file="{file}"]')
    assert len(row) == 1, f"one summary line for {file}"
    return {td.get("data-count"): int(text(td)) for td in row[0].xpath("td[@data-count]")}


def places(page: Any, check_id: str, file: str) -> set[tuple[str, str, str]]:
    """(row, column, value) of every listed place of ``check_id`` on ``file``, as shown."""
    article = page.xpath(f'//article[@data-check="{check_id}"][.//h3[contains(., "{file}")]]')
    assert len(article) == 1, f"one block for {check_id} on {file}"
    out = set()
    for tr in article[0].xpath('.//table[contains(@class, "where")]/tbody/tr'):
        value = tr.xpath('.//span[@class="value"]')
        out.add((text(tr.xpath('td[contains(@class, "row")]')[0]),
                 text(tr.xpath('td[contains(@class, "column")]')[0]),
                 value[0].text_content() if value else ""))
    return out


# --------------------------------------------------------------------------- what the page says


@pytest.mark.parametrize("name", FAILING)
def test_summary_and_every_failing_check_with_expected_found_and_where(reports, name):
    report = reports[name]
    page = page_of(render(report, language="en"))
    seeded = SEEDED[name]
    checks = {c["id"]: c for c in report["checks"]}
    # the summary line: errors are the seeded ones (README), passed / not checked as the report ran
    counts = summary_counts(page, name)
    errors = [e for e in seeded if checks[e[0]]["status"] == "error"]
    assert counts["errors"] == len(errors) > 0
    assert counts["warnings"] == sum(c["count"] for c in report["checks"] if c["status"] == "warn")
    assert counts["passed"] == sum(1 for c in report["checks"] if c["status"] == "valid") > 10
    assert counts["not-checked"] == sum(1 for c in report["checks"] if c["status"] == "not-checked")
    # each failing check: its block with expected, found, suggestion as the check wrote them ...
    failing = {c["id"] for c in report["checks"] if c["status"] in ("error", "warn", "info")}
    assert {e[0] for e in seeded} <= failing
    shown = {a.get("data-check") for a in page.xpath("//article[@data-check]")}
    assert shown == failing
    for check_id in failing:
        block = page.xpath(f'//article[@data-check="{check_id}"]')[0]
        assert text(block.xpath('.//dd[@class="expected"]')[0]) == checks[check_id]["expected"]
        assert text(block.xpath('.//dd[@class="found"]')[0]) == checks[check_id]["found"]
        assert text(block.xpath('.//dd[@class="suggestion"]')[0]) == checks[check_id]["suggestion"]
    # ... and every seeded place (row, column, value) in its table; an empty value says so
    for check_id, row, column, value in seeded:
        listed = places(page, check_id, name)
        assert (str(row), column, value) in listed, (check_id, row, column, value, listed)
    if name == "missing_values.csv":
        blank = page.xpath('//article[@data-check="table.required"]//tbody/tr[1]/td[3]')[0]
        assert text(blank) == "(empty)"


def test_pictures_hold_the_reports_numbers_and_the_schemas_range(reports):
    report = reports["out_of_range.csv"]
    request = {"id": "ocean-0007", "revision": 2, "provider": {"name": "Ana Lima"},
               "metadata": {"project_descriptive": {"title": {"en": "Weather at five stations"}},
                            "dataset_structural": json.loads(SCHEMA.read_text(encoding="utf-8"))}}
    page = page_of(render(report, language="en", request=request))
    labels = [svg.get("aria-label") for svg in page.xpath("//figure//*[local-name()='svg']")]
    assert len(labels) == 2
    per_column, values = labels
    # the README's seeded errors: humidity -5 and 130, temperature 75.2
    assert "humidity: Errors 2, Warnings 0" in per_column and "temperature: Errors 1, Warnings 0" in per_column
    assert "humidity: -5, 130 (allowed range 0 – 100)" in values
    assert "temperature: 75.2 (allowed range -60 – 60)" in values
    about = text(page.xpath('//dl[@class="about"]')[0])
    assert "ocean-0007 (Revision 2)" in about and "Weather at five stations" in about and "Ana Lima" in about


def test_values_from_the_data_stay_text(reports):
    report = reports["hostile.csv"]
    request = {"provider": {"name": "<b>Ana</b>"},
               "metadata": {"project_descriptive": {"title": "<i>Weather</i>"}}}
    html = render(report, language="en", request=request)
    page = page_of(html)
    assert not re.search(r"<script|<img|<b>|<i>", html, re.IGNORECASE)
    assert not page.xpath("//script | //img | //b | //i | //*[@onerror]")
    values = {v.text_content() for v in page.xpath('//span[@class="value"]')}
    assert {SCRIPT, IMG} <= values
    about = text(page.xpath('//dl[@class="about"]')[0])
    assert "<b>Ana</b>" in about and "<i>Weather</i>" in about


def test_the_language_switch_changes_the_fixed_texts_not_the_checks(reports):
    report = reports["out_of_range.csv"]
    words = {"en": ("Expected", "Found", "Summary", "Errors", "Row", "Column", "Value"),
             "fr": ("Attendu", "Trouvé", "Résumé", "Erreurs", "Ligne", "Colonne", "Valeur"),
             "de": ("Erwartet", "Gefunden", "Zusammenfassung", "Fehler", "Zeile", "Spalte", "Wert")}
    found = {}
    for language, expected in words.items():
        page = page_of(render(report, language=language))
        assert page.get("lang") == language
        shown = {text(e) for e in page.xpath("//dt | //th | //h2")}
        assert set(expected) <= shown, (language, set(expected) - shown)
        for other, other_words in words.items():
            if other != language:
                assert not {other_words[0], other_words[2]} & shown, (language, other)
        found[language] = [text(dd) for dd in page.xpath('//dd[@class="found"]')]
    assert found["en"] == found["fr"] == found["de"] == ["1 values below their minimum",
                                                         "2 values above their maximum"]
    assert docket_cli("report", "x.json", "--html", "x.html", "--lang", "es").code == 2


def test_catalogue_is_complete_and_the_providers_language_is_chosen():
    assert MESSAGES["fr"].keys() == MESSAGES["en"].keys() == MESSAGES["de"].keys()

    def request(title: Any) -> dict[str, Any]:
        return {"metadata": {"project_descriptive": {"title": title}}}

    configured = ["en", "fr", "de"]
    assert choose_language(request({"fr": "Profils CTD", "de": "CTD-Profile"}), configured) == "fr"
    assert choose_language(request({"de": "CTD-Profile", "en": "CTD casts"}), configured) == "en"
    assert choose_language(request({"de-CH": "CTD-Profile", "es": "Perfiles"}), configured) == "de"
    assert choose_language(request("CTD casts"), ["de", "en"]) == "de"
    assert choose_language(None, ["it", "fr"]) == "fr"
    assert choose_language(None, []) == "en"


def test_the_page_is_self_contained_and_accessible(reports):
    html = render(reports["constraint_violations.csv"], language="de")
    page = page_of(html)
    # nothing runs, nothing is fetched: no script, no external reference of any kind
    assert not re.search(r"<script|<link|<iframe|<object|<embed|@import|url\((?!#)", html, re.IGNORECASE)
    assert not re.search(r"""(src|href|action|srcset)\s*=\s*["']?\s*(https?:|//)""", html, re.IGNORECASE)
    assert not re.search(r"xlink:href=\"(?!#)", html)  # an SVG refers only to its own parts
    csp = page.xpath('//meta[@http-equiv="Content-Security-Policy"]/@content')
    assert csp and "default-src 'none'" in csp[0]
    # a title, headings in order (one h1, no level skipped), tables with header cells
    assert text(page.xpath("//title")[0]) == "Qualitätsbericht: constraint_violations.csv"
    levels = [int(h.tag[1]) for h in page.iter("h1", "h2", "h3", "h4", "h5", "h6")]
    assert levels[0] == 1 and levels.count(1) == 1
    assert all(b - a <= 1 for a, b in zip(levels, levels[1:], strict=False)), levels
    for table in page.xpath("//table"):
        assert table.xpath("caption") and table.xpath("thead//th[@scope='col']")
    assert page.xpath("//figure//*[local-name()='svg'][@role='img'][@aria-label]")
    assert "@media print" in html


# --------------------------------------------------------------------------- command line, qa


def test_docket_report_renders_any_report_json(reports, tmp_path):
    source = tmp_path / "report.json"
    source.write_text(json.dumps(reports["out_of_range.csv"]), encoding="utf-8")
    out = tmp_path / "page.html"
    result = docket_cli("report", source, "--html", out, "--lang", "fr", "--json")
    assert result.code == 0, result.err
    assert result.json() == {"html": str(out), "language": "fr", "valid": False}
    page = page_of(out.read_text(encoding="utf-8"))
    assert page.get("lang") == "fr" and summary_counts(page, "out_of_range.csv")["errors"] == 3
    # without --lang and without an instance: English
    assert docket_cli("report", source, "--html", out, instance=tmp_path).code == 0
    assert page_of(out.read_text(encoding="utf-8")).get("lang") == "en"
    # a JSON file that is not a report is refused, and nothing is written
    (tmp_path / "other.json").write_text('{"fields": []}', encoding="utf-8")
    refused = docket_cli("report", tmp_path / "other.json", "--html", tmp_path / "no.html")
    assert refused.code == 2 and "quality report" in refused.err
    assert not (tmp_path / "no.html").exists()


def test_docket_qa_writes_report_html_in_the_providers_language(tmp_path):
    folder = tmp_path / "inst"
    init(folder)
    files = ["out_of_range.csv", "constraint_violations.csv"]
    document = seeded_request(files, "observations.schema.json", title="unused")
    document["metadata"]["project_descriptive"]["title"] = {
        "fr": "Observations météorologiques de cinq stations alpines en mars 2021"}
    with docket.open(folder) as d:
        request_id = ready(d, document)
    result = docket_cli("qa", request_id, "--json", instance=folder)
    assert result.code == 1, result.err  # the data have errors
    out = result.json()
    html_path = Path(out["report_html"])
    assert html_path == Path(out["report"]).with_suffix(".html")  # qa-1.report.html beside the JSON
    page = page_of(html_path.read_text(encoding="utf-8"))
    assert page.get("lang") == "fr"
    assert "Observations météorologiques" in text(page.xpath('//dl[@class="about"]')[0])
    for name in files:
        assert summary_counts(page, name)["errors"] == len(SEEDED[name])
        for check_id, row, column, value in SEEDED[name]:
            assert (str(row), column, value) in places(page, check_id, name)
    # the request's own checks (metadata) have their line; nothing of the notebook's code shows
    assert page.xpath('//tr[@data-file=""]/th[contains(., "La demande")]')
    assert "import " not in text(page) and "report.validate" not in text(page)


# --------------------------------------------------------------------------- in a real browser


@pytest.mark.browser
def test_the_page_in_chromium(reports, tmp_path):
    if CHROMIUM is None:
        pytest.skip("Debian's chromium is not installed (apt-get install chromium); browser tests need it")
    sync_api = pytest.importorskip("playwright.sync_api", reason="the playwright Python package is not installed")
    request = {"id": "ocean-0007", "revision": 1, "provider": {"name": "Ana Lima"},
               "metadata": {"project_descriptive": {"title": {"en": "Weather at five stations"}},
                            "dataset_structural": json.loads(SCHEMA.read_text(encoding="utf-8"))}}
    page_file = tmp_path / "report.html"
    page_file.write_text(render(reports["hostile.csv"], language="en", request=request), encoding="utf-8")
    artifacts = ROOT / "test-artifacts"
    artifacts.mkdir(exist_ok=True)
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1000, "height": 900})
            requests: list[str] = []
            page.on("request", lambda r: requests.append(r.url))
            page.goto(page_file.as_uri())
            page.screenshot(path=str(artifacts / "report-html.png"), full_page=True)
            assert page.title() == "Quality report: hostile.csv"  # the data's script did not run
            assert requests == [page_file.as_uri()]  # the page fetched nothing else
            assert SCRIPT in page.locator("span.value").all_inner_texts()
            assert page.locator("figure svg").count() == 2
            page.emulate_media(media="print")
            assert page.locator("article.check").first.is_visible()
        finally:
            browser.close()
