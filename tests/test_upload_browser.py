"""Uploads from a real browser: headless Chromium uploads two files from ``examples/`` through the
page (one interrupted mid-file and resumed), watches the progress bars, submits, and the stored
record holds both files, with their checksums, in ``inbox/<request-id>/``.

The page's script sends 8 MiB chunks; here ``window.DOCKET_UPLOAD_CHUNK`` makes them 2 KiB so the
small example files take several PATCHes and an interruption can fall in the middle of one.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import pytest

import docket

from .browser import browser_fixture, served_instance
from .conftest import EXAMPLES
from .test_browser import field, open_form, shot, type_in

pytestmark = pytest.mark.browser

FIRST = EXAMPLES / "files" / "alpine_weather_2022.csv"
SECOND = EXAMPLES / "files" / "ctd_bay_of_biscay_2024.csv"
CHUNK = 2048
# Every progress value each bar shows, recorded in the page as it changes.
WATCH = """() => { window.progressSeen = {};
  new MutationObserver(() => document.querySelectorAll('.docket-upload').forEach((box, i) => {
    const bar = box.querySelector('progress'); (window.progressSeen[i] = window.progressSeen[i] || []);
    const seen = window.progressSeen[i]; if (seen[seen.length - 1] !== bar.value) seen.push(bar.value); }))
  .observe(document.body, {subtree: true, attributes: true, childList: true}); }"""


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    with served_instance(tmp_path_factory, "upload-browser") as (base, folder, _proc):
        yield base, folder


browser = browser_fixture()


def upload_context(browser: object) -> object:
    """A browser context whose pages upload in :data:`CHUNK`-byte chunks (8 MiB in production), so
    an example file takes several PATCHes and one can be cut."""
    ctx = browser.new_context(viewport={"width": 1100, "height": 900})
    ctx.add_init_script(f"window.DOCKET_UPLOAD_CHUNK = {CHUNK};")
    return ctx


@pytest.fixture
def context(browser: object) -> Iterator[object]:
    ctx = upload_context(browser)
    yield ctx
    ctx.close()


def fill_metadata(page: object) -> None:
    """The fields a complete request needs besides its files (as tests/test_browser.py fills them)."""
    type_in(page, field("provider-name"), "Ana Lima")
    type_in(page, field("provider-email"), "ana.lima@example.org")
    type_in(page, field("metadata-project_descriptive-title-en"), "Alpine weather and CTD casts, uploaded")
    type_in(page, field("metadata-project_descriptive-abstract-en", "textarea"), "Two files from the browser.")
    type_in(page, field("metadata-project_descriptive-keywords"), "weather, CTD")
    type_in(page, field("metadata-dataset_administrative-licence"), "CC-BY-4.0")
    type_in(page, field("metadata-dataset_administrative-contact-name"), "Ana Lima")
    type_in(page, field("metadata-dataset_administrative-contact-email"), "ana.lima@example.org")
    page.locator(field("metadata-dataset_administrative-access_rights", "select")).select_option(label="open")
    type_in(page, field("metadata-experiment_contextual-temporal_coverage-start"), "2022-01-01")
    type_in(page, field("metadata-experiment_contextual-temporal_coverage-end"), "2022-12-31")


def upload(page: object, row: int, path: Path) -> None:
    page.locator(f".docket-box-files-{row}-location .docket-upload-file").set_input_files(str(path))


def wait_filled(page: object, row: int, path: Path) -> None:
    """Until the kernel has put the upload into the row (name, size, sha256)."""
    page.locator(f".docket-box-files-{row}-location .docket-upload[data-state=done]").wait_for(timeout=30_000)
    page.locator(f".docket-upload-note-files-{row}-location .docket-upload-done").wait_for(timeout=30_000)
    assert page.locator(field(f"files-{row}-name")).input_value() == path.name
    assert page.locator(field(f"files-{row}-size")).input_value() == str(path.stat().st_size)
    assert page.locator(field(f"files-{row}-sha256")).input_value() == hashlib.sha256(path.read_bytes()).hexdigest()


def upload_cut_once(page: object, row: int, path: Path) -> tuple[list[str], list[str | None]]:
    """Upload ``path`` in file row ``row`` (added first) with the connection reset on its second
    PATCH: every upload request's method in order, and the Upload-Offset of the PATCH that was cut."""
    calls: list[str] = []
    page.on("request", lambda r: calls.append(r.method) if "/docket/uploads/" in r.url else None)
    dropped: list[str | None] = []

    def drop_once(route: object) -> None:
        if route.request.method == "PATCH" and calls.count("PATCH") >= 2 and not dropped:
            dropped.append(route.request.headers.get("upload-offset"))
            route.abort("connectionreset")
        else:
            route.continue_()

    page.route("**/docket/uploads/**", drop_once)
    page.click(".docket-add-files")
    page.locator(f".docket-box-files-{row}-location .docket-upload-file").wait_for(state="attached", timeout=20_000)
    upload(page, row, path)
    wait_filled(page, row, path)
    page.unroute("**/docket/uploads/**")
    return calls, dropped


def test_two_uploads_one_interrupted_then_submitted(context: object, served: tuple[str, Path]) -> None:
    base, folder = served
    page = context.new_page()
    open_form(page, base, "?lang=en")
    page.evaluate(WATCH)
    fill_metadata(page)

    # File 1: uploaded in 5 chunks; its bar moves through intermediate values to 100.
    upload(page, 0, FIRST)
    wait_filled(page, 0, FIRST)
    seen = page.evaluate("() => window.progressSeen[0]")
    assert seen[-1] == 100 and any(0 < v < 100 for v in seen), seen
    shot(page, "upload-first-done", ".docket-box-files-0-location")

    # File 2: the connection drops on its second PATCH; the script asks HEAD and resumes there.
    calls, dropped = upload_cut_once(page, 1, SECOND)
    assert dropped == [str(CHUNK)], "the second chunk was cut off"
    assert calls.count("POST") == 1, "resumed, not started again"
    after = calls[calls.index("PATCH", calls.index("PATCH") + 1) + 1:]
    assert "HEAD" in after, "the script asked the server where to resume"
    assert calls.count("PATCH") == -(-SECOND.stat().st_size // CHUNK) + 1  # every chunk once, one twice
    shot(page, "upload-second-resumed", ".docket-box-files-1-location")

    page.click(".docket-submit")
    page.locator(".docket-summary").wait_for(timeout=30_000)
    request_id = page.locator(".docket-summary .docket-request-id").first.inner_text()
    shot(page, "upload-submitted", ".docket-summary")
    inbox = folder / "inbox"
    with docket.open(folder) as d:
        record = d.get(request_id)
    assert record["review_state"] == "submitted"
    by_name = {f["name"]: f for f in record["files"]}
    for path in (FIRST, SECOND):
        entry, data = by_name[path.name], path.read_bytes()
        assert entry["location"] == f"{request_id}/{path.name}"
        assert entry["size"] == len(data) and entry["sha256"] == hashlib.sha256(data).hexdigest()
        assert entry["md5"] == hashlib.md5(data).hexdigest()
        assert (inbox / request_id / path.name).read_bytes() == data
    assert not any((inbox / "uploads").iterdir()), "the staging folders are gone"
    # The form now shows where the files went.
    assert page.locator(field("files-0-location")).input_value() == f"{request_id}/{FIRST.name}"


def test_a_closed_page_resumes_after_choosing_the_file_again(context: object, served: tuple[str, Path]) -> None:
    """The page is closed mid-upload; a new page of the same browser resumes at the offset the
    server holds when the same file is chosen again (localStorage remembers the upload)."""
    base, folder = served
    page = context.new_page()
    open_form(page, base, "?lang=en")
    stall: list[object] = []

    def hold_third(route: object) -> None:  # the third PATCH is held: the page closes meanwhile
        if route.request.method == "PATCH" and route.request.headers.get("upload-offset") == str(2 * CHUNK):
            stall.append(route)  # never continued by us
        else:
            route.continue_()

    page.route("**/docket/uploads/**", hold_third)
    upload(page, 0, FIRST)
    page.wait_for_function(f"() => document.querySelector('.docket-upload')?.dataset.offset >= {2 * CHUNK}",
                           timeout=30_000)
    remembered = page.evaluate("() => Object.keys(localStorage).filter(k => k.startsWith('docket-upload:'))")
    assert len(remembered) == 1 and FIRST.name in remembered[0]
    page.close()

    again = context.new_page()
    calls: list[tuple[str, str | None]] = []
    again.on("request", lambda r: calls.append((r.method, r.headers.get("upload-offset")))
             if "/docket/uploads/" in r.url else None)
    open_form(again, base, "?lang=en")
    upload(again, 0, FIRST)
    wait_filled(again, 0, FIRST)
    methods = [m for m, _ in calls]
    assert "POST" not in methods and methods[0] == "HEAD", calls
    # Resumed where the server stopped: at least the two chunks that arrived (the held third one
    # may have reached the server as the page closed), never from the start.
    first = int([o for m, o in calls if m == "PATCH"][0])
    assert 2 * CHUNK <= first < FIRST.stat().st_size, calls
    assert again.evaluate("() => Object.keys(localStorage).filter(k => k.startsWith('docket-upload:'))") == []
    staged = next((folder / "inbox" / "uploads").iterdir())
    assert (staged / FIRST.name).read_bytes() == FIRST.read_bytes()

    # Another browser's finished upload: its id, slipped into this page's hidden input, is refused
    # by the kernel (the upload belongs to the other page cookie), and the row is left as it was.
    from .test_uploads import call, create, page_cookie

    world = {"port": int(base.rsplit(":", 1)[1]), "folder": folder}
    stranger = page_cookie(world)
    url = create(world, stranger, "theirs.csv", 3)
    assert call(world, "PATCH", url, stranger, b"a,b", Upload_Offset="0",
                **{"Content-Type": "application/offset+octet-stream"}).status == 204
    again.evaluate("""(id) => { const input = document.querySelector('.docket-upload-token-files-0-location input');
        input.value = id; input.dispatchEvent(new Event('input', {bubbles: true}));
        input.dispatchEvent(new Event('change', {bubbles: true})); }""", url.rsplit("/", 1)[1])
    again.locator(".docket-upload-note-files-0-location .docket-status-bad").wait_for(timeout=20_000)
    assert again.locator(field("files-0-name")).input_value() == FIRST.name
