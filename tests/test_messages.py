"""One catalogue of messages: the same problem in the same words on the page, in the offline
notebook, in ``docket import``'s report and in ``docket submit``'s error, in the asked language;
and the refused-submit list that a person can act on (labels, page order, focus on click)."""

from __future__ import annotations

import contextlib
import html
import io
import json
import re
import string
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import nbformat
import pytest
from jsonschema import Draft202012Validator

import docket
from docket import messages
from docket.errors import BadInput, Problem
from docket.forms.definition import load_form
from docket.forms.renderer import FormView, css_name
from docket.messages.portable import describe
from docket.validation import format_checker, problem_from_error
from tests.conftest import EXAMPLES, ROOT
from tests.offline_helpers import cli, fill, write_json
from tests.test_offline_parity import LI, NB_LINE, valid_values

# -- the catalogue ------------------------------------------------------------------------------


def _slots(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def test_every_message_id_has_a_text_in_every_language_with_the_same_values() -> None:
    english = messages.catalogue("en")
    assert len(english) > 40
    for language in messages.LANGUAGES:
        raw = json.loads((Path(messages.__file__).parent / f"{language}.json").read_text(encoding="utf-8"))
        assert set(raw) == set(english), (language, set(raw) ^ set(english))
        for message_id, text in raw.items():
            assert isinstance(text, str) and text.strip(), (language, message_id)
            assert _slots(text) == _slots(english[message_id]), (language, message_id, text)
            if language != "en" and not message_id.startswith(("sender",)):
                assert text != english[message_id] or message_id in ("format", "type"), (language, message_id)


def test_a_language_is_chosen_or_refused_by_name() -> None:
    assert messages.message("required", "fr-CH") == "est obligatoire"
    assert messages.message("required", "pt") == "is required"  # no catalogue: English, not nothing
    assert messages.supported("DE") == "de"
    with pytest.raises(BadInput, match="there are: en, fr, de"):
        messages.supported("klingon")
    worded_by_code = Problem("$.x", "says its own words")
    assert messages.message(worded_by_code, "fr") == "says its own words"


SCHEMA = {
    "type": "object",
    "required": ["name"],
    "properties": {
        "name": {"type": "string", "minLength": 3, "maxLength": 5},
        "email": {"type": "string", "format": "email"},
        "orcid": {"type": "string", "format": "orcid"},
        "day": {"type": "string", "format": "date"},
        "when": {"type": "string", "format": "date-time"},
        "site": {"type": "string", "format": "uri"},
        "count": {"type": "integer", "minimum": 1, "maximum": 9},
        "ratio": {"type": "number", "exclusiveMaximum": 1},
        "slug": {"type": "string", "pattern": "^[a-z]+$"},
        "kind": {"enum": ["open", "closed"]},
        "tags": {"type": "array", "minItems": 1, "maxItems": 2, "uniqueItems": True},
        "flag": {"const": True},
    },
    "additionalProperties": False,
}

KINDS = {
    "required": ({}, "$.name", "required"),
    "minLength": ({"name": "ab"}, "$.name", "minLength"),
    "maxLength": ({"name": "abcdefg"}, "$.name", "maxLength"),
    "email": ({"email": "a(at)b"}, "$.email", "format.email"),
    "orcid": ({"orcid": "0000-0002-1825-0098"}, "$.orcid", "format.orcid"),
    "date": ({"day": "31/05/2024"}, "$.day", "format.date"),
    "date-time": ({"when": "yesterday"}, "$.when", "format.date-time"),
    "uri": ({"site": "example org"}, "$.site", "format.uri"),
    "type integer": ({"count": "two"}, "$.count", "type.integer"),
    "type number": ({"ratio": "half"}, "$.ratio", "type.number"),
    "minimum": ({"count": 0}, "$.count", "minimum"),
    "maximum": ({"count": 10}, "$.count", "maximum"),
    "exclusiveMaximum": ({"ratio": 1}, "$.ratio", "exclusiveMaximum"),
    "pattern": ({"slug": "Not A Slug"}, "$.slug", "pattern"),
    "enum": ({"kind": "ajar"}, "$.kind", "enum"),
    "minItems": ({"tags": []}, "$.tags", "minItems"),
    "maxItems": ({"tags": [1, 2, 3]}, "$.tags", "maxItems"),
    "uniqueItems": ({"tags": [1, 1]}, "$.tags", "uniqueItems"),
    "const": ({"flag": False}, "$.flag", "const"),
    "unknown field": ({"colour": "red"}, "$.colour", "unknown_field"),
}


@pytest.mark.parametrize("kind", list(KINDS))
def test_each_kind_of_problem_has_its_own_message_in_every_language(kind: str) -> None:
    document, where, message_id = KINDS[kind]
    validator = Draft202012Validator(SCHEMA, format_checker=format_checker)
    doc = {"name": "abcd", **document} if kind != "required" else document
    found = [problem_from_error(e) for e in validator.iter_errors(doc)]
    assert [(p.where, p.id) for p in found] == [(where, message_id)], found
    for language in messages.LANGUAGES:
        text = messages.message(found[0], language)
        assert text and "{" not in text and text == messages.catalogue(language)[message_id].format(**found[0].values)
    if kind in ("date", "date-time"):  # a date names the format it wants, with an example
        assert "YYYY-MM-DD" in found[0].message and "2024-05-31" in found[0].message
        assert "AAAA-MM-JJ" in messages.message(found[0], "fr") and "JJJJ-MM-TT" in messages.message(found[0], "de")


def test_a_hostile_value_is_quoted_short_and_printable() -> None:
    validator = Draft202012Validator(SCHEMA, format_checker=format_checker)
    error = next(validator.iter_errors({"name": "abcd", "email": "\u0000\n" + "x" * 10_000}))
    _path, message_id, values = describe(error)
    assert message_id == "format.email" and len(values["value"]) <= 82
    assert "\n" not in values["value"] and "\u0000" not in values["value"]


def test_problem_stays_compatible() -> None:
    plain, catalogued = Problem("$.a", "is required"), messages.problem("$.a", "required")
    assert plain == catalogued and hash(plain) == hash(catalogued)  # the same problem
    assert catalogued.as_dict() == {"where": "$.a", "message": "is required", "id": "required"}
    assert plain.as_dict() == {"where": "$.a", "message": "is required"}


# -- one record, four places, the same words -----------------------------------------------------


def invalid_record() -> dict[str, Any]:
    data = valid_values()
    data["provider"]["email"] = "jonas.weber(at)soil-lab.example.de"
    data["provider"]["orcid"] = "0000-0002-1825-0098"
    data["metadata"]["dataset_administrative"]["embargo_until"] = "30/06/2025"
    data["files"][0]["size"] = "douze"
    return data


def notebook_problems(nb_path: Path, data: dict[str, Any], cwd: Path) -> list[tuple[str, str, str]]:
    """The exported notebook's own code (form, portable and save cells) run on ``data``, in
    this process: (path, words, message) as it prints them."""
    nb = nbformat.read(nb_path, as_version=4)
    namespace: dict[str, Any] = {"__name__": "notebook"}
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.chdir(cwd):
        for cell in nb.cells:
            if cell.cell_type != "code":
                continue
            source = "data = " + repr(data) if "docket-fill-in" in cell.metadata.get("tags", []) else cell.source
            exec(compile(source, "<notebook cell>", "exec"), namespace)  # noqa: S102 - our own export
    items = []
    for line in out.getvalue().splitlines()[1:]:
        m = NB_LINE.match(line)
        assert m, line
        words, message, where = m.groups()
        items.append((where, words, message))
    return items


@pytest.fixture(scope="module")
def instance(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("messages") / "inst"
    docket.init(folder, project="soil", base_uri="https://data.example.org/soil/",
                local_roots=["inbox", str(EXAMPLES)]).close()
    return folder


@pytest.mark.parametrize("language", ["en", "de"])
def test_the_same_invalid_record_gives_the_same_messages_everywhere(
        language: str, instance: Path, tmp_path: Path) -> None:
    form = load_form("ingest-request", instance)
    data = invalid_record()

    view = FormView(form, language=language, data=json.loads(json.dumps(data)))
    assert view.submit() is None
    page = [(html.unescape(p), html.unescape(w), html.unescape(m)) for p, w, m in LI.findall(view.status.value)]
    assert [p for p, _w, _m in page] == ["$.provider.email", "$.provider.orcid",
                                         "$.metadata.dataset_administrative.embargo_until", "$.files[0].size"]

    nb_path = tmp_path / "form.ipynb"
    assert cli("form", "export", "ingest-request", "--format", "ipynb", "--lang", language, "-o", nb_path,
               instance=instance).code == 0
    assert notebook_problems(nb_path, data, tmp_path) == page

    blank_path = tmp_path / "blank.json"
    assert cli("form", "export", "ingest-request", "--lang", language, "-o", blank_path, instance=instance).code == 0
    filled = write_json(tmp_path / "filled.json", fill(json.loads(blank_path.read_text(encoding="utf-8")), data))
    report = cli("import", filled, "--json", "--lang", language, instance=instance).json()["items"][0]
    assert [("$" + p["where"][len("$.data"):], p["message"]) for p in report["problems"]] == \
        [(p, m) for p, _w, m in page]
    text = cli("import", filled, "--lang", language, instance=instance).out
    for where, _w, message in page:
        assert f"$.data{where[1:]}: {message}" in text

    request = write_json(tmp_path / "request.json", form.to_request(data))
    run = cli("submit", request, "--lang", language, instance=instance)
    assert run.code == 2
    said = {line[4:] for line in run.err.splitlines() if line.startswith("  - ")}
    assert said == {f"{where}: {message}" for where, _w, message in page}
    as_json = cli("submit", request, "--lang", language, "--json", instance=instance)
    assert {(p["where"], p["message"]) for p in as_json.json()["problems"]} == {(p, m) for p, _w, m in page}


def test_a_rule_of_docket_is_worded_alike_by_the_cli_and_the_page(instance: Path, tmp_path: Path) -> None:
    """docket's own rules (end before start, south north of north) run once the schema passes."""
    form = load_form("ingest-request", instance)
    data = valid_values()
    data["metadata"]["experiment_contextual"]["temporal_coverage"] = {"start": "2023-09-30", "end": "2023-04-01"}
    data["metadata"]["experiment_contextual"]["spatial_coverage"].update(south=49.0, north=48.0)
    view = FormView(form, language="fr", data=data)
    assert view.submit() is None
    page = {(html.unescape(p), html.unescape(m)) for p, _w, m in LI.findall(view.status.value)}
    assert page == {("$.metadata.experiment_contextual.temporal_coverage.end", "la fin 2023-04-01 précède le début 2023-09-30"),
                    ("$.metadata.experiment_contextual.spatial_coverage.south", "le sud 49.0 est au nord du nord 48.0")}
    run = cli("submit", write_json(tmp_path / "r.json", form.to_request(data)), "--lang", "fr", "--json",
              instance=instance)
    assert {(p["where"], p["message"]) for p in run.json()["problems"]} == page


# -- the refused-submit list -------------------------------------------------------------------


def test_the_refused_list_is_in_page_order_names_fields_by_label_and_points_at_their_inputs() -> None:
    form = load_form("ingest-request")
    data = invalid_record()
    data["provider"]["name"] = ""
    data["files"].append({"name": "soil_sites.csv", "location": "https://data.example.org/b.csv", "size": -1})
    view = FormView(form, language="en", data=data)
    assert view.submit() is None
    body = view.status.value
    items = LI.findall(body)
    assert [p for p, _w, _m in items] == [
        "$.provider.name", "$.provider.email", "$.provider.orcid",
        "$.metadata.dataset_administrative.embargo_until",
        "$.files[0].size", "$.files[1].name", "$.files[1].size"]
    words = [html.unescape(w) for _p, w, _m in items]
    assert words[0] == "Provider › Name" and words[4] == "File 1 › Size (bytes)" and words[5] == "File 2 › File name"
    visible = re.sub(r"<[^>]+>", "", body)
    assert "$." not in html.unescape(visible)  # the path is in data-path only
    # each item points at an input that carries the class it names
    classes = {c for field in view.walk() for c in getattr(field.input, "_dom_classes", ())}
    for target in re.findall(r"data-field='([^']+)'", body):
        assert target in classes, target
    assert "data-field='docket-field-" + css_name(["provider", "email"]) + "'" in body


def test_a_date_loaded_in_a_wrong_form_is_named_not_dropped() -> None:
    form = load_form("ingest-request")
    data = valid_values()
    data["metadata"]["dataset_administrative"]["embargo_until"] = "20250630"  # ISO basic: not YYYY-MM-DD
    view = FormView(form, language="en", data=data)
    assert view.submit() is None
    assert "'20250630' is not a date: write it as YYYY-MM-DD, e.g. 2024-05-31" in html.unescape(view.status.value)


# -- in a real browser: clicking a problem moves the focus to its field -----------------------------

CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update"]


@pytest.fixture(scope="module")
def served(instance: Path) -> Iterator[str]:
    import shutil

    if not shutil.which("chromium"):
        pytest.skip("Debian's chromium is not installed")
    pytest.importorskip("playwright.sync_api")
    from tests.test_serve import serving

    with serving(instance) as (base, _proc):
        yield base


@pytest.mark.browser
def test_clicking_a_problem_focuses_its_field_in_chromium(served: str) -> None:
    import shutil

    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=shutil.which("chromium"), args=CHROMIUM_ARGS)
        page = browser.new_context(viewport={"width": 1100, "height": 900}).new_page()
        page.goto(f"{served}/?lang=de")
        page.wait_for_selector(".docket-submit", state="visible", timeout=90_000)
        email = page.locator(".docket-field-provider-email input").first
        email.fill("ana(at)example.org")
        email.press("Tab")
        page.locator(".docket-submit").first.click()
        page.wait_for_selector(".docket-problems li[data-path]", timeout=30_000)
        items = page.locator(".docket-problems li[data-path]")
        texts = items.all_inner_texts()
        assert texts[0].startswith("Anbieter") or "›" in texts[0], texts
        assert not any("$." in t for t in texts), texts
        assert any("'ana(at)example.org' ist keine gültige E-Mail-Adresse" in t for t in texts), texts
        paths = [items.nth(i).get_attribute("data-path") for i in range(items.count())]
        assert paths.index("$.provider.email") < paths.index("$.metadata.project_descriptive.title")
        for path, css in [("$.provider.email", "provider-email"),
                          ("$.metadata.project_descriptive.title", "metadata-project_descriptive-title")]:
            page.locator(f".docket-problems li[data-path='{path}']").click()
            page.wait_for_function(
                f"() => document.activeElement && document.activeElement.closest('.docket-field-{css}') !== null",
                timeout=10_000)
        # and from the keyboard: Enter on the item does the same
        item = page.locator(".docket-problems li[data-path='$.provider.email']")
        item.focus()
        item.press("Enter")
        page.wait_for_function(
            "() => document.activeElement.closest('.docket-field-provider-email') !== null", timeout=10_000)
        (ROOT / "test-artifacts").mkdir(exist_ok=True)
        page.locator(".docket-problems").first.scroll_into_view_if_needed()
        page.screenshot(path=str(ROOT / "test-artifacts" / "messages-refused-list.png"))
        browser.close()


def test_the_exports_mark_required_exactly_what_the_page_marks() -> None:
    """The JSON export's notes say "required" on exactly the fields the rendered page marks with
    its ``*`` (the fields outside list rows: the export's lists start empty)."""
    from docket.forms.renderer import render
    from docket.offline.export import export_form

    def noted(data: Any, path: tuple[str, ...] = ()) -> dict[tuple[str, ...], bool]:
        out: dict[tuple[str, ...], bool] = {}
        for key, value in data.items():
            if key.startswith("//"):
                out[(*path, key[2:])] = " — required" in value
            elif isinstance(value, dict):
                out.update(noted(value, (*path, key)))
        return out

    for name in ("ingest-request", "file-resubmission"):
        form = load_form(name)
        view = render(form, language="en")
        page = {tuple(f.path): f.required for f in view.walk()
                if not any(isinstance(p, int) for p in f.path)}
        export = noted(json.loads(export_form(form, "json", "en"))["data"])
        shown = {path: page[path] for path in export if path in page}
        assert shown and shown == {path: export[path] for path in shown}, name
        assert any(shown.values()) and not all(shown.values()), name
