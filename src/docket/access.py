"""Who is calling, and what they may do: the rules that put real people behind the workflow.

:mod:`docket.workflow` says which *role* may make which transition; this module says who has which
role (an account, a provider's link, or nobody) and adds the rules about *people*:

- **read-own** -- staff read every request; a provider reads their own (by account or link).
- **edit-own** -- only a request's owner or a data manager stores a new revision of it.
- **no-self-review** -- nobody approves, rejects or requests changes on a request they own or
  submitted (a data manager who submitted on a provider's behalf included).
- **decided-once** -- a decision on a revision that someone already decided is a conflict that
  names who decided it.
- **staff-only** -- steps (transfer, QA, publication, archive) and instance repairs are staff work;
  **admin-only** -- accounts and other people's keys.

A request's owner is the account whose key submitted it, else (a data manager or an anonymous page
submitting on someone's behalf) the provider the request names. Every rule raises
:class:`~docket.errors.Refused` naming itself, and the API writes each refusal to the audit log.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from docket.errors import Refused
from docket.people.accounts import STAFF, Account

ANONYMOUS = "anonymous"
DECISIONS = ("approved", "rejected", "request-changes")


@dataclass(frozen=True)
class Caller:
    """Whoever is calling the API: an account (signed in with a key), a provider's link, or nobody."""

    account: Account | None = None
    link_request: str | None = None  # the request a provider's link opens
    source: str = ""

    @property
    def role(self) -> str:
        if self.account is not None:
            return self.account.role
        return "provider" if self.link_request else ANONYMOUS

    @property
    def is_staff(self) -> bool:
        return self.account is not None and self.account.role in STAFF

    @property
    def is_manager(self) -> bool:
        return self.account is not None and self.account.role in ("data-manager", "admin")

    @property
    def who(self) -> str:
        """How refusals and the audit log name the caller (never a key or a link)."""
        if self.account is not None:
            return self.account.email or self.account.name
        return f"link to {self.link_request}" if self.link_request else ANONYMOUS

    def owner_value(self, provider: dict[str, Any]) -> str:
        """The owner a request submitted by this caller gets."""
        if self.account is not None and self.account.role == "provider":
            return f"account:{self.account.person_id}"
        return f"provider:{provider.get('email') or provider.get('name')}"

    def owns(self, row: Any) -> bool:
        if self.link_request is not None and self.link_request == row.id:
            return True
        if self.account is None:
            return False
        if row.owner == f"account:{self.account.person_id}":
            return True
        # A provider's account also sees what a data manager submitted in their name.
        return (self.account.role == "provider" and self.account.email is not None
                and row.owner == f"provider:{self.account.email}")

    def submitted(self, row: Any) -> bool:
        return self.account is not None and row.submitted_by == self.account.person_id


def refuse(rule: str, message: str) -> Refused:
    return Refused(f"{message} (rule {rule})", rule=rule)


def check_signed_in(caller: Caller, what: str) -> None:
    if caller.account is None and caller.link_request is None:
        raise refuse("signed-in", f"{what} needs an API key (DOCKET_API_KEY or --key-file) or the provider's link")


def check_read(caller: Caller, row: Any) -> None:
    check_signed_in(caller, f"reading {row.id}")
    if caller.is_staff or caller.owns(row):
        return
    raise refuse("read-own", f"{caller.who} may not see {row.id}: a provider sees only their own requests")


def visible(caller: Caller, row: Any) -> bool:
    return caller.is_staff or caller.owns(row)


def check_edit(caller: Caller, row: Any) -> None:
    """A new revision: the owner or a data manager."""
    if caller.is_manager or caller.owns(row):
        return
    check_signed_in(caller, f"editing {row.id}")
    raise refuse("edit-own", f"{caller.who} ({caller.role}) may not edit {row.id}: only its provider "
                             "or a data manager may")


def check_decision(caller: Caller, row: Any, target: str) -> None:
    """Approve, reject, request changes: staff, and never on one's own request."""
    check_signed_in(caller, f"deciding on {row.id}")
    if caller.owns(row) or caller.submitted(row):
        why = "submitted" if caller.submitted(row) else "own"
        raise refuse("no-self-review", f"{caller.who} may not decide on {row.id}: nobody approves, "
                                       f"rejects or requests changes on a request they {why}")


def check_provider_move(caller: Caller, row: Any, target: str) -> None:
    """Submit a draft, withdraw, reopen a rejected request: its provider or a data manager."""
    if caller.is_manager or caller.owns(row):
        return
    check_signed_in(caller, f"moving {row.id}")
    raise refuse("edit-own", f"{caller.who} ({caller.role}) may not move {row.id} to {target}: only its "
                             "provider or a data manager may")


def check_staff(caller: Caller, what: str) -> None:
    if caller.is_manager:
        return
    check_signed_in(caller, what)
    raise refuse("staff-only", f"{caller.who} ({caller.role}) may not {what}: it is a data manager's work")


def check_comment(caller: Caller, row: Any) -> None:
    if caller.is_staff or caller.owns(row):
        return
    check_signed_in(caller, f"commenting on {row.id}")
    raise refuse("read-own", f"{caller.who} may not comment on {row.id}: only staff and its provider may")


def check_admin(caller: Caller, what: str) -> None:
    if caller.account is not None and caller.account.role == "admin":
        return
    check_signed_in(caller, what)
    raise refuse("admin-only", f"{caller.who} ({caller.role}) may not {what}: it needs an admin account")
