"""The ``docket`` command: a thin layer that turns arguments into one call of the Python API.

Each module in :mod:`docket.cli.commands` defines ``register(subparsers)``, adding its own
sub-commands; this module finds them all, so a new command is a new file. Every
:class:`~docket.errors.DocketError` becomes a one-line message on stderr (or a JSON object with
``--json``) and its exit code; no traceback reaches a user.

The command starts at once: building the parser imports no heavy module (no SQLAlchemy, Alembic,
pandas, pyarrow, prov, papermill or jsonschema). A command module's ``register`` only declares
arguments; its handler imports what it uses when it runs, so ``docket --version`` and ``docket
--help`` load nothing of the API and each command loads only its own needs
(``tests/test_startup.py`` holds this).
"""

from __future__ import annotations

import argparse
import functools
import importlib
import os
import pkgutil
import sys
from collections.abc import Sequence

from docket import __version__
from docket.cli import commands
from docket.cli.context import add_identity_flags
from docket.errors import BadInput, DocketError


class _Parser(argparse.ArgumentParser):
    """argparse that raises instead of exiting, so usage errors share the exit-code path."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise BadInput(f"{self.prog}: {message}")

    def format_help(self) -> str:
        """The help, with the text of any argument whose help is only known by importing a heavy
        module (its action's ``lazy_help``, a function returning the text) filled in now, when
        the help is shown, rather than when the parser is built for every command."""
        for action in self._actions:
            lazy = getattr(action, "lazy_help", None)
            if lazy is not None:
                action.help = lazy()
        return super().format_help()


@functools.cache
def build_parser() -> argparse.ArgumentParser:
    """The whole command line, built once per process: about fifty sub-parsers, 20 to 40 ms.

    The console script parses one command line, but in-process callers (``main(argv)`` from a
    notebook, a service or the tests) parse many, and the parser is the same every time: no
    command's ``register`` reads the environment or the instance, and parsing does not change
    the parser (each call gets a fresh namespace).
    """
    parser = _Parser(prog="docket", description="The ingest desk of a data centre.")
    parser.add_argument("--version", action="version", version=f"docket {__version__}")
    parser.add_argument(
        "--instance",
        metavar="DIR",
        default=None,
        help="instance folder (default: $DOCKET_INSTANCE, else the current folder)",
    )
    add_identity_flags(parser)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{commands.__name__}.{info.name}")
        module.register(sub)
    return parser


def _is_store_error(exc: BaseException) -> bool:
    """Whether ``exc`` is a :class:`sqlalchemy.exc.SQLAlchemyError`, without importing SQLAlchemy
    at start: if nothing has loaded it, no store error can have been raised. (No SQLAlchemy error
    is also a DocketError, an OSError or a MemoryError, so checking it in the last handler catches
    the same errors as a handler of its own before those.)"""
    sa_exc = sys.modules.get("sqlalchemy.exc")
    return sa_exc is not None and isinstance(exc, sa_exc.SQLAlchemyError)


def wants_json(argv: Sequence[str]) -> bool:
    return "--json" in argv


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script; returns the exit code.

    Called without ``argv`` (the console script, ``python -m docket.cli``) the command owns its
    process, which a handler may rely on (``args.own_process``); called with ``argv`` it runs
    inside someone else's Python and leaves the process as it found it.
    """
    own_process = argv is None
    if own_process:
        # Arrow's allocator (mimalloc) keeps freed pages for a while before returning them; a
        # check streams many short-lived blocks, and that lag was ~25 MB of its peak memory.
        # Read by mimalloc when it first decides to purge, so setting it here is in time.
        os.environ.setdefault("MIMALLOC_PURGE_DELAY", "0")
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        parser = build_parser()
        args = parser.parse_args(argv)
        if not getattr(args, "func", None):
            parser.print_help()
            return 2
        if args.instance is None:
            args.instance = os.environ.get("DOCKET_INSTANCE") or os.getcwd()
        args.own_process = own_process
        return int(args.func(args) or 0)
    except DocketError as exc:
        from docket.cli.output import report_error

        report_error(exc, as_json=wants_json(argv))
        return exc.exit_code
    except KeyboardInterrupt:
        print("docket: interrupted", file=sys.stderr)
        return 130
    except OSError as exc:
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"docket: {where}{exc.strerror or exc}", file=sys.stderr)
        return 2
    except MemoryError:
        # Inputs are bounded ([limits] in docket.toml), but a limit set higher than this machine's
        # memory can still run out: that is too large an input, not a bug, and every write is one
        # transaction, so nothing was changed.
        print("docket: not enough memory for this input; nothing was changed "
              "(lower [limits] in docket.toml, or give docket more memory)", file=sys.stderr)
        return 2
    except Exception as exc:  # the last net: a user sees one line, a developer can ask for more
        if _is_store_error(exc):
            reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
            print(f"docket: store error, nothing was changed: {reason}", file=sys.stderr)
            return 2
        if os.environ.get("DOCKET_DEBUG"):
            raise
        print(f"docket: internal error ({type(exc).__name__}: {exc}); set DOCKET_DEBUG=1 for the traceback",
              file=sys.stderr)
        return 70


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
