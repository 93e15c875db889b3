"""The spatial coverage map, through the rendered form (Python side of the widgets).

The request form's "Area (degrees)" group is drawn by :class:`docket.forms.bbox_map.BBoxField`:
numbers typed into the four inputs move the map's rectangle; a rectangle drawn or dragged in the
browser (its ``locations`` synced back by ipyleaflet, or the draw tool's GeoJSON) writes the four
numbers. The browser half is tests/test_bbox_map_browser.py.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from docket.errors import InstanceError
from docket.forms import load_form
from docket.forms.bbox_map import (
    WORLD,
    BBoxField,
    box_to_locations,
    digits_at,
    locations_to_box,
    map_of,
    parse_box,
    tile_settings,
    use_tiles,
    view_for,
    world,
)
from docket.forms.renderer import FormView

PATH = "metadata.experiment_contextual.spatial_coverage"
WHERE = "$.metadata.experiment_contextual.spatial_coverage"


@pytest.fixture
def view() -> FormView:
    return FormView(load_form("ingest-request"), language="en")


def typed(view: FormView, **numbers: str) -> None:
    """Type into the inputs as the browser would (each value syncs as text)."""
    field = view.field(PATH)
    assert isinstance(field, BBoxField)
    for side, text in numbers.items():
        field.sides[side].input.value = text


def stored(view: FormView) -> dict[str, Any]:
    return view.data()["metadata"]["experiment_contextual"]["spatial_coverage"]


def bounds(view: FormView) -> tuple[float, float, float, float] | None:
    """(west, east, south, north) of the rectangle on the map, or None when it is not there."""
    boxmap = map_of(view)
    if boxmap.rectangle not in boxmap.map.layers:
        return None
    lats = [p[0] for p in boxmap.rectangle.locations]
    lngs = [p[1] for p in boxmap.rectangle.locations]
    return min(lngs), max(lngs), min(lats), max(lats)


def test_the_form_draws_the_area_with_a_map_over_a_local_base_layer(view: FormView) -> None:
    boxmap = map_of(view)
    names = [getattr(layer, "name", "") for layer in boxmap.map.layers]
    assert names == ["land", "graticule"]  # no tile layer: nothing to fetch from another host
    assert not any(type(layer).__name__ == "TileLayer" for layer in boxmap.map.layers)
    assert boxmap.map.crs["name"] == "EPSG4326"
    land = boxmap.map.layers[0].data
    assert land["features"][0]["geometry"]["type"] == "MultiPolygon"
    assert WORLD.stat().st_size < 80_000  # small enough to go with every page
    assert boxmap.rectangle not in boxmap.map.layers  # nothing typed, nothing drawn
    # The draw tool offers the rectangle only.
    assert boxmap.draw.rectangle and not (boxmap.draw.polygon or boxmap.draw.polyline or boxmap.draw.marker
                                          or boxmap.draw.circle or boxmap.draw.circlemarker)


def test_typed_numbers_move_the_rectangle_and_centre_the_map(view: FormView) -> None:
    typed(view, west="-30", east="10", south="20", north="50")
    assert bounds(view) == (-30, 10, 20, 50)
    boxmap = map_of(view)
    assert tuple(boxmap.map.center) == (35, -10) and boxmap.map.zoom >= 2
    typed(view, north="60.5")
    assert bounds(view) == (-30, 10, 20, 60.5)
    assert stored(view) == {"west": -30, "east": 10, "south": 20, "north": 60.5, "place": ""}
    assert not [p for p in view.problems if p.where.startswith(WHERE)]


def test_a_dragged_rectangle_writes_the_numbers_rounded(view: FormView) -> None:
    typed(view, west="0", east="10", south="0", north="10")
    # What ipyleaflet syncs back after a drag: Leaflet's getLatLngs(), a ring of {lat, lng}.
    map_of(view).rectangle.locations = [[
        {"lat": -12.3456789, "lng": 100.123456}, {"lat": 5.5, "lng": 100.123456},
        {"lat": 5.5, "lng": 120.98765432}, {"lat": -12.3456789, "lng": 120.98765432}]]
    # Rounded to what a pixel means at the map's zoom (zoom 3 here: a pixel is 0.09 degree).
    assert map_of(view).map.zoom == 3
    assert stored(view) == {"west": 100.12, "east": 120.99, "south": -12.35, "north": 5.5, "place": ""}
    field = view.field(PATH)
    assert all(field.sides[s].is_touched() for s in ("west", "east", "south", "north"))
    assert field.sides["west"].input.value == "100.12"
    # Zoomed in (the browser syncs the zoom back), a drag keeps more decimals, four at most.
    map_of(view).map.zoom = 9
    map_of(view).rectangle.locations = [[{"lat": 1.23456789, "lng": 2.3456789}, {"lat": 2, "lng": 3}]]
    assert stored(view) == {"west": 2.346, "east": 3, "south": 1.235, "north": 2, "place": ""}
    assert [digits_at(z) for z in (0, 1, 2, 3, 6, 7, 9, 18)] == [1, 1, 1, 2, 2, 3, 3, 4]
    assert not [p for p in view.problems if p.where.startswith(WHERE)]


def test_a_drawn_rectangle_writes_the_numbers_and_becomes_the_editable_box(view: FormView) -> None:
    boxmap = map_of(view)
    square = {"type": "Feature", "properties": {}, "geometry": {"type": "Polygon", "coordinates": [[
        [-5.27, 40.5], [-5.27, 44.04], [3.14, 44.04], [3.14, 40.5], [-5.27, 40.5]]]}}
    boxmap._drawn(boxmap.draw, action="created", geo_json=square)  # as the draw control's message does
    # Drawn on the whole world (zoom 0, a pixel is 0.7 degree): one decimal.
    assert stored(view) == {"west": -5.3, "east": 3.1, "south": 40.5, "north": 44, "place": ""}
    assert bounds(view) == (-5.3, 3.1, 40.5, 44.0)
    # An edit or delete event from the tool (not offered) changes nothing.
    boxmap._drawn(boxmap.draw, action="deleted", geo_json=square)
    assert stored(view)["west"] == -5.3


def test_a_box_across_the_date_line(view: FormView) -> None:
    typed(view, west="170", east="-170", south="-20", north="-10")
    # Drawn eastwards past 180, as one 20-degree box (not the 340 degrees of the rest of the world).
    assert bounds(view) == (170, 190, -20, -10)
    assert not [p for p in view.problems if p.where.startswith(WHERE)]  # the schema allows west > east
    # Dragged further east: the numbers wrap back into [-180, 180].
    map_of(view).rectangle.locations = [[{"lat": -20, "lng": 175}, {"lat": -10, "lng": 175},
                                         {"lat": -10, "lng": 200.5}, {"lat": -20, "lng": 200.5}]]
    assert stored(view) | {"place": ""} == {"west": 175, "east": -159.5, "south": -20, "north": -10, "place": ""}
    # Dragged wholly past the line, and wider than the world.
    assert locations_to_box([[-10, 185], [10, 190]]) == (-175, -170, -10, 10)
    assert locations_to_box([[-10, -200], [10, 190]]) == (-180, 180, -10, 10)
    assert locations_to_box([[-95, 0], [91, 1]]) == (0, 1, -90, 90)  # latitudes clamped
    assert box_to_locations((180, -180, 0, 1))[2] == [1, 180]


@pytest.mark.parametrize(("numbers", "side", "value"), [
    ({"north": "95"}, "north", "95"),          # out of range
    ({"west": "-181"}, "west", "-181"),
    ({"east": "ten"}, "east", "ten"),          # not a number
    ({"south": "40", "north": "30"}, "south", "40"),  # south north of north
])
def test_invalid_numbers_take_the_box_off_the_map_and_say_why(view: FormView, numbers: dict[str, str],
                                                              side: str, value: str) -> None:
    typed(view, west="0", east="10", south="0", north="10")
    assert bounds(view) == (0, 10, 0, 10)
    typed(view, **numbers)
    assert bounds(view) is None  # no half-valid rectangle, and no exception
    # The schema's message (whatever its wording) sits at the wrong number and names its value.
    problems = [p for p in view.problems if p.where.startswith(WHERE)]
    assert [p.where for p in problems] == [f"{WHERE}.{side}"], problems
    assert value in problems[0].message
    assert view.field(f"{PATH}.{side}").errors == [view.message(problems[0])]  # shown at the input
    # Corrected, the box comes back.
    typed(view, west="0", east="10", south="0", north="10")
    assert bounds(view) == (0, 10, 0, 10)
    assert not [p for p in view.problems if p.where.startswith(WHERE)]


def test_a_blank_input_takes_the_box_off_and_junk_from_the_browser_is_ignored(view: FormView) -> None:
    typed(view, west="0", east="10", south="0", north="10")
    typed(view, east="")
    assert bounds(view) is None
    before = stored(view)
    for junk in ([], [[]], [{"lat": "x", "lng": 1}], [[float("nan"), 1]], {"lat": None}, "POLYGON"):
        map_of(view).rectangle.locations = junk if isinstance(junk, list) else [junk]
    assert stored(view) == before
    assert parse_box({"west": True, "east": 1, "south": 0, "north": 1}) is None
    assert parse_box({"west": float("inf"), "east": 1, "south": 0, "north": 1}) is None


def test_stored_values_are_the_plain_group_s(view: FormView) -> None:
    """The map changes how the group is drawn, not what it stores: a record loads into it, its
    box shows, and the form gives back the same four numbers and place."""
    record = {"metadata": {"experiment_contextual": {"spatial_coverage": {
        "west": -10.5, "east": 2, "south": 48, "north": 52.25, "place": "Channel"}}}}
    loaded = FormView(load_form("ingest-request"), data=record)
    assert stored(loaded) == record["metadata"]["experiment_contextual"]["spatial_coverage"]
    assert bounds(loaded) == (-10.5, 2, 48, 52.25)
    assert not loaded.field(PATH).is_touched()  # loading is not an edit
    spec = next(s for p, s in load_form("ingest-request").iter_fields() if p[-1] == "spatial_coverage")
    assert spec["widget"] == "group" and spec["renderer"] == "bbox"


def test_the_shipped_coastline_is_natural_earth_land() -> None:
    data = json.loads(WORLD.read_text(encoding="utf-8"))
    (feature,) = data["features"]
    assert "Natural Earth" in feature["properties"]["source"]
    lngs = [p[0] for poly in feature["geometry"]["coordinates"] for ring in poly for p in ring]
    lats = [p[1] for poly in feature["geometry"]["coordinates"] for ring in poly for p in ring]
    assert min(lngs) >= -180 and max(lngs) <= 180 and min(lats) >= -90 and max(lats) <= 84
    assert len(world()["features"]) == 2  # plus the copies beside the date line


def _config(**form: Any) -> Any:
    from docket.instance import parse_config

    data: dict[str, Any] = {"instance": {"project": "ocean", "base_uri": "https://data.example.org/"}}
    if form:
        data["form"] = form
    return parse_config(data, "docket.toml")


def test_no_tile_server_unless_docket_toml_names_one(view: FormView) -> None:
    use_tiles(view, _config())
    assert [layer.name for layer in map_of(view).map.layers] == ["land", "graticule"]
    assert tile_settings(_config()) is None and tile_settings(_config(map_tiles="")) is None


def test_a_data_centre_s_own_tiles(view: FormView) -> None:
    typed(view, west="-30", east="10", south="20", north="50")
    use_tiles(view, _config(map_tiles="https://tiles.example.org/{z}/{x}/{y}.png",
                            map_attribution="<b>Our</b> tiles"))
    boxmap = map_of(view)
    tiles, *rest = boxmap.map.layers
    assert tiles.url == "https://tiles.example.org/{z}/{x}/{y}.png" and tiles.attribution == "&lt;b&gt;Our&lt;/b&gt; tiles"
    assert [layer.name for layer in rest] == ["graticule", "bbox"]  # the tiles replace the coastline
    assert boxmap.map.crs["name"] == "EPSG3857" and boxmap.crs == "EPSG3857"
    # Web Mercator: centred on the Mercator middle of the box (north of 35), zoomed to fit.
    (lat, lng), zoom = view_for((-30, 10, 20, 50), "EPSG3857")
    assert lng == -10 and 36 < lat < 37 and zoom == 2  # 200 px / (37.5 Mercator degrees * 0.71 px)
    assert tuple(boxmap.map.center) == (lat, lng) and boxmap.map.zoom == zoom
    assert tile_settings(_config(map_tiles="/tiles/{z}/{x}/{y}.png", map_tiles_crs="EPSG4326")).crs == "EPSG4326"


@pytest.mark.parametrize(("form", "named"), [
    ({"map_tiles": "file:///etc/{z}/{x}/{y}"}, "map_tiles"),
    ({"map_tiles": "https://tiles.example.org/world.png"}, "map_tiles"),  # no {z}/{x}/{y}
    ({"map_tiles": "javascript:alert(1)//{z}{x}{y}"}, "map_tiles"),
    ({"map_tiles": ["https://a/{z}/{x}/{y}"]}, "map_tiles"),
    ({"map_tiles": "https://a.example/{z}/{x}/{y}", "map_tiles_crs": "EPSG27700"}, "map_tiles_crs"),
    ({"map_tiles": "https://a.example/{z}/{x}/{y}", "map_max_zoom": 40}, "map_max_zoom"),
])
def test_a_bad_tile_setting_is_named(view: FormView, form: dict[str, Any], named: str) -> None:
    with pytest.raises(InstanceError, match=rf"\[form\] {named}:"):
        use_tiles(view, _config(**form))
    assert [layer.name for layer in map_of(view).map.layers] == ["land", "graticule"]  # unchanged


def test_the_hint_follows_the_page_language_and_credits_the_coastline(view: FormView) -> None:
    hint = view.field(PATH).hint
    assert "rectangle tool" in hint.value and "Natural Earth" in hint.value
    view.set_language("fr")
    assert "outil rectangle" in hint.value and "Côtes : Natural Earth" in hint.value
    use_tiles(view, _config(map_tiles="/tiles/{z}/{x}/{y}.png"))
    assert "outil rectangle" in hint.value and "Natural Earth" not in hint.value  # no coastline drawn
