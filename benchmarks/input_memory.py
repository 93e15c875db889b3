"""Peak memory and time of ``docket import`` (and ``docket submit``) on inputs built to hurt.

Each case runs the real command line in a child process that reports its own peak resident set
(``VmHWM``) when it exits, so the figure is that one command's and nothing else's. Inputs are
generated in a temporary folder (sparse files where the content does not matter) and deleted
after; none is ever committed. Every case runs at two sizes, to show time growing with the size
and memory not.

Cases:

* a JSON file and an e-mail file of 1.5 GB and 3 GB (sparse), over ``max_form_bytes`` (32 MiB)
  and ``max_upload_bytes`` (1 GiB): refused on their size, without being read;
* a folder of five JSON files of 20 MB and of 30 MB (under ``max_form_bytes``, not UTF-8): read
  one at a time, so the peak is one file's (twice its size: the decoding error keeps a copy),
  whether the folder holds one file or five;
* an e-mail with one big binary attachment next to a small form (100 MB and 200 MB): parsed
  under a limit above its size (the form imported), and refused on its size under a limit below;
* an e-mail of 50,000 and 100,000 tiny MIME parts: refused at ``max_mime_parts`` (1,000), and
  parsed whole with the limit raised above the count;
* ``docket submit`` of a request file of 1.5 GB and 3 GB (sparse): refused at ``max_request_bytes``.

Targets: under 200 MB peak in every case, time linear in size (or constant when refused at once).
``python benchmarks/input_memory.py [--small]`` (``--small`` divides the sizes by ten).
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT))

import docket  # noqa: E402

# The child: run docket's CLI, then print its own peak RSS (KiB on Linux) and the seconds spent
# in the command (start-up of the interpreter left out: on a shared machine it is most of the
# noise) on the last line of stderr.
CHILD = """\
import resource, sys, time
def peak_kib():
    # VmHWM, not ru_maxrss: Linux carries ru_maxrss across exec, so a child of a big parent
    # would report the parent's peak.
    try:
        for line in open("/proc/self/status"):
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
from docket.cli import main
start = time.perf_counter()
try:
    code = main(sys.argv[1:])
finally:
    sys.stderr.write("\\nMAXRSS %d %.3f\\n" % (peak_kib(),
                                              time.perf_counter() - start))
sys.exit(code)
"""
MB = 1_000_000
TARGET_MB = 200


def run(instance: Path, *args: str | Path) -> tuple[int, float, float, str]:
    """``docket --instance INSTANCE ARGS`` in a child: exit code, seconds in the command, peak MB,
    stdout."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("DOCKET_")}
    env["PYTHONPATH"] = str(ROOT / "src")
    proc = subprocess.run([sys.executable, "-c", CHILD, "--instance", str(instance), *map(str, args)],
                          capture_output=True, text=True, env=env)
    tail = [line for line in proc.stderr.splitlines() if line.startswith("MAXRSS ")]
    if not tail:
        raise SystemExit(f"the child died without reporting: {proc.stderr[-2000:]}")
    _, kib, seconds = tail[-1].split()
    return proc.returncode, float(seconds), int(kib) / 1024, proc.stdout


def sparse(path: Path, size: int, head: bytes = b"") -> Path:
    with path.open("wb") as fh:
        fh.write(head)
        fh.truncate(size)
    return path


def form_bytes(instance: Path, title: str) -> bytes:
    """A valid filled form, sealed, as a provider would attach it (a new one for each title)."""
    from docket.forms.definition import load_form
    from docket.offline.envelope import seal
    from docket.offline.export import export_form

    blank = json.loads(export_form(load_form("ingest-request", instance), "json", "en"))
    doc = json.loads((ROOT / "examples" / "requests" / "soil-several-files.json").read_text(encoding="utf-8"))
    for f in doc["files"]:
        f["location"] = f"https://data.example.org/incoming/{f['name']}"
    doc["metadata"]["project_descriptive"]["title"] = title
    return json.dumps(seal({**blank, "data": doc})).encode()


def big_mail(path: Path, attachment_bytes: int, form: bytes) -> Path:
    """A message with a small form and one big binary attachment, written in pieces (the
    generator must not hold the message either)."""
    boundary = "=====docket-bench====="
    with path.open("wb") as fh:
        fh.write((f"From: Ana <ana@example.org>\nTo: desk@example.org\nSubject: Ingest request, with data\n"
                  f"MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=\"{boundary}\"\n\n"
                  f"--{boundary}\nContent-Type: text/plain\n\nForm and data attached.\n"
                  f"--{boundary}\nContent-Type: application/json\nContent-Transfer-Encoding: base64\n"
                  f"Content-Disposition: attachment; filename=\"form.json\"\n\n").encode())
        fh.write(base64.encodebytes(form))
        fh.write((f"--{boundary}\nContent-Type: application/x-netcdf\nContent-Transfer-Encoding: base64\n"
                  f"Content-Disposition: attachment; filename=\"data.nc\"\n\n").encode())
        block = os.urandom(57 * 1024)
        line_block = base64.encodebytes(block)
        written = 0
        while written < attachment_bytes:
            fh.write(line_block)
            written += len(block)
        fh.write(f"--{boundary}--\n".encode())
    return path


def many_parts(path: Path, parts: int) -> Path:
    boundary = "b"
    with path.open("wb") as fh:
        fh.write(f"From: x@example.org\nSubject: parts\nContent-Type: multipart/mixed; boundary={boundary}\n\n".encode())
        piece = f"--{boundary}\nContent-Type: text/plain\n\nx\n".encode()
        for _ in range(parts):
            fh.write(piece)
        fh.write(f"--{boundary}--\n".encode())
    return path


def status(out: str) -> str:
    try:
        report = json.loads(out)
    except ValueError:
        return out.strip()[:80]
    if "error" in report:
        return f"{report['error']}: {report.get('message', '')[-90:]}"
    items = report.get("items", [])
    return "; ".join(f"{i['status']}: {i.get('message', '')[:70]}" for i in items) or str(report)[:80]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", action="store_true", help="sizes divided by ten (a quick look)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    args = parser.parse_args(argv)
    scale = 10 if args.small else 1
    tmp = Path(tempfile.mkdtemp(prefix="docket-input-memory-"))
    rows: list[dict] = []

    def case(name: str, size: int, instance: Path, *cmd: str | Path) -> None:
        code, seconds, peak, out = run(instance, *cmd)
        rows.append({"case": name, "size_mb": round(size / MB, 1), "exit": code, "seconds": round(seconds, 2),
                     "peak_mb": round(peak, 1), "ok": peak < TARGET_MB, "outcome": status(out)})
        print(f"{name:<46} {size / MB:9.1f} MB  exit {code}  {seconds:6.2f} s  peak {peak:6.1f} MB  "
              f"{'ok' if peak < TARGET_MB else 'OVER'}  {status(out)[:90]}", flush=True)

    try:
        instance = tmp / "inst"
        docket.init(instance, project="bench").close()
        base = run(instance, "list", "--json")
        print(f"baseline (docket list): {base[1]:.2f} s, peak {base[2]:.1f} MB")

        for size in (1_500 * MB // scale, 3_000 * MB // scale):
            path = sparse(tmp / f"huge-{size}.json", size, b'{"docket_form": "ingest-request", "data": "')
            limit = [] if scale == 1 else ["--max-bytes", str((1 << 30) // scale)]
            case("import: JSON file over the limit", size, instance, "import", path, "--json", *limit)
            path.unlink()
            path = sparse(tmp / f"huge-{size}.eml", size, b"From: ana@example.org\nSubject: big\n\n")
            case("import: e-mail file over the limit", size, instance, "import", path, "--json", *limit)
            path.unlink()


        for size in (20 * MB // scale, 30 * MB // scale):  # one at a time, or five times the memory
            folder = tmp / f"five-{size}"
            folder.mkdir()
            for n in range(5):
                sparse(folder / f"f{n}.json", size, b"\xff")  # not UTF-8: refused on its first byte
            case("import: five JSON files in a folder", 5 * size, instance, "import", folder, "--json")
            shutil.rmtree(folder)

        for size in (100 * MB // scale, 200 * MB // scale):
            path = big_mail(tmp / f"big-{size}.eml", size, form_bytes(instance, f"Soil, with {size} bytes of data"))
            real = path.stat().st_size
            case("import: e-mail, big attachment, parsed", real, instance, "import", path, "--json",
                 "--max-bytes", str(real + MB))
            case("import: e-mail, big attachment, over limit", real, instance, "import", path, "--json",
                 "--max-bytes", str(real // 2))
            path.unlink()

        for parts in (50_000 // scale, 100_000 // scale):
            path = many_parts(tmp / f"parts-{parts}.eml", parts)
            real = path.stat().st_size
            case(f"import: {parts:,} MIME parts, refused", real, instance, "import", path, "--json")
            raised = tmp / f"raised-{parts}"
            docket.init(raised, project="bench").close()
            toml = raised / "docket.toml"
            text = toml.read_text()
            toml.write_text(text.replace("max_mime_parts = 1000", f"max_mime_parts = {parts * 2}")
                            if "max_mime_parts = 1000" in text else text + f"\n[limits]\nmax_mime_parts = {parts * 2}\n")
            case(f"import: {parts:,} MIME parts, limit raised", real, raised, "import", path, "--json")
            path.unlink()

        for size in (1_500 * MB // scale, 3_000 * MB // scale):
            path = sparse(tmp / f"request-{size}.json", size, b'{"provider": {"name": "')
            case("submit: request file over the limit", size, instance, "submit", path, "--json")
            path.unlink()

        print(json.dumps({"target_peak_mb": TARGET_MB, "cases": rows}, indent=1))
        return 0 if all(r["ok"] for r in rows) else 1
    finally:
        if args.keep:
            print(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
