"""How commands print: human text, or JSON with ``--json``; errors as one line."""

from __future__ import annotations

import json
import sys
from typing import Any

from docket.errors import DocketError


def printable(text: str) -> str:
    """``text`` as it can be written to a UTF-8 stream: a lone surrogate (a file name that is not
    UTF-8, an argument echoed in a message) shown as ``\udcff`` instead of failing to print."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def emit(args: Any, data: Any, text: str | None = None) -> None:
    """Print ``data`` as JSON when ``--json`` was given, else ``text`` (or data as JSON)."""
    if getattr(args, "json", False) or text is None:
        print(printable(json.dumps(data, indent=2, ensure_ascii=False, default=str)))
    else:
        print(printable(text))


def report_error(exc: DocketError, as_json: bool = False) -> None:
    """One line naming the problem (plus one line per listed problem), never a traceback."""
    if as_json:
        print(printable(json.dumps(exc.as_dict(), indent=2, ensure_ascii=False)))
        return
    print(printable(f"docket: {exc.message}"), file=sys.stderr)
    for problem in exc.problems:
        print(printable(f"  - {problem}"), file=sys.stderr)


def add_json_flag(parser: Any) -> None:
    parser.add_argument("--json", action="store_true", help="machine-readable output")
