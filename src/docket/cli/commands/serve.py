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
* no Jupyter REST API: Voila runs as :class:`docket.forms.server_guard.DocketVoila`, whose routes
  are the page at ``/``, its static assets, and its own kernel's websocket and shutdown beacon (for
  the browser that opened the page only); every other path, ``/api/...`` included, is a 404.
* bounded kernels: a closed page's kernel is shut down (beacon, or ``cull_closed_seconds`` after
  its last websocket closed), a page no browser connected to after ``cull_unconnected_seconds``,
  an idle page's after ``cull_idle_seconds`` without activity (typing in the form is activity),
  and at most ``max_pages`` kernels live at once (the page answers 503 beyond). All come from the
  instance's ``[serve]`` table (see :func:`serve_settings`).

``docket serve --desk`` serves the data manager's notebooks instead, on a server of their own
(default port 8867): ``review.ipynb`` at ``/`` and ``dashboard.ipynb`` at ``/dashboard``, copied
into a private folder as the form is, for signed-in staff only. Each person signs in with their
own API key at ``/sign-in`` (a POST form); a session cookie then stands for them, and the kernel
their page starts gets their key alone, so every decision is recorded as them. The server's own
environment holds no key (``DOCKET_API_KEY`` of the caller's shell is removed), and without a
session no page starts a kernel. See :mod:`docket.forms.desk_auth`. Sessions end after
``desk_session_seconds`` (``[serve]``, default 1800) without a request.

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
DESK_PORT = 8867
PAGE = "request.ipynb"
#: The desk's pages: the first is served at ``/``, the second at ``/dashboard``.
DESK_PAGES = ("review.ipynb", "dashboard.ipynb")
#: How long Voila waits, once the page's cell has replied, for the page's output to be read off the
#: kernel (nbclient's iopub_timeout, 4 s by default). The form is hundreds of widgets, each its own
#: message before the output that shows them; on a busy server reading them took longer than 4 s,
#: and nbclient then drops what it has not read *without an error*: the provider got a blank page.
#: The wait ends as soon as the kernel says it is idle, so a long bound costs nothing when all is well.
OUTPUT_WAIT_SECONDS = 120
#: Written as ``voila.json`` into the private folder Voila runs in (the first place Voila reads
#: its configuration from): ``/voila/files/`` serves nothing, allowing a pattern that matches no
#: name and denying every name; the page needs no file of its folder.
VOILA_CONFIG = {"VoilaConfiguration": {"file_allowlist": ["(?!)"], "file_denylist": [".*"]}}


#: ``[serve]`` settings of ``docket.toml``: default, smallest and largest value.
SERVE_SETTINGS: dict[str, tuple[int, int, int]] = {
    "cull_idle_seconds": (600, 1, 7 * 24 * 3600),  # a page nobody touched for this long loses its kernel
    "cull_closed_seconds": (60, 1, 3600),  # grace after a page's last websocket closed (reconnects)
    "cull_unconnected_seconds": (60, 1, 3600),  # a page sent that no browser connected to (link previews)
    "max_pages": (40, 1, 10_000),  # kernels at once: what bounds the server's memory
    "desk_session_seconds": (1800, 60, 12 * 3600),  # a desk sign-in lasts this long without a request
}


def serve_settings(extra: dict, where: str = "docket.toml") -> dict[str, int]:
    """The ``[serve]`` table of the instance's ``docket.toml``, checked, with defaults filled in.

    Culling cannot be switched off: memory must stay bounded however many people open the form.
    Raises :class:`BadInput` naming every bad or unknown key (a typo would silently keep a default).
    """
    table = extra.get("serve", {})
    if not isinstance(table, dict):
        raise BadInput(f"[serve] in {where} must be a table, not {type(table).__name__}")
    problems = [f"[serve] {key}: not a setting (known: {', '.join([*SERVE_SETTINGS, 'public_url'])})"
                for key in table if key not in SERVE_SETTINGS and key != "public_url"]
    public = table.get("public_url")
    # The address providers' links point at (docket.people.links.url): the page as the world
    # reaches it, e.g. behind the data centre's proxy. Checked here, used by the mails and the page.
    if public is not None and not (isinstance(public, str) and public.startswith(("https://", "http://"))
                                   and len(public) < 300 and not any(c in public for c in " \r\n\"'<>")):
        problems.append(f"[serve] public_url = {public!r}: must be an http(s) address, e.g. "
                        "\"https://desk.example.org/form/\"")
    values: dict[str, int] = {}
    for key, (default, low, high) in SERVE_SETTINGS.items():
        value = table.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            problems.append(f"[serve] {key} = {value!r}: must be a whole number from {low} to {high}")
        else:
            values[key] = value
    if problems:
        raise BadInput(f"{where}: " + "; ".join(problems))
    return values


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("serve", help="serve the request form in a browser (Voila, localhost only)")
    p.add_argument("--port", type=int, default=None,
                   help=f"port on 127.0.0.1 (default {DEFAULT_PORT}, or {DESK_PORT} with --desk)")
    p.add_argument("--desk", action="store_true",
                   help="serve the review desk and dashboard to signed-in staff instead of the request form")
    p.add_argument("--no-browser", action="store_true", help="do not open a web browser")
    p.add_argument("--notebook-dir", metavar="DIR",
                   help=f"serve DIR/{PAGE} (with --desk: DIR/{DESK_PAGES[0]} and DIR/{DESK_PAGES[1]}) instead of "
                        "docket's own (customised copies); nothing else of DIR is served")
    add_json_flag(p)
    p.set_defaults(func=run)


def page_source(given: str | None, name: str = PAGE) -> Path:
    """The notebook ``name`` to serve: ``DIR/name`` of ``--notebook-dir``, or docket's own."""
    if given:
        folder = Path(given).resolve()
        if not folder.is_dir():
            raise NotFound(f"notebook folder {given} does not exist")
    else:
        from docket.resources import data_dir

        folder = data_dir("notebooks")
    page = folder / name
    if not page.is_file():
        raise NotFound(f"{name} is missing from {folder}")
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


def voila_command(page: Path, port: int, open_browser: bool, settings: dict[str, int] | None = None,
                  desk: bool = False, secret_file: Path | None = None) -> list[str]:
    """Voila (docket's guarded subclass) serving ``page`` alone, locked down, kernels culled.

    Command-line options win over any Voila or Jupyter configuration file, so these hold whatever
    the operator's Jupyter config says. The file lists are in :data:`VOILA_CONFIG` instead (given
    on the command line, traitlets warns on every start that the syntax is deprecated).
    ``settings`` are :func:`serve_settings` (defaults when omitted). ``desk`` serves ``page`` (the
    review notebook) and the dashboard beside it to signed-in staff (:mod:`docket.forms.desk_auth`).
    ``secret_file`` keeps the cookie secret across restarts (see :func:`secret_path`).
    """
    s = settings or serve_settings({})
    idle = s["cull_idle_seconds"]
    cmd = [
        sys.executable, "-m", "docket.forms.server_guard", str(page),
        f"--port={port}", f"--Voila.ip={HOST}", "--Voila.port_retries=0",
        f"--Voila.root_dir={page.parent}",
        "--show_tracebacks=False", "--Voila.log_level=WARN", f"--VoilaExecutor.iopub_timeout={OUTPUT_WAIT_SECONDS}",
        # ?template= and ?theme= would let a URL choose among every installed Voila template.
        "--VoilaConfiguration.allow_template_override=NO", "--VoilaConfiguration.allow_theme_override=NO",
        # A preheated kernel runs the page before its query string (?lang=, ?link=) is known, and holds
        # memory for nobody; progressive rendering needs a socket the guard does not serve.
        "--VoilaConfiguration.preheat_kernel=False", "--VoilaConfiguration.progressive_rendering=False",
        # Jupyter's idle culler; connected kernels too, or a page left open would live forever.
        f"--MappingKernelManager.cull_idle_timeout={idle}",
        f"--MappingKernelManager.cull_interval={max(1, min(60, idle // 2))}",
        "--MappingKernelManager.cull_connected=True", "--MappingKernelManager.cull_busy=False",
        f"--DocketVoila.closed_grace={s['cull_closed_seconds']}",
        f"--DocketVoila.unconnected_grace={s['cull_unconnected_seconds']}", f"--DocketVoila.max_kernels={s['max_pages']}",
    ]
    if desk:
        cmd += ["--DocketVoila.desk=True", f"--DocketVoila.session_seconds={s['desk_session_seconds']}"]
    if secret_file is not None:
        cmd.append(f"--DocketVoila.secret_file={secret_file}")
    if not open_browser:
        cmd.append("--no-browser")
    return cmd


def secret_path(root: Path, desk: bool) -> Path:
    """Where the served pages' cookie secret lives: ``keys/`` of the instance (mode 0700, made if
    missing), one per kind of server. With it a provider's page cookie outlives a restart of
    ``docket serve``, and so do their unfinished uploads (a new secret would orphan them); desk
    sessions are in the server's memory and end with it all the same. Remove the file to rotate."""
    keys = root / "keys"
    keys.mkdir(mode=0o700, exist_ok=True)
    return keys / ("serve-desk.secret" if desk else "serve-page.secret")


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
    settings = serve_settings(instance.config.extra, str(instance.root / "docket.toml"))
    names = DESK_PAGES if args.desk else (PAGE,)
    sources = [page_source(args.notebook_dir, name) for name in names]
    port = args.port if args.port is not None else DESK_PORT if args.desk else DEFAULT_PORT
    check_port(port)
    prepare_store(instance)
    url = f"http://{HOST}:{port}/"
    with tempfile.TemporaryDirectory(prefix="docket-serve-") as private:  # mode 0700: ours alone
        for source in sources:
            shutil.copyfile(source, Path(private) / source.name)
        page = Path(private) / names[0]
        (Path(private) / "voila.json").write_text(json.dumps(VOILA_CONFIG), encoding="utf-8")
        if args.desk:
            emit(args, {"url": url, "instance": str(instance.root), "pages": [str(s) for s in sources],
                        "sign_in": url + "sign-in"},
                 f"docket: serving the review desk of {instance.root} at {url} to signed-in staff\n"
                 f"        sign in with your API key at {url}sign-in; dashboard at {url}dashboard\n"
                 f"        (Ctrl-C to stop)")
        else:
            emit(args, {"url": url, "instance": str(instance.root), "page": str(sources[0])},
                 f"docket: serving {instance.root} at {url}\n"
                 f"        languages: {url}?lang=fr  -  a provider edits their request through their own link\n"
                 f"        (Ctrl-C to stop)")
        sys.stdout.flush()
        # The instance comes from here alone; a DOCKET_INSTANCE of the caller's shell is replaced.
        env = {**os.environ, "DOCKET_INSTANCE": str(instance.root)}
        if args.desk:
            # Each kernel gets the key of the person signed in to its page; the server holds none,
            # so no kernel can inherit one shared key (the guard refuses to start with one).
            env.pop("DOCKET_API_KEY", None)
        command = voila_command(page, port, not args.no_browser, settings, desk=args.desk,
                                secret_file=secret_path(instance.root, args.desk))
        child = subprocess.Popen(command, env=env, cwd=private)
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
