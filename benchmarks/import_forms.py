"""Import of offline forms: forms per second, through ``docket import`` of one folder.

    .venv/bin/python benchmarks/import_forms.py [--n 1000] [--keep]

Generates N filled forms from the example requests with varied content (titles, keywords,
coverage, files; half sealed as the notebook saves them, half filled by hand, in three
languages), writes them to a folder, and imports the folder with the CLI entry point in this
process. Reports: forms per second for the whole run (read, verify, validate, store), the time
of the check phase alone, and a second import of the same folder (all already imported: the
idempotency check). SQLite with the store's own settings (WAL, synchronous=FULL: each stored
form is one fsync'd transaction), in a temporary folder.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

import docket  # noqa: E402
from docket.cli import main  # noqa: E402
from docket.forms.definition import load_form  # noqa: E402
from docket.offline.envelope import seal  # noqa: E402
from docket.offline.export import export_form  # noqa: E402
from docket.offline.importer import Importer  # noqa: E402
from docket.offline.sources import walk_paths  # noqa: E402

WORDS = ["salinity", "temperature", "soil", "carbon", "nitrate", "wind", "pressure", "humidity", "chlorophyll", "turbidity", "oxygen", "pH", "sediment", "plankton", "glacier", "snow", "river", "lake", "forest", "grassland"]


def forms(n: int, seed: int = 7) -> list[dict]:
    rng = random.Random(seed)
    form = load_form("ingest-request")
    blanks = {lang: json.loads(export_form(form, "json", lang)) for lang in ("en", "fr", "de")}
    requests = [json.loads(p.read_text(encoding="utf-8")) for p in sorted((ROOT / "examples" / "requests").glob("*.json"))]
    out = []
    for i in range(n):
        data = json.loads(json.dumps(requests[i % len(requests)]))
        pd = data["metadata"]["project_descriptive"]
        words = rng.sample(WORDS, 4)
        title = f"{' '.join(words).capitalize()} survey {i}"
        pd["title"] = {"en": title, "fr": f"Campagne {i}", "de": f"Kampagne {i}"} if i % 3 == 0 else title
        pd["keywords"] = words
        year = 2000 + rng.randrange(24)
        data["metadata"].setdefault("experiment_contextual", {})["temporal_coverage"] = {
            "start": f"{year}-0{rng.randrange(1, 5)}-01", "end": f"{year}-0{rng.randrange(6, 10)}-28"}
        data["files"] = [
            {"name": f"part_{i}_{k}.csv", "location": f"https://data.example.org/incoming/{i}/part_{k}.csv",
             "size": rng.randrange(1, 10**9), "media_type": "text/csv"}
            for k in range(1 + rng.randrange(4))
        ]
        env = {**blanks[("en", "fr", "de")[i % 3]], "data": data}
        out.append(seal(env) if i % 2 == 0 else env)
    return out


def run_import(instance: Path, folder: Path) -> tuple[float, dict]:
    out = io.StringIO()
    start = time.perf_counter()
    with contextlib.redirect_stdout(out):
        code = main(["--instance", str(instance), "import", str(folder), "--json"])
    elapsed = time.perf_counter() - start
    report = json.loads(out.getvalue())
    if code != 0:
        bad = [i for i in report["items"] if i["status"] != "imported"][:3]
        raise SystemExit(f"import failed (exit {code}): {bad}")
    return elapsed, report


def main_(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    args = parser.parse_args(argv)
    tmp = Path(tempfile.mkdtemp(prefix="docket-import-bench-"))
    try:
        instance = tmp / "inst"
        docket.init(instance, project="bench").close()
        folder = tmp / "forms"
        folder.mkdir()
        for i, env in enumerate(forms(args.n)):
            (folder / f"form-{i:05d}.json").write_text(json.dumps(env, indent=2, ensure_ascii=False), encoding="utf-8")
        size = sum(p.stat().st_size for p in folder.iterdir())

        with docket.open(instance) as d:  # the check phase alone (read, parse, verify, validate)
            start = time.perf_counter()
            importer = Importer(d)
            checked = [importer.check(item) for item in walk_paths([str(folder)], 1 << 30)]
            check_s = time.perf_counter() - start
        assert all(o.status == "ready" for o in checked), [o for o in checked if o.status != "ready"][:2]

        first_s, first = run_import(instance, folder)
        again_s, again = run_import(instance, folder)
        assert first["imported"] == args.n and again["already_imported"] == args.n

        print(f"offline forms: {args.n} ({size / args.n / 1024:.1f} KiB each, half sealed, half filled by hand)")
        print(f"check only (read, verify digest, validate): {args.n / check_s:8.1f} forms/s  ({check_s:.2f} s)")
        print(f"docket import (check + store, one transaction each): {args.n / first_s:8.1f} forms/s  ({first_s:.2f} s)")
        print(f"docket import again (all already imported): {args.n / again_s:8.1f} forms/s  ({again_s:.2f} s)")
        print(json.dumps({"n": args.n, "check_forms_per_s": round(args.n / check_s, 1),
                          "import_forms_per_s": round(args.n / first_s, 1),
                          "reimport_forms_per_s": round(args.n / again_s, 1)}))
    finally:
        if args.keep:
            print(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main_()
