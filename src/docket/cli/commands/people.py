"""People and conversation: ``docket user``, ``docket key``, ``docket link``, ``docket comment``.

A key or a link is printed once, when it is made (a key is for its person to keep in a file only
they can read and pass with ``--key-file`` or ``$DOCKET_API_KEY``); afterwards only its prefix is
ever shown, by ``docket user list``.
"""

from __future__ import annotations

import argparse

from docket.cli.context import deliver, open_docket
from docket.cli.output import add_json_flag, emit

ROLES = ("provider", "reviewer", "data-manager", "admin")


def register(sub: argparse._SubParsersAction) -> None:
    user = sub.add_parser("user", help="accounts: add, list, disable, enable (admins)")
    users = user.add_subparsers(dest="user_command", metavar="ACTION", required=True)
    p = users.add_parser("add", help="a new account; prints its API key once")
    p.add_argument("name")
    p.add_argument("--email", help="where notifications go")
    p.add_argument("--orcid", help="the person's ORCID iD, recorded in PROV")
    p.add_argument("--role", required=True, choices=ROLES, help="what the account may do")
    p.add_argument("--expires", metavar="DATE", help="the account and its first key stop working after DATE")
    add_json_flag(p)
    p.set_defaults(func=user_add)
    p = users.add_parser("list", help="accounts and their keys (by prefix)")
    add_json_flag(p)
    p.set_defaults(func=user_list)
    for action, enabled in (("disable", False), ("enable", True)):
        p = users.add_parser(action, help=f"{action} an account (its keys stop or start working at once)")
        p.add_argument("name")
        add_json_flag(p)
        p.set_defaults(func=user_status, enabled=enabled)

    key = sub.add_parser("key", help="API keys: new, revoke")
    keys = key.add_subparsers(dest="key_command", metavar="ACTION", required=True)
    p = keys.add_parser("new", help="a new key for your account (admins: --user NAME); printed once")
    p.add_argument("--user", metavar="NAME", help="whose key (admins only; default yours)")
    p.add_argument("--expires", metavar="DATE")
    add_json_flag(p)
    p.set_defaults(func=key_new)
    p = keys.add_parser("revoke", help="revoke a key at once, by its prefix (docket user list)")
    p.add_argument("prefix", help="the key's prefix, e.g. dk_1a2b3c4d5e6f")
    add_json_flag(p)
    p.set_defaults(func=key_revoke)

    link = sub.add_parser("link", help="a provider's secret link to their request: new, revoke")
    links = link.add_subparsers(dest="link_command", metavar="ACTION", required=True)
    p = links.add_parser("new", help="a new link for the request's provider; printed once")
    p.add_argument("id")
    add_json_flag(p)
    p.set_defaults(func=link_new)
    p = links.add_parser("revoke", help="revoke every live link of a request")
    p.add_argument("id")
    add_json_flag(p)
    p.set_defaults(func=link_revoke)

    p = sub.add_parser("comment", help="comment on a request (or a field of it), or reply to a comment")
    p.add_argument("id", help="ID, or ID.N for revision N")
    p.add_argument("text")
    p.add_argument("--field", metavar="JSONPATH", help="the field it is about, e.g. $.metadata.project_descriptive.title")
    p.add_argument("--reply-to", type=int, metavar="N", help="the comment this answers (docket show lists them)")
    add_json_flag(p)
    p.set_defaults(func=comment)


def user_add(args: argparse.Namespace) -> int:
    with open_docket(args) as d:
        result = d.add_user(args.name, args.role, email=args.email, orcid=args.orcid, expires=args.expires)
    emit(args, result, f"added {result['name']} ({result['role']})\n"
                       f"API key (shown only now; keep it in a file only they can read): {result['key']}")
    return 0


def user_list(args: argparse.Namespace) -> int:
    with open_docket(args) as d:
        rows = d.users()
    lines = [f"{'NAME':<24} {'ROLE':<13} {'STATUS':<9} {'E-MAIL':<32} KEYS"]
    for r in rows:
        live = [k["key"] for k in r["keys"] if not k["revoked"]]
        lines.append(f"{r['name']:<24} {r['role']:<13} {r['status']:<9} {r['email'] or '-':<32} {' '.join(live) or '-'}")
    emit(args, rows, "\n".join(lines))
    return 0


def user_status(args: argparse.Namespace) -> int:
    with open_docket(args) as d:
        result = d.set_user_status(args.name, args.enabled)
    emit(args, result, f"{result['name']}: {result['status']}")
    return 0


def key_new(args: argparse.Namespace) -> int:
    with open_docket(args) as d:
        result = d.new_key(args.user, expires=args.expires)
    emit(args, result, f"new key for {result['account']} (shown only now): {result['key']}")
    return 0


def key_revoke(args: argparse.Namespace) -> int:
    with open_docket(args) as d:
        result = d.revoke_key(args.prefix)
    emit(args, result, f"revoked {result['key']} of {result['account']}")
    return 0


def link_new(args: argparse.Namespace) -> int:
    with open_docket(args) as d:
        result = d.new_link(args.id)
    emit(args, result, f"link for the provider of {result['id']} (shown only now): {result['link_url']}")
    return 0


def link_revoke(args: argparse.Namespace) -> int:
    with open_docket(args) as d:
        result = d.revoke_links(args.id)
    emit(args, result, f"{result['id']}: {result['revoked']} link(s) revoked")
    return 0


def comment(args: argparse.Namespace) -> int:
    with open_docket(args) as d:
        result = d.comment(args.id, args.text, field=args.field, reply_to=args.reply_to)
        deliver(d)
    emit(args, result, f"{result['id']}: comment #{result['comment']}")
    return 0
