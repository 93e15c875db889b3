"""The spatial coverage map in a real browser: ``docket serve`` driven by headless Chromium.

The page is served by a real ``docket serve`` (Voila behind docket's server guard, which must serve
jupyter-leaflet's labextension); Debian's chromium is driven with Playwright's mouse, as a person
would: draw a box with the rectangle tool, drag it, drag a corner, type numbers. Every request the
page makes is recorded: none may leave the server (the machine has no network, and a data centre's
form must not leak its visitors to a tile provider). Screenshots go to test-artifacts/.
"""

from __future__ import annotations

import http.server
import math
import struct
import threading
import time
import zlib
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest

import docket
from docket.forms.bbox_map import view_for

from .browser import ARTIFACTS, LOAD_TIMEOUT, browser_fixture, served_instance
from .test_serve import serving

pytestmark = pytest.mark.browser

AREA = ".docket-box-metadata-experiment_contextual-spatial_coverage"
MAP = ".docket-bbox-map"
SIDES = ("west", "east", "south", "north")


def number(side: str) -> str:
    return f".docket-field-metadata-experiment_contextual-spatial_coverage-{side} input"


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with served_instance(tmp_path_factory, "bbox") as (base, _folder, _proc):
        yield base


browser = browser_fixture()


def open_page(browser: object, base: str, frames: list[bytes] | None = None) -> tuple[object, object, list[str]]:
    """A new browser context on the form: (context, page, every URL the page asks for); every
    websocket frame the page sends (to the kernel) goes to ``frames`` when given."""
    context = browser.new_context(viewport={"width": 1100, "height": 900})
    asked: list[str] = []
    context.on("request", lambda request: asked.append(request.url))
    # Failures as "FAILED url", so a test sees a labextension chunk the guarded server refused.
    context.on("requestfailed", lambda request: asked.append(f"FAILED {request.url}"))
    context.on("response", lambda r: r.status >= 400 and asked.append(f"FAILED {r.status} {r.url}"))
    pg = context.new_page()
    pg.on("websocket", lambda ws: asked.append(ws.url))
    if frames is not None:
        pg.on("websocket", lambda ws: ws.on("framesent", lambda payload: frames.append(
            payload.encode() if isinstance(payload, str) else payload)))
    pg.goto(f"{base}/?lang=en")
    pg.wait_for_selector(".docket-submit", state="visible", timeout=LOAD_TIMEOUT)
    assert pg.locator(MAP).count() == 0, "the map is built when asked for, not with the page"
    pg.locator(".docket-bbox-open").click()  # "Draw on a map"
    pg.wait_for_selector(f"{MAP} .leaflet-overlay-pane path", state="attached", timeout=30_000)
    pg.locator(AREA).scroll_into_view_if_needed()
    return context, pg, asked


@pytest.fixture(scope="module")
def frames() -> list[bytes]:
    """Every websocket frame the module's page sent."""
    return []


@pytest.fixture(scope="module")
def page(browser: object, served: str, frames: list[bytes]) -> Iterator[tuple[object, list[str]]]:
    """One page for the module (a kernel start is the slow part): the page and every URL it asked for."""
    context, pg, asked = open_page(browser, served, frames)
    yield pg, asked
    context.close()


def visited(asked: list[str]) -> set[str]:
    """The URLs that went over the network (not inline data, not the failure notes)."""
    return {url for url in asked if not url.startswith(("data:", "blob:", "FAILED "))}


def shot(pg: object, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    pg.locator(AREA).screenshot(path=str(ARTIFACTS / f"{name}.png"))


def numbers(pg: object) -> list[str]:
    return [pg.locator(number(side)).input_value() for side in SIDES]


def type_box(pg: object, **values: str) -> None:
    for side, text in values.items():
        box = pg.locator(number(side))
        box.fill(text)
        box.press("Tab")


def rectangle(pg: object) -> dict[str, float] | None:
    """The bbox rectangle's SVG path: its screen box (x, y, width, height), or None if not drawn.
    (The draggable path is the rectangle itself; the land and graticule paths are not draggable.)"""
    return pg.evaluate(f"""() => {{
        const p = document.querySelector('{MAP} path.leaflet-path-draggable');
        if (!p || !p.getAttribute('d')) return null;
        const b = p.getBoundingClientRect();
        return {{x: b.x, y: b.y, width: b.width, height: b.height, d: p.getAttribute('d')}};
    }}""")


def wait_numbers(pg: object, previous: list[str]) -> list[str]:
    pg.wait_for_function(
        f"prev => {list(SIDES)!r}.some((s, i) => document.querySelector("
        "`.docket-field-metadata-experiment_contextual-spatial_coverage-${s} input`).value !== prev[i])",
        arg=previous, timeout=15_000)
    pg.wait_for_timeout(300)  # the four arrive in one message; let them all land
    return numbers(pg)


def quiet(pg: object, seconds: float = 1.0, timeout: float = 20.0) -> list[str]:
    """The four numbers once they have not changed for ``seconds``: a drag's last update can
    reach the kernel (and come back as numbers) well after the mouse let go on a loaded machine,
    and would overwrite numbers typed in the meantime."""
    deadline = time.monotonic() + timeout
    last, since = numbers(pg), time.monotonic()
    while time.monotonic() < deadline:
        pg.wait_for_timeout(200)
        now = numbers(pg)
        if now != last:
            last, since = now, time.monotonic()
        elif time.monotonic() - since >= seconds:
            break
    return last


class Screen:
    """Degrees <-> page pixels of the map, in plate carrée at the centre and zoom the page chose."""

    def __init__(self, pg: object, box: tuple[float, float, float, float]) -> None:
        (self.lat, self.lng), zoom = view_for(box)
        self.ppd = 256 * 2**zoom / 180  # EPSG:4326: 256 * 2**zoom pixels for 180 degrees
        frame = pg.locator(MAP).bounding_box()
        self.left, self.top = frame["x"], frame["y"]  # where the map was when measured
        self.cx, self.cy = frame["x"] + frame["width"] / 2, frame["y"] + frame["height"] / 2

    def pixel(self, lat: float, lng: float) -> tuple[float, float]:
        return self.cx + (lng - self.lng) * self.ppd, self.cy - (lat - self.lat) * self.ppd

    def degrees(self, x: float, y: float) -> tuple[float, float]:
        return self.lat - (y - self.cy) / self.ppd, self.lng + (x - self.cx) / self.ppd


def settle(pg: object, expect: dict[str, float], timeout: float = 30_000) -> dict[str, float]:
    """The rectangle once it sits where ``expect`` says (the map may still be moving to it).

    Compared within the map's frame: a message appearing above the map (a field's error, a QA
    note) moves the whole map down the page, not the rectangle on it."""
    pg.wait_for_function(f"""e => {{
        const p = document.querySelector('{MAP} path.leaflet-path-draggable');
        if (!p || !p.getAttribute('d')) return false;
        const b = p.getBoundingClientRect(), m = document.querySelector('{MAP}').getBoundingClientRect();
        return Math.abs(b.x - m.x - e.x) < 3 && Math.abs(b.y - m.y - e.y) < 3
               && Math.abs(b.width - e.width) < 3 && Math.abs(b.height - e.height) < 3;
    }}""", arg=expect, timeout=timeout)  # a loaded machine: the kernel's redraw can take long
    return rectangle(pg)


def expected(screen: Screen, west: float, east: float, south: float, north: float) -> dict[str, float]:
    if west > east:
        east += 360
    x0, y0 = screen.pixel(north, west)
    x1, y1 = screen.pixel(south, east)
    return {"x": x0 - screen.left, "y": y0 - screen.top, "width": x1 - x0, "height": y1 - y0}


def test_the_map_shows_a_local_base_layer_and_asks_no_other_host(page: tuple[object, list[str]],
                                                                 served: str) -> None:
    pg, asked = page
    host = urlsplit(served).netloc
    # Land (a filled coastline) and the graticule are SVG paths; there are no tiles at all.
    paths = pg.locator(f"{MAP} .leaflet-overlay-pane path").count()
    assert paths >= 2
    assert pg.locator(f"{MAP} img.leaflet-tile").count() == 0
    assert pg.locator(f"{MAP} .leaflet-draw-draw-rectangle").count() == 1
    assert rectangle(pg) is None  # nothing typed yet
    land = pg.evaluate(f"() => document.querySelector('{MAP} .leaflet-overlay-pane path').getAttribute('d').length")
    assert land > 5_000  # a world's coastline, not an empty layer
    # jupyter-leaflet's code came from the guarded server's labextension route.
    leaflet = [url for url in asked if "/voila/labextensions/jupyter-leaflet/" in url]
    assert len(leaflet) > 5 and not [url for url in leaflet if url.startswith("FAILED")]
    elsewhere = sorted(url for url in visited(asked) if urlsplit(url).netloc != host)
    assert elsewhere == [], elsewhere
    shot(pg, "bbox-map-empty")


def test_typed_numbers_move_the_rectangle(page: tuple[object, list[str]]) -> None:
    pg, _ = page
    type_box(pg, west="-30", east="10", south="20", north="50")
    screen = Screen(pg, (-30, 10, 20, 50))
    first = settle(pg, expected(screen, -30, 10, 20, 50))
    type_box(pg, west="-20")  # the rectangle narrows: its west edge moves 10 degrees east
    screen = Screen(pg, (-20, 10, 20, 50))
    second = settle(pg, expected(screen, -20, 10, 20, 50))
    assert second["d"] != first["d"]
    shot(pg, "bbox-map-typed")


def test_a_typed_box_moves_the_map_without_writing_the_centre_back(page: tuple[object, list[str]],
                                                                     frames: list[bytes]) -> None:
    """The map jumps to a typed box's centre and tells the kernel nothing about it. An animated
    pan wrote the centre it reached back when it ended; when the next edit crossed that write,
    ipywidgets' echo of it came last and left the map on the previous box (a loaded machine, quick
    edits: one time in nine). No write, no crossing."""
    pg, _ = page
    quiet(pg)
    frames.clear()
    type_box(pg, west="-40")  # the centre moves 10 degrees west (the zoom may change too)
    settle(pg, expected(Screen(pg, (-40, 10, 20, 50)), -40, 10, 20, 50))
    pg.wait_for_timeout(1_000)  # an animated pan ends after 250 ms, and writes then
    updates = [f for f in frames if b'"comm_msg"' in f and b'"update"' in f]
    assert updates, "the typed number went to the kernel as a widget update"
    assert not [f for f in updates if b'"center"' in f], "the map wrote its centre back"
    type_box(pg, west="-20")
    settle(pg, expected(Screen(pg, (-20, 10, 20, 50)), -20, 10, 20, 50))


def test_drawing_a_rectangle_fills_the_four_numbers(page: tuple[object, list[str]]) -> None:
    pg, _ = page
    type_box(pg, west="-20", east="10", south="20", north="50")
    screen = Screen(pg, (-20, 10, 20, 50))
    settle(pg, expected(screen, -20, 10, 20, 50))
    before = numbers(pg)
    tool = pg.locator(f"{MAP} .leaflet-draw-draw-rectangle")
    assert tool.get_attribute("title") == "Draw the area as a rectangle"  # bbox-map.js's words
    tool.click()
    x0, y0 = screen.pixel(45, -60)  # a new box west of the typed one, over the Atlantic
    x1, y1 = screen.pixel(30, -40)
    pg.mouse.move(x0, y0)
    tip = pg.locator(f"{MAP} .leaflet-draw-tooltip")
    tip.get_by_text("Press and drag to draw the area.").wait_for(timeout=5_000)
    pg.mouse.down()
    pg.mouse.move((x0 + x1) / 2, (y0 + y1) / 2, steps=5)
    tip.get_by_text("Release the mouse to finish.").wait_for(timeout=5_000)
    shot(pg, "bbox-map-drawing")
    pg.mouse.move(x1, y1, steps=5)
    pg.mouse.up()
    west, east, south, north = map(float, wait_numbers(pg, before))
    tolerance = 2 / screen.ppd  # two pixels
    assert abs(west + 60) < tolerance and abs(east + 40) < tolerance
    assert abs(north - 45) < tolerance and abs(south - 30) < tolerance
    assert all(len(v.split(".")[-1]) <= 4 for v in numbers(pg))  # rounded to 4 decimals
    # The drawn shape became the editable rectangle (one box on the map, not two).
    assert pg.locator(f"{MAP} path.leaflet-path-draggable").count() == 1
    assert rectangle(pg)["width"] > 10
    shot(pg, "bbox-map-drawn")


def test_the_map_speaks_the_page_language(page: tuple[object, list[str]]) -> None:
    pg, _ = page
    select = pg.locator(".docket-language select")
    select.select_option(label="Français")
    tool = pg.locator(f"{MAP} .leaflet-draw-draw-rectangle")
    pg.wait_for_function(f"() => document.querySelector('{MAP} .leaflet-draw-draw-rectangle').title"
                         " === 'Tracer la zone (rectangle)'", timeout=10_000)
    pg.locator(f"{AREA} .docket-bbox-hint").get_by_text("outil rectangle").wait_for(timeout=10_000)
    tool.click()
    pg.locator(f"{MAP} .leaflet-draw-actions a").get_by_text("Annuler").wait_for(timeout=5_000)
    frame = pg.locator(MAP).bounding_box()
    pg.mouse.move(frame["x"] + frame["width"] / 2, frame["y"] + frame["height"] / 2)
    pg.locator(f"{MAP} .leaflet-draw-tooltip").get_by_text("Appuyez et faites glisser").wait_for(timeout=5_000)
    shot(pg, "bbox-map-fr")
    pg.keyboard.press("Escape")  # Leaflet.draw: Escape leaves the tool, nothing drawn
    pg.wait_for_selector(f"{MAP} .leaflet-draw-tooltip", state="detached", timeout=5_000)
    select.select_option(label="English")
    pg.wait_for_function(f"() => document.querySelector('{MAP} .leaflet-draw-draw-rectangle').title"
                         " === 'Draw the area as a rectangle'", timeout=10_000)


def test_dragging_the_box_and_its_corner_moves_the_numbers(page: tuple[object, list[str]]) -> None:
    pg, _ = page
    type_box(pg, west="-20", east="10", south="20", north="50")
    screen = Screen(pg, (-20, 10, 20, 50))
    box = settle(pg, expected(screen, -20, 10, 20, 50))
    before = numbers(pg)
    # Drag the whole box by 5 degrees east and 5 south.
    cx, cy = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    dx = dy = 5 * screen.ppd
    pg.mouse.move(cx, cy)
    pg.mouse.down()
    pg.mouse.move(cx + dx / 2, cy + dy / 2, steps=4)
    pg.mouse.move(cx + dx, cy + dy, steps=4)
    pg.mouse.up()
    west, east, south, north = map(float, wait_numbers(pg, before))
    tolerance = 1.5 / screen.ppd
    assert abs(west + 15) < tolerance and abs(east - 15) < tolerance
    assert abs(south - 15) < tolerance and abs(north - 45) < tolerance
    # Drag the north-east corner 5 degrees further north-east: west and south stay.
    before = numbers(pg)
    hx, hy = screen.pixel(north, east)
    pg.mouse.move(hx, hy)
    pg.mouse.down()
    pg.mouse.move(hx + dx, hy - dy, steps=6)
    pg.mouse.up()
    w2, e2, s2, n2 = map(float, wait_numbers(pg, before))
    assert (w2, s2) == (west, south)
    assert abs(e2 - east - 5) < 2 * tolerance and abs(n2 - north - 5) < 2 * tolerance
    shot(pg, "bbox-map-dragged")


def test_invalid_numbers_and_the_date_line(page: tuple[object, list[str]]) -> None:
    pg, _ = page
    quiet(pg)  # the previous test's drag has landed
    type_box(pg, west="-20", east="10", south="20", north="50")
    settle(pg, expected(Screen(pg, (-20, 10, 20, 50)), -20, 10, 20, 50))
    type_box(pg, north="95")  # out of range: the box goes, the input says why, the map stays
    pg.wait_for_function(f"() => !document.querySelector('{MAP} path.leaflet-path-draggable')", timeout=30_000)
    error = pg.locator(".docket-error-metadata-experiment_contextual-spatial_coverage-north")
    error.get_by_text("95").wait_for(timeout=10_000)
    assert pg.locator(f"{MAP} .leaflet-overlay-pane path").count() >= 2
    pg.wait_for_function(f"() => !document.querySelector('{MAP} .leaflet-drag-transform-marker')",
                         timeout=10_000)  # no orphan corner handles either
    shot(pg, "bbox-map-invalid")
    type_box(pg, north="abc")
    error.get_by_text("abc").wait_for(timeout=10_000)
    assert rectangle(pg) is None
    # Across the date line: west 170, east -170 is a 20-degree box drawn over 180.
    type_box(pg, west="170", east="-170", south="-20", north="-10")
    screen = Screen(pg, (170, -170, -20, -10))
    box = settle(pg, expected(screen, 170, -170, -20, -10))
    assert pg.locator(f"{MAP} .leaflet-drag-transform-marker").count() == 4  # its corners, editable again
    assert math.isclose(box["width"], 20 * screen.ppd, abs_tol=3)
    assert not error.inner_text().strip()
    shot(pg, "bbox-map-date-line")


def test_nothing_was_fetched_from_elsewhere_while_drawing(page: tuple[object, list[str]], served: str) -> None:
    """After all the drawing, dragging and zooming above: still not one request to another host."""
    pg, asked = page
    pg.locator(f"{MAP} .leaflet-control-zoom-in").click()
    pg.wait_for_timeout(500)
    host = urlsplit(served).netloc
    assert sorted(url for url in visited(asked) if urlsplit(url).netloc != host) == []
    assert pg.locator(f"{MAP} img.leaflet-tile").count() == 0


def _png(rgb: tuple[int, int, int], size: int = 256) -> bytes:
    """A plain square PNG (a stand-in tile), made here: the test needs no image library."""
    raw = b"".join(b"\x00" + bytes(rgb) * size for _ in range(size))

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")


@pytest.fixture(scope="module")
def tile_server() -> Iterator[tuple[str, list[str]]]:
    """A data centre's own tile server on 127.0.0.1: answers every /tiles/z/x/y.png with a tile."""
    tile = _png((200, 226, 200))
    asked: list[str] = []

    class Tiles(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            asked.append(self.path)
            ok = self.path.startswith("/tiles/") and self.path.endswith(".png")
            self.send_response(200 if ok else 404)
            self.send_header("Content-Type", "image/png")
            self.send_header("Content-Length", str(len(tile) if ok else 0))
            self.end_headers()
            if ok:
                self.wfile.write(tile)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Tiles)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{server.server_address[1]}", asked
    finally:
        server.shutdown()
        server.server_close()


def test_a_configured_tile_server_is_the_only_other_host(tile_server: tuple[str, list[str]], browser: object,
                                                         tmp_path_factory: pytest.TempPathFactory) -> None:
    """With ``[form] map_tiles`` in docket.toml the map draws the data centre's tiles, and asks
    that server and the page's own, nobody else."""
    tiles_host, tile_paths = tile_server
    folder = tmp_path_factory.mktemp("bbox-tiles") / "inst"
    docket.init(folder, project="ocean", base_uri="https://data.example.org/ocean/").close()
    with open(folder / "docket.toml", "a", encoding="utf-8") as toml:
        toml.write(f'\n[form]\nmap_tiles = "http://{tiles_host}/tiles/{{z}}/{{x}}/{{y}}.png"\n'
                   'map_attribution = "Our tiles"\n')
    with serving(folder) as (base, _proc):
        context, pg, asked = open_page(browser, base)
        try:
            pg.wait_for_function(f"() => Array.from(document.querySelectorAll('{MAP} img.leaflet-tile'))"
                                 ".some(i => i.complete && i.naturalWidth === 256)", timeout=30_000)
            assert "Our tiles" in pg.locator(f"{MAP} .leaflet-control-attribution").inner_text()
            type_box(pg, west="-30", east="10", south="20", north="50")
            pg.wait_for_selector(f"{MAP} path.leaflet-path-draggable", state="attached", timeout=15_000)
            shot(pg, "bbox-map-own-tiles")
        finally:
            context.close()
    hosts = {urlsplit(url).netloc for url in visited(asked)}
    assert hosts == {urlsplit(base).netloc, tiles_host}, hosts
    assert tile_paths and all(path.startswith("/tiles/") for path in tile_paths)
