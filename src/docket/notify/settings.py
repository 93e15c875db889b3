"""The ``[notify]`` and ``[smtp]`` tables of ``docket.toml``, checked, each bad value named.

``[notify]`` says who is told of what: per event a list of audiences (``provider``,
``reviewers``, ``data-managers``, ``admins``) and literal addresses. Notifications are on when
``[smtp] host`` is set (``[notify] enabled = false`` turns them off), so an instance without a
mail server queues nothing. ``[smtp]`` says how mail leaves: host, port, STARTTLS or implicit TLS,
the sender, a timeout. The login comes from the environment (``DOCKET_SMTP_USER``,
``DOCKET_SMTP_PASSWORD``), never from the file, and is never shown (its ``repr`` hides it).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from email.utils import parseaddr
from typing import Any

from docket.errors import InstanceError

EVENTS = ("submitted", "changes-requested", "approved", "rejected", "commented", "qa-errors", "published")
#: Audiences and the account roles they reach ("provider" is the request's own provider).
GROUPS: dict[str, tuple[str, ...]] = {
    "provider": (),
    "reviewers": ("reviewer", "data-manager", "admin"),
    "data-managers": ("data-manager", "admin"),
    "admins": ("admin",),
}
DEFAULT_RECIPIENTS: dict[str, tuple[str, ...]] = {
    # the provider's receipt carries their link (their way back in); reviewers learn of new work
    "submitted": ("provider", "reviewers"),
    "changes-requested": ("provider",),
    "approved": ("provider",),
    "rejected": ("provider",),
    "commented": ("provider",),  # a staff member's comment (not a reply) on the request
    "qa-errors": ("provider", "data-managers"),
    "published": ("provider", "data-managers"),
}
_ADDRESS = re.compile(r"^[^@\s<>()\[\],;:\"\\\x00-\x1f\x7f]{1,64}@[A-Za-z0-9.-]{1,253}$")
_HOST = re.compile(r"^[A-Za-z0-9.:\[\]-]{1,253}$")


def is_address(value: Any) -> bool:
    """Whether ``value`` is a bare e-mail address that can go in a header as it is (no name, no
    line break, no list separator): what docket sends to, from a request or a setting."""
    return isinstance(value, str) and bool(_ADDRESS.match(value))


@dataclass(frozen=True)
class NotifySettings:
    """Whether to notify, and who hears of each event."""

    enabled: bool
    recipients: dict[str, tuple[str, ...]]
    language: str = "en"  # the language of a mail when the request's has no template


def notify_settings(config: Any) -> NotifySettings:
    where = "docket.toml [notify]"
    table = getattr(config, "extra", {}).get("notify", {})
    if not isinstance(table, dict):
        raise InstanceError(f'{where} must be a table, like [notify] submitted = ["reviewers"]')
    smtp = getattr(config, "smtp", {}) or {}
    enabled = table.get("enabled", bool(isinstance(smtp, dict) and smtp.get("host")))
    if not isinstance(enabled, bool):
        raise InstanceError(f"{where}: enabled must be true or false, not {enabled!r}")
    language = table.get("language", "en")
    if not (isinstance(language, str) and re.match(r"^[a-z]{2,3}$", language)):
        raise InstanceError(f"{where}: language must be a language code like \"en\", not {language!r}")
    recipients = dict(DEFAULT_RECIPIENTS)
    for key, value in table.items():
        if key in ("enabled", "language"):
            continue
        if key not in EVENTS:
            raise InstanceError(f"{where}: unknown setting {key!r} (events: {', '.join(EVENTS)}; "
                                "also enabled, language)")
        if not (isinstance(value, list) and all(isinstance(v, str) for v in value)):
            raise InstanceError(f'{where}: {key} must be a list like ["provider", "reviewers", '
                                f'"desk@example.org"], not {value!r}')
        for item in value:
            if item not in GROUPS and not is_address(item):
                raise InstanceError(f"{where}: {key}: {item!r} is neither an audience "
                                    f"({', '.join(GROUPS)}) nor an e-mail address")
        recipients[key] = tuple(value)
    return NotifySettings(enabled=enabled, recipients=recipients, language=language)


@dataclass(frozen=True)
class SmtpSettings:
    """How mail leaves: one SMTP server, and the login from the environment."""

    host: str
    port: int
    starttls: bool
    ssl: bool
    sender: str  # as written: "Ingest desk <desk@example.org>" or a bare address
    sender_address: str
    timeout: float
    cafile: str | None = None
    user: str | None = None
    password: str | None = field(default=None, repr=False)

    @property
    def where(self) -> str:
        return f"{self.host}:{self.port}"


def smtp_settings(config: Any, environ: dict[str, str] | None = None) -> SmtpSettings:
    """The ``[smtp]`` settings; InstanceError naming the setting when one is missing or wrong."""
    where = "docket.toml [smtp]"
    env = os.environ if environ is None else environ
    table = getattr(config, "smtp", {}) or {}
    if not isinstance(table, dict):
        raise InstanceError(f"{where} must be a table")
    known = {"host", "port", "starttls", "ssl", "from", "timeout", "cafile"}
    unknown = sorted(set(table) - known)
    if unknown:
        hint = " (the login comes from DOCKET_SMTP_USER and DOCKET_SMTP_PASSWORD)" if {
            "user", "password", "username"} & set(unknown) else ""
        raise InstanceError(f"{where}: unknown setting {unknown[0]!r} (known: {', '.join(sorted(known))}){hint}")
    host = table.get("host")
    if not (isinstance(host, str) and _HOST.match(host)):
        raise InstanceError(f"{where}: host must be the mail server's name or address, not {host!r}")
    flags = {}
    for key in ("starttls", "ssl"):
        value = table.get(key, False)
        if not isinstance(value, bool):
            raise InstanceError(f"{where}: {key} must be true or false, not {value!r}")
        flags[key] = value
    if flags["starttls"] and flags["ssl"]:
        raise InstanceError(f"{where}: starttls and ssl exclude each other (ssl: TLS from the start, "
                            "usually port 465; starttls: upgrade a plain connection, usually 587)")
    port = table.get("port", 465 if flags["ssl"] else 587 if flags["starttls"] else 25)
    if isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536:
        raise InstanceError(f"{where}: port must be a number from 1 to 65535, not {port!r}")
    sender = table.get("from")
    name, address = parseaddr(sender) if isinstance(sender, str) else ("", "")
    if not (isinstance(sender, str) and is_address(address) and not re.search(r"[\x00-\x1f\x7f]", sender)):
        raise InstanceError(f'{where}: from must be the sender\'s address, like "Ingest desk '
                            f'<desk@example.org>", not {sender!r}')
    timeout = table.get("timeout", 30)
    if isinstance(timeout, bool) or not isinstance(timeout, int | float) or not 0 < timeout <= 3600:
        raise InstanceError(f"{where}: timeout must be a number of seconds (more than 0, at most 3600), "
                            f"not {timeout!r}")
    cafile = table.get("cafile")
    if cafile is not None and not isinstance(cafile, str):
        raise InstanceError(f"{where}: cafile must be the path of a CA bundle, not {cafile!r}")
    user = env.get("DOCKET_SMTP_USER") or None
    password = env.get("DOCKET_SMTP_PASSWORD") or None
    if password and not user:
        raise InstanceError("DOCKET_SMTP_PASSWORD is set but DOCKET_SMTP_USER is not: set both to log in")
    return SmtpSettings(host=host, port=port, starttls=flags["starttls"], ssl=flags["ssl"], sender=sender,
                        sender_address=address, timeout=float(timeout), cafile=cafile, user=user,
                        password=password)
