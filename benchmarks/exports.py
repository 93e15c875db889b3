"""Export N requests in all five metadata formats, each validated: requests per second (issue 13).

Run: ``python benchmarks/exports.py [--requests 1000] [--xsd-dir DIR] [--keep DIR]``. A new
instance (SQLite, in a temporary folder) gets N requests, the example requests in turn with
their titles numbered; then every request is read from the store and exported as ISO 19139,
DataCite, EML, schema.org and DCAT, each validated (the XML formats against the official XSD
sets in ``--xsd-dir``, default ``shared/xsd`` beside the repository; schema.org against docket's
JSON Schema; DCAT against its SHACL shapes with pyshacl). The first export of each format, which
compiles its schema, is timed apart from the run. Prints seconds per format, and requests
(all five formats) per second.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

import docket
from docket.exporters import export_record, names, render, settings_of

ROOT = Path(__file__).resolve().parents[1]
FORMATS = ["iso19139", "datacite", "eml", "schemaorg", "dcat"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--xsd-dir", type=Path, default=ROOT.parent / "shared" / "xsd")
    parser.add_argument("--keep", type=Path, help="build the instance here and keep it")
    args = parser.parse_args()
    assert set(FORMATS) <= set(names())
    examples = [json.loads(p.read_text()) for p in sorted((ROOT / "examples" / "requests").glob("*.json"))]
    with tempfile.TemporaryDirectory() as tmp:
        folder = args.keep or Path(tmp) / "inst"
        d = docket.init(folder, project="ocean", base_uri="https://data.example.org/ocean/",
                        local_roots=["inbox", str(ROOT / "examples")])
        d.close()
        toml = '\n[publication]\npublisher = "Benchmark Data Centre"\n'
        if args.xsd_dir.is_dir():
            toml += f'xsd_dir = "{args.xsd_dir.resolve().as_posix()}"\n'
        else:
            print(f"no XSD sets at {args.xsd_dir}: the XML exports are NOT validated")
        toml += '\n[datacite]\nprefix = "10.5072"\n'
        with (folder / "docket.toml").open("a", encoding="utf-8") as fh:
            fh.write(toml)
        d = docket.open(folder)
        start = time.perf_counter()
        ids = []
        for i in range(args.requests):
            doc = json.loads(json.dumps(examples[i % len(examples)]))
            desc = doc["metadata"]["project_descriptive"]
            if isinstance(desc["title"], dict):
                desc["title"] = {k: f"{v} ({i})" for k, v in desc["title"].items()}
            else:
                desc["title"] = f"{desc['title']} ({i})"
            for f in doc["files"]:
                f["location"] = str((ROOT / "examples" / "requests" / f["location"]).resolve())
            ids.append(d.submit(doc)["id"])
        print(f"submitted {len(ids)} requests in {time.perf_counter() - start:.1f} s (not counted)")

        start = time.perf_counter()
        for fmt in FORMATS:
            result = render(d, ids[0], fmt)
            print(f"first {fmt:<9} (compiles its schema): {time.perf_counter() - start:6.3f} s"
                  + ("" if result.validated else f"  [{result.warnings[0]}]"))
            start = time.perf_counter()

        # as publication does: read each revision once, then write every format from it
        settings = settings_of(d)
        per_format = dict.fromkeys(FORMATS, 0.0)
        size = dict.fromkeys(FORMATS, 0)
        unvalidated = 0
        reading = 0.0
        run_start, cpu_start = time.perf_counter(), time.process_time()
        for request_id in ids:
            t = time.perf_counter()
            record = d.get(request_id)
            reading += time.perf_counter() - t
            for fmt in FORMATS:
                t = time.perf_counter()
                result = export_record(record, fmt, settings)
                per_format[fmt] += time.perf_counter() - t
                size[fmt] += len(result.data)
                unvalidated += not result.validated
        total, cpu = time.perf_counter() - run_start, time.process_time() - cpu_start
        d.close()
    print(f"{'format':<10} {'s total':>8} {'ms/request':>11} {'KiB avg':>8}")
    print(f"{'(read)':<10} {reading:8.2f} {1000 * reading / len(ids):11.2f}")
    for fmt in FORMATS:
        print(f"{fmt:<10} {per_format[fmt]:8.2f} {1000 * per_format[fmt] / len(ids):11.2f} "
              f"{size[fmt] / len(ids) / 1024:8.1f}")
    print(f"{len(ids)} requests x {len(FORMATS)} formats (each read from the store once, built, validated) "
          f"in {total:.1f} s: {len(ids) / total:.1f} requests/s"
          + (f"; {unvalidated} exports NOT validated" if unvalidated else "; every export validated"))
    # on a shared machine the wall clock counts other processes' work too
    print(f"process CPU time {cpu:.1f} s: {len(ids) / cpu:.1f} requests per CPU second"
          f" (load average {os.getloadavg()[0]:.1f})")


if __name__ == "__main__":
    main()
