"""``docket demo [DIR]``: the end-to-end tour on the shipped examples."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="run the whole workflow on the examples in a new instance")
    p.add_argument("dir", nargs="?", default="demo-instance", help="folder for the demo instance")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from docket.demo import run_demo

    run_demo(args.dir)
    return 0
