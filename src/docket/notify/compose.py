"""Writing a notification: a Jinja2 text template per language and event, made into a message.

Templates live in ``templates/<lang>/<event>.txt`` beside this module; an instance overrides any
of them with ``<instance>/templates/mail/<lang>/<event>.txt``. The first line of a rendered
template is the subject, the rest the body. The language is the request's, else its base
language (``fr`` for ``fr-CA``), else ``[notify] language``, else English.

Provider text (title, comment, name) is data, never template code, and cannot add a header:
the subject and display names lose every control character (so no CR/LF), addresses were
checked when the job was queued, and :class:`email.message.EmailMessage` builds the headers.
The Message-ID is derived from the job's idempotency key, so if a mail ever reaches someone
twice the copies are recognisably the same message.
"""

from __future__ import annotations

import email.policy
import hashlib
import re
from datetime import datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr
from functools import lru_cache
from pathlib import Path
from typing import Any

from docket.errors import InstanceError

PACKAGE_TEMPLATES = Path(__file__).resolve().parent / "templates"
INSTANCE_TEMPLATES = Path("templates") / "mail"
_LANGUAGE = re.compile(r"^[a-z]{2,3}(?:-[A-Za-z0-9]{2,8})*$")
_CONTROLS = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]+")
MAX_SUBJECT = 200
# SMTP line endings; headers folded only past RFC 5322's hard limit, because the standard library
# folds some 78+ character subjects right after "Subject:", which readers then show with a
# leading space. A subject is at most MAX_SUBJECT characters, so no line comes near 998.
_POLICY = email.policy.SMTP.clone(max_line_length=998)


def one_line(text: str, limit: int = MAX_SUBJECT) -> str:
    """``text`` as a header value: control characters (CR, LF, tab...) become single spaces."""
    flat = " ".join(_CONTROLS.sub(" ", text).split())
    return flat if len(flat) <= limit else flat[:limit - 1] + "…"


def languages(requested: str | None, default: str) -> list[str]:
    """The template languages to try, best first; anything that is not a language tag is skipped
    (a request's language never becomes a path)."""
    out: list[str] = []
    if isinstance(requested, str) and _LANGUAGE.match(requested):
        out += [requested, requested.split("-")[0].lower()]
    out += [default, "en"]
    return list(dict.fromkeys(out))


@lru_cache(maxsize=8)
def _environment(instance_root: str) -> Any:
    from jinja2 import ChoiceLoader, FileSystemLoader, StrictUndefined
    from jinja2.sandbox import SandboxedEnvironment

    loader = ChoiceLoader([FileSystemLoader(str(Path(instance_root) / INSTANCE_TEMPLATES)),
                           FileSystemLoader(str(PACKAGE_TEMPLATES))])
    # Plain text: no HTML escaping. Sandboxed and strict: a template (the instance's own) can
    # only read the values it is given, and a misspelt name is an error, not an empty string.
    return SandboxedEnvironment(loader=loader, autoescape=False, undefined=StrictUndefined,
                                keep_trailing_newline=True, trim_blocks=True, lstrip_blocks=True,
                                auto_reload=True)


def render(instance_root: Path, event: str, language: str | None, default_language: str,
           values: dict[str, Any]) -> tuple[str, str, str]:
    """``(subject, body, language used)`` of ``event``; InstanceError naming a broken template."""
    from jinja2 import TemplateError, TemplatesNotFound

    names = [f"{lang}/{event}.txt" for lang in languages(language, default_language)]
    env = _environment(str(instance_root))
    try:
        template = env.select_template(names)
        text = template.render(**values)
    except TemplatesNotFound:
        raise InstanceError(f"no mail template for {event!r} (looked for {', '.join(names)} in "
                            f"{instance_root / INSTANCE_TEMPLATES} and docket's own)") from None
    except TemplateError as exc:
        raise InstanceError(f"mail template {names[0].split('/')[0]}/{event}.txt cannot be rendered: "
                            f"{one_line(str(exc))}") from None
    first, _, rest = text.lstrip("\n").partition("\n")
    subject = one_line(first.removeprefix("Subject:").strip())
    if not subject:
        raise InstanceError(f"mail template for {event!r}: its first line (the subject) is empty")
    body = rest.lstrip("\n").rstrip() + "\n"
    used = (template.name or names[-1]).split("/")[0]
    return subject, body, used


def message_id(key: str, sender_address: str) -> str:
    """A Message-ID that is the same for every delivery of one job (its idempotency key)."""
    domain = sender_address.rpartition("@")[2] or "docket.invalid"
    return f"<{hashlib.sha256(key.encode('utf-8')).hexdigest()[:40]}.docket@{domain}>"


def _address(display: str | None, address: str) -> Address:
    user, _, domain = address.rpartition("@")
    return Address(display_name=one_line(display or "", 120), username=user, domain=domain)


def build(*, sender: str, to: str, to_name: str | None, subject: str, body: str, key: str,
          language: str, at: datetime) -> EmailMessage:
    """The message itself; every header value here is either checked or made one line."""
    msg = EmailMessage(policy=_POLICY)
    sender_name, sender_address = parseaddr(sender)
    msg["From"] = _address(sender_name, sender_address)
    msg["To"] = _address(to_name, to)
    msg["Subject"] = subject
    msg["Date"] = format_datetime(at)
    msg["Message-ID"] = message_id(key, sender_address)
    msg["Auto-Submitted"] = "auto-generated"  # RFC 3834: no vacation replies to the desk
    msg.set_content(body, charset="utf-8")
    msg["Content-Language"] = language  # after set_content, which replaces the Content-* headers
    return msg
