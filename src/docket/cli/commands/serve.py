"""``docket serve``: the form pages (``notebooks/``) served by Voila on this machine only.

Voila runs as a child process bound to 127.0.0.1; the instance folder reaches its kernels
through ``DOCKET_INSTANCE``. A data centre that wants the pages on a network puts a reverse
proxy with authentication in front: docket itself never listens beyond loopback.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

from docket.cli.output import add_json_flag, emit
from docket.errors import BadInput, NotFound

HOST = "127.0.0.1"
DEFAULT_PORT = 8866
PAGE = "request.ipynb"


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("serve", help="serve the request form in a browser (Voila, localhost only)")
    p.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"port on 127.0.0.1 (default {DEFAULT_PORT})")
    p.add_argument("--no-browser", action="store_true", help="do not open a web browser")
    p.add_argument("--notebook-dir", metavar="DIR",
                   help="serve the notebooks of DIR instead of docket's own (e.g. a customised copy)")
    add_json_flag(p)
    p.set_defaults(func=run)


def notebook_dir(given: str | None) -> Path:
    if given:
        path = Path(given).resolve()
        if not path.is_dir():
            raise NotFound(f"notebook folder {given} does not exist")
        return path
    from docket.resources import data_dir

    return data_dir("notebooks")


def check_port(port: int) -> None:
    """Refuse a port outside 1..65535 or already taken, before Voila starts and fails obscurely."""
    if not 0 < port < 65536:
        raise BadInput(f"--port {port} is not a TCP port (1 to 65535)")
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind((HOST, port))
        except OSError as exc:
            raise BadInput(f"port {port} on {HOST} is in use or not allowed ({exc.strerror}); choose another with --port") from exc


def voila_command(folder: Path, port: int, open_browser: bool) -> list[str]:
    cmd = [
        sys.executable, "-m", "voila", str(folder),
        f"--port={port}", f"--Voila.ip={HOST}", "--Voila.port_retries=0",
        "--show_tracebacks=False", "--Voila.log_level=WARN",
    ]
    if not open_browser:
        cmd.append("--no-browser")
    return cmd


def run(args: argparse.Namespace) -> int:
    from docket.instance import Instance

    instance = Instance.find(args.instance)  # a clear error now, not a broken page later
    folder = notebook_dir(args.notebook_dir)
    if not (folder / PAGE).is_file() and not args.notebook_dir:
        raise NotFound(f"{PAGE} is missing from {folder}")
    check_port(args.port)
    base = f"http://{HOST}:{args.port}"
    url = f"{base}/voila/render/{PAGE}"
    emit(args, {"url": url, "tree": f"{base}/", "instance": str(instance.root), "notebooks": str(folder)},
         f"docket: serving {instance.root} at {url}\n"
         f"        languages: {url}?lang=fr  -  edit a request: {url}?id=<request id>\n"
         f"        (Ctrl-C to stop)")
    sys.stdout.flush()
    env = {**os.environ, "DOCKET_INSTANCE": str(instance.root)}
    child = subprocess.Popen(voila_command(folder, args.port, not args.no_browser), env=env)

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
