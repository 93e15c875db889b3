"""Submit throughput on SQLite: docket's submit vs a bare SQLAlchemy insert of the same JSON.

    .venv/bin/python benchmarks/submit_throughput.py [--n 10000] [--rounds 10] [--model]
    .venv/bin/python benchmarks/submit_throughput.py --profile 2000

Prints requests per second, the cost of the last 100 submits over the first 100 (target <= 1.5:
appending is O(1) in the size of the store) and docket's throughput as a ratio of a bare insert
(target >= 0.25). Both sides use the same SQLite settings (WAL, synchronous=FULL: an accepted
request survives a power cut) and one transaction per request.

The two sides run in alternating rounds (``--rounds``), so that on a shared machine both see the
same load; the ratio is given overall and per round (median and range). ``--model`` adds docket
with PROV expanded through the ``prov`` model (the compiled templates off) to the same rounds.
``--profile N`` runs N submits under cProfile and prints where the time goes.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import pstats
import statistics
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import JSON, Column, Integer, MetaData, String, Table, create_engine, event, insert

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

import docket  # noqa: E402
from docket.store import _on_sqlite_connect  # noqa: E402


class Bare:
    """The reference: one SQLAlchemy insert of the request's JSON per transaction."""

    def __init__(self, folder: Path) -> None:
        self.engine = create_engine(f"sqlite:///{folder / 'bare.sqlite'}")
        event.listen(self.engine, "connect", _on_sqlite_connect)
        meta = MetaData()
        self.table = Table("docs", meta, Column("id", Integer, primary_key=True), Column("key", String(48)),
                           Column("document", JSON))
        meta.create_all(self.engine)
        self.i = 0

    def run(self, doc: dict, n: int) -> float:
        start = time.perf_counter()
        for _ in range(n):
            with self.engine.begin() as conn:
                conn.execute(insert(self.table).values(key=f"bench-{self.i:05d}", document=doc))
            self.i += 1
        return time.perf_counter() - start


def submits(d: docket.api.Docket, doc: dict, n: int, times: list[float]) -> float:
    start = time.perf_counter()
    for _ in range(n):
        t0 = time.perf_counter()
        d.submit(doc)
        times.append(time.perf_counter() - t0)
    return time.perf_counter() - start


def profile(folder: Path, doc: dict, n: int) -> None:
    d = docket.init(folder / "profiled", project="prof")
    d.submit(doc)
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(n):
        d.submit(doc)
    profiler.disable()
    d.close()
    stats = pstats.Stats(profiler).strip_dirs().sort_stats("cumulative")
    print(f"cProfile of {n} submits (cumulative; times include the profiler's own overhead)")
    stats.print_stats(30)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10_000, help="submits (and bare inserts) in all")
    parser.add_argument("--rounds", type=int, default=10, help="alternating rounds of each side")
    parser.add_argument("--model", action="store_true", help="also time docket with the prov model path")
    parser.add_argument("--profile", type=int, metavar="N", help="profile N submits instead")
    args = parser.parse_args()
    source = ROOT / "examples" / "requests" / "weather-table-schema.json"
    doc = json.loads(source.read_text())
    doc["files"][0]["location"] = "https://data.example.org/incoming/alpine_weather_2022.csv"
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        if args.profile:
            profile(folder, doc, args.profile)
            return 0
        d = docket.init(folder / "inst", project="bench")
        d.submit(doc)  # warm caches (validators, templates)
        model = None
        if args.model:
            model = docket.init(folder / "model", project="model")
            model.recorder.compiled = False
            model.submit(doc)
        bare = Bare(folder)
        bare.run(doc, 1)
        per_round = max(1, args.n // args.rounds)
        times: list[float] = []
        model_times: list[float] = []
        rounds = []
        for _ in range(args.rounds):
            t_docket = submits(d, doc, per_round, times)
            t_model = submits(model, doc, per_round, model_times) if model else None
            t_bare = bare.run(doc, per_round)
            rounds.append((t_docket, t_model, t_bare))
        d.close()
        if model:
            model.close()
        bare.engine.dispose()
    n = per_round * args.rounds
    total = sum(r[0] for r in rounds)
    bare_total = sum(r[2] for r in rounds)
    ratios = [r[2] / r[0] for r in rounds]
    growth = statistics.mean(times[-100:]) / statistics.mean(times[:100])
    ratio = bare_total / total

    def spread(values: list[float]) -> str:
        return f"median {statistics.median(values):.2f}, range {min(values):.2f} to {max(values):.2f}"

    print(f"requests submitted        {n} in {args.rounds} rounds, alternating with the bare inserts")
    print(f"docket submit             {n / total:10.1f} requests/s  ({1000 * total / n:.2f} ms each)")
    if model:
        model_total = sum(r[1] for r in rounds)
        print(f"  with the prov model     {n / model_total:10.1f} requests/s  ({1000 * model_total / n:.2f} ms each)"
              f"  docket/bare {bare_total / model_total:.2f} ({spread([r[2] / r[1] for r in rounds])})")
    print(f"bare SQLAlchemy insert    {n / bare_total:10.1f} rows/s      ({1000 * bare_total / n:.2f} ms each)")
    print(f"last 100 / first 100      {growth:10.2f}   (target <= 1.5)  {'ok' if growth <= 1.5 else 'MISSED'}")
    print(f"docket / bare throughput  {ratio:10.2f}   (target >= 0.25) {'ok' if ratio >= 0.25 else 'MISSED'}"
          f"  per round: {spread(ratios)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
