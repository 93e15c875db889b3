"""Signing staff in to ``docket serve --desk``: the key check, the session table, the sign-in page.

The desk pages (``review.ipynb``, ``dashboard.ipynb``) act as whoever is signed in, so the server
cannot hold one key for everybody: each member of staff signs in with their own API key, and the
kernel their browser starts gets that key (``DOCKET_API_KEY`` in the kernel's environment, see
:mod:`docket.forms.server_guard`), so every decision is recorded as that person.

* :func:`check_staff_key` asks the store, as every docket command does (:class:`docket.api.Docket`
  with ``key=``): one argon2 verification whether the key exists or not, and failures counted per
  ``source`` (the browser's address), so a guesser is slowed and a colleague is not.
* :class:`DeskSessions` is the server-side session table, in memory only: a random session id
  (what the signed cookie carries; the key itself never leaves the server) maps to the account and
  its key. A session ends on sign-out, after :attr:`DeskSessions.idle_seconds` without a request,
  and after :data:`MAX_SESSION_SECONDS` in any case; a server restart ends them all.
* :func:`sign_in_page` is a plain HTML form (POST, never a key in an address).
"""

from __future__ import annotations

import html
import os
import secrets
import time
from dataclasses import dataclass, field

from docket.errors import Refused

#: A session lives at most this long however active it is (a forgotten tab does not stay signed in).
MAX_SESSION_SECONDS = 12 * 3600
#: Sessions at once: staff are few; beyond this the oldest is dropped so memory stays bounded.
MAX_SESSIONS = 1000
STAFF_ONLY = ("this account may not use the data manager's desk: it is for staff (reviewer, data-manager, "
              "admin) (rule staff-only)")
#: The refusal for a blank form: the same wording as a wrong key, so it reveals nothing either.
NO_KEY = "give your docket API key"


@dataclass(frozen=True)
class StaffMember:
    """Who signed in: what the page may show (never the key)."""

    name: str
    role: str
    email: str | None


@dataclass
class Session:
    """One signed-in browser: its account, the account's key (for its kernels), and its times."""

    member: StaffMember
    key: str = field(repr=False)  # never in a repr, a log line or a traceback's locals summary
    started: float
    seen: float


def check_staff_key(instance: str | os.PathLike[str], key: str, source: str) -> StaffMember:
    """The staff account ``key`` belongs to, or :class:`Refused` (rule ``valid-key`` or ``staff-only``).

    Blocking (argon2, and the store's slow-down for a source with many failures): the server runs
    it in a thread, so one guesser waiting does not stall everybody's pages. The store is opened
    as it is, never migrated: that is the operator's, done once by ``docket serve``.
    """
    from docket.api import Docket

    if not key:
        raise Refused(NO_KEY, rule="valid-key")
    docket = Docket.open(instance, migrate=False, key=key, source=source)
    try:
        caller = docket.caller  # Refused for a wrong, expired, revoked or disabled key
        account = caller.account
        if account is None or not caller.is_staff:
            # A failed sign-in here, though the key is valid: counted for the source like a wrong
            # key, so a provider's key cannot be used to wipe out a guesser's failures unnoticed.
            from datetime import UTC, datetime

            from docket.people import accounts

            with docket.store.transaction() as conn:
                accounts.note_failure(conn, source, datetime.now(UTC))
            raise Refused(STAFF_ONLY, rule="staff-only")
        return StaffMember(account.name, account.role, account.email)
    finally:
        docket.close()


class DeskSessions:
    """The desk's signed-in browsers, by random session id, in this server's memory only."""

    def __init__(self, idle_seconds: float, *, clock: object = time.monotonic) -> None:
        self.idle_seconds = idle_seconds
        self._clock = clock
        self._sessions: dict[str, Session] = {}

    def start(self, member: StaffMember, key: str) -> str:
        """A new session for ``member`` signed in with ``key``: its id (for the signed cookie)."""
        now = self._clock()  # type: ignore[operator]
        if len(self._sessions) >= MAX_SESSIONS:
            oldest = min(self._sessions, key=lambda s: self._sessions[s].started)
            del self._sessions[oldest]
        session_id = secrets.token_urlsafe(32)
        self._sessions[session_id] = Session(member, key, now, now)
        return session_id

    def get(self, session_id: str | None, *, touch: bool = True) -> Session | None:
        """The live session ``session_id`` names (and it counts as activity), or None."""
        if not session_id:
            return None
        session = self._sessions.get(session_id)
        if session is None:
            return None
        now = self._clock()  # type: ignore[operator]
        if self._expired(session, now):
            return None  # the sweep removes it and shuts its kernels down
        if touch:
            session.seen = now
        return session

    def end(self, session_id: str | None) -> bool:
        """Sign out: forget the session (and its key). Whether there was one."""
        return bool(session_id) and self._sessions.pop(session_id, None) is not None  # type: ignore[arg-type]

    def expired(self) -> list[str]:
        """Remove the sessions past their time: their ids (their kernels are to be shut down)."""
        now = self._clock()  # type: ignore[operator]
        gone = [sid for sid, s in self._sessions.items() if self._expired(s, now)]
        for sid in gone:
            del self._sessions[sid]
        return gone

    def __len__(self) -> int:
        return len(self._sessions)

    def _expired(self, session: Session, now: float) -> bool:
        return now - session.seen > self.idle_seconds or now - session.started > MAX_SESSION_SECONDS


PAGE_STYLE = ("body{font-family:system-ui,sans-serif;max-width:28em;margin:4em auto;padding:0 1em}"
              "label,input,button{display:block;font-size:1rem;margin:.4em 0}input{width:100%;padding:.4em}"
              ".docket-sign-in-error{color:#8c1c13;border-left:4px solid #c44e52;padding-left:.6em}")


def sign_in_page(xsrf_form_html: str, action: str, message: str | None = None, note: str | None = None) -> str:
    """The sign-in form. ``message`` (a refusal) and ``note`` (signed out) are escaped here; the
    key field is never filled in, so a refused key is not sent back to the browser."""
    error = f"<p class='docket-sign-in-error' role='alert'>{html.escape(message)}</p>" if message else ""
    info = f"<p class='docket-sign-in-note'>{html.escape(note)}</p>" if note else ""
    return ("<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>docket desk: sign in</title>"
            "<meta name='referrer' content='same-origin'>"
            f"<style>{PAGE_STYLE}</style></head><body><h1>docket desk</h1>"
            "<p>The review desk and dashboard are for staff. Sign in with your docket API key.</p>"
            f"{info}{error}"
            f"<form class='docket-sign-in' method='post' action='{html.escape(action)}' autocomplete='off'>"
            f"{xsrf_form_html}<label for='docket-key'>API key</label>"
            "<input id='docket-key' name='key' type='password' required autofocus>"
            "<button type='submit' class='docket-sign-in-button'>Sign in</button></form></body></html>")


def desk_bar(member: StaffMember, xsrf_form_html: str, base: str) -> str:
    """The strip above each desk page: who is signed in, the two pages, and sign-out (a POST)."""
    email = f" &lt;{html.escape(member.email)}&gt;" if member.email else ""
    return ("<nav class='docket-desk-bar' style='font-family:system-ui,sans-serif;padding:.4em 1em;"
            "background:#f3f3f3;border-bottom:1px solid #ddd;display:flex;gap:1em;align-items:center'>"
            f"<span class='docket-desk-who'>{html.escape(member.name)}{email} ({html.escape(member.role)})</span>"
            f"<a href='{html.escape(base)}'>Review</a><a href='{html.escape(base)}dashboard'>Dashboard</a>"
            f"<form method='post' action='{html.escape(base)}sign-out' style='margin:0 0 0 auto'>{xsrf_form_html}"
            "<button type='submit' class='docket-sign-out'>Sign out</button></form></nav>")
