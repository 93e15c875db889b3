"""Submit throughput on SQLite: docket's submit vs a bare SQLAlchemy insert of the same JSON.

    .venv/bin/python benchmarks/submit_throughput.py [--n 10000]

Prints requests per second, the cost of the last 100 submits over the first 100 (target <= 1.5:
appending is O(1) in the size of the store) and docket's throughput as a ratio of a bare insert
(target >= 0.25). Both sides use the same SQLite settings (WAL, synchronous=FULL: an accepted
request survives a power cut) and one transaction per request.
"""

from __future__ import annotations

import argparse
import json
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


def bare_insert(folder: Path, doc: dict, n: int) -> float:
    engine = create_engine(f"sqlite:///{folder / 'bare.sqlite'}")
    event.listen(engine, "connect", _on_sqlite_connect)
    meta = MetaData()
    table = Table("docs", meta, Column("id", Integer, primary_key=True), Column("key", String(48)),
                  Column("document", JSON))
    meta.create_all(engine)
    start = time.perf_counter()
    for i in range(n):
        with engine.begin() as conn:
            conn.execute(insert(table).values(key=f"bench-{i:05d}", document=doc))
    elapsed = time.perf_counter() - start
    engine.dispose()
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10_000)
    args = parser.parse_args()
    source = ROOT / "examples" / "requests" / "weather-table-schema.json"
    doc = json.loads(source.read_text())
    doc["files"][0]["location"] = "https://data.example.org/incoming/alpine_weather_2022.csv"
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        d = docket.init(folder / "inst", project="bench")
        d.submit(doc)  # warm caches (validators, templates)
        times = []
        start = time.perf_counter()
        for _ in range(args.n):
            t0 = time.perf_counter()
            d.submit(doc)
            times.append(time.perf_counter() - t0)
        total = time.perf_counter() - start
        d.close()
        bare = bare_insert(folder, doc, args.n)
    rps = args.n / total
    growth = statistics.mean(times[-100:]) / statistics.mean(times[:100])
    ratio = (args.n / total) / (args.n / bare)
    print(f"requests submitted        {args.n}")
    print(f"docket submit             {rps:10.1f} requests/s  ({1000 * total / args.n:.2f} ms each)")
    print(f"bare SQLAlchemy insert    {args.n / bare:10.1f} rows/s      ({1000 * bare / args.n:.2f} ms each)")
    print(f"last 100 / first 100      {growth:10.2f}   (target <= 1.5)  {'ok' if growth <= 1.5 else 'MISSED'}")
    print(f"docket / bare throughput  {ratio:10.2f}   (target >= 0.25) {'ok' if ratio >= 0.25 else 'MISSED'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
