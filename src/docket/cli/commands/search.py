"""``docket search TEXT [--field F] [--limit N] [--json]``: full-text search of published requests."""

from __future__ import annotations

import argparse

from docket.cli.context import open_docket
from docket.cli.output import add_json_flag, emit

#: Mirrors ``docket.search.FIELDS`` (that module is imported only when the command runs, and it
#: checks the name again, so a field added there and not here is refused rather than misread).
FIELDS = ("title", "abstract", "keywords", "people", "organisations", "places", "variables",
          "instruments", "project")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "search",
        help="search the newest published revision of every request",
        description=(
            "Full-text search over published requests: titles, abstracts, keywords, people, "
            "organisations, places, variables, instruments and projects, in every language a "
            "field is given in. Every word must match; quotes, *, -, NEAR and field: prefixes are "
            "searched as plain words. One line per request, best first: ID.REVISION, title, the "
            "field that matched and a snippet with the match between ** **. --json prints "
            '[{"id", "revision", "title", "field", "language", "snippet", "score"}].'
        ),
    )
    p.add_argument("text", metavar="TEXT", help="the words to search for")
    p.add_argument("--field", choices=FIELDS, help="search only this field")
    p.add_argument("--limit", type=int, default=20, help="at most this many requests (1 to 100; default 20)")
    add_json_flag(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from docket.search import search

    with open_docket(args) as d:
        hits = search(d, args.text, field=args.field, limit=args.limit)
    lines = [f"{h['id']}.{h['revision']}  {h['title']}\n    {h['field']} ({h['language']}): {h['snippet']}"
             for h in hits]
    emit(args, hits, "\n".join(lines) if hits else "no published request matches")
    return 0
