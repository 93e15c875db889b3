"""Handing one message to the SMTP server, and telling a passing failure from a final one.

A server that cannot be reached, times out, drops the line or answers 4xx may accept the mail
later: :class:`~docket.jobs.Transient` (the job is retried with backoff). So are a failed login
or TLS handshake, which a data manager fixes in the settings, after which the queued mail goes
out. A 5xx answer to the sender, the recipient or the message is final:
:class:`~docket.jobs.Permanent`, with the server's own words. No message ever carries the
password: the login comes from the environment and is scrubbed from any text kept.
"""

from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage

from docket.jobs.registry import Permanent, Transient
from docket.notify.compose import one_line
from docket.notify.settings import SmtpSettings


def _reply(code: int, text: bytes | str) -> str:
    said = text.decode("utf-8", "replace") if isinstance(text, bytes) else str(text)
    return f"{code} {one_line(said, 500)}"


def _scrub(message: str, settings: SmtpSettings) -> str:
    return message.replace(settings.password, "***") if settings.password else message


def _login_without_tls(settings: SmtpSettings) -> Transient:
    return Transient(f"SMTP {settings.where}: refusing to send the SMTP password unencrypted; set "
                     "[smtp] starttls = true (or ssl = true) in docket.toml", unavailable=True)


def send(message: EmailMessage, settings: SmtpSettings, *, timeout: float) -> None:
    """Deliver ``message`` to its one recipient, or raise Transient / Permanent."""
    where = f"SMTP {settings.where}"
    if settings.user and not (settings.starttls or settings.ssl):
        raise _login_without_tls(settings)
    context = ssl.create_default_context(cafile=settings.cafile) if (settings.starttls or settings.ssl) else None
    try:
        if settings.ssl:
            client: smtplib.SMTP = smtplib.SMTP_SSL(settings.host, settings.port, timeout=timeout, context=context)
        else:
            client = smtplib.SMTP(settings.host, settings.port, timeout=timeout)
        try:
            if settings.starttls:
                client.starttls(context=context)
            if settings.user:
                client.login(settings.user, settings.password or "")
            client.send_message(message, from_addr=settings.sender_address)
        finally:
            try:
                client.quit()
            except (smtplib.SMTPException, OSError):
                client.close()
    except smtplib.SMTPRecipientsRefused as exc:
        replies = "; ".join(f"{who}: {_reply(code, text)}" for who, (code, text) in exc.recipients.items())
        final = all(code >= 500 for code, _ in exc.recipients.values())
        error = f"{where} refused the recipient: {replies}"
        raise (Permanent(_scrub(error, settings)) if final else Transient(_scrub(error, settings))) from None
    except smtplib.SMTPAuthenticationError as exc:
        raise Transient(_scrub(f"{where}: login as DOCKET_SMTP_USER failed: {_reply(exc.smtp_code, exc.smtp_error)}",
                               settings), unavailable=True) from None
    except smtplib.SMTPNotSupportedError as exc:
        raise Transient(f"{where}: {one_line(str(exc))} (check [smtp] starttls and the login)",
                        unavailable=True) from None
    except (smtplib.SMTPConnectError, smtplib.SMTPHeloError) as exc:
        raise Transient(_scrub(f"{where}: {_reply(exc.smtp_code, exc.smtp_error)}", settings),
                        unavailable=True) from None
    except smtplib.SMTPResponseException as exc:  # sender refused, data refused, other replies
        error = _scrub(f"{where}: {_reply(exc.smtp_code, exc.smtp_error)}", settings)
        raise (Permanent(error) if exc.smtp_code >= 500 else Transient(error)) from None
    except smtplib.SMTPServerDisconnected as exc:
        raise Transient(f"{where}: the server closed the connection ({one_line(str(exc)) or 'no reason'})",
                        unavailable=True) from None
    except ssl.SSLError as exc:
        raise Transient(f"{where}: TLS failed ({one_line(exc.reason or str(exc))}); check [smtp] starttls, ssl "
                        "and cafile", unavailable=True) from None
    except TimeoutError:
        raise Transient(f"{where}: no answer within {timeout:g} s", unavailable=True) from None
    except smtplib.SMTPException as exc:
        raise Transient(_scrub(f"{where}: {one_line(str(exc))}", settings)) from None
    except OSError as exc:
        raise Transient(f"{where}: cannot connect ({one_line(exc.strerror or str(exc)) or type(exc).__name__})",
                        unavailable=True) from None
