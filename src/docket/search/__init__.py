"""Search over the newest published revision of every request (issue 13, item 4).

Publishing a revision calls :func:`index_record` inside the publication's transaction, so the
index never shows a revision that was not published; :func:`search` reads the index only. The
index holds one row per field and language (a French title is a row of its own, searched with
French rules on PostgreSQL), with the request's title in that language beside it, so a hit is
shown without reading the record.

One code path serves both stores: each dialect gives only its SQL fragments (:class:`_Sqlite`,
FTS5 with ``bm25()`` and ``snippet()``; :class:`_Postgres`, ``tsvector`` with ``ts_rank_cd`` and
``ts_headline``). What the user typed never reaches either query language as syntax: it is cut
into words, and each word becomes a quoted FTS5 string or a ``plainto_tsquery`` word, so quotes,
``NEAR``, ``*``, ``-`` and ``column:`` filters are just text. All words must match.

This module imports nothing heavy at import time (``docket publish`` and ``docket search`` load
it; SQLAlchemy is imported when a function runs).
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from docket.errors import BadInput
from docket.structural import all_fields

if TYPE_CHECKING:  # pragma: no cover
    from sqlalchemy import Connection

#: The fields a row can belong to, in the order a record is read; ``--field`` takes these names.
FIELDS: tuple[str, ...] = (
    "title", "abstract", "keywords", "people", "organisations", "places", "variables",
    "instruments", "project",
)
#: How much a match in each field counts: a word in the title says more about a dataset than the
#: same word deep in its abstract (bm25 alone prefers short rows, but not reliably enough).
WEIGHTS: dict[str, float] = {
    "title": 4.0, "keywords": 3.0, "places": 2.0, "variables": 2.0, "abstract": 1.0,
}
#: The language of text given as a plain string (BCP 47 "undetermined").
UNDETERMINED = "und"
#: What marks a matched word in a snippet.
MARK_OPEN, MARK_CLOSE = "**", "**"
#: Bounds of a query: longer text or more words is refused rather than sent to the store.
MAX_QUERY_CHARS = 500
MAX_QUERY_WORDS = 32
MAX_LIMIT = 100
#: Bounds of what one record puts in the index (a record is already bounded in size; these keep
#: one pathological record from dominating the index).
_MAX_ROW_CHARS = 20_000
_MAX_LANGUAGE_CHARS = 35
#: Up to this length, PostgreSQL's snippet is the whole text (FTS5's snippet() shows 16 words).
_WHOLE_TEXT_CHARS = 120

_WORD = re.compile(r"\w+")


# ------------------------------------------------------------------------------ indexing


def index_record(conn: Connection, dialect: str, request_id: str, revision: int, record: dict[str, Any]) -> None:
    """Make ``revision`` of ``request_id`` the searchable one: its rows replace the request's.

    Call it inside the transaction that publishes the revision. Indexing an older revision than
    the one already indexed changes nothing (only the newest published revision is searchable,
    whatever order the calls come in).
    """
    sql = _dialect(dialect)
    indexed = sql.indexed_revision(conn, request_id)
    if indexed is not None and indexed > revision:
        return
    sql.delete_request(conn, request_id)
    rows = [
        {"request_id": request_id, "revision": revision, "field": field, "language": language,
         "title": title, "text": text}
        for field, language, text, title in _rows_of(record)
    ]
    if rows:
        sql.insert(conn, request_id, rows)


def remove_record(conn: Connection, dialect: str, request_id: str) -> None:
    """Take a request out of search (e.g. when it is retired)."""
    _dialect(dialect).delete_request(conn, request_id)


def _rows_of(record: dict[str, Any]) -> Iterator[tuple[str, str, str, str]]:
    """(field, language, text, title to show) for every searchable text of a record."""
    metadata = record.get("metadata") or {}
    descriptive = _dict(metadata.get("project_descriptive"))
    administrative = _dict(metadata.get("dataset_administrative"))
    structural = _dict(metadata.get("dataset_structural"))
    technical = _dict(metadata.get("instrument_technical"))
    contextual = _dict(metadata.get("experiment_contextual"))
    provider = _dict(record.get("provider"))
    titles = _by_language(descriptive.get("title"))

    def title_in(language: str) -> str:
        if language in titles:
            return titles[language]
        return titles.get("en") or next(iter(titles.values()), "")

    texts: dict[str, Any] = {
        "title": descriptive.get("title"),
        "abstract": descriptive.get("abstract"),
        "keywords": descriptive.get("keywords"),
        "people": [provider.get("name"), _dict(administrative.get("contact")).get("name"),
                   [_dict(a).get("name") for a in _list(descriptive.get("authors"))]],
        "organisations": [provider.get("organisation"), administrative.get("publisher"),
                          descriptive.get("funder")],
        "places": [_dict(contextual.get("spatial_coverage")).get("place"), contextual.get("place"),
                   contextual.get("places")],
        "variables": [[_dict(f).get(k) for k in ("name", "title", "description")]
                      for f in all_fields(structural)],  # a Table Schema's, or every resource's
        "instruments": [[_dict(i).get(k) for k in ("name", "manufacturer", "model")]
                        for i in _list(technical.get("instruments"))] + [contextual.get("platform")],
        "project": [descriptive.get("project_name"), descriptive.get("grant_id")],
    }
    for field in FIELDS:
        for language, text in _by_language(texts[field]).items():
            yield field, language, text, title_in(language)


def _by_language(value: Any) -> dict[str, str]:
    """Every string in ``value`` (a string, a language map, or lists of them), joined per
    language: plain strings are :data:`UNDETERMINED`."""
    parts: dict[str, list[str]] = {}

    def walk(item: Any, language: str) -> None:
        if isinstance(item, str):
            if item.strip():
                parts.setdefault(language, []).append(item.strip())
        elif isinstance(item, dict):
            for key, sub in item.items():
                if isinstance(key, str) and key:
                    walk(sub, key[:_MAX_LANGUAGE_CHARS])
        elif isinstance(item, list):
            for sub in item:
                walk(sub, language)

    walk(value, UNDETERMINED)
    return {language: " · ".join(texts)[:_MAX_ROW_CHARS] for language, texts in parts.items()}


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


# ------------------------------------------------------------------------------- searching


def search(docket: Any, text: str, *, field: str | None = None, limit: int = 20) -> list[dict[str, Any]]:
    """The published requests matching every word of ``text``, best first, one hit per request.

    Each hit: ``id``, ``revision``, ``title`` (in the matching language where there is one),
    ``field`` and ``language`` of the best matching text, ``snippet`` (the match between
    :data:`MARK_OPEN` and :data:`MARK_CLOSE`) and ``score`` (higher is better; comparable within
    one search only). Anyone may search: the index holds published metadata only, so this reads
    ``docket.store`` and never signs the caller in.

    Three short queries, each dialect giving the SQL: rank the matching rows (reading nothing
    but the full-text index, so ranking costs what the store's own ranking costs), read the
    few best rows, then mark the match in the winners only.
    """
    words = query_words(text)
    if field is not None and field not in FIELDS:
        raise BadInput(f"unknown search field {field!r}; the fields are {', '.join(FIELDS)}")
    if isinstance(limit, bool) or not isinstance(limit, int) or not 0 < limit <= MAX_LIMIT:
        raise BadInput(f"the search limit must be a whole number from 1 to {MAX_LIMIT}, not {limit!r}")
    store = docket.store
    sql = _dialect(store.dialect)
    query = sql.query(words)
    with store.connect() as conn:
        fetch = limit * 4  # a request matches in a few rows (title, abstract... per language)
        while True:
            ranked = sql.ranked(conn, query, field, fetch)
            rows = sql.rows(conn, [rid for rid, _ in ranked])
            best: dict[str, tuple[Any, float]] = {}
            for rid, score in ranked:
                row = rows.get(rid)
                if row is not None:
                    best.setdefault(row.request_id, (row, score))
                    if len(best) == limit:
                        break
            if len(best) == limit or len(ranked) < fetch:
                break
            fetch *= 4
        snippets = sql.snippets(conn, query, [row.rid for row, _ in best.values()]) if best else {}
    return [
        {"id": row.request_id, "revision": int(row.revision), "title": row.title, "field": row.field,
         "language": row.language, "snippet": snippets.get(row.rid, ""), "score": round(float(score), 6)}
        for row, score in best.values()
    ]


def query_words(text: str) -> list[str]:
    """The words of a user's query: refused (BadInput) when empty, too long or wordless."""
    if not isinstance(text, str):
        raise BadInput("the search text must be a string")
    if len(text) > MAX_QUERY_CHARS:
        raise BadInput(f"the search text is {len(text)} characters long; the limit is {MAX_QUERY_CHARS}")
    if not text.strip():
        raise BadInput("the search text is empty; give at least one word")
    words = _WORD.findall(unicodedata.normalize("NFC", text))
    if not words:
        raise BadInput(f"the search text {text!r} has no word to search for (letters or digits)")
    if len(words) > MAX_QUERY_WORDS:
        raise BadInput(f"the search text has {len(words)} words; the limit is {MAX_QUERY_WORDS}")
    return list(dict.fromkeys(words))


def _weight_sql(field_expr: str, names: dict[str, str]) -> str:
    """The per-field weight as one SQL ``CASE`` over ``field_expr`` (names and weights are ours,
    never the user's); ``names`` gives each field's SQL literal."""
    cases = " ".join(f"WHEN {names[name]} THEN {weight}" for name, weight in WEIGHTS.items())
    return f"(CASE {field_expr} {cases} ELSE 1.0 END)"


_COLUMNS = "request_id, revision, field, language, title"


def _dialect(name: str) -> _Sqlite | _Postgres:
    if name == "sqlite":
        return _SQLITE
    if name == "postgresql":
        return _POSTGRES
    raise BadInput(f"search does not support the {name!r} store")


class _Sqlite:
    """FTS5: ``MATCH`` on the ``text`` column, ``bm25()`` ranking, ``snippet()``.

    A row's rowid carries its field (``rowid & 15`` is its place in :data:`FIELDS`), so ranking
    with field weights and ``--field`` read only the full-text index: reading an ``UNINDEXED``
    column costs a lookup of the row's content, for every matching row.
    """

    _TEXT_COLUMN = 5  # request_id, revision, field, language, title, text, doc_key
    _FIELD_BITS = 4

    def __init__(self) -> None:
        if len(FIELDS) > 1 << self._FIELD_BITS:  # a field added past 16 needs a wider code
            raise RuntimeError(f"{len(FIELDS)} search fields do not fit in {self._FIELD_BITS} rowid bits")
        codes = {name: str(i) for i, name in enumerate(FIELDS)}
        self._weight = _weight_sql(f"(rowid & {(1 << self._FIELD_BITS) - 1})", codes)

    def query(self, words: list[str]) -> str:
        # Each word a quoted FTS5 string (a quote inside is doubled, though \w+ has none), all
        # under the ``text`` column filter, so ``doc_key`` tokens never answer a user.
        quoted = " ".join('"' + w.replace('"', '""') + '"' for w in words)
        return f"text : ({quoted})"

    def ranked(self, conn: Connection, query: str, field: str | None, limit: int) -> list[tuple[int, float]]:
        where = f" AND (rowid & {(1 << self._FIELD_BITS) - 1}) = {FIELDS.index(field)}" if field else ""
        return [tuple(r) for r in conn.exec_driver_sql(
            f"SELECT rowid, -bm25(search_index) * {self._weight} AS score "
            f"FROM search_index WHERE search_index MATCH ?{where} "
            "ORDER BY score DESC, rowid LIMIT ?", (query, limit)).all()]

    def rows(self, conn: Connection, rids: list[int]) -> dict[int, Any]:
        if not rids:
            return {}
        marks = ", ".join("?" * len(rids))
        return {r.rid: r for r in conn.exec_driver_sql(
            f"SELECT rowid AS rid, {_COLUMNS} FROM search_index WHERE rowid IN ({marks})", tuple(rids))}

    def snippets(self, conn: Connection, query: str, rids: list[int]) -> dict[int, str]:
        marks = ", ".join("?" * len(rids))
        return dict(conn.exec_driver_sql(
            f"SELECT rowid, snippet(search_index, {self._TEXT_COLUMN}, ?, ?, '…', 16) "
            f"FROM search_index WHERE search_index MATCH ? AND rowid IN ({marks})",
            (MARK_OPEN, MARK_CLOSE, query, *rids)).all())

    def indexed_revision(self, conn: Connection, request_id: str) -> int | None:
        return conn.exec_driver_sql(
            "SELECT max(revision) FROM search_index WHERE search_index MATCH ? AND request_id = ?",
            (self._key_query(request_id), request_id)).scalar()

    def delete_request(self, conn: Connection, request_id: str) -> None:
        conn.exec_driver_sql(
            "DELETE FROM search_index WHERE rowid IN (SELECT rowid FROM search_index "
            "WHERE search_index MATCH ? AND request_id = ?)", (self._key_query(request_id), request_id))

    def insert(self, conn: Connection, request_id: str, rows: list[dict[str, Any]]) -> None:
        # Inside the write transaction (SQLite's write lock), so no one takes the same rowids.
        last = conn.exec_driver_sql("SELECT rowid FROM search_index ORDER BY rowid DESC LIMIT 1").scalar()
        first = ((last or 0) >> self._FIELD_BITS) + 1
        key = _doc_key(request_id)
        conn.exec_driver_sql(
            f"INSERT INTO search_index(rowid, {_COLUMNS}, text, doc_key) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [(((first + i) << self._FIELD_BITS) | FIELDS.index(r["field"]), r["request_id"], r["revision"],
              r["field"], r["language"], r["title"], r["text"], key) for i, r in enumerate(rows)])

    def _key_query(self, request_id: str) -> str:
        return f'doc_key : "{_doc_key(request_id)}"'


class _Postgres:
    """``tsvector`` per row in its language's configuration, ``ts_rank_cd``, ``ts_headline``."""

    #: The query in every configuration a row can have, joined to the rows of that configuration.
    _QUERIES = (
        "(SELECT c AS cfg, plainto_tsquery(c, :query) AS tsq "
        "FROM unnest(CAST(ARRAY['english', 'french', 'german', 'simple'] AS regconfig[])) AS c) AS q"
    )

    def __init__(self) -> None:
        self._weight = _weight_sql("s.field", {name: f"'{name}'" for name in FIELDS})

    def query(self, words: list[str]) -> str:
        return " ".join(words)

    def ranked(self, conn: Connection, query: str, field: str | None, limit: int) -> list[tuple[int, float]]:
        from sqlalchemy import text

        where = " AND s.field = :field" if field else ""
        return [tuple(r) for r in conn.execute(text(
            f"SELECT s.id, ts_rank_cd(s.document, q.tsq) * {self._weight} AS score "
            f"FROM search_index AS s JOIN {self._QUERIES} ON q.cfg = s.ts_config "
            f"WHERE s.document @@ q.tsq{where} "
            "ORDER BY score DESC, s.id LIMIT :limit"
        ), {"query": query, "field": field, "limit": limit}).all()]

    def rows(self, conn: Connection, rids: list[int]) -> dict[int, Any]:
        from sqlalchemy import bindparam, text

        stmt = text(f"SELECT id AS rid, {_COLUMNS} FROM search_index WHERE id IN :rids").bindparams(
            bindparam("rids", expanding=True))
        return {r.rid: r for r in conn.execute(stmt, {"rids": rids})}

    def snippets(self, conn: Connection, query: str, rids: list[int]) -> dict[int, str]:
        from sqlalchemy import bindparam, text

        # A short text (a title, a few keywords) is shown whole, as FTS5's snippet() does; a
        # long one as the fragment around the match.
        marks = f"StartSel={MARK_OPEN}, StopSel={MARK_CLOSE}"
        stmt = text(
            "SELECT s.id, ts_headline(s.ts_config, s.text, q.tsq, "
            f"CASE WHEN length(s.text) <= {_WHOLE_TEXT_CHARS} THEN :whole ELSE :fragment END) "
            f"FROM search_index AS s JOIN {self._QUERIES} ON q.cfg = s.ts_config "
            "WHERE s.id IN :rids"
        ).bindparams(bindparam("rids", expanding=True))
        options = {"whole": f"{marks}, HighlightAll=true",
                   "fragment": f"{marks}, MaxWords=16, MinWords=6, MaxFragments=1"}
        return dict(conn.execute(stmt, {"query": query, "rids": rids, **options}).all())

    def indexed_revision(self, conn: Connection, request_id: str) -> int | None:
        from sqlalchemy import text

        return conn.execute(text("SELECT max(revision) FROM search_index WHERE request_id = :id"),
                            {"id": request_id}).scalar()

    def delete_request(self, conn: Connection, request_id: str) -> None:
        from sqlalchemy import text

        conn.execute(text("DELETE FROM search_index WHERE request_id = :id"), {"id": request_id})

    def insert(self, conn: Connection, request_id: str, rows: list[dict[str, Any]]) -> None:
        from sqlalchemy import text

        conn.execute(text(f"INSERT INTO search_index ({_COLUMNS}, text) "
                          "VALUES (:request_id, :revision, :field, :language, :title, :text)"), rows)


def _doc_key(request_id: str) -> str:
    """One FTS5 token naming a request (a request id would be cut into several tokens)."""
    return "k" + hashlib.blake2b(request_id.encode("utf-8"), digest_size=12).hexdigest()


_SQLITE = _Sqlite()
_POSTGRES = _Postgres()
