"""``docket serve`` over real HTTP: one instance fixed at start, and only the provider's page.

A real ``docket serve`` (and its Voila child) runs on a free port of 127.0.0.1; the tests ask it
for the paths a visitor could try and for page addresses naming other folders, and check what
comes back and what appears on disk. Voila executes the page before it answers, so when a
response has arrived every file the page's kernel would have made exists already.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

import docket

from .conftest import EXAMPLES

CTD = EXAMPLES / "requests" / "ctd-multilingual.json"
#: The other instance's provider: it must never reach a page served for the first instance.
OTHER_EMAIL = "only.in.the.other.instance@elsewhere.example"
QA_MARKER = "Quality assurance of an ingest request"  # qa.ipynb's heading


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(base: str, proc: subprocess.Popen, log: Path, timeout: float = 90) -> None:
    """Until the server answers any HTTP request at all.

    A missing page is asked for, not the form: each request for the form starts a kernel and runs
    the notebook, and a poll that gave up after a short timeout under load would leave kernels
    piling up behind it.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"docket serve exited with {proc.returncode}: {log.read_text(errors='replace')}")
        try:
            with urllib.request.urlopen(base + "/docket-not-a-page", timeout=5):
                return
        except urllib.error.HTTPError:
            return  # an answer: the server is up
        except OSError:
            time.sleep(0.3)
    raise TimeoutError(f"{base} did not answer within {timeout} s")


@contextmanager
def serving(instance: Path, *extra: str, cwd: Path | None = None) -> Iterator[tuple[str, subprocess.Popen]]:
    """``docket serve`` on a free port (a session of its own, stopped with all its kernels after),
    started in ``cwd``: yields the base URL (``http://127.0.0.1:PORT``) and the process."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("DOCKET_")}
    # The server's output goes to a file: a pipe nobody reads fills up and stops the server
    # mid-page once Voila and its kernels have logged 64 KiB.
    log = Path(tempfile.mkstemp(prefix="docket-serve-", suffix=".log")[1])
    with open(log, "wb") as sink:
        proc = subprocess.Popen(
            [sys.executable, "-m", "docket.cli", "--instance", str(instance), "serve", "--port", str(port),
             "--no-browser", *extra],
            stdout=sink, stderr=subprocess.STDOUT, env=env, start_new_session=True, cwd=cwd,
        )
    proc.log_path = log  # type: ignore[attr-defined]  # what it printed, for tests to read
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for(base, proc, log)
        yield base, proc
    finally:
        os.killpg(proc.pid, signal.SIGTERM)  # the session docket serve leads: itself, Voila, kernels
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        log.unlink(missing_ok=True)


def fetch(url: str) -> tuple[int, str]:
    """Status and body of a GET, redirects followed (as a browser would)."""
    try:
        with urllib.request.urlopen(url, timeout=120) as response:
            return response.status, response.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode("utf-8", "replace")


def is_form(body: str) -> bool:
    """Whether Voila's answer shows the form (its language selector) rather than a refusal.

    The widgets' state lives in the kernel; the HTML carries each output's short text form,
    enough to tell the two apart."""
    return "docket-language" in body and "docket-page-error" not in body


def make_other_instance(root: Path) -> Path:
    """An instance the server was not started on, holding ``ocean-0001`` by :data:`OTHER_EMAIL`."""
    other = root / "other"
    document = json.loads(CTD.read_text(encoding="utf-8"))
    document["provider"]["email"] = OTHER_EMAIL
    with docket.init(other, project="ocean") as d:
        assert d.submit(document)["id"] == "ocean-0001"
    return other


def make_crafted_folder(root: Path) -> tuple[Path, Path]:
    """A folder a visitor might name, whose ``docket.toml`` points its store somewhere else.

    Returns the folder and the SQLite path it names (in an existing folder, so that opening it
    would create the file there)."""
    crafted, elsewhere = root / "crafted", root / "elsewhere"
    crafted.mkdir()
    elsewhere.mkdir()
    target = elsewhere / "made-by-a-visitor.sqlite"
    (crafted / "docket.toml").write_text(
        '[instance]\nproject = "ocean"\nbase_uri = "https://x.example.org/"\n'
        f'[store]\nurl = "sqlite:///{target}"\n', encoding="utf-8")
    return crafted, target


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    """A served instance (with its own ``ocean-0001``), another instance, a crafted folder, and
    ``docket serve`` running on the first."""
    root = tmp_path_factory.mktemp("serve")
    served = root / "served"
    with docket.init(served, project="ocean") as d:
        assert d.submit(CTD)["id"] == "ocean-0001"
        link = d.new_link("ocean-0001")["link"]  # its provider's way in: ids open nothing
    other = make_other_instance(root)
    crafted, target = make_crafted_folder(root)
    # Voila reads voila.json from the folder it runs in: one where docket serve is started must
    # not loosen what is served (docket runs Voila in its private folder).
    start = root / "start"
    start.mkdir()
    (start / "voila.json").write_text(json.dumps({"VoilaConfiguration": {
        "file_allowlist": [".*"], "file_denylist": [], "allow_template_override": "YES"}}), encoding="utf-8")
    with serving(served, cwd=start) as (base, proc):
        yield {"base": base, "proc": proc, "served": served, "other": other, "crafted": crafted,
               "target": target, "link": link}


# Paths a visitor could try for anything but the request page: the notebook tree, the other
# notebooks (qa.ipynb), their files and Jupyter's APIs. Each must end in 403 or 404.
PROBES = [
    "/voila/render/qa.ipynb", "/voila/render/request.ipynb", "/voila/tree", "/voila/tree/",
    "/voila/files/qa.ipynb", "/voila/files/request.ipynb", "/voila/files/voila.json",
    "/voila/api/contents", "/voila/api/contents/qa.ipynb", "/api/contents", "/api/contents/qa.ipynb",
    "/api/kernels", "/api/sessions", "/api/kernelspecs", "/tree", "/notebooks/qa.ipynb",
    "/files/qa.ipynb", "/qa.ipynb", "/request.ipynb", "/voila/files/../../etc/passwd",
    "/voila/files/%2e%2e/%2e%2e/etc/passwd",
]


def test_only_the_request_page_is_served(world: dict) -> None:
    base = world["base"]
    status, body = fetch(base + "/")
    assert status == 200 and is_form(body)
    answers = {path: fetch(base + path) for path in PROBES}
    served = {path: status for path, (status, _) in answers.items() if status not in (403, 404)}
    assert served == {}, f"served beyond the request page: {served}"
    for path, (_, text) in answers.items():
        assert QA_MARKER not in text and "root:" not in text and '"cells"' not in text, path


def test_the_page_output_is_waited_for_on_a_busy_server(world: dict) -> None:
    """Voila reads the page's output for as long as a loaded server needs, not nbclient's 4 s.

    The form is hundreds of widget messages before the output that shows them. Under load, reading
    them took longer than nbclient's default iopub wait, which then drops the output without an
    error: the page came back blank (a CI run's failure; with the wait set to 0 the same test here
    gets exactly that page). The server this module started must carry the longer wait."""
    from docket.cli.commands.serve import OUTPUT_WAIT_SECONDS

    from .processes import command_line, descendants

    assert OUTPUT_WAIT_SECONDS >= 60
    option = f"--VoilaExecutor.iopub_timeout={OUTPUT_WAIT_SECONDS}"
    commands = [command_line(p) for p in descendants(world["proc"].pid)]
    assert any(option in c and "docket.forms.server_guard" in c for c in commands), commands


def test_serve_prints_the_one_page(world: dict, tmp_path: Path) -> None:
    """The address printed is the page itself; a --notebook-dir without request.ipynb is refused."""
    from .clirun import docket_cli

    printed = world["proc"].log_path.read_text(errors="replace")
    assert f"at {world['base']}/" in printed
    empty = tmp_path / "pages"
    empty.mkdir()
    refused = docket_cli("serve", "--no-browser", "--notebook-dir", str(empty), "--port", str(free_port()),
                         instance=world["served"])
    assert refused.code == 2 and "request.ipynb is missing" in refused.err


def test_the_address_cannot_choose_the_instance_or_make_a_store(world: dict) -> None:
    base, crafted, target = world["base"], world["crafted"], world["target"]
    before = sorted(p.name for p in crafted.iterdir())
    for query in (
        {"instance": str(crafted)},
        {"instance": str(crafted), "id": "ocean-0001"},
        {"instance": str(world["other"]), "id": "ocean-0001"},
        {"form": "../../../" + str(crafted).lstrip("/")},
        {"id": "../../crafted"},
    ):
        status, body = fetch(f"{base}/?{urllib.parse.urlencode(query)}")
        assert status == 200 and "docket-page-error" in body, query
        assert OTHER_EMAIL not in body
    assert not target.exists(), "a page address made a store file in a folder of the visitor's choosing"
    assert sorted(p.name for p in crafted.iterdir()) == before
    assert sorted(p.name for p in target.parent.iterdir()) == []
    # The served instance's own request still opens, with its provider's link; by id it does not.
    status, body = fetch(f"{base}/?link={world['link']}&lang=fr")
    assert status == 200 and is_form(body)
    status, body = fetch(f"{base}/?id=ocean-0001&lang=fr")
    assert status == 200 and not is_form(body) and "docket-page-error" in body  # ?id: not a parameter
