"""Sending mail over SMTP (issue 19's staff digest), with the standard library's
:mod:`smtplib`: one connection per message, so one refused recipient or a dropped
connection costs only that message.

``smtps://``: TLS from the first byte (RFC 8314). ``smtp://``: STARTTLS (RFC 3207),
required: a server that does not offer it is refused, never used in the clear.
``smtp+plain://``: a relay on this host only (config refuses other hosts). Certificates
are verified against the system's CAs, or ``SIPADU_SMTP_CA_FILE``'s, with the host name
checked, through :func:`ssl.create_default_context` (verification on, TLS 1.2 at
least: Python's default since 3.10; tested against a TLS 1.1-only server). The login
(``SIPADU_SMTP_USERNAME`` / ``SIPADU_SMTP_PASSWORD``) is sent only over TLS or to this
host. Nothing here logs: smtplib's debug output is off, and callers
record an error's class name only (a server's reply may quote the address).
"""

import smtplib
import ssl
from email.message import EmailMessage

from sipadu.settings.config import MailSecurity, MailSettings


class MailRefused(Exception):
    """The server cannot be used safely (no STARTTLS offered)."""


def _tls(settings: MailSettings) -> ssl.SSLContext:
    return ssl.create_default_context(
        cafile=str(settings.ca_file) if settings.ca_file is not None else None
    )


def _connect(settings: MailSettings) -> smtplib.SMTP:
    """A connected, protected and logged-in client. Raises ``OSError`` (connection,
    TLS, certificate), :class:`smtplib.SMTPException` or :class:`MailRefused`."""
    client: smtplib.SMTP
    if settings.security is MailSecurity.TLS:
        client = smtplib.SMTP_SSL(
            settings.host, settings.port, timeout=settings.timeout_seconds, context=_tls(settings)
        )
    else:
        client = smtplib.SMTP(settings.host, settings.port, timeout=settings.timeout_seconds)
    try:
        client.ehlo()
        if settings.security is MailSecurity.STARTTLS:
            if not client.has_extn("starttls"):
                raise MailRefused("the server offers no STARTTLS")
            client.starttls(context=_tls(settings))
            client.ehlo()
        if settings.username is not None and settings.password is not None:
            client.login(settings.username, settings.password)
    except BaseException:
        client.close()
        raise
    return client


def send(settings: MailSettings, message: EmailMessage) -> None:
    """Send ``message`` (its ``From`` and ``To`` as the envelope) on a connection of its
    own. Raises ``OSError``, :class:`smtplib.SMTPException` or :class:`MailRefused`."""
    client = _connect(settings)
    try:
        client.send_message(message)
        client.quit()
    finally:
        client.close()


def check(settings: MailSettings) -> None:
    """Connect, protect, log in and say goodbye, sending nothing (``sipadu check``).
    Raises as :func:`send`."""
    client = _connect(settings)
    try:
        client.noop()
        client.quit()
    finally:
        client.close()
