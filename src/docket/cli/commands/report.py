"""``docket report REPORT.json --html OUT.html [--lang fr]``: a quality report as a provider's page.

Any report JSON will do (from ``docket qa``, in ``runs/<id>/``, or from ``docket check
--output``): it is validated against the report format first, so a file that is not a report is
refused (exit 2) rather than rendered as an empty page. Needs no instance; with one (``--instance``,
``$DOCKET_INSTANCE`` or the current folder), the page is in the instance's first configured
language unless ``--lang`` names another. The page itself is made by
:func:`docket.reports.html.render`, imported when the command runs, not when the parser is built.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from docket.cli.output import add_json_flag, emit
from docket.errors import BadInput, InstanceError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "report", help="render a quality report (JSON) as a page for the data provider",
        description="Write REPORT.json (from docket qa or docket check --output) as one "
                    "self-contained HTML page: a summary per file, every failing check with what "
                    "was expected, what was found, where and what to do, and pictures, in the "
                    "provider's language. Nothing in the page is fetched from the network.",
    )
    p.add_argument("report", metavar="REPORT.json", help="a docket quality report")
    p.add_argument("--html", metavar="OUT.html", required=True, help="where to write the page")
    p.add_argument("--lang", metavar="CODE",
                   help="the page's language: en, fr or de (default: the instance's first "
                        "configured language, else en)")
    add_json_flag(p)
    p.set_defaults(func=run)


def _default_language(instance: str | None) -> list[str]:
    """The instance's configured languages when there is an instance here, else none."""
    from docket.instance import Instance

    try:
        return list(Instance.find(instance).config.languages)
    except InstanceError:
        return []


def run(args: argparse.Namespace) -> int:
    from docket.checks.report import validate_report
    from docket.reports.html import write_html
    from docket.reports.messages import choose_language, supported

    source = Path(args.report)
    try:
        data = json.loads(source.read_text(encoding="utf-8"))
    except OSError as exc:
        raise BadInput(f"{source}: cannot read ({exc.strerror or exc})") from None
    except ValueError as exc:
        raise BadInput(f"{source}: not JSON ({exc})") from None
    if not isinstance(data, dict):
        raise BadInput(f"{source}: not a docket quality report (a JSON object is expected)")
    validate_report(data)
    language = supported(args.lang) if args.lang else choose_language(None, _default_language(args.instance))
    try:
        path, language = write_html(data, args.html, language=language)
    except OSError as exc:
        raise BadInput(f"--html {args.html}: cannot write ({exc.strerror or exc})") from None
    emit(args, {"html": str(path), "language": language, "valid": data["valid"]},
         f"{path}: the report of {data.get('subject', {}).get('name') or data.get('subject', {}).get('id') or source.name} "
         f"as a page in {language}")
    return 0
