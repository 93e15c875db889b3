"""The spatial coverage group with a map: draw or drag the bounding box, the four numbers follow.

The form's ``spatial_coverage`` group keeps its four number inputs (west, east, south, north in
decimal degrees) and its place; this field class adds an ipyleaflet map beside them, kept in step
both ways:

* typing numbers moves the rectangle (and centres the map on it);
* drawing a box with the map's rectangle tool, or dragging the rectangle or its corners, writes the
  four numbers, rounded to what a screen pixel means at the map's zoom (one decimal on the world
  map, up to :data:`DIGITS` decimals, about 11 m, zoomed in): a mouse gives no more precision.

What is stored does not change: the same four numbers and place as the plain group (the offline
notebook, imports and exports never see the map). West greater than east is a box that crosses the
180° meridian (the schema allows it); the map draws it across the date line. Numbers that are
missing, not numbers, out of range or with south north of north take the rectangle off the map
(the field shows the schema's message) and nothing breaks.

The map needs no network: its base layer is a graticule and a coarse world coastline shipped in
the package (``data/world-110m.geojson``, see :data:`WORLD`), in plate carrée (EPSG:4326), so the
whole globe, poles included, fits a small box. No tile layer is added unless a data centre names
one (``tiles=``), so a page never asks another host for anything.

The form asks for it with ``"renderer": "bbox"`` on the group (``"widget"`` stays ``"group"``, so
the definition, the offline form and the exports treat it as before).
"""

from __future__ import annotations

import html
import json
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import ipywidgets as W

from docket.errors import InstanceError
from docket.forms.definition import localize
from docket.forms.renderer import FormView, GroupField, register

#: Natural Earth 1:110m admin-0 countries (public domain, naturalearthdata.com), as shipped in the
#: geopandas 0.14.4 wheel (``geopandas/datasets/naturalearth_lowres``, BSD-3 package), dissolved
#: into land, simplified to 0.1° and rounded to 0.1° with shapely: 53 kB. Built once by hand (see
#: docs/map.md); never fetched at run time.
WORLD = Path(__file__).with_name("data") / "world-110m.geojson"
DIGITS = 4  # decimals kept from a drawn box at most: 1e-4 degree is about 11 m
SIDES = ("west", "east", "south", "north")
LIMITS = {"west": 180.0, "east": 180.0, "south": 90.0, "north": 90.0}
GRATICULE_STEP = 30  # degrees between graticule lines
MAP_HEIGHT = "260px"
#: The map's pixel size used to choose a zoom for typed numbers (the CSS box, roughly).
VIEW_PIXELS = (420, 200)
MAX_ZOOM = 9

BOX_STYLE = {"color": "#b3261e", "weight": 2, "fill_color": "#b3261e", "fill_opacity": 0.15}  # ipyleaflet traits
#: The same look for Leaflet's own options (the rectangle tool, the GeoJSON layers): camelCase.
DRAW_STYLE = {"color": "#b3261e", "weight": 2, "fillColor": "#b3261e", "fillOpacity": 0.15}
MAP_CSS = """<style>
.docket-bbox-map.leaflet-container, .docket-bbox-map .leaflet-container { background: #dceaf5; }
.docket-bbox .docket-bbox-numbers { flex: 0 0 15em; }
.docket-bbox .docket-bbox-map { flex: 1 1 auto; min-width: 300px; }
.docket-bbox .docket-bbox-hint { color: #57606a; font-size: 0.85em; }
.docket-bbox .docket-bbox-hint .widget-html-content { line-height: 1.35; }
</style>"""

HINT = {
    "en": "Draw a box with the rectangle tool, or drag the red box or its corners: the numbers follow, "
          "and typing numbers moves the box. West greater than east is a box across the 180° meridian.",
    "fr": "Tracez une zone avec l'outil rectangle, ou déplacez la zone rouge ou ses coins : les nombres "
          "suivent, et saisir les nombres déplace la zone. Ouest plus grand qu'est : la zone traverse le "
          "méridien de 180°.",
    "de": "Zeichnen Sie ein Gebiet mit dem Rechteck-Werkzeug oder ziehen Sie das rote Rechteck oder "
          "seine Ecken: die Zahlen folgen, und getippte Zahlen verschieben das Rechteck. West größer als "
          "Ost: das Gebiet überquert den 180°-Meridian.",
}
#: The button that shows the map (built on demand: see :class:`BBoxField`).
OPEN_MAP = {"en": "Draw on a map", "fr": "Tracer sur une carte", "de": "Auf einer Karte zeichnen"}
#: The shipped coastline's credit, shown after the hint unless a tile server replaces it.
CREDIT = {"en": "Coastline: Natural Earth.", "fr": "Côtes : Natural Earth.", "de": "Küsten: Natural Earth."}


# -- pure geometry (no widgets): what the tests and the field share ------------------------------


def parse_box(values: dict[str, Any]) -> tuple[float, float, float, float] | None:
    """``(west, east, south, north)`` when the four values are numbers within range and south is
    not north of north; else None (the map then shows no box, the schema says what is wrong)."""
    out = []
    for side in SIDES:
        v = values.get(side)
        if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
            return None
        if not -LIMITS[side] <= v <= LIMITS[side]:
            return None
        out.append(float(v))
    west, east, south, north = out
    if south > north:
        return None
    return west, east, south, north


def box_to_locations(box: tuple[float, float, float, float]) -> list[list[float]]:
    """The rectangle's four corners ``[lat, lng]``; a box across the date line (west > east) is
    drawn eastwards past 180 (east + 360), so it is one rectangle, not the rest of the world."""
    west, east, south, north = box
    if west > east:
        east += 360.0
    return [[south, west], [north, west], [north, east], [south, east]]


def _points(locations: Any) -> Iterable[tuple[float, float]]:
    """Every ``(lat, lng)`` in what Leaflet sends back: nested lists of ``{"lat", "lng"}`` or pairs."""
    if isinstance(locations, dict):
        lat, lng = locations.get("lat"), locations.get("lng")
        if isinstance(lat, int | float) and isinstance(lng, int | float):
            yield float(lat), float(lng)
        return
    if isinstance(locations, list | tuple):
        if len(locations) == 2 and all(isinstance(v, int | float) and not isinstance(v, bool) for v in locations):
            yield float(locations[0]), float(locations[1])
            return
        for item in locations:
            yield from _points(item)


def _wrap(lng: float) -> float:
    """A longitude in [-180, 180] (180 itself kept: it is a valid east edge)."""
    if -180.0 <= lng <= 180.0:
        return lng
    return (lng + 180.0) % 360.0 - 180.0


def locations_to_box(locations: Any, digits: int = DIGITS) -> tuple[float, float, float, float] | None:
    """``(west, east, south, north)`` of a drawn or dragged shape, rounded to ``digits``.

    Longitudes dragged past the date line wrap round (a box from 170 to 190 is west 170, east -170);
    one wider than the world is the whole world; latitudes are clamped to [-90, 90].
    """
    points = [(lat, lng) for lat, lng in _points(locations) if math.isfinite(lat) and math.isfinite(lng)]
    if not points:
        return None
    lats = [p[0] for p in points]
    lngs = [p[1] for p in points]
    west, east = min(lngs), max(lngs)
    if east - west >= 360.0:
        west, east = -180.0, 180.0
    else:
        west, east = _wrap(west), _wrap(east)
    south = max(-90.0, min(lats))
    north = min(90.0, max(lats))

    def r(v: float) -> float:
        v = round(v, digits)
        return 0.0 if v == 0 else v  # no "-0.0" in a record

    return r(west), r(east), r(south), r(north)


#: Map projections the map may use: pixels across the whole world (360 degrees) at zoom 0.
#: EPSG:4326 (plate carrée, the default: the whole globe, poles included) or EPSG:3857 (web
#: Mercator, what most tile servers serve).
WORLD_PIXELS = {"EPSG4326": 512.0, "EPSG3857": 256.0}
MERCATOR_LIMIT = 85.0511  # web Mercator's latitude edge


def _y(lat: float, crs: str) -> float:
    """A latitude as the map's vertical coordinate, in degree-sized units (linear in pixels)."""
    if crs != "EPSG3857":
        return lat
    lat = max(-MERCATOR_LIMIT, min(MERCATOR_LIMIT, lat))
    return math.degrees(math.log(math.tan(math.pi / 4 + math.radians(lat) / 2)))


def _lat(y: float, crs: str) -> float:
    if crs != "EPSG3857":
        return y
    return math.degrees(2 * math.atan(math.exp(math.radians(y))) - math.pi / 2)


def digits_at(zoom: float, crs: str = "EPSG4326") -> int:
    """Decimals that a mouse position carries at ``zoom``: a pixel is ``360 / (world pixels *
    2**zoom)`` degrees, so one decimal on the whole world, :data:`DIGITS` at most."""
    pixel = 360.0 / (WORLD_PIXELS[crs] * 2.0 ** max(0.0, float(zoom)))
    return int(min(DIGITS, max(1, math.ceil(-math.log10(pixel)))))


def view_for(box: tuple[float, float, float, float], crs: str = "EPSG4326") -> tuple[tuple[float, float], int]:
    """Centre ``(lat, lng)`` and zoom that show ``box`` in the map (at zoom z a degree of
    longitude is ``world pixels * 2**z / 360`` pixels, and so is a unit of :func:`_y`)."""
    west, east, south, north = box
    if west > east:
        east += 360.0
    per_degree = WORLD_PIXELS[crs] / 360.0
    width = max(east - west, 1e-6)
    low, high = _y(south, crs), _y(north, crs)
    height = max(high - low, 1e-6)
    fit = min(VIEW_PIXELS[0] / (width * per_degree), VIEW_PIXELS[1] / (height * per_degree))
    zoom = int(max(0, min(MAX_ZOOM, math.floor(math.log2(fit)))))
    return (_lat((low + high) / 2.0, crs), (west + east) / 2.0), zoom


def graticule(step: int = GRATICULE_STEP) -> dict[str, Any]:
    """Meridians and parallels every ``step`` degrees, as GeoJSON (drawn locally, no tiles)."""
    lines = [[[lng, -90], [lng, 90]] for lng in range(-360, 361, step)]  # a world each side too
    lines += [[[-360, lat], [360, lat]] for lat in range(-90, 91, step)]
    return {"type": "Feature", "properties": {}, "geometry": {"type": "MultiLineString", "coordinates": lines}}


@cache
def world() -> dict[str, Any]:
    """The shipped coastline (read once per kernel), with the islands and coasts near the date
    line copied one world east and west, so a box across 180° has land drawn on both sides."""
    data = json.loads(WORLD.read_text(encoding="utf-8"))
    copies = []
    for feature in data.get("features", []):
        geometry = feature.get("geometry") or {}
        polygons = geometry.get("coordinates", []) if geometry.get("type") == "MultiPolygon" else []
        for polygon in polygons:
            lngs = [p[0] for p in polygon[0]]
            shift = 360 if max(lngs) < -150 else -360 if min(lngs) > 150 else 0
            if shift:
                copies.append([[[p[0] + shift, p[1]] for p in ring] for ring in polygon])
    if copies:
        data["features"].append({"type": "Feature", "properties": {"copy": "date line"},
                                 "geometry": {"type": "MultiPolygon", "coordinates": copies}})
    return data


# -- a data centre's own tiles ([form] map_tiles in docket.toml) ----------------------------------------


@dataclass(frozen=True)
class Tiles:
    """A tile server the map may draw over: its URL template, projection and credit."""

    url: str
    crs: str = "EPSG3857"
    attribution: str = ""
    max_zoom: int = 18


_TILE_URL = re.compile(r"^(https?://[^\s/?#]+)?/[^\s]*$")


def tile_settings(config: Any) -> Tiles | None:
    """The ``[form]`` table's ``map_tiles`` (``map_tiles_crs``, ``map_attribution``,
    ``map_max_zoom``), or None when docket.toml names no tile server (the usual case: the map then
    needs no network). Raises :class:`InstanceError` naming the setting that is wrong."""
    extra = getattr(config, "extra", {}) or {}
    table = extra.get("form", {})
    if not isinstance(table, dict):
        raise InstanceError("docket.toml: [form] must be a table")
    url = table.get("map_tiles")
    if url is None or url == "":
        return None
    if (not isinstance(url, str) or len(url) > 500 or not _TILE_URL.match(url)
            or not all(k in url for k in ("{z}", "{x}", "{y}"))):
        raise InstanceError(f"docket.toml [form] map_tiles: {str(url)[:80]!r} is not a tile URL like "
                            "https://tiles.example.org/{z}/{x}/{y}.png (http(s) or a path on this server)")
    crs = table.get("map_tiles_crs", "EPSG3857")
    if crs not in WORLD_PIXELS:
        raise InstanceError(f"docket.toml [form] map_tiles_crs: {crs!r} is not one of {', '.join(WORLD_PIXELS)}")
    attribution = table.get("map_attribution", "")
    if not isinstance(attribution, str) or len(attribution) > 300:
        raise InstanceError("docket.toml [form] map_attribution: must be a short text")
    max_zoom = table.get("map_max_zoom", 18)
    if isinstance(max_zoom, bool) or not isinstance(max_zoom, int) or not 0 <= max_zoom <= 22:
        raise InstanceError(f"docket.toml [form] map_max_zoom: {max_zoom!r} is not a zoom level 0-22")
    return Tiles(url=url, crs=crs, attribution=html.escape(attribution), max_zoom=max_zoom)


def use_tiles(view: FormView, config: Any) -> None:
    """Give every map of ``view`` the instance's tile server, if docket.toml names one."""
    tiles = tile_settings(config)
    if tiles is None:
        return
    for field in view.walk():
        if isinstance(field, BBoxField):
            field.use_tiles(tiles)


# -- the map widget ---------------------------------------------------------------------------------


class BoxMap:
    """An ipyleaflet map with the local base layer, one editable rectangle and a rectangle tool.

    ``on_drawn(box)`` is called with ``(west, east, south, north)`` when the person draws or drags;
    :meth:`show` moves the rectangle to a box (or takes it away for None) without calling it back.
    """

    def __init__(self, on_drawn: Any) -> None:
        import ipyleaflet as L  # imported here: the CLI and the offline form do not need it

        self.on_drawn = on_drawn
        self.box: tuple[float, float, float, float] | None = None
        self.crs = "EPSG4326"
        self.land = L.GeoJSON(data=world(), name="land", style={
            "color": "#8c8c8c", "weight": 0.7, "fillColor": "#f4f1e8", "fillOpacity": 1.0})
        self.graticule = L.GeoJSON(data=graticule(), name="graticule", style={
            "color": "#9fb6c8", "weight": 0.6, "dashArray": "2 3", "fill": False})
        self.rectangle = L.Polygon(locations=[], transform=True, draggable=True, rotation=False,
                                   scaling=True, uniform_scaling=False, name="bbox", **BOX_STYLE)
        self.rectangle.observe(self._dragged, names="locations")
        self.draw = L.DrawControl(rectangle={"shapeOptions": DRAW_STYLE, "showArea": False}, polyline={}, polygon={},
                                  circlemarker={}, circle={}, marker={}, edit=False, remove=False,
                                  position="topleft")
        self.draw.on_draw(self._drawn)
        # layers= given: ipyleaflet's default OpenStreetMap basemap is never created.
        self.map = L.Map(crs=L.projections.EPSG4326, layers=(self.land, self.graticule), center=(0, 0),
                         zoom=0, min_zoom=0, max_zoom=MAX_ZOOM, zoom_snap=1, scroll_wheel_zoom=False,
                         attribution_control=False, world_copy_jump=False,
                         layout=W.Layout(height=MAP_HEIGHT, width="auto"))
        self.map.add(self.draw)
        self.map.add_class("docket-bbox-map")
        self._setting = False

    def use_tiles(self, tiles: Tiles) -> None:
        """Draw over a data centre's own tile server instead of the shipped coastline (call before
        the map is shown: the projection is fixed once the browser has drawn it)."""
        import ipyleaflet as L

        layer = L.TileLayer(url=tiles.url, name="tiles", base=True, attribution=tiles.attribution,
                            max_zoom=tiles.max_zoom, no_wrap=False)
        self.crs = tiles.crs
        self.map.crs = getattr(L.projections, tiles.crs)
        self.map.max_zoom = tiles.max_zoom
        self.map.attribution_control = bool(tiles.attribution)
        rest = tuple(x for x in self.map.layers if x is not self.land)
        self.map.layers = (layer, *rest)
        if self.box is not None:
            self._view(self.box)

    def show(self, box: tuple[float, float, float, float] | None, centre: bool = True) -> None:
        """Draw ``box`` (centring the map on it when ``centre``), or remove the rectangle."""
        self.box = box
        on_map = self.rectangle in self.map.layers
        if box is None:
            if on_map:
                # Leaflet's transform handles (corners, dashed frame) outlive a removed path:
                # switch them off first. A path made with transform off never gets them, so the
                # option is back on before the rectangle is added again.
                self.rectangle.transform = False
                self.map.remove(self.rectangle)
            return
        self._setting = True
        try:
            self.rectangle.locations = box_to_locations(box)
        finally:
            self._setting = False
        if not on_map:
            self.rectangle.transform = True
            self.map.add(self.rectangle)
        if centre:
            self._view(box)

    def _view(self, box: tuple[float, float, float, float]) -> None:
        """Centre the map on ``box`` at the zoom that shows it: the zoom first, then the centre.

        jupyter-leaflet applies a new zoom at once around the centre its model holds, then moves
        to the new centre. The move is a jump (``bbox-map.js``): an animated pan wrote the centre
        it reached back to this model when it ended, and ipywidgets' echo of that write, crossing
        the next edit's centre, left the map on the previous box. The centre is sent again when it
        did not change here, in case the browser's map moved meanwhile.
        """
        centre, zoom = view_for(box, self.crs)
        self.map.zoom = zoom
        before = list(self.map.center)
        self.map.center = centre
        if list(self.map.center) == before:
            self.map.send_state("center")

    def _dragged(self, change: dict[str, Any]) -> None:
        if self._setting:
            return
        box = locations_to_box(change["new"], digits_at(self.map.zoom, self.crs))
        if box is not None:
            self.box = box
            self.on_drawn(box)

    def _drawn(self, _control: Any, action: str, geo_json: dict[str, Any]) -> None:
        if action != "created":
            return
        geometry = geo_json.get("geometry") if isinstance(geo_json, dict) else None
        coords = geometry.get("coordinates") if isinstance(geometry, dict) else None
        # GeoJSON is [lng, lat]; swap into [lat, lng] pairs for locations_to_box.
        pairs = [[p[1], p[0]] for ring in coords or [] if isinstance(ring, list)
                 for p in ring if isinstance(p, list) and len(p) >= 2]
        self.draw.clear()  # the drawn shape goes; the editable rectangle takes its place
        box = locations_to_box(pairs, digits_at(self.map.zoom, self.crs))
        if box is not None:
            self.show(box, centre=False)
            self.on_drawn(box)


class BBoxField(GroupField):
    """The ``spatial_coverage`` group (four numbers + place) with a :class:`BoxMap` beside it.

    The map is built when the provider asks for it ("Draw on a map"), not with the page: ipyleaflet,
    its widgets and jupyter-leaflet's code in the browser are about two of the seconds a form takes
    to become usable, and many providers type the four numbers. :attr:`boxmap` builds it on first
    use (tests and :func:`map_of` too), already showing the typed box.
    """

    _boxmap: BoxMap | None = None
    tiles: Tiles | None = None

    def make_input(self) -> W.Widget:
        numbers = super().make_input()
        numbers.add_class("docket-bbox-numbers")
        self.sides = {c.path[-1]: c for c in self.children if c.path[-1] in SIDES}
        for child in self.sides.values():
            child.input.observe(self._from_numbers, names="value")
        self.hint = W.HTML()
        self.hint.add_class("docket-bbox-hint")
        self.opener = W.Button(icon="map", layout=W.Layout(width="auto", align_self="flex-start"))
        self.opener.add_class("docket-bbox-open")
        self.opener.on_click(lambda _button: self.open_map())
        self.right = W.VBox([self.opener, self.hint], layout=W.Layout(flex="1 1 auto", min_width="300px"))
        self.right.add_class("docket-bbox-map-box")
        row = W.HBox([numbers, self.right], layout=W.Layout(width="100%", align_items="flex-start"))
        row.add_class("docket-bbox")
        return W.VBox([W.HTML(MAP_CSS), row], layout=self.view.shared("plain", W.Layout))

    @property
    def boxmap(self) -> BoxMap:
        """The map, built on first use with the instance's tiles and the box the numbers say."""
        if self._boxmap is None:
            self._boxmap = BoxMap(self._from_map)
            if self.tiles is not None:
                self._boxmap.use_tiles(self.tiles)
            self._boxmap.show(parse_box(self.numbers()))
        return self._boxmap

    def open_map(self) -> None:
        """Show the map in place of its button (the page's "Draw on a map")."""
        self.right.children = (self.boxmap.map, self.hint)
        self.relabel(self.view.language)

    def use_tiles(self, tiles: Tiles) -> None:
        """Draw the map over a data centre's tile server (now, or when it is built)."""
        self.tiles = tiles
        if self._boxmap is not None:
            self._boxmap.use_tiles(tiles)
        self.relabel(self.view.language)  # the coastline's credit goes with the coastline

    def relabel(self, language: str) -> None:
        super().relabel(language)
        self.opener.description = localize(OPEN_MAP, language)
        hint = localize(self.spec.get("map_help") or HINT, language)
        built = self._boxmap
        coastline = (self.tiles is None if built is None
                     else built.crs == "EPSG4326" and built.land in built.map.layers)
        if coastline:  # the shipped coastline is drawn (or will be): its credit goes with it
            hint = f"{hint} {localize(CREDIT, language)}"
        self.hint.value = f"<div>{html.escape(hint)}</div>"

    def numbers(self) -> dict[str, Any]:
        """The four values as the inputs hold them (numbers, or the text that did not parse)."""
        return {side: child.value() for side, child in self.sides.items()}

    def _from_numbers(self, _change: dict[str, Any]) -> None:
        if getattr(self, "_writing", False) or self._boxmap is None:
            return  # no map yet: it starts from the numbers when it is built
        self._boxmap.show(parse_box(self.numbers()))

    def _from_map(self, box: tuple[float, float, float, float]) -> None:
        """A drawn or dragged box: write the four numbers as one edit (one validation)."""
        self._writing = True
        try:
            with self.view.quiet():
                for side, value in zip(SIDES, box, strict=True):
                    self.sides[side].set_value(_text(value))
        finally:
            self._writing = False
        for child in self.sides.values():
            child.touched = True
        self.touched = True
        if not self.view.loading:
            self.view.refresh()


def _text(value: float) -> str:
    """A number as a person would type it: ``12.5``, ``-30``, not ``-30.0`` or ``1e-05``."""
    text = f"{value:.{DIGITS}f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def map_of(view: FormView, path: str = "metadata.experiment_contextual.spatial_coverage") -> BoxMap:
    """The :class:`BoxMap` of the bbox field at ``path`` in a rendered form (for tests and pages)."""
    field = view.field(path)
    if not isinstance(field, BBoxField):
        raise KeyError(f"form {view.form.name}: {path} is not drawn with a map (\"renderer\": \"bbox\")")
    return field.boxmap


register("bbox", BBoxField)
