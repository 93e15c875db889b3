"""The ``notify`` job kind: write one notification and hand it to the SMTP server.

The provider's secret link is minted here, when the mail is sent, never when it is queued: a
secret is shown once and stored hashed, so the only place it may exist in clear is the mail
itself (not the jobs table, not a log, not ``docket jobs --json``). If the mail does not go out,
the link just minted is revoked again, so no valid link exists that nobody received.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import update

from docket.errors import InstanceError
from docket.jobs.registry import JobContext, JobError, JobKind, Transient
from docket.notify import compose, smtp
from docket.notify.settings import notify_settings, smtp_settings
from docket.people import links, secrets
from docket.store import tables

log = logging.getLogger("docket.notify")


def describe(payload: dict[str, Any]) -> str:
    """One line for ``docket jobs``: the event, the request and who is told."""
    ref = f"{payload.get('request_id')}.{payload.get('revision')}"
    return f"{payload.get('event')} {ref} -> {payload.get('to')}"


def _revoke(docket: Any, secret: str, ctx: JobContext) -> None:
    prefix = secrets.prefix_of(secret, "link")
    t = tables.request_links
    try:
        with docket.store.transaction() as conn:
            conn.execute(update(t).where(t.c.prefix == prefix, t.c.revoked_date.is_(None))
                         .values(revoked_date=ctx.now))
    except Exception:  # noqa: BLE001 - the send's own failure is the one to report
        log.warning("could not revoke the unsent link %s of %s", secrets.shown(prefix or "", "link"), ctx.request_id)


def handle(ctx: JobContext, payload: dict[str, Any]) -> dict[str, Any]:
    docket = ctx.docket
    config = docket.config
    try:  # a missing or broken setting is named, and every mail waits until it is fixed
        server = smtp_settings(config)
        default_language = notify_settings(config).language
    except InstanceError as exc:
        raise Transient(exc.message, unavailable=True) from None
    timeout = min(server.timeout, ctx.timeout) if ctx.timeout else server.timeout
    request_id = payload.get("request_id")
    secret: str | None = None
    if payload.get("audience") == "provider" and request_id:
        with docket.store.transaction() as conn:
            secret = links.mint(conn, request_id, at=ctx.now, days=links.link_days(config))
    try:
        values = {
            "event": payload["event"], "request_id": request_id, "revision": payload.get("revision"),
            # One-line values stay one line (a subject is the template's first line); the comment
            # keeps its line breaks, the body is where it goes.
            "ref": f"{request_id}.{payload.get('revision')}", "title": compose.one_line(payload.get("title") or "", 500),
            "provider_name": compose.one_line(payload.get("provider_name") or "", 200),
            "provider_email": compose.one_line(payload.get("provider_email") or "", 320),
            "comment": payload.get("comment"), "fields": list(payload.get("fields") or []),
            "to_name": compose.one_line(payload.get("to_name") or "", 200), "audience": payload.get("audience"),
            "project": config.project, "link": links.url(config, secret) if secret else None,
        }
        try:  # a broken template stops the mails of its event only, not the others
            subject, body, language = compose.render(docket.instance.root, payload["event"],
                                                     payload.get("language"), default_language, values)
        except InstanceError as exc:
            raise Transient(exc.message) from None
        message = compose.build(sender=server.sender, to=payload["to"], to_name=payload.get("to_name"),
                                subject=subject, body=body, key=ctx.key or f"job-{ctx.job_id}", language=language,
                                at=ctx.now)
        for path in payload.get("attachments") or ():
            attach(message, docket.instance.root, path)
        smtp.send(message, server, timeout=timeout)
    except BaseException as exc:
        if secret is not None:
            _revoke(docket, secret, ctx)
            if isinstance(exc, JobError):  # kept as last_error: never with the link in it
                exc.message = exc.message.replace(secret, secrets.shown(secrets.prefix_of(secret, "link") or "", "link"))
        raise
    # The result names what was sent, never the link.
    return {"to": payload["to"], "subject": subject, "language": language, "message_id": message["Message-ID"],
            "link_sent": secret is not None}


MAX_ATTACHMENT = 5 * 1024 * 1024


def attach(message: Any, root: Any, relative: str) -> None:
    """Attach a file of the instance's ``runs/`` (the QA report page) to the mail. The path came
    from docket itself, but it is still only opened inside ``runs/``, without following a link,
    and bounded in size; one that is gone or too large is left out, never a failed mail."""
    import os
    from pathlib import Path

    runs = (Path(root) / "runs").resolve()
    target = (Path(root) / relative).resolve()
    if runs not in target.parents or not target.name.endswith(".html"):
        log.warning("attachment %s is not a report under runs/; left out", relative)
        return
    try:
        fd = os.open(target, os.O_RDONLY | os.O_NOFOLLOW)
        with os.fdopen(fd, "rb") as handle:
            data = handle.read(MAX_ATTACHMENT + 1)
    except OSError:
        log.warning("attachment %s cannot be read; left out", relative)
        return
    if len(data) > MAX_ATTACHMENT:
        log.warning("attachment %s is larger than %d bytes; left out", relative, MAX_ATTACHMENT)
        return
    message.add_attachment(data, maintype="text", subtype="html", filename=target.name)


KIND = JobKind(name="notify", handle=handle, describe=describe)
