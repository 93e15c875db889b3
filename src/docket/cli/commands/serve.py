"""``docket serve``: the request page (``notebooks/request.ipynb``) served by Voila on this machine only.

Voila runs as a child process bound to 127.0.0.1. What it serves is fixed when it starts:

* one instance, the one given to ``docket serve``: its folder reaches the page's kernels as
  ``DOCKET_INSTANCE`` in the server's environment, and the page takes no instance from its URL
  (see :mod:`docket.forms.page`). The store is opened (and migrated) here, once, by the operator,
  so the page can refuse a store that does not exist instead of creating one.
* one page: Voila runs in single-notebook mode on a copy of ``request.ipynb`` in a private temporary
  folder of its own, so there is no notebook tree, no contents API, no other notebook (``qa.ipynb``)
  and no file of docket's folders to ask for; ``/voila/files/`` allows nothing, and a URL cannot
  pick Voila's template or theme. Voila runs in that folder so that no ``voila.json`` lying where
  ``docket serve`` was started can loosen these settings.

A data centre that wants the page on a network puts a reverse proxy with authentication in front:
docket itself never listens beyond loopback.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from docket.cli.output import add_json_flag, emit
from docket.errors import BadInput, NotFound

if TYPE_CHECKING:  # pragma: no cover
    import subprocess

HOST = "127.0.0.1"
DEFAULT_PORT = 8866
PAGE = "request.ipynb"
#: Written as ``voila.json`` into the private folder Voila runs in (the first place Voila reads
#: its configuration from): ``/voila/files/`` serves nothing, allowing a pattern that matches no
#: name and denying every name; the page needs no file of its folder.
VOILA_CONFIG = {"VoilaConfiguration": {"file_allowlist": ["(?!)"], "file_denylist": [".*"]}}


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("serve", help="serve the request form in a browser (Voila, localhost only)")
    p.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"port on 127.0.0.1 (default {DEFAULT_PORT})")
    p.add_argument("--no-browser", action="store_true", help="do not open a web browser")
    p.add_argument("--notebook-dir", metavar="DIR",
                   help=f"serve DIR/{PAGE} instead of docket's own (a customised copy); nothing else of DIR is served")
    add_json_flag(p)
    p.set_defaults(func=run)


def page_source(given: str | None) -> Path:
    """The request notebook to serve: ``DIR/request.ipynb`` of ``--notebook-dir``, or docket's own."""
    if given:
        folder = Path(given).resolve()
        if not folder.is_dir():
            raise NotFound(f"notebook folder {given} does not exist")
    else:
        from docket.resources import data_dir

        folder = data_dir("notebooks")
    page = folder / PAGE
    if not page.is_file():
        raise NotFound(f"{PAGE} is missing from {folder}")
    return page


def check_port(port: int) -> None:
    """Refuse a port outside 1..65535 or already taken, before Voila starts and fails obscurely."""
    import socket

    if not 0 < port < 65536:
        raise BadInput(f"--port {port} is not a TCP port (1 to 65535)")
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind((HOST, port))
        except OSError as exc:
            raise BadInput(f"port {port} on {HOST} is in use or not allowed ({exc.strerror}); choose another with --port") from exc


def voila_command(page: Path, port: int, open_browser: bool) -> list[str]:
    """Voila serving ``page`` alone (single-notebook mode, its folder as root), locked down.

    Command-line options win over any Voila configuration file, so these hold whatever the
    operator's Jupyter config says. The file lists are in :data:`VOILA_CONFIG` instead (given on
    the command line, traitlets warns on every start that the syntax is deprecated).
    """
    cmd = [
        sys.executable, "-m", "voila", str(page),
        f"--port={port}", f"--Voila.ip={HOST}", "--Voila.port_retries=0",
        f"--Voila.root_dir={page.parent}",
        "--show_tracebacks=False", "--Voila.log_level=WARN",
        # ?template= and ?theme= would let a URL choose among every installed Voila template.
        "--VoilaConfiguration.allow_template_override=NO", "--VoilaConfiguration.allow_theme_override=NO",
    ]
    if not open_browser:
        cmd.append("--no-browser")
    return cmd


def prepare_store(instance: object) -> None:
    """Open the instance once with migration, so its store exists and is current.

    The page opens the store without ever creating or migrating it (a crafted or missing store is
    an error there); the operator starting the server is who brings it up to date, as any other
    ``docket`` command does.
    """
    from docket.api import Docket

    Docket(instance).close()


def run(args: argparse.Namespace) -> int:
    import json
    import shutil
    import subprocess
    import tempfile

    from docket.instance import Instance

    instance = Instance.find(args.instance)  # a clear error now, not a broken page later
    source = page_source(args.notebook_dir)
    check_port(args.port)
    prepare_store(instance)
    url = f"http://{HOST}:{args.port}/"
    with tempfile.TemporaryDirectory(prefix="docket-serve-") as private:  # mode 0700: ours alone
        page = Path(private) / PAGE
        shutil.copyfile(source, page)
        (Path(private) / "voila.json").write_text(json.dumps(VOILA_CONFIG), encoding="utf-8")
        emit(args, {"url": url, "instance": str(instance.root), "page": str(source)},
             f"docket: serving {instance.root} at {url}\n"
             f"        languages: {url}?lang=fr  -  edit a request: {url}?id=<request id>\n"
             f"        (Ctrl-C to stop)")
        sys.stdout.flush()
        # The instance comes from here alone; a DOCKET_INSTANCE of the caller's shell is replaced.
        env = {**os.environ, "DOCKET_INSTANCE": str(instance.root)}
        child = subprocess.Popen(voila_command(page, args.port, not args.no_browser), env=env, cwd=private)
        return _wait(child)


def _wait(child: subprocess.Popen) -> int:
    """Wait for Voila; SIGTERM and Ctrl-C stop it (and the private folder is removed after)."""
    import signal
    import subprocess

    def stop(signum: int, _frame: object) -> None:
        child.terminate()

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        code = child.wait()
    except KeyboardInterrupt:
        child.terminate()
        try:
            code = child.wait(timeout=10)
        except subprocess.TimeoutExpired:
            child.kill()
            code = child.wait()
        return 0
    finally:
        signal.signal(signal.SIGTERM, previous)
    if code not in (0, -signal.SIGTERM, -signal.SIGINT):
        print(f"docket: Voila stopped with exit code {code}", file=sys.stderr)
        return 1
    return 0
