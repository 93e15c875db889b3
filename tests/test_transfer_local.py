"""Local-file transfers cannot escape the inbox, and transfers leave nothing behind.

Through the Python API and the command line, on a real instance: links and hard links swapped in
while transfers run, special files, another file system, killed and interrupted attempts, and the
sweep of what a dead attempt left under ``files/``.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import importlib
import json
import os
import shutil
import stat
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import docket
from docket.api import Docket
from docket.errors import DocketError
from docket.steps.transfer import sweep_leftovers, transfer_id
from docket.transfer import fetch
from tests.clirun import docket_cli
from tests.conftest import EXAMPLES
from tests.people import as_role

GOOD = b"station,temp\nA,1.5\n" * 64
SECRET_MARK = b"TOP-SECRET"
SECRET = SECRET_MARK + b" the machine's private key\n" * 40


def request_doc(files: list[dict]) -> dict:
    doc = json.loads((EXAMPLES / "requests" / "weather-table-schema.json").read_text())
    doc["files"] = files
    return doc


def approved(dk: Docket, files: list[dict]) -> str:
    request_id = dk.submit(request_doc(files))["id"]
    as_role(dk, "reviewer", "Eva").review(request_id, "approved")
    return request_id


def inbox_of(dk: Docket) -> Path:
    return dk.instance.root / "inbox"


def stored_bytes(dk: Docket) -> list[tuple[Path, bytes]]:
    """Every file under files/, leftovers included (a secret must not land anywhere there)."""
    return [(p, p.read_bytes()) for p in sorted(dk.instance.files_dir.rglob("*"))
            if p.is_file() and not p.is_symlink()]


def leftovers(dk: Docket) -> list[str]:
    return sorted(str(p.relative_to(dk.instance.files_dir)) for p in dk.instance.files_dir.rglob(".docket-*"))


def history_of_transfer(dk: Docket, request_id: str) -> list[tuple]:
    return [(h["to"], h["outcome"]) for h in dk.history(request_id) if h["step"] == "transfer"]


def set_config(instance_dir: Path, key: str, value: str) -> None:
    """Set ``[transfer] key = value`` in the instance's docket.toml."""
    config = instance_dir / "docket.toml"
    text = config.read_text()
    head, _, transfer = text.partition("[transfer]\n")
    lines = [line for line in transfer.splitlines() if not line.startswith(f"{key} =")]
    config.write_text(f"{head}[transfer]\n{key} = {value}\n" + "\n".join(lines) + "\n")


# --------------------------------------------------------------------------- the race


class Swapper(threading.Thread):
    """Keeps replacing inbox entries by links or hard links to outside files, and back."""

    def __init__(self, inbox: Path, outside: Path) -> None:
        super().__init__(daemon=True)
        self.inbox = inbox
        self.outside = outside
        self.stop = threading.Event()
        self.swaps = 0

    def regular(self, name: str) -> None:
        tmp = self.inbox / f".tmp-{name}"
        tmp.write_bytes(GOOD)
        os.replace(tmp, self.inbox / name)

    def run(self) -> None:
        inbox, outside = self.inbox, self.outside
        while not self.stop.is_set():
            # a.csv: a regular file <-> a symbolic link to the secret
            link = inbox / ".tmp-link"
            with contextlib.suppress(FileNotFoundError):
                link.unlink()
            link.symlink_to(outside / "secret.csv")
            os.replace(link, inbox / "a.csv")
            # c.csv: a regular file <-> a hard link to the secret
            hard = inbox / ".tmp-hard"
            with contextlib.suppress(FileNotFoundError):
                hard.unlink()
            os.link(outside / "secret.csv", hard)
            os.replace(hard, inbox / "c.csv")
            # d/: a folder <-> a link to an outside folder holding a secret b.csv
            os.rename(inbox / "d", inbox / "d-parked")
            (inbox / "d").symlink_to(outside / "d")
            self.regular("a.csv")
            self.regular("c.csv")
            (inbox / "d").unlink()
            os.rename(inbox / "d-parked", inbox / "d")
            self.swaps += 1
            time.sleep(0.002)  # a moment with every name right, so some transfers succeed


@pytest.fixture
def race_instance(tmp_path: Path) -> Iterator[Docket]:
    """An instance on SQLite (the race is in the file system, not the store)."""
    d = docket.init(tmp_path / "inst", project="ocean", base_uri="https://data.example.org/ocean/")
    outside = tmp_path / "outside"
    (outside / "d").mkdir(parents=True)
    (outside / "secret.csv").write_bytes(SECRET)
    (outside / "d" / "b.csv").write_bytes(SECRET)
    inbox = inbox_of(d)
    (inbox / "d").mkdir()
    for path in (inbox / "a.csv", inbox / "c.csv", inbox / "d" / "b.csv"):
        path.write_bytes(GOOD)
    yield d
    d.close()


def test_swapping_links_in_the_inbox_never_delivers_an_outside_file(race_instance: Docket, tmp_path: Path) -> None:
    """While a thread swaps links, hard links and folders in the inbox thousands of times, every
    transfer (API and command line) ends done or cleanly failed, and no byte of the outside
    file is ever stored. Before the fix ~5% of opens delivered it and some raised a bare OSError."""
    dk = race_instance
    inbox = inbox_of(dk)
    request_id = approved(dk, [{"name": n, "location": str(inbox / p)}
                               for n, p in (("a.csv", "a.csv"), ("b.csv", "d/b.csv"), ("c.csv", "c.csv"))])
    secret_sha = hashlib.sha256(SECRET).hexdigest()
    swapper = Swapper(inbox, tmp_path / "outside")
    outcomes: dict[str, int] = {"done": 0, "failed": 0}
    reasons: set[str] = set()
    fetch_ok = fetch_refused = 0
    swapper.start()
    try:
        # the step, through the API and the command line, for a fixed time
        deadline = time.monotonic() + 8
        turn = 0
        while time.monotonic() < deadline:
            turn += 1
            if turn % 3:
                result = dk.transfer(request_id)
            else:
                run = docket_cli("transfer", request_id, "--json", instance=dk.instance.root)
                assert run.code in (0, 1), run.err
                result = run.json()
            outcomes[result["outcome"]] += 1
            for item in result["files"]:
                assert item["sha256"] != secret_sha
                assert Path(item["path"]).read_bytes() == GOOD
            for failure in result["failures"]:
                reasons.add(failure["reason"])
            for path, content in stored_bytes(dk):
                assert SECRET_MARK not in content, path
        # fetch() itself, confined to the inbox: many more opens in the same time
        dest = tmp_path / "dest"
        deadline = time.monotonic() + 4
        while time.monotonic() < deadline:
            for name in ("a.csv", "d/b.csv", "c.csv"):
                try:
                    got = fetch(str(inbox / name), dest, "x.csv", local_roots=[inbox], replace=True)
                except DocketError:
                    fetch_refused += 1
                else:
                    fetch_ok += 1
                    assert got.sha256 != secret_sha
                    assert (dest / "x.csv").read_bytes() == GOOD
    finally:
        swapper.stop.set()
        swapper.join(10)
    assert swapper.swaps > 300  # the race really ran
    assert outcomes["done"] and outcomes["failed"], outcomes
    assert fetch_ok and fetch_refused
    joined = " | ".join(sorted(reasons))
    assert "symbolic link" in joined and "hard links" in joined, joined
    history = history_of_transfer(dk, request_id)
    assert history.count(("in-progress", None)) == sum(outcomes.values())
    assert not leftovers(dk)


# --------------------------------------------------------------------------- what is refused


def test_a_hard_link_to_an_outside_file_is_refused_unless_allowed(dk: Docket, instance_dir: Path,
                                                                   tmp_path: Path) -> None:
    secret = tmp_path / "secret.csv"
    secret.write_bytes(SECRET)
    os.link(secret, inbox_of(dk) / "data.csv")
    request_id = approved(dk, [{"name": "data.csv", "location": str(inbox_of(dk) / "data.csv")}])
    result = dk.transfer(request_id)
    assert result["outcome"] == "failed"
    assert "2 hard links" in result["failures"][0]["reason"]
    assert "allow_hardlinks" in result["failures"][0]["reason"]
    assert not stored_bytes(dk)
    set_config(instance_dir, "allow_hardlinks", "true")
    with docket.open(instance_dir) as trusting:
        again = trusting.transfer(request_id)
    assert again["outcome"] == "done", again["failures"]
    assert Path(again["files"][0]["path"]).read_bytes() == SECRET


def test_symbolic_links_in_the_inbox_are_refused_even_pointing_inside(dk: Docket) -> None:
    inbox = inbox_of(dk)
    (inbox / "real").mkdir()
    (inbox / "real" / "x.csv").write_bytes(GOOD)
    (inbox / "alias").symlink_to(inbox / "real")
    (inbox / "x-link.csv").symlink_to(inbox / "real" / "x.csv")
    request_id = approved(dk, [{"name": "via-folder.csv", "location": str(inbox / "alias" / "x.csv")},
                               {"name": "via-file.csv", "location": f"file://{inbox / 'x-link.csv'}"},
                               {"name": "real.csv", "location": str(inbox / "real" / "x.csv")},
                               {"name": "climb.csv", "location": str(inbox / "real" / ".." / "real" / "x.csv")}])
    result = docket_cli("transfer", request_id, "--json", instance=dk.instance.root)
    assert result.code == 1, result.err
    failures = {f["name"]: f["reason"] for f in result.json()["failures"]}
    assert set(failures) == {"via-folder.csv", "via-file.csv", "climb.csv"}
    assert "symbolic link" in failures["via-folder.csv"] and "alias" in failures["via-folder.csv"]
    assert "symbolic link" in failures["via-file.csv"]
    assert "'..'" in failures["climb.csv"]
    assert [p.name for p, _ in stored_bytes(dk)] == ["real.csv"]


def test_pipes_and_devices_are_refused_without_hanging(dk: Docket) -> None:
    inbox = inbox_of(dk)
    os.mkfifo(inbox / "pipe.csv")
    files = [{"name": "pipe.csv", "location": str(inbox / "pipe.csv")}]
    try:
        os.mknod(inbox / "null.csv", stat.S_IFCHR | 0o600, os.makedev(1, 3))
        files.append({"name": "null.csv", "location": str(inbox / "null.csv")})
    except PermissionError:
        pass  # only root can make a device node; the pipe still runs
    request_id = approved(dk, files)
    result = dk.transfer(request_id)
    reasons = {f["name"]: f["reason"] for f in result["failures"]}
    assert "named pipe" in reasons["pipe.csv"]
    if "null.csv" in reasons:
        assert "device" in reasons["null.csv"]
    assert not stored_bytes(dk) and not leftovers(dk)


def test_a_file_on_another_file_system_is_refused(tmp_path: Path) -> None:
    """A mount inside the inbox (made in a private mount namespace, so nothing else sees it)."""
    if not shutil.which("unshare"):
        pytest.skip("unshare is not installed")
    probe = subprocess.run(["unshare", "-rm", "sh", "-c", f"mount -t tmpfs none {tmp_path}"],
                           capture_output=True, text=True)
    if probe.returncode != 0:
        pytest.skip(f"cannot mount in a user namespace here: {probe.stderr.strip()}")
    instance = tmp_path / "inst"
    with docket.init(instance, project="ocean", base_uri="https://data.example.org/ocean/") as d:
        (instance / "inbox" / "mnt").mkdir()
        request_id = approved(d, [{"name": "m.csv", "location": str(instance / "inbox" / "mnt" / "m.csv")}])
    script = (f"mount -t tmpfs none {instance / 'inbox' / 'mnt'} && "
              f"printf 'a,b\\n1,2\\n' > {instance / 'inbox' / 'mnt' / 'm.csv'} && "
              f"exec {sys.executable} -m docket.cli --instance {instance} transfer {request_id} --json")
    run = subprocess.run(["unshare", "-rm", "sh", "-c", script], capture_output=True, text=True, timeout=120,
                         env={k: v for k, v in os.environ.items() if not k.startswith("DOCKET_")})
    assert run.returncode == 1, run.stderr
    assert "another file system" in json.loads(run.stdout)["failures"][0]["reason"]


def test_docket_names_are_reserved(dk: Docket) -> None:
    """A provider's file named like a leftover would be swept away by the next transfer."""
    (inbox_of(dk) / "x.csv").write_bytes(GOOD)
    request_id = approved(dk, [{"name": ".docket-partial-x.tmp", "location": str(inbox_of(dk) / "x.csv")}])
    result = dk.transfer(request_id)
    assert result["outcome"] == "failed"
    assert "docket's own" in result["failures"][0]["reason"]


# --------------------------------------------------------------------------- nothing left behind


CRASH = textwrap.dedent("""
    import importlib, os, signal, sys
    import docket
    fetching = importlib.import_module("docket.transfer.fetch")  # the module, not the function
    from docket.steps import transfer as step

    where = sys.argv[3]
    real_digest = fetching.digest_stream
    calls = []

    def digest_then_die(reader, *, sink=None, **kwargs):
        calls.append(1)
        if where == "second-file" and len(calls) == 2:
            buffer = bytearray(100)
            n = reader.readinto(buffer)
            sink(memoryview(buffer)[:n])  # half written, then the process is killed
            os.kill(os.getpid(), signal.SIGKILL)
        return real_digest(reader, sink=sink, **kwargs)

    def install_then_die(self):
        os.kill(os.getpid(), signal.SIGKILL)  # committed, not yet renamed into place

    fetching.digest_stream = digest_then_die
    if where == "after-commit":
        step.Staging.install = install_then_die
    with docket.open(sys.argv[1]) as d:
        d.transfer(sys.argv[2])
""")


def killed_transfer(dk: Docket, tmp_path: Path, request_id: str, where: str) -> None:
    script = tmp_path / "crash.py"
    script.write_text(CRASH)
    env = {k: v for k, v in os.environ.items() if not k.startswith("DOCKET_")}
    proc = subprocess.run([sys.executable, str(script), str(dk.instance.root), request_id, where],
                          capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == -9, proc.stderr


def two_file_request(dk: Docket) -> str:
    inbox = inbox_of(dk)
    (inbox / "one.csv").write_bytes(GOOD)
    (inbox / "two.csv").write_bytes(GOOD * 3)
    return approved(dk, [{"name": "one.csv", "location": str(inbox / "one.csv")},
                         {"name": "two.csv", "location": str(inbox / "two.csv")}])


def test_a_killed_transfer_shows_nothing_and_is_recorded_by_the_next_one(dk: Docket, tmp_path: Path) -> None:
    request_id = two_file_request(dk)
    other_id = approved(dk, [{"name": "one.csv", "location": str(inbox_of(dk) / "one.csv")}])
    killed_transfer(dk, tmp_path, request_id, "second-file")
    folder = dk.instance.files_dir / request_id / "1"
    # the first file was complete, yet it is not visible while the registry says declared
    assert list(folder.iterdir())
    assert all(p.name.startswith(".docket-staging-") for p in folder.iterdir())
    assert {f["status"] for f in dk.files(request_id)} == {"declared"}
    assert dk.get(request_id)["steps"]["transfer"]["status"] == "in-progress"
    assert history_of_transfer(dk, request_id) == [("in-progress", None)]
    assert leftovers(dk)
    # any transfer clears what the dead one left
    assert dk.transfer(other_id)["outcome"] == "done"
    assert not leftovers(dk) and not list(folder.iterdir())
    # the same request's next transfer first records the dead attempt, in history and PROV
    result = dk.transfer(request_id)
    assert result["outcome"] == "done"
    assert history_of_transfer(dk, request_id) == [("in-progress", None), ("closed", "failed"),
                                                   ("in-progress", None), ("closed", "done")]
    interrupted = [h for h in dk.history(request_id) if h["outcome"] == "failed"][0]
    assert "interrupted" in interrupted["comment"]
    bundles = [b for b in dk.prov_bundles(request_id) if b["step"] == "transfer"]
    assert [b["n"] for b in bundles] == [1, 2]
    assert "interrupted" in json.dumps(bundles[0]["bundle"])
    assert result["activity"] == transfer_id(request_id, 2)
    assert sorted(p.name for p in folder.iterdir()) == ["one.csv", "two.csv"]


def test_a_crash_between_commit_and_rename_is_finished_by_the_next_sweep(dk: Docket, tmp_path: Path) -> None:
    request_id = two_file_request(dk)
    killed_transfer(dk, tmp_path, request_id, "after-commit")
    folder = dk.instance.files_dir / request_id / "1"
    rows = {r["name"]: r for r in dk.files(request_id)}
    assert {r["status"] for r in rows.values()} == {"stored"}
    assert not (folder / "one.csv").exists()  # recorded, not yet in place
    planned = sweep_leftovers(dk, dry_run=True)
    assert [(x.kind, x.action, x.request_id) for x in planned] == [("staging", "to-complete", request_id)]
    assert leftovers(dk)  # a dry run changes nothing
    done = sweep_leftovers(dk)
    assert [(x.kind, x.action) for x in done] == [("staging", "completed")]
    assert sorted(p.name for p in folder.iterdir()) == ["one.csv", "two.csv"]
    for name, row in rows.items():
        assert hashlib.sha256((folder / name).read_bytes()).hexdigest() == row["sha256"]
        assert row["location"] == str(folder / name)
    assert dk.get(request_id)["steps"]["transfer"] == {"status": "closed", "outcome": "done"}


def test_ctrl_c_is_recorded_at_once_and_leaves_nothing(dk: Docket, monkeypatch: pytest.MonkeyPatch) -> None:
    request_id = two_file_request(dk)
    fetching = importlib.import_module("docket.transfer.fetch")  # the module, not the function

    def interrupted(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(fetching, "digest_stream", interrupted)
    with pytest.raises(KeyboardInterrupt):
        dk.transfer(request_id)
    assert history_of_transfer(dk, request_id) == [("in-progress", None), ("closed", "failed")]
    assert dk.get(request_id)["steps"]["transfer"]["comment"] == "interrupted (Ctrl-C)"
    assert not leftovers(dk)
    assert not list((dk.instance.files_dir / request_id / "1").iterdir())


def test_the_sweep_keeps_what_a_live_transfer_holds(dk: Docket) -> None:
    """Partial files anywhere under files/ are removed, except one whose writer still holds it."""
    (inbox_of(dk) / "x.csv").write_bytes(GOOD)
    request_id = approved(dk, [{"name": "x.csv", "location": str(inbox_of(dk) / "x.csv")}])
    dead = dk.instance.files_dir / "ocean-0999" / "1" / ".docket-partial-dead.tmp"
    live = dk.instance.files_dir / "ocean-0998" / "1" / ".docket-partial-live.tmp"
    for path in (dead, live):
        path.parent.mkdir(parents=True)
        path.write_bytes(b"half")
    with open(live, "rb") as held:
        fcntl.flock(held, fcntl.LOCK_EX)  # what fetch() holds while it writes
        assert dk.transfer(request_id)["outcome"] == "done"
        assert not dead.exists() and live.exists()
    found = sweep_leftovers(dk)
    assert [(x.path, x.action) for x in found] == [(live, "removed")]


# --------------------------------------------------------------------------- settings


def test_the_configured_timeout_and_deadline_reach_the_source(dk: Docket, instance_dir: Path) -> None:
    """``[transfer] timeout`` was replaced by fetch()'s own default of 60 s before."""
    from docket.transfer import sources

    seen: list[sources.SourceContext] = []

    class Probe(sources.Source):
        @contextlib.contextmanager
        def open(self, location: str, ctx: sources.SourceContext) -> Iterator[sources.Opened]:
            seen.append(ctx)
            import io

            yield sources.Opened(reader=io.BytesIO(GOOD), length=len(GOOD), content_type=None,
                                 resolved=location)

    set_config(instance_dir, "timeout", "3.0")
    set_config(instance_dir, "deadline", "120")
    sources.register("probe", Probe)
    try:
        with docket.open(instance_dir) as d:
            request_id = approved(d, [{"name": "p.csv", "location": "probe://anything/p.csv"}])
            assert d.transfer(request_id)["outcome"] == "done"
    finally:
        sources.unregister("probe")
    assert [(c.timeout, c.deadline) for c in seen] == [(3.0, 120.0)]


@pytest.mark.parametrize(("direct_from", "chunk"), [
    (None, 256 * 1024),  # page cache, with write-behind windows started and waited for
    (0, 256 * 1024),  # O_DIRECT for the whole chunks, then the tail through the page cache
    (0, 100_000),  # chunks O_DIRECT cannot take: back to the page cache from the first one
])
def test_every_way_of_writing_stores_every_byte(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                direct_from: int | None, chunk: int) -> None:
    """Small windows and thresholds, so a few MiB go through each path of the writer."""
    fetching = importlib.import_module("docket.transfer.fetch")
    monkeypatch.setattr(fetching, "WRITE_BEHIND_WINDOW", 64 * 1024)
    monkeypatch.setattr(fetching, "WRITE_BEHIND_DEPTH", 2)
    if direct_from is not None:
        monkeypatch.setattr(fetching, "DIRECT_THRESHOLD", direct_from)
    payload = os.urandom(3 * 1024 * 1024 + 123)
    (tmp_path / "inbox").mkdir()
    source = tmp_path / "inbox" / "big.bin"
    source.write_bytes(payload)
    got = fetch(str(source), tmp_path / "out", "big.bin", local_roots=[tmp_path / "inbox"],
                threaded=True, chunk_size=chunk)
    assert (tmp_path / "out" / "big.bin").read_bytes() == payload
    assert (got.size, got.sha256) == (len(payload), hashlib.sha256(payload).hexdigest())


def test_concurrent_transfers_never_sweep_each_other(race_instance: Docket) -> None:
    """Every transfer sweeps files/ as it starts; the attempts running meanwhile hold their
    staging folders' locks, so each one still ends done with all its files in place."""
    dk = race_instance
    inbox = inbox_of(dk)
    ids = [approved(dk, [{"name": f"f{i}.csv", "location": str(inbox / "a.csv")}]) for i in range(3)]
    errors: list[BaseException] = []

    def worker(request_id: str) -> None:
        try:
            with docket.open(dk.instance.root) as mine:
                for _ in range(8):
                    result = mine.transfer(request_id)
                    assert result["outcome"] == "done", result["failures"]
                    assert Path(result["files"][0]["path"]).read_bytes() == GOOD
        except BaseException as exc:  # handed to the test thread
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(request_id,)) for request_id in ids]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert not errors, errors
    assert not leftovers(dk)
