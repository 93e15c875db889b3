"""The bounded JSON reader against plain ``json.loads``, on requests of about 16 MB.

    .venv/bin/python benchmarks/bounded_json.py [--mb 16] [--rounds 5]

``docket.documents.parse_json`` refuses nesting, long integers, NaN/Infinity/1e400, NUL, lone
surrogates and duplicate keys before (or while) the text becomes Python objects. This prints, for
documents of the size ``[limits] max_request_bytes`` allows by default, the best of N rounds of
each reader and their ratio. Three shapes: a request whose Table Schema has many small fields
(many objects: the duplicate-key hook's worst case), one huge abstract full of escapes and
brackets (the pre-pass's worst case), and an array of numbers (the number hooks' case).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from docket.documents import parse_json  # noqa: E402


def documents(mb: int) -> dict[str, bytes]:
    size = mb * 1_000_000
    base = json.loads((ROOT / "examples" / "requests" / "ctd-multilingual.json").read_text(encoding="utf-8"))
    field = {"name": "col", "type": "number", "unit": "dbar", "description": "Pression à la sonde, ü " * 2,
             "constraints": {"minimum": -2.5, "maximum": 11000, "required": True}}
    one = len(json.dumps(field, indent=2, ensure_ascii=False).encode()) + 8
    doc = json.loads(json.dumps(base))
    doc["metadata"]["dataset_structural"]["fields"] = [
        {**field, "name": f"col{i}", "constraints": {**field["constraints"], "minimum": -i * 0.5}}
        for i in range(size // one)
    ]
    many = json.dumps(doc, indent=2, ensure_ascii=False).encode()
    fields = doc["metadata"]["dataset_structural"]["fields"]
    del fields[int(len(fields) * size / len(many)):]  # the estimate above misses the indentation
    many = json.dumps(doc, indent=2, ensure_ascii=False).encode()
    doc = json.loads(json.dumps(base))
    piece = 'Les "mesures" [CTD] \\ été {x} '
    doc["metadata"]["project_descriptive"]["abstract"] = piece * (size // len(piece.encode()))
    huge = json.dumps(doc, ensure_ascii=False).encode()
    numbers = json.dumps({"values": [i * 1.25 for i in range(size // 12)]}).encode()
    return {"many small objects": many, "one huge string": huge, "array of numbers": numbers}


def best(fn, rounds: int) -> float:  # noqa: ANN001 - a callable of no arguments
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    print(f"{'document':<22} {'MB':>6} {'json.loads':>11} {'parse_json':>11} {'ratio':>6}")
    for name, raw in documents(args.mb).items():
        assert parse_json(raw, name) == json.loads(raw)
        plain = best(lambda raw=raw: json.loads(raw.decode("utf-8")), args.rounds)
        bounded = best(lambda raw=raw, name=name: parse_json(raw, name), args.rounds)
        print(f"{name:<22} {len(raw) / 1e6:6.1f} {plain * 1000:9.0f}ms {bounded * 1000:9.0f}ms "
              f"{bounded / plain:6.2f}")


if __name__ == "__main__":
    main()
