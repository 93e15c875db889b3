"""The request page for people who do not use a mouse or do not see it: a real ``docket serve``
in headless Chromium (Debian's, never downloaded).

What a screen reader or a keyboard gets is read from the browser itself: accessible names from
Chromium's accessibility tree (DevTools protocol) and Playwright's ``get_by_label``, ARIA states
from the DOM that the served ``page.js`` keeps in step with the renderer's CSS classes, the focus
from real Tab presses. axe-core (fetched from the npm registry with ``npm pack`` into a cache,
injected by the test only: the page never loads it) checks the rest. Every request the page makes
is recorded: none may leave the server (no CDN fonts or scripts).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tarfile
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

import docket
from docket.forms.definition import load_form
from docket.forms.renderer import FormView, GroupField, MultilingualField, RepeatField, css_name

from .browser import ARTIFACTS, LOAD_TIMEOUT, browser_fixture, served_instance

pytestmark = pytest.mark.browser

AXE_VERSION = "4.14.1"
#: axe rules whose serious or critical findings are known and left, each with why (none today).
AXE_ACCEPTED: dict[str, str] = {}
#: The inputs (by their docket-field class) that need a value whatever else is filled.
REQUIRED_BY_HAND = {"provider-name", "provider-email", "metadata-project_descriptive-keywords",
                    "metadata-dataset_administrative-licence", "metadata-dataset_administrative-contact-name",
                    "metadata-dataset_administrative-contact-email", "files-0-name", "files-0-location"}


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    with served_instance(tmp_path_factory, "a11y") as (base, folder, _proc):
        yield base, folder


browser = browser_fixture()


def new_page(browser: object) -> object:
    context = browser.new_context(viewport={"width": 1100, "height": 900})
    pg = context.new_page()
    pg.requests = []  # every URL the page asks for, from its first request on
    pg.on("request", lambda r: pg.requests.append(r.url))
    return pg


@pytest.fixture
def page(browser: object) -> Iterator[object]:
    pg = new_page(browser)
    yield pg
    pg.context.close()


@pytest.fixture(scope="module")
def fresh(browser: object, served: tuple[str, Path]) -> Iterator[object]:
    """One blank form in English, for the tests that only read it (a page load is a kernel start)."""
    pg = new_page(browser)
    open_form(pg, served[0])
    yield pg
    pg.context.close()


@pytest.fixture(scope="module")
def refused(browser: object, served: tuple[str, Path]) -> Iterator[object]:
    """A form submitted with nothing but a wrong e-mail address: refused, every problem listed."""
    pg = new_page(browser)
    open_form(pg, served[0])
    fill(pg, "provider-email", "ana.lima@example")  # not an address
    pg.click(".docket-submit")
    pg.locator(".docket-problems li[data-path]").first.wait_for(timeout=20_000)
    pg.wait_for_selector(".docket-field-provider-name input[aria-invalid=true]", state="attached", timeout=10_000)
    yield pg
    pg.context.close()


def shot(page: object, name: str, show: str | None = None) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    if show:
        page.locator(show).first.scroll_into_view_if_needed()
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"))


def open_form(page: object, base: str, query: str = "?lang=en") -> object:
    response = page.goto(f"{base}/{query}")
    page.wait_for_selector(".docket-submit", state="visible", timeout=LOAD_TIMEOUT)
    # page.js runs after each re-render (coalesced): the provider's name is labelled once it has.
    page.wait_for_selector(".docket-field-provider-name input[aria-labelledby]", state="attached", timeout=10_000)
    return response


def fill(page: object, css_class: str, value: str) -> None:
    box = page.locator(f".docket-field-{css_class} input").first
    box.fill(value)
    box.press("Tab")


def field_class(page: object, selector: str) -> list[str]:
    """The docket-field-* class of the widget around each element ``selector`` matches."""
    return page.evaluate("""(sel) => Array.from(document.querySelectorAll(sel)).map(e => {
        const w = e.closest('[class*="docket-field-"]');
        return w ? Array.from(w.classList).find(c => c.startsWith('docket-field-')).slice(13) : null; })""", selector)


def test_title_language_and_nothing_from_another_host(page: object, served: tuple[str, Path]) -> None:
    base, _ = served
    response = open_form(page, base, "?lang=fr")
    page.wait_for_function("() => document.title === \"Demande d'intégration de données\"", timeout=10_000)
    assert page.evaluate("document.documentElement.lang") == "fr"
    # The lab template's Font Awesome <link>s to cdn.jsdelivr.net are gone from the page...
    assert "cdn.jsdelivr.net" not in response.text()
    # ...and the browser would refuse any other host's script, style or font anyway.
    policy = response.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "font-src 'self'" in policy and "style-src 'self'" in policy
    page.locator(".docket-language select").select_option(label="Deutsch")
    page.wait_for_function("() => document.title === 'Antrag auf Datenaufnahme'", timeout=10_000)
    assert page.evaluate("document.documentElement.lang") == "de"
    page.wait_for_timeout(500)  # late requests (fonts, lazy chunks)
    own = urlsplit(base).netloc
    assert len(page.requests) > 20, "the page's own assets were recorded"
    foreign = [u for u in page.requests if urlsplit(u).scheme in ("http", "https", "ws", "wss")
               and urlsplit(u).netloc != own]
    assert foreign == []
    # The button icons still draw (Font Awesome comes with Voila's own voila-style.js).
    icon_font = page.evaluate("getComputedStyle(document.querySelector('.docket-submit i'), '::before').fontFamily")
    assert "Font Awesome" in icon_font
    assert page.evaluate("document.fonts.check('900 14px \"Font Awesome 5 Free\"')")
    shot(page, "a11y-german")
    # A page that cannot open is titled by what went wrong, not by the notebook's file name.
    page.goto(f"{base}/?lang=xx")
    page.wait_for_selector(".docket-page-error", timeout=LOAD_TIMEOUT)
    page.wait_for_function("() => document.title.includes('not written in')", timeout=10_000)


def accessible_names(page: object) -> list[tuple[str, str]]:
    """(role, name) of every form control in Chromium's accessibility tree."""
    cdp = page.context.new_cdp_session(page)
    nodes = cdp.send("Accessibility.getFullAXTree")["nodes"]
    cdp.detach()
    controls = {"textbox", "combobox", "checkbox", "spinbutton", "button", "searchbox", "listbox", "slider"}
    out = []
    for node in nodes:
        role = node.get("role", {}).get("value")
        if role in controls and not node.get("ignored"):
            out.append((role, (node.get("name") or {}).get("value", "")))
    return out


def test_every_input_is_named_by_its_label(fresh: object) -> None:
    page = fresh
    names = accessible_names(page)
    assert len(names) > 40
    assert [n for n in names if not n[1].strip()] == []
    assert not any(name.endswith("*") for _, name in names), "the required mark is not read as part of the name"
    # Found by their visible labels, as a person would name them.
    cases = {
        ("Keywords", None): "metadata-project_descriptive-keywords",
        ("Licence", None): "metadata-dataset_administrative-licence",
        ("Name", ".docket-box-provider"): "provider-name",
        ("E-mail", ".docket-box-metadata-dataset_administrative-contact"): "metadata-dataset_administrative-contact-email",
        ("Access", None): "metadata-dataset_administrative-access_rights",
        ("Embargo until", None): "metadata-dataset_administrative-embargo_until",
        ("File name", None): "files-0-name",
        ("Comment for the data manager", None): "comment",
    }
    for (label, scope), expected in cases.items():
        where = page.locator(scope) if scope else page
        found = where.get_by_label(label, exact=True)
        assert found.count() == 1, f"{label!r}: {found.count()} inputs"
        assert expected in found.evaluate("e => e.closest('[class*=\"docket-field-\"]').className"), label
    # A language of a multilingual text: the field's label and the language's ("Title en").
    for name, expected in (("Title en", "title-en"), ("Abstract de", "abstract-de")):
        found = page.get_by_role("textbox", name=name, exact=True)
        assert found.count() == 1, name
        assert f"docket-field-metadata-project_descriptive-{expected}" in found.evaluate(
            "e => e.closest('[class*=\"docket-field-\"]').className")
    assert page.get_by_label("Title", exact=True).count() == len(page.locator(
        ".docket-field-metadata-project_descriptive-title input").all())
    # A group is announced with its name: the contact's fields are "Contact" fields.
    assert page.get_by_role("group", name="Contact", exact=True).count() == 1
    # The language selector has a visible label.
    assert page.get_by_label("Language", exact=True).count() == 1
    # A click on a label puts the focus in its input, as on any web form.
    page.locator(".docket-box-provider-orcid .docket-label-text").click()
    page.wait_for_function("() => document.activeElement.closest('.docket-field-provider-orcid') !== null",
                           timeout=5_000)


def test_required_marks_only_where_a_value_is_required(fresh: object) -> None:
    page = fresh
    required = set(field_class(page, "[aria-required=true]"))
    assert required == REQUIRED_BY_HAND
    # The same set as the renderer computes from the schema (for any field a plug-in adds later).
    view = FormView(load_form("ingest-request"))
    leaves = {css_name(f.path) for f in view.walk() if f.required and not isinstance(
        f, GroupField | RepeatField | MultilingualField)}
    assert required == leaves
    # One title language is enough: no title input is required by itself; the page says so.
    title_box = page.locator(".docket-box-metadata-project_descriptive-title")
    assert "One language is enough." in title_box.locator(".docket-help").inner_text()
    assert title_box.locator("input[aria-required]").count() == 0
    described = title_box.locator("input").first.get_attribute("aria-describedby")
    assert page.locator(f"#{described}").inner_text().endswith("One language is enough.")
    # An optional period: its start is needed only once a period is given, so no mark.
    for part in ("start", "end"):
        box = page.locator(f".docket-box-metadata-experiment_contextual-temporal_coverage-{part}")
        assert box.locator(".docket-required-mark").count() == 0
    # Visible marks sit exactly on the required inputs' labels (and the title and abstract's).
    marked = set(page.evaluate("""() => Array.from(document.querySelectorAll('.docket-label .docket-required-mark'))
        .map(m => Array.from(m.closest('.docket-field').classList).find(c => c.startsWith('docket-box-')).slice(11))"""))
    assert marked >= REQUIRED_BY_HAND
    assert marked - REQUIRED_BY_HAND <= {"metadata-project_descriptive-title", "metadata-project_descriptive-abstract",
                                         "files"}
    # The keywords help says what the input does: a plain text box split at commas.
    keywords = page.locator(".docket-box-metadata-project_descriptive-keywords")
    assert "commas" in keywords.locator(".docket-help").inner_text()
    assert page.locator(".docket-field-metadata-project_descriptive-keywords input[type=text]").count() == 1
    # Placeholders read as examples, not as values already filled in.
    for name in ("provider-name", "provider-email", "provider-orcid", "metadata-dataset_administrative-licence",
                 "files-0-name", "files-0-location"):
        placeholder = page.locator(f".docket-field-{name} input").get_attribute("placeholder")
        assert placeholder.startswith("e.g. "), (name, placeholder)
    shot(page, "a11y-required-marks", ".docket-box-metadata-project_descriptive-title")


def test_failed_submit_marks_and_describes_invalid_inputs(refused: object, served: tuple[str, Path]) -> None:
    page, (_, folder) = refused, served
    invalid = page.evaluate("""() => Array.from(document.querySelectorAll('[aria-invalid=true]')).map(e => {
        const first = (e.getAttribute('aria-describedby') || '').split(' ')[0];
        const note = document.getElementById(first);
        return [e.closest('.docket-field').className, note ? note.className : null, note ? note.innerText : ''];
    })""")
    assert len(invalid) >= len(REQUIRED_BY_HAND)
    for box, note_class, text in invalid:
        assert note_class and "docket-error" in note_class and text.strip(), (box, note_class, text)
    email = page.locator(".docket-field-provider-email input")
    assert "not a valid e-mail address" in page.locator(f"#{email.get_attribute('aria-describedby').split()[0]}").inner_text()
    # Every message shown under a field is tied to that field's input(s).
    shown = set(page.evaluate("""() => Array.from(document.querySelectorAll('.docket-error'))
        .filter(e => e.innerText.trim()).map(e => e.id)"""))
    tied = set(page.evaluate("""() => Array.from(document.querySelectorAll('[aria-invalid=true]'))
        .map(e => e.getAttribute('aria-describedby').split(' ')[0])"""))
    assert shown == tied
    shot(page, "a11y-invalid", ".docket-problems")
    # Corrected, the input is valid again and no longer described by an error.
    fill(page, "provider-email", "ana.lima@example.org")
    page.wait_for_function("""() => { const e = document.querySelector('.docket-field-provider-email input');
        return !e.hasAttribute('aria-invalid') && !(e.getAttribute('aria-describedby') || '').includes('error'); }""",
                           timeout=10_000)
    with docket.open(folder) as d:
        assert d.list() == []


def test_clicking_or_entering_a_problem_focuses_its_input(refused: object) -> None:
    page = refused
    item = page.locator(".docket-problems li[data-path='$.provider.email']")
    item.wait_for(timeout=20_000)
    item.click()
    page.wait_for_function("() => document.activeElement.closest('.docket-field-provider-email') !== null",
                           timeout=5_000)
    # A language of the title: the title's own problem focuses its first language.
    title = page.locator(".docket-problems li[data-path='$.metadata.project_descriptive.title']")
    page.wait_for_function("""() => document.querySelector(
        ".docket-problems li[data-path='$.files[0].location']").getAttribute('tabindex') === '0'""", timeout=5_000)
    title.click()
    page.wait_for_function(
        "() => document.activeElement.closest('.docket-field-metadata-project_descriptive-title-en') !== null",
        timeout=5_000)
    # By keyboard: the items are focusable and Enter acts as a click.
    page.locator(".docket-problems li[data-path='$.files[0].location']").focus()
    page.keyboard.press("Enter")
    page.wait_for_function("() => document.activeElement.closest('.docket-field-files-0-location') !== null",
                           timeout=5_000)


TABBABLE = """() => Array.from(document.querySelectorAll(
    'input, textarea, select, button, a[href], [tabindex]')).filter(e =>
    !e.disabled && e.tabIndex >= 0 && e.getClientRects().length && getComputedStyle(e).visibility !== 'hidden')"""


def test_tab_goes_through_the_fields_in_page_order(fresh: object) -> None:
    page = fresh
    assert page.evaluate("() => Array.from(document.querySelectorAll('[tabindex]')).filter(e => e.tabIndex > 0).length") == 0
    page.evaluate(f"() => ({TABBABLE})().forEach((e, i) => e.dataset.order = i)")
    order = page.evaluate(f"() => ({TABBABLE})().map(e => e.dataset.order)")
    start = page.locator(".docket-field-provider-name input")
    start.focus()
    first = int(start.get_attribute("data-order"))
    seen = [first]
    steps = 0
    wanted = len(order) - first  # every control after the first field, to the last button
    while len(seen) < wanted and steps < 4 * wanted:  # a date input takes one Tab per part (day, month, year)
        page.keyboard.press("Tab")
        steps += 1
        now = page.evaluate("() => document.activeElement.dataset.order")
        assert now is not None, f"Tab left the form's controls after {seen}"
        if int(now) != seen[-1]:
            seen.append(int(now))
    expected = [int(o) for o in order[first:first + len(seen)]]
    assert seen == expected
    # Shift+Tab walks back the same way.
    page.keyboard.press("Shift+Tab")
    assert int(page.evaluate("() => document.activeElement.dataset.order")) in (seen[-2], seen[-1])


def test_same_as_me_copies_the_provider_to_the_contact(page: object, served: tuple[str, Path]) -> None:
    base, _ = served
    open_form(page, base)
    provider = {"name": "Ana Lima", "email": "ana.lima@example.org", "orcid": "0000-0002-1825-0097",
                "organisation": "Ocean Institute"}
    for key, value in provider.items():
        fill(page, f"provider-{key}", value)
    button = page.get_by_role("button", name="Same as me (the provider)")
    button.click()
    contact = "metadata-dataset_administrative-contact"
    for key, value in provider.items():
        page.wait_for_function(f"""() => document.querySelector('.docket-field-{contact}-{key} input').value === {value!r}""",
                               timeout=10_000)
    shot(page, "a11y-same-as-me", f".docket-box-{contact}")
    # The copy is the contact's own: changing it leaves the provider as it was.
    fill(page, f"{contact}-email", "data@example.org")
    page.wait_for_timeout(500)
    assert page.locator(".docket-field-provider-email input").input_value() == "ana.lima@example.org"
    assert page.locator(f".docket-error-{contact}-email").inner_text().strip() == ""


def axe_script(cache: Path) -> Path | None:
    """axe-core's ``axe.min.js`` from the npm registry (``npm pack``), cached; None when npm or the
    registry is not reachable."""
    target = cache / f"axe-core-{AXE_VERSION}" / "axe.min.js"
    if target.is_file():
        return target
    npm = shutil.which("npm")
    if npm is None:
        return None
    work = cache / f"axe-core-{AXE_VERSION}.download"
    work.mkdir(parents=True, exist_ok=True)
    try:
        done = subprocess.run([npm, "pack", f"axe-core@{AXE_VERSION}", "--pack-destination", str(work)],
                              capture_output=True, text=True, timeout=120, cwd=work)
    except (OSError, subprocess.TimeoutExpired):
        return None
    tarball = work / f"axe-core-{AXE_VERSION}.tgz"
    if done.returncode != 0 or not tarball.is_file():
        return None
    with tarfile.open(tarball) as tar:
        member = tar.getmember("package/axe.min.js")
        data = tar.extractfile(member).read()
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(data)
    return target


def test_axe_finds_nothing_serious(refused: object) -> None:
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "docket-tests"
    script = axe_script(cache)
    if script is None:
        pytest.skip("axe-core could not be fetched with `npm pack` (no npm, or no registry)")
    page = refused  # errors shown too: their colours and ties are checked as well
    page.add_script_tag(path=str(script))
    result = page.evaluate("""() => axe.run(document, {runOnly: {type: 'tag',
        values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa', 'best-practice']}})""")
    serious = [(v["id"], v["impact"], v["help"], [n["target"] for n in v["nodes"]][:5])
               for v in result["violations"] if v["impact"] in ("serious", "critical") and v["id"] not in AXE_ACCEPTED]
    assert serious == []
