"""Search (issue 13, item 4): FTS5 on SQLite, tsvector on PostgreSQL, one code path.

``docket publish`` (which calls :func:`docket.search.index_record` in its transaction) is built
alongside; until then these tests index submitted example requests directly, as publish would.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine
from sqlalchemy import text as sql

import docket
from docket.api import Docket
from docket.errors import BadInput
from docket.search import (
    FIELDS,
    MARK_CLOSE,
    MARK_OPEN,
    MAX_QUERY_CHARS,
    index_record,
    remove_record,
    search,
)
from tests.clirun import docket_cli
from tests.conftest import EXAMPLES, PG_SKIP, PG_URL


def _example(name: str) -> dict[str, Any]:
    return json.loads((EXAMPLES / "requests" / f"{name}.json").read_text())


def _index(dk: Docket, request_id: str, revision: int | None = None) -> dict[str, Any]:
    record = dk.get(request_id, revision)
    with dk.store.transaction() as conn:
        index_record(conn, dk.store.dialect, request_id, record["revision"], record)
    return record


def _put(dk: Docket, request_id: str, revision: int, record: dict[str, Any]) -> None:
    with dk.store.transaction() as conn:
        index_record(conn, dk.store.dialect, request_id, revision, record)


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def shared(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Docket, Path, dict[str, str]]]:
    """One instance per backend for the whole module (making one takes seconds): the three
    example requests submitted and indexed. Tests that add to the index use words and ids of
    their own, so they never change what another test finds."""
    folder = tmp_path_factory.mktemp("search") / "inst"
    kwargs: dict = {"project": "ocean", "base_uri": "https://data.example.org/ocean/",
                    "local_roots": ["inbox", str(EXAMPLES)]}
    schema = None
    if request.param == "postgresql":
        if not PG_URL:
            pytest.skip(PG_SKIP)
        schema = f"docket_test_{uuid.uuid4().hex[:12]}"
        kwargs.update(store_url=PG_URL, store_schema=schema)
    docket.init(folder, **kwargs).close()
    dk = docket.open(folder)
    ids = {}
    for key, name in (("soil", "soil-several-files"), ("ctd", "ctd-multilingual"),
                      ("weather", "weather-table-schema")):
        ids[key] = dk.submit(_example(name))["id"]
        _index(dk, ids[key])
    try:
        yield dk, folder, ids
    finally:
        dk.close()
        if schema:
            engine = create_engine(PG_URL)
            with engine.begin() as conn:
                conn.execute(sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
            engine.dispose()


@pytest.fixture
def dk(shared: tuple[Docket, Path, dict[str, str]]) -> Docket:
    return shared[0]


@pytest.fixture
def instance_dir(shared: tuple[Docket, Path, dict[str, str]]) -> Path:
    return shared[1]


@pytest.fixture
def indexed(shared: tuple[Docket, Path, dict[str, str]]) -> dict[str, str]:
    return shared[2]


def _marked(word: str) -> str:
    return f"{MARK_OPEN}{word}{MARK_CLOSE}"


def test_a_hit_names_the_request_its_field_language_and_a_marked_snippet(dk, indexed) -> None:
    hits = search(dk, "salinity", field="abstract")
    assert [(h["id"], h["revision"], h["field"], h["language"]) for h in hits] == [(indexed["ctd"], 1, "abstract", "en")]
    hit = hits[0]
    assert hit["title"] == "CTD casts in the Bay of Biscay, spring 2024 survey"
    assert _marked("salinity") in hit["snippet"]
    assert hit["score"] > 0


def test_one_hit_per_request_best_field_first(dk, indexed) -> None:
    # "temperature" is in the ctd record's keywords, abstract and variables, and in the weather
    # record's keywords and abstract: one hit each, never the same request twice.
    hits = search(dk, "temperature")
    assert sorted(h["id"] for h in hits) == sorted([indexed["ctd"], indexed["weather"]])
    assert all(h["field"] == "keywords" for h in hits)


def test_a_title_match_outranks_an_abstract_match(dk, indexed) -> None:
    in_title = {"metadata": {"project_descriptive": {
        "title": "Quokka counts on Rottnest Island", "abstract": "Counts of marsupials at dawn."}}}
    in_abstract = {"metadata": {"project_descriptive": {
        "title": "Island fauna counts", "abstract": "Dawn counts of the quokka and other marsupials."}}}
    _put(dk, "rank-0002", 1, in_abstract)  # first in, so insertion order cannot explain the result
    _put(dk, "rank-0001", 1, in_title)
    hits = search(dk, "quokka")
    assert [(h["id"], h["field"]) for h in hits] == [("rank-0001", "title"), ("rank-0002", "abstract")]
    assert hits[0]["score"] > hits[1]["score"]
    assert _marked("Quokka") in hits[0]["snippet"] and _marked("quokka") in hits[1]["snippet"]
    # the weather abstract says "a study of summer convection": found, in its abstract
    assert [(h["id"], h["field"]) for h in search(dk, "convection")] == [(indexed["weather"], "abstract")]


def test_all_words_must_match(dk, indexed) -> None:
    assert [h["id"] for h in search(dk, "Black Forest soil")] == [indexed["soil"]]
    assert search(dk, "Black Forest salinity") == []


@pytest.mark.parametrize(("field", "word", "key"), [
    ("places", "Biscay", "ctd"), ("variables", "salinity_psu", "ctd"), ("people", "Chiara", "weather"),
    ("organisations", "Freiburg", "soil"), ("instruments", "Campbell", "weather"),
    ("keywords", "meteorology", "weather"), ("project", "BISCAY", "ctd"),
])
def test_field_restricts_the_search(dk, indexed, field: str, word: str, key: str) -> None:
    hits = search(dk, word, field=field)
    assert [(h["id"], h["field"]) for h in hits] == [(indexed[key], field)]


def test_field_filter_excludes_other_fields(dk, indexed) -> None:
    assert [h["field"] for h in search(dk, "Biscay")] == ["title"]
    assert search(dk, "Biscay", field="variables") == []


def test_unknown_field_is_bad_input_naming_the_fields(dk, indexed) -> None:
    with pytest.raises(BadInput) as info:
        search(dk, "soil", field="text")
    assert "'text'" in info.value.message and ", ".join(FIELDS) in info.value.message


@pytest.mark.parametrize(("word", "language", "title"), [
    ("golfe", "fr", "Profils CTD dans le golfe de Gascogne, campagne du printemps 2024"),
    ("Gascogne", "fr", "Profils CTD dans le golfe de Gascogne, campagne du printemps 2024"),
    ("Frühjahrskampagne", "de", "CTD-Profile im Golf von Biskaya, Frühjahrskampagne 2024"),
    ("Biskaya", "de", "CTD-Profile im Golf von Biskaya, Frühjahrskampagne 2024"),
    ("Biscay", "en", "CTD casts in the Bay of Biscay, spring 2024 survey"),
])
def test_each_language_finds_its_own_title(dk, indexed, word: str, language: str, title: str) -> None:
    hits = search(dk, word)
    assert [(h["id"], h["field"], h["language"], h["title"]) for h in hits] == [(indexed["ctd"], "title", language, title)]
    assert word.lower() in hits[0]["snippet"].lower() and MARK_OPEN in hits[0]["snippet"]


def test_french_abstract_is_searched_in_french(dk, indexed) -> None:
    hits = search(dk, "salinité", field="abstract")
    assert [(h["id"], h["language"]) for h in hits] == [(indexed["ctd"], "fr")]
    assert _marked("salinité") in hits[0]["snippet"]


def test_reindexing_a_new_revision_replaces_the_old_rows(dk, indexed) -> None:
    # A request of its own (submitted, revised, indexed as publish would), so the shared
    # examples stay as they are for the other tests.
    doc = _example("ctd-multilingual")
    doc["metadata"]["project_descriptive"]["title"] = {"en": "Walrus haul-out census", "fr": "Recensement des morses"}
    doc["metadata"]["project_descriptive"]["abstract"] = {"en": "Counting walruses on the ice of Svalbard."}
    doc["metadata"]["dataset_structural"]["fields"] = [{"name": "walrus_count", "type": "integer"}]
    doc["metadata"]["experiment_contextual"]["spatial_coverage"]["place"] = "Svalbard"
    mine = dk.submit(doc)["id"]
    try:
        _revise_and_reindex(dk, mine, doc)
    finally:  # the copied keywords, people... would answer other tests' searches
        with dk.store.transaction() as conn:
            remove_record(conn, dk.store.dialect, mine)
    assert search(dk, "narvals") == []


def _revise_and_reindex(dk: Docket, mine: str, doc: dict[str, Any]) -> None:
    _index(dk, mine)
    assert [(h["id"], h["revision"]) for h in search(dk, "morses")] == [(mine, 1)]
    doc["metadata"]["project_descriptive"]["title"] = {"en": "Narwhal census", "fr": "Recensement des narvals"}
    doc["metadata"]["project_descriptive"]["abstract"] = {"en": "Counting narwhals in Baffin Bay."}
    doc["metadata"]["dataset_structural"]["fields"] = [{"name": "narwhal_count", "type": "integer"}]
    doc["metadata"]["experiment_contextual"]["spatial_coverage"]["place"] = "Baffin Bay"
    dk.revise(mine, doc)
    _index(dk, mine)
    assert [(h["id"], h["revision"], h["language"]) for h in search(dk, "narvals")] == [(mine, 2, "fr")]
    for old in ("morses", "Walrus", "walruses", "Svalbard", "walrus_count"):
        assert search(dk, old) == [], old  # every row of revision 1 is gone
    assert {h["revision"] for h in search(dk, "Recensement")} == {2}
    # Indexing the older revision afterwards (a late or repeated call) changes nothing.
    _index(dk, mine, revision=1)
    assert search(dk, "morses") == []
    assert [h["revision"] for h in search(dk, "narwhal_count", field="variables")] == [2]


def test_other_requests_keep_their_rows_when_one_is_reindexed(dk, indexed) -> None:
    _index(dk, indexed["ctd"])
    _index(dk, indexed["ctd"])
    assert [h["id"] for h in search(dk, "Black Forest")] == [indexed["soil"]]
    assert len(search(dk, "Biscay", field="title")) == 1


def test_limit_keeps_the_best_requests(dk, indexed) -> None:
    assert len(search(dk, "temperature", limit=1)) == 1
    with pytest.raises(BadInput, match="1 to 100"):
        search(dk, "temperature", limit=0)


def test_search_does_not_sign_the_caller_in(instance_dir: Path) -> None:
    fresh = docket.open(instance_dir)
    try:
        search(fresh, "soil")
        assert fresh._caller is None
    finally:
        fresh.close()


HOSTILE = ['"', '""', 'NEAR(', 'NEAR(soil pH, 2)', 'title:x', 'text : soil', '{title} : soil', '*', 'soil*',
           '-', '-soil', 'AND OR', 'soil AND', 'NOT', '(', ')', "'; DROP TABLE search_index; --", '^soil',
           'soil\x00', '\x00', 'doc_key : k00', '\\', '%', '_', 'ü' * 50]


@pytest.mark.parametrize("text", HOSTILE)
def test_hostile_queries_are_words_or_clear_refusals(dk, indexed, text: str) -> None:
    try:
        hits = search(dk, text)
    except BadInput as exc:
        assert "no word" in exc.message
        return
    assert isinstance(hits, list) and all(isinstance(h["id"], str) for h in hits)


def test_operators_are_searched_as_words(dk, indexed) -> None:
    # Read as FTS5, "-soil" would exclude soil and "soil*" would find "soils"; here both are the
    # word soil, and the column filter "title:" is the word title plus the word after it.
    assert [h["id"] for h in search(dk, "-soil")] == [indexed["soil"]]
    assert [h["id"] for h in search(dk, "soil*")] == [indexed["soil"]]
    assert [h["id"] for h in search(dk, "NEAR(soil")] == []  # nothing has the word "near"
    assert [h["id"] for h in search(dk, "soil\x00")] == [indexed["soil"]]


@pytest.mark.parametrize(("text", "needle"), [
    ("", "empty"), ("   ", "empty"), ("x" * 10_000, str(MAX_QUERY_CHARS)),
    (" ".join(["w"] * 40), "limit is 32"), ("\x00", "no word"), ('"*-', "no word"),
])
def test_empty_or_too_long_text_is_bad_input_naming_the_limit(dk, indexed, text: str, needle: str) -> None:
    with pytest.raises(BadInput) as info:
        search(dk, text)
    assert needle in info.value.message


def test_search_command(dk, indexed, instance_dir: Path) -> None:
    result = docket_cli("search", "golfe", instance=instance_dir)
    assert result.code == 0, result.err
    assert result.out.splitlines() == [
        f"{indexed['ctd']}.1  Profils CTD dans le golfe de Gascogne, campagne du printemps 2024",
        "    title (fr): Profils CTD dans le **golfe** de Gascogne, campagne du printemps 2024",
    ]
    result = docket_cli("search", "Chiara", "--field", "people", "--json", instance=instance_dir)
    assert result.code == 0, result.err
    assert [(h["id"], h["field"]) for h in result.json()] == [(indexed["weather"], "people")]
    result = docket_cli("search", "nothingmatchesthis", instance=instance_dir)
    assert (result.code, result.out.strip()) == (0, "no published request matches")


@pytest.mark.parametrize(("argv", "needle"), [
    (["x" * 10_000], "limit is 500"), (['"'], "no word"), (["soil", "--field", "nope"], "invalid choice"),
    (["soil", "--limit", "1000"], "1 to 100"),
])
def test_search_command_refuses_bad_input_with_exit_2(dk, indexed, instance_dir: Path, argv: list[str], needle: str) -> None:
    result = docket_cli("search", *argv, instance=instance_dir)
    assert result.code == 2 and needle in result.err and "Traceback" not in result.err


def test_hostile_queries_through_the_command(dk, indexed, instance_dir: Path) -> None:
    for hostile in ['"', "NEAR(", "title:x", "*", "-", "AND OR", "soil\x00"]:  # each run opens the instance
        result = docket_cli("search", hostile, "--json", instance=instance_dir)
        assert result.code in (0, 2), (hostile, result.err, result.out)
        assert "internal error" not in result.err and "store error" not in result.err


def test_index_record_takes_any_record_shape(dk) -> None:
    # A record as an import might bring it: missing sections, odd types; nothing to search is no rows.
    with dk.store.transaction() as conn:
        index_record(conn, dk.store.dialect, "nowhere-0001", 1, {"metadata": {"project_descriptive": {
            "title": {"en": "Lonely record", "": "ignored"}, "keywords": [["nested", 3], None]},
            "dataset_structural": {"fields": "not a list"}}, "provider": "Someone"})
        index_record(conn, dk.store.dialect, "empty-0001", 1, {})
    hits = search(dk, "nested")
    assert [(h["id"], h["title"], h["field"]) for h in hits] == [("nowhere-0001", "Lonely record", "keywords")]


def test_multilingual_keywords_are_indexed_per_language(dk) -> None:
    record = {"metadata": {"project_descriptive": {
        "title": {"en": "Sea mammals", "fr": "Mammifères marins"},
        "keywords": [{"en": "sea", "fr": "océanographie"}]}}}
    _put(dk, "kw-0001", 3, record)
    hits = search(dk, "océanographie", field="keywords")
    assert [(h["id"], h["revision"], h["language"], h["title"]) for h in hits] == [("kw-0001", 3, "fr", "Mammifères marins")]


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def test_publishing_makes_a_request_searchable_and_a_new_version_replaces_it(tmp_path: Path, backend: str) -> None:
    """End to end through ``docket publish`` (which calls index_record in its transaction)."""
    from docket.api import resolve_locations
    from tests.people import as_role

    kwargs: dict = {"project": "ocean", "base_uri": "https://data.example.org/ocean/",
                    "local_roots": ["inbox", str(EXAMPLES)]}
    schema = None
    if backend == "postgresql":
        if not PG_URL:
            pytest.skip(PG_SKIP)
        schema = f"docket_test_{uuid.uuid4().hex[:12]}"
        kwargs.update(store_url=PG_URL, store_schema=schema)
    root = tmp_path / "inst"
    docket.init(root, **kwargs).close()
    with (root / "docket.toml").open("a", encoding="utf-8") as toml:  # no DataCite: the instance's own URL
        toml.write('\n[publication]\npublisher = "Ocean Data Centre"\nformats = ["schemaorg"]\n')
    path = EXAMPLES / "requests" / "weather-table-schema.json"
    doc = resolve_locations(json.loads(path.read_text(encoding="utf-8")), path.parent)
    try:
        with docket.open(root) as d:
            def publish(request_id: str) -> None:
                result = docket_cli("publish", request_id, instance=root)
                assert result.code == 0, result.err

            request_id = d.submit(doc)["id"]
            as_role(d, "reviewer", "Eva Novak").review(request_id, "approved")
            assert d.transfer(request_id)["outcome"] == "done"
            d.set_step(request_id, "qa", "closed", "done")
            assert search(d, "alpine") == []  # approved is not published
            publish(request_id)
            assert [(h["id"], h["revision"], h["field"]) for h in search(d, "alpine", field="title")] == [(request_id, 1, "title")]
            doc["metadata"]["project_descriptive"]["title"] = "Hourly weather at two glacier stations in July 2022"
            d.revise(request_id, doc, minor=True)  # a data manager's minor edit: stays approved
            assert [h["revision"] for h in search(d, "alpine", field="title")] == [1]  # until published
            publish(request_id)
            assert search(d, "alpine", field="title") == []
            assert [(h["id"], h["revision"]) for h in search(d, "glacier")] == [(request_id, 2)]
        result = docket_cli("search", "glacier", instance=root)
        assert result.code == 0 and result.out.startswith(f"{request_id}.2  Hourly weather at two glacier"), result.err
    finally:
        if schema:
            engine = create_engine(PG_URL)
            with engine.begin() as conn:
                conn.execute(sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
            engine.dispose()


def test_the_command_offers_the_fields_search_knows() -> None:
    from docket.cli.commands import search as command

    assert command.FIELDS == FIELDS
