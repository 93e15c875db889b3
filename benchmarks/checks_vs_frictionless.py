"""Per-value checks: docket vs ``frictionless validate`` on the same 1,000,000-row CSV and schema.

Target (issue 11): docket >= 30x faster with a foreign key on, and both find the same errors.
Usage::

    python benchmarks/checks_vs_frictionless.py [--rows 1000000] [--big-gib 2] [--no-fk]

It writes a CSV with a declared Table Schema and seeded errors (type errors, impossible dates,
out-of-range values, enum and pattern violations, missing required values, repeated primary
keys, station codes missing from the stations table) into a temporary folder, beside a
10,000-row ``stations.csv`` that the data's ``station`` column refers to by a foreign key, and a
``datapackage.json`` listing both. It runs docket (``check_package``) and ``frictionless validate
datapackage.json`` one after the other, prints both wall times and the ratio, and compares what
was found: counts per kind of error and the sets of (row, column) per kind. ``--no-fk`` runs the
single file with its schema and no foreign key instead (``check_table`` / ``validate FILE
--schema``), the measurement of issue 5.

frictionless is not a dependency of docket: on first run this script runs
``pip install frictionless`` into the current interpreter's environment (the ``bench`` extra).

``--big-gib N`` also writes an N GiB CSV (the same kind of rows; ``--error-rate`` sets the
share of rows in error) and runs ``docket check`` on it as a user does, in a process of its own,
reporting its peak RSS (target: under 200 MB for 2 GiB, with the foreign key and 5% of rows in
error) beside the same command's peak on a two-line file.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd

SCHEMA = {
    "fields": [
        {"name": "id", "type": "integer", "constraints": {"required": True}},
        {"name": "station", "type": "string", "constraints": {"required": True, "pattern": "ST[0-9]{4}"}},
        {"name": "day", "type": "date"},
        {"name": "temperature", "type": "number", "constraints": {"minimum": -60, "maximum": 60}},
        {"name": "count", "type": "integer", "constraints": {"minimum": 0}},
        {"name": "quality", "type": "string", "constraints": {"enum": ["good", "suspect", "bad"]}},
        {"name": "rain", "type": "boolean"},
        {"name": "note", "type": "string"},
    ],
    "primaryKey": "id",
}
#: The stations table the data refer to: 9,990 codes the data use and 10 that they never do.
STATIONS = 10_000
USED_STATIONS = 9_990
STATIONS_SCHEMA = {
    "fields": [
        {"name": "code", "type": "string", "constraints": {"required": True}},
        {"name": "name", "type": "string"},
    ],
    "primaryKey": "code",
}
FOREIGN_KEY = {"fields": "station", "reference": {"resource": "stations", "fields": "code"}}

# docket check id -> frictionless error type / constraint name
KINDS = ("table.type", "table.minimum", "table.maximum", "table.enum", "table.pattern",
         "table.required", "table.primary-key", "table.foreign-key")


#: Kinds of seeded error, each given to the same number of rows (a row gets at most one).
SEEDED_KINDS = 10


def make_frame(rows: int, start: int = 0, seed: int = 5, error_rate: float | None = None,
               errors: bool = True) -> tuple[pd.DataFrame, dict]:
    """A block of clean rows plus seeded errors; returns the frame and {kind: {(row, column)}}.

    By default 1 row in 10,000 gets each kind of error (0.1% of rows in error); ``error_rate``
    sets the fraction of rows in error instead; ``errors=False`` leaves the rows clean.
    """
    rng = np.random.default_rng(seed + start)
    ids = np.arange(start + 1, start + rows + 1)
    days = pd.Timestamp("2000-01-01") + pd.to_timedelta(rng.integers(0, 9000, rows), unit="D")
    df = pd.DataFrame({
        "id": ids.astype(str),
        "station": np.char.add("ST", np.char.zfill(rng.integers(0, USED_STATIONS, rows).astype(str), 4)),
        "day": days.strftime("%Y-%m-%d"),
        "temperature": np.round(rng.normal(10, 8, rows).clip(-50, 50), 2).astype(str),
        "count": rng.integers(0, 500, rows).astype(str),
        "quality": rng.choice(["good", "suspect", "bad"], rows),
        "rain": rng.choice(["true", "false"], rows),
        "note": rng.choice(["", "calm", "windy day", "sensor cleaned"], rows),
    })
    seeded: dict[str, set] = {k: set() for k in KINDS}
    if not errors:
        return df, seeded
    per_kind = max(1, rows // 10_000) if error_rate is None else max(
        1, round(rows * error_rate / SEEDED_KINDS))
    used: set[int] = set()

    def pick(n: int) -> np.ndarray:
        out = []
        while len(out) < n:
            r = int(rng.integers(1, rows))  # never the first row: keys below repeat earlier ones
            if r not in used:
                used.add(r)
                out.append(r)
        return np.array(out)

    def seed_values(kind, column, values, n):
        idx = pick(n)
        df.loc[idx, column] = rng.choice(values, n)
        for i in idx:
            seeded[kind].add((start + i + 1, column))

    seed_values("table.type", "temperature", ["abc", "1,5", "12..3"], per_kind)
    seed_values("table.type", "day", ["2021-02-30", "2021/03/01", "31-12-2020"], per_kind)
    seed_values("table.type", "rain", ["yes", "N"], per_kind)
    seed_values("table.maximum", "temperature", ["75.5", "99"], per_kind)
    seed_values("table.minimum", "count", ["-1", "-20"], per_kind)
    seed_values("table.enum", "quality", ["excellent", "Good"], per_kind)
    seed_values("table.pattern", "station", ["ST12", "st0001", "XX0001"], per_kind)
    seed_values("table.foreign-key", "station", ["ST9995", "ST9999"], per_kind)
    # a pattern violation is no station code either: the foreign key fails there too
    seeded["table.foreign-key"] |= seeded["table.pattern"]
    idx = pick(per_kind)
    df.loc[idx, "station"] = ""
    seeded["table.required"].update((start + i + 1, "station") for i in idx)
    idx = pick(per_kind)
    df.loc[idx, "id"] = df.loc[idx - 1, "id"].to_numpy()  # repeat the previous row's key
    seeded["table.primary-key"].update((start + i + 1, "id") for i in idx)
    return df, seeded


#: A key of the data to the data's own ids (``--self-key``): every id is a key to remember.
SELF_KEY = {"fields": "id", "reference": {"resource": "", "fields": "id"}}


def write_package(tmp: Path, data: Path, self_key: bool = False) -> Path:
    """The stations table and a datapackage.json listing it and ``data`` (with the foreign key;
    with ``self_key`` also a key of the data to itself)."""
    codes = [f"ST{i:04d}" for i in range(USED_STATIONS)]
    codes += [f"SX{i:04d}" for i in range(STATIONS - USED_STATIONS)]
    stations = tmp / "stations.csv"
    stations.write_text("code,name\n" + "".join(f"{c},station {c}\n" for c in codes))
    descriptor = {
        "name": "benchmark",
        "resources": [
            {"name": "data", "path": data.name, "schema": {
                **SCHEMA, "foreignKeys": [FOREIGN_KEY] + ([SELF_KEY] if self_key else [])}},
            {"name": "stations", "path": stations.name, "schema": STATIONS_SCHEMA},
        ],
    }
    out = tmp / "datapackage.json"
    out.write_text(json.dumps(descriptor))
    return out


def run_docket(path: Path, schema_path: Path | None) -> tuple[float, dict]:
    """docket on the package (``schema_path`` None) or on the single file with its schema."""
    from docket.checks import check_table
    from docket.checks.package import check_package

    t0 = time.perf_counter()
    if schema_path is None:
        report = check_package(path, sample_size=10**7)
    else:
        report = check_table(path, schema_path, sample_size=10**7)
    elapsed = time.perf_counter() - t0
    found: dict[str, set] = {k: set() for k in KINDS}
    for c in report.checks:
        if c.id in found and c.file in ("data", "data.csv"):
            found[c.id] = {(loc["row"], loc["column"]) for loc in c.locations}
            assert c.count == len(found[c.id]), (c.id, c.count, len(found[c.id]))
    return elapsed, found


def ensure_frictionless() -> str:
    exe = Path(sys.executable).with_name("frictionless")
    if not exe.exists() and importlib.util.find_spec("frictionless") is None:
        print("installing frictionless into this environment (pip install frictionless) ...")
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", "frictionless"], check=True)
    return str(exe) if exe.exists() else shutil.which("frictionless") or "frictionless"


def run_frictionless(exe: str, path: Path, schema_path: Path | None) -> tuple[float, dict, dict]:
    """frictionless on the package (``schema_path`` None) or on the file with its schema."""
    args = [path.name] + (["--schema", schema_path.name] if schema_path is not None else [])
    t0 = time.perf_counter()
    proc = subprocess.run(
        [exe, "validate", *args, "--json", "--limit-errors", "10000000"],
        capture_output=True, text=True, cwd=path.parent,  # frictionless refuses absolute paths
    )
    elapsed = time.perf_counter() - t0
    data = json.loads(proc.stdout)
    found: dict[str, set] = {k: set() for k in KINDS}
    other: Counter = Counter()
    for task in data.get("tasks", []):
        for err in task.get("errors", []):
            kind = err.get("type")
            where = (err.get("rowNumber", 0) - 1, err.get("fieldName"))
            note = err.get("note", "")
            if kind == "type-error":
                found["table.type"].add(where)
            elif kind == "constraint-error":
                for name in ("minimum", "maximum", "enum", "pattern", "required"):
                    if f'"{name}"' in note:
                        found[f"table.{name}"].add(where)
                        break
                else:
                    other[f"constraint: {note}"] += 1
            elif kind == "primary-key":
                found["table.primary-key"].add((err.get("rowNumber", 0) - 1, "id"))
            elif kind == "foreign-key":
                found["table.foreign-key"].add(
                    (err.get("rowNumber", 0) - 1, ",".join(err.get("fieldNames") or [])))
            else:
                other[f"{kind}: {err.get('note', '')[:200]}"] += 1
    return elapsed, found, dict(other)


def pyarrow_read(path: Path) -> float:
    """Seconds for pyarrow to read ``path`` into the schema's types and nothing else (threads on,
    as pyarrow reads by default: the physical limit of this machine for parsing that CSV)."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    types = {"integer": pa.int64(), "number": pa.float64(), "date": pa.date32(),
             "boolean": pa.bool_(), "string": pa.string()}
    convert = pacsv.ConvertOptions(
        column_types={f["name"]: types[f["type"]] for f in SCHEMA["fields"]},
        true_values=["true"], false_values=["false"], strings_can_be_null=False,
    )
    t0 = time.perf_counter()
    table = pacsv.read_csv(path, convert_options=convert)
    elapsed = time.perf_counter() - t0
    assert table.num_rows > 0
    return elapsed


def against_pyarrow(rows: int, tmp: Path, fk: bool) -> None:
    """docket's whole check against pyarrow's typed read of the same file (target: <= 2.5x).

    pyarrow stops at the first value that is not of its column's type, so both read a copy of
    the rows without the seeded errors (the same generator, the same size); docket checks it as
    in the main run (the package with its foreign key, or the file with its schema).
    """
    clean_dir = tmp / "clean"
    clean_dir.mkdir()
    path = clean_dir / "data.csv"
    make_frame(rows, errors=False)[0].to_csv(path, index=False)
    schema_path = clean_dir / "schema.json"
    schema_path.write_text(json.dumps(SCHEMA))
    subject, schema_arg = (write_package(clean_dir, path), None) if fk else (path, schema_path)
    pyarrow_read(path)  # once to warm the page cache and pyarrow's kernels, as docket's run was
    ratios = []
    for _ in range(3):
        p_time = pyarrow_read(path)
        d_time, found = run_docket(subject, schema_arg)
        assert not any(found.values()), "docket found errors in the clean copy"
        ratios.append(d_time / p_time)
        print(f"clean copy: docket {d_time:.2f} s, pyarrow typed read {p_time:.2f} s: "
              f"{d_time / p_time:.1f}x")
    ratio = sorted(ratios)[1]
    print(f"docket / pyarrow (median of 3): {ratio:.1f}x (target <= 2.5x: "
          f"{'met' if ratio <= 2.5 else 'NOT met'})")


def _command_peak(args: list[str]) -> dict:
    """Run ``docket check ARGS`` as the console script does (a process of its own), returning
    its seconds, exit code and peak RSS (VmHWM: this process's own peak; getrusage's ru_maxrss
    of a child would include the RSS of the parent at fork time, which Linux carries across
    exec)."""
    code = (
        "import json, sys, time\n"
        "def hwm():\n"
        "    for line in open('/proc/self/status'):\n"
        "        if line.startswith('VmHWM:'):\n"
        "            return int(line.split()[1]) / 1024\n"
        f"sys.argv = ['docket', 'check'] + {args!r}\n"
        "from docket.cli import main\n"
        "t = time.perf_counter()\n"
        "code = main()\n"
        "print(json.dumps({'seconds': time.perf_counter() - t, 'exit': code,"
        " 'peak_rss_mb': hwm()}), file=sys.stderr)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    return json.loads(out.stderr.strip().splitlines()[-1])


def big_rss(gib: float, tmp: Path, schema_path: Path, fk: bool, error_rate: float | None,
            self_key: bool = False) -> None:
    import pyarrow as pa
    import pyarrow.csv as pacsv

    path = tmp / "big.csv"
    target = int(gib * (1 << 30))
    t0 = time.perf_counter()
    block = 500_000
    df, _ = make_frame(block, error_rate=error_rate)  # one block with errors, written with new ids
    table = pa.Table.from_pandas(df, preserve_index=False)
    start = 0
    with pa.OSFile(str(path), "wb") as sink:
        while sink.tell() < target:
            ids = pa.array((np.arange(start + 1, start + block + 1)).astype(str))
            part = table.set_column(0, "id", ids)
            opts = pacsv.WriteOptions(include_header=start == 0, quoting_style="needed")
            pacsv.write_csv(part, sink, write_options=opts)
            start += block
    size = path.stat().st_size
    print(f"\nwrote {size / (1 << 30):.2f} GiB ({start:,} rows) in {time.perf_counter() - t0:.0f} s")
    subject = write_package(tmp, path, self_key) if fk else path
    args = [str(subject)] + ([] if fk else ["--schema", str(schema_path)])
    report = tmp / "big-report.json"
    figures = _command_peak(args + ["--output", str(report)])
    summary = json.loads(report.read_text())["summary"]
    tiny = tmp / "tiny.csv"
    tiny.write_text("id\n1\n")
    floor = _command_peak([str(tiny), "--schema", str(schema_path), "--output", str(tmp / "t.json")])
    rate = f"{error_rate:.1%}" if error_rate is not None else "0.1%"
    keys = (" with the foreign key" + (" and a key to itself" if self_key else "")) if fk else ""
    print(f"docket check on {size / (1 << 30):.2f} GiB{keys}, "
          f"{rate} of rows in error: {figures['seconds']:.1f} s, exit {figures['exit']}, "
          f"{summary['rows']:,} rows, {summary['errors']:,} errors, peak RSS "
          f"{figures['peak_rss_mb']:.0f} MB (the same command on a two-line file: "
          f"{floor['peak_rss_mb']:.0f} MB); target < 200 MB: "
          f"{'met' if figures['peak_rss_mb'] < 200 else 'NOT met'}")
    path.unlink()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--big-gib", type=float, default=0.0,
                        help="also measure peak RSS on a CSV of this many GiB (e.g. 2)")
    parser.add_argument("--skip-frictionless", action="store_true")
    parser.add_argument("--no-fk", action="store_true",
                        help="check the single file with its schema, without the foreign key")
    parser.add_argument("--error-rate", type=float, default=None,
                        help="fraction of the big file's rows in error (e.g. 0.05; default 0.001)")
    parser.add_argument("--self-key", action="store_true",
                        help="the big file's package also has a key of the data to its own ids")
    parser.add_argument("--skip-pyarrow", action="store_true",
                        help="do not measure docket against pyarrow's typed read")
    args = parser.parse_args()
    fk = not args.no_fk
    target = 30 if fk else 10
    with tempfile.TemporaryDirectory(prefix="docket-bench-") as tmpdir:
        tmp = Path(tmpdir)
        schema_path = tmp / "schema.json"
        schema_path.write_text(json.dumps(SCHEMA))
        path = tmp / "data.csv"
        t0 = time.perf_counter()
        df, seeded = make_frame(args.rows)
        df.to_csv(path, index=False)
        del df
        if not fk:
            seeded["table.foreign-key"] = set()
        subject, schema_arg = (write_package(tmp, path), None) if fk else (path, schema_path)
        print(f"wrote {args.rows:,} rows ({path.stat().st_size / 1e6:.0f} MB) with "
              f"{sum(len(v) for v in seeded.values())} seeded errors in "
              f"{time.perf_counter() - t0:.1f} s"
              + (f"; foreign key station -> stations.code ({STATIONS:,} rows)" if fk else ""))
        d_time, d_found = run_docket(subject, schema_arg)
        print(f"docket {'check_package' if fk else 'check_table'}: {d_time:8.2f} s")
        for kind in KINDS:
            assert d_found[kind] == seeded[kind], f"docket missed/added {kind}"
        print("docket found exactly the seeded errors")
        if not args.skip_frictionless:
            exe = ensure_frictionless()
            f_time, f_found, other = run_frictionless(exe, subject, schema_arg)
            print(f"frictionless validate: {f_time:8.2f} s")
            print(f"ratio{' with the foreign key' if fk else ''}: docket is "
                  f"{f_time / d_time:.1f}x faster (target >= {target}x: "
                  f"{'met' if f_time / d_time >= target else 'NOT met'})")
            same = True
            print(f"{'kind':<20}{'docket':>8}{'frictionless':>14}  same rows/columns")
            for kind in KINDS:
                eq = d_found[kind] == f_found[kind]
                same &= eq
                print(f"{kind:<20}{len(d_found[kind]):>8}{len(f_found[kind]):>14}  {eq}")
            if other:
                print(f"frictionless also reported: {other}")
            print(f"same errors found: {same and not other}")
        if not args.skip_pyarrow:
            against_pyarrow(args.rows, tmp, fk)
        if args.big_gib:
            big_rss(args.big_gib, tmp, schema_path, fk, args.error_rate, args.self_key)
    return 0


if __name__ == "__main__":
    sys.exit(main())
