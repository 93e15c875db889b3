"""``docket oai serve``: the OAI-PMH endpoint (issue 13, part 5) on this machine only.

A command of its own rather than a flag of ``docket serve``: that command runs Voila for the
form and the desk, this one a small WSGI server with no notebook, kernel or sign-in; sharing
a command would mean sharing options that mean nothing to the other. See :mod:`docket.oai`.
"""

from __future__ import annotations

import argparse
import sys

from docket.cli.output import add_json_flag, emit

DEFAULT_PORT = 8868


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("oai", help="OAI-PMH harvesting of published records")
    verbs = p.add_subparsers(dest="oai_command", metavar="COMMAND", required=True)
    serve = verbs.add_parser("serve", help="serve published records over OAI-PMH 2.0 (localhost only)")
    serve.add_argument("--port", type=int, default=DEFAULT_PORT,
                       help=f"port on 127.0.0.1 (default {DEFAULT_PORT}; 0: any free port)")
    serve.add_argument("--log", metavar="FILE", help="append the request log to FILE (default: standard error)")
    add_json_flag(serve)
    serve.set_defaults(func=run_serve)


def run_serve(args: argparse.Namespace) -> int:
    import logging

    from docket.cli.commands.serve import check_port, prepare_store
    from docket.instance import Instance
    from docket.oai.repository import Repository
    from docket.oai.server import make_server

    instance = Instance.find(args.instance)
    if args.port != 0:
        check_port(args.port)
    prepare_store(instance)  # the store exists and is current; the endpoint itself only reads
    repository = Repository(instance)
    handler: logging.Handler = logging.FileHandler(args.log, encoding="utf-8") if args.log else logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    logger = logging.getLogger("docket.oai")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    httpd = make_server(repository, args.port)
    url = httpd.oai_app.base_url  # [oai] base_url when set: the address harvesters are given
    listening = f"http://127.0.0.1:{httpd.server_address[1]}/oai"
    emit(args, {"url": url, "listening": listening, "instance": str(instance.root),
                "identifiers": f"{repository.prefix}<id>.<rev>"},
         f"docket: OAI-PMH for {instance.root} at {listening}"
         + (f" (harvested as {url})" if url != listening else "") + "\n"
         f"        e.g. {listening}?verb=Identify  (Ctrl-C to stop)")
    sys.stdout.flush()
    try:
        httpd.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        httpd.server_close()
        repository.close()
        logger.removeHandler(handler)
    return 0
