"""Search on SQLite: ``docket.search.search`` against a bare FTS5 MATCH on the same table.

    .venv/bin/python benchmarks/search.py [--requests 100000] [--rounds 5] [--keep DIR]

Indexes ``--requests`` synthetic published requests (through ``docket.search.index_record``, as
publish does) into a new instance, then times a fixed set of queries: docket's search (words
quoted, all must match, field weights, one hit per request, snippets, titles) and the bare
reference, ``SELECT rowid, request_id, revision, field, title FROM search_index WHERE
search_index MATCH ? ORDER BY rank LIMIT 20`` with the same MATCH expression, on the same
connection pool and table. The two run in alternating rounds so both see the same load. Prints
the p50 and p95 of each and the p95 ratio (target <= 2, issue 13).

Records are synthetic but shaped like real ones: an English title and abstract for every request,
French for a third and German for a sixth, keywords, people, a place and variables, with words
drawn from a Zipf distribution over a domain vocabulary (common words like "temperature" match
tens of thousands of rows; rare ones a handful).
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

import docket  # noqa: E402
from docket.search import _Sqlite, index_record, query_words, search  # noqa: E402

DOMAIN = {
    "en": ("temperature salinity ocean profiles survey soil carbon nitrogen forest station weather "
           "precipitation wind humidity sediment chlorophyll plankton fish abundance coastal river "
           "lake glacier snow ice air quality ozone aerosol monitoring sampling depth surface bottom "
           "current tide wave satellite radar lidar biomass vegetation grassland arable crop yield "
           "pH organic moisture respiration flux methane dioxide isotope core sample laboratory "
           "hourly daily monthly annual seasonal spring summer autumn winter cruise transect mooring "
           "buoy float glider mammal bird insect pollinator species diversity census habitat"),
    "fr": ("température salinité océan profils campagne sol carbone azote forêt station météo "
           "précipitations vent humidité sédiment plancton poissons côtier rivière lac glacier neige "
           "glace qualité surveillance échantillonnage profondeur surface fond courant marée vague "
           "végétation prairie culture rendement humidité printemps été automne hiver golfe baie"),
    "de": ("Temperatur Salzgehalt Ozean Profile Kampagne Boden Kohlenstoff Stickstoff Wald Station "
           "Wetter Niederschlag Wind Feuchte Sediment Plankton Fische Küste Fluss See Gletscher "
           "Schnee Eis Luftqualität Überwachung Probenahme Tiefe Oberfläche Strömung Gezeiten "
           "Welle Vegetation Grünland Ernte Frühjahr Sommer Herbst Winter Bucht Golf"),
}
PLACES = ("Bay of Biscay", "Black Forest", "Baltic Sea", "North Sea", "Alps", "Pyrenees", "Svalbard",
          "Rhine valley", "Loire estuary", "Lake Constance", "Iberian shelf", "Celtic Sea")
NAMES = ("Ana Lima", "Jonas Weber", "Chiara Rossi", "Yann Le Goff", "Marta Nowak", "Sven Olsen",
         "Lea Martin", "Karim Haddad", "Ines Duarte", "Tomasz Zielinski")
#: The queries timed: common, middling and rare words, several words, another language, a place.
QUERIES = ("temperature", "salinity profiles", "soil carbon forest", "ozone", "glacier ice",
           "température", "Niederschlag", "Bay of Biscay", "mooring buoy", "Ana Lima", "zorvalik",
           "plankton abundance coastal", "isotope", "humidité sol", "census habitat species")


def vocabulary(rng: random.Random, size: int = 20_000) -> list[str]:
    """The domain words first (the most frequent under Zipf), then made-up words."""
    syllables = ["ka", "lo", "mi", "ne", "ru", "ta", "vel", "zor", "an", "is", "ber", "dun", "fi", "gor", "hal", "ik"]
    words = DOMAIN["en"].split()
    while len(words) < size:
        words.append("".join(rng.choice(syllables) for _ in range(rng.randint(2, 4))))
    return words


def zipf_picker(rng: random.Random, words: list[str]):  # noqa: ANN201 - a closure
    weights = [1 / (rank + 1) for rank in range(len(words))]
    cumulative = []
    total = 0.0
    for w in weights:
        total += w
        cumulative.append(total)

    def pick(k: int) -> list[str]:
        return rng.choices(words, cum_weights=cumulative, k=k)

    return pick


def record(rng: random.Random, pick, i: int) -> dict:  # noqa: ANN001
    def sentence(k: int) -> str:
        return " ".join(pick(k)).capitalize()

    def local(language: str, k: int) -> str:
        return " ".join(rng.choices(DOMAIN[language].split(), k=k)).capitalize()

    title = {"en": sentence(rng.randint(6, 12))}
    abstract = {"en": " ".join(sentence(rng.randint(8, 16)) + "." for _ in range(rng.randint(3, 5)))}
    if i % 3 == 0:
        title["fr"], abstract["fr"] = local("fr", 9), local("fr", 45)
    if i % 6 == 0:
        title["de"], abstract["de"] = local("de", 8), local("de", 40)
    person = rng.choice(NAMES)
    return {
        "provider": {"name": person, "organisation": f"Institute {i % 300}"},
        "metadata": {
            "project_descriptive": {"title": title, "abstract": abstract, "keywords": pick(5),
                                    "authors": [{"name": rng.choice(NAMES)}]},
            "dataset_administrative": {"contact": {"name": person}},
            "dataset_structural": {"fields": [{"name": f"{w}_{j}"} for j, w in enumerate(pick(5))]},
            "experiment_contextual": {"spatial_coverage": {"place": rng.choice(PLACES)}},
        },
    }


def build(d: docket.api.Docket, n: int, seed: int = 13) -> float:
    rng = random.Random(seed)
    pick = zipf_picker(rng, vocabulary(rng))
    start = time.perf_counter()
    batch = 2000
    for first in range(0, n, batch):
        with d.store.transaction() as conn:
            for i in range(first, min(first + batch, n)):
                index_record(conn, "sqlite", f"bench-{i:06d}", 1 + i % 3, record(rng, pick, i))
        print(f"\r  indexed {min(first + batch, n):,} of {n:,}", end="", file=sys.stderr, flush=True)
    print(file=sys.stderr)
    with d.store.transaction() as conn:  # as an operator would after a bulk load
        conn.exec_driver_sql("INSERT INTO search_index(search_index) VALUES ('optimize')")
    return time.perf_counter() - start


def bare(d: docket.api.Docket, text: str, limit: int = 20) -> list:
    """The reference: FTS5's own ranking of the same MATCH expression, nothing else."""
    query = _Sqlite().query(query_words(text))
    with d.store.connect() as conn:
        return conn.exec_driver_sql(
            "SELECT rowid, request_id, revision, field, title FROM search_index "
            "WHERE search_index MATCH ? ORDER BY rank LIMIT ?", (query, limit)).all()


def p(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=100_000, help="indexed requests (default 100,000)")
    parser.add_argument("--rounds", type=int, default=5, help="alternating rounds of every query (default 5)")
    parser.add_argument("--keep", type=Path, help="build the instance in DIR (kept) instead of a temporary folder")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="docket-search-") as tmp:
        folder = (args.keep or Path(tmp)) / "inst"
        docket.init(folder, project="bench", base_uri="https://data.example.org/bench/").close()
        with docket.open(folder) as d:
            took = build(d, args.requests)
            with d.store.connect() as conn:
                rows = conn.exec_driver_sql("SELECT count(*) FROM search_index").scalar()
            print(f"indexed {args.requests:,} requests ({rows:,} rows) in {took:.1f} s "
                  f"({args.requests / took:,.0f} requests/s)")
            for text in QUERIES:  # warm the page cache and the statement caches alike
                search(d, text), bare(d, text)
            ours: dict[str, list[float]] = {t: [] for t in QUERIES}
            theirs: dict[str, list[float]] = {t: [] for t in QUERIES}
            hits: dict[str, int] = {}
            for _ in range(args.rounds):
                for text in QUERIES:
                    start = time.perf_counter()
                    hits[text] = len(search(d, text))
                    ours[text].append(time.perf_counter() - start)
                    start = time.perf_counter()
                    bare(d, text)
                    theirs[text].append(time.perf_counter() - start)
            print(f"\n{'query':<30} {'hits':>4} {'docket p50':>11} {'bare p50':>9} {'ratio':>6}")
            for text in QUERIES:
                a, b = statistics.median(ours[text]), statistics.median(theirs[text])
                print(f"{text:<30} {hits[text]:>4} {a * 1000:>9.2f}ms {b * 1000:>7.2f}ms {a / b:>6.2f}")
            all_ours = [t for ts in ours.values() for t in ts]
            all_theirs = [t for ts in theirs.values() for t in ts]
            p95_ours, p95_theirs = p(all_ours, 0.95), p(all_theirs, 0.95)
            print(f"\ndocket.search.search: p50 {p(all_ours, 0.5) * 1000:.2f} ms, p95 {p95_ours * 1000:.2f} ms")
            print(f"bare FTS5 MATCH:      p50 {p(all_theirs, 0.5) * 1000:.2f} ms, p95 {p95_theirs * 1000:.2f} ms")
            ratio = p95_ours / p95_theirs
            print(f"p95 ratio docket / bare: {ratio:.2f} (target <= 2) {'OK' if ratio <= 2 else 'OVER'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
