"""Device cookies: a browser where a staff member signed in is recognised at their next
sign-in, which then runs in a lane of the derivation pool that strangers cannot fill
(issue 13, item 5; G8). After OWASP's "Slow Down Online Guessing Attacks with Device
Cookies" (OWASP Cheat Sheet Series, Authentication; the idea of Sec. "Account Lockout").

Why: each sign-in attempt costs an Argon2id derivation (the TOTP seed is sealed under
the password), so strangers guessing passwords can keep the derivation pool full; 32 of
them once made 8 of 10 real sign-ins (right password and code) get the busy page. The
pool cannot tell them apart; a device cookie can, before any derivation.

The cookie (``sipadu_device``; ``__Host-`` and ``Secure`` in production; ``HttpOnly``,
``SameSite=Strict``, ``Path=/``, for :data:`MAX_AGE` seconds) is set after every
successful sign-in and holds ``v1.<account id>.<issued, unix seconds>.<nonce>.<mac>``:
the account's opaque id (never the username), a random nonce, and an HMAC-SHA256 over
them and a SHA-256 of the account's current password record, under a key derived from
the staff portal's session key (HKDF, label ``sipadu.staff.device-cookie.v1``). So it is

- **account-bound**: it helps only a sign-in for the account it names;
- **revoked** by a password change or an admin's reset (the record changes), by
  deactivation (only active accounts), and by age;
- **worth little stolen**: it only chooses the lane; the password and a current TOTP
  code are still needed, and it has its own failure budget (the same
  ``SIPADU_STAFF_FAILURES_PER_ACCOUNT``), after which it is not trusted for the window
  and the attempt is an ordinary one again.

Checking it costs one indexed query by the typed name (the one the sign-in makes anyway)
and one HMAC: no Argon2id.
"""

import base64
import hashlib
import hmac
import secrets
import uuid
from datetime import datetime

from sqlalchemy.orm import Session
from werkzeug.wrappers import Response

from sipadu.persistence.models import AccountState, StaffAccount
from sipadu.services.staff import find_by_username, normalize_username

MAX_AGE = 90 * 24 * 3600  # seconds a device stays known after its last sign-in
_VERSION = "v1"


def cookie_name(production: bool) -> str:
    return "__Host-sipadu_device" if production else "sipadu_device"


def _mac(key: bytes, account: StaffAccount, issued: int, nonce: str) -> str:
    record = hashlib.sha256(account.password_record or b"").hexdigest()
    message = f"{_VERSION}|{account.id.hex}|{issued}|{nonce}|{record}".encode()
    return base64.urlsafe_b64encode(hmac.new(key, message, "sha256").digest()).decode().rstrip("=")


def issue(key: bytes, account: StaffAccount, now: datetime) -> str:
    """A new cookie value for ``account`` (after a successful sign-in)."""
    issued = int(now.timestamp())
    nonce = secrets.token_urlsafe(16)
    return f"{_VERSION}.{account.id.hex}.{issued}.{nonce}.{_mac(key, account, issued, nonce)}"


def recognised(
    session: Session, key: bytes, cookie: str | None, typed_username: str, now: datetime
) -> str | None:
    """The device's budget key when ``cookie`` is valid for the account the typed name
    names (active, same password record, not older than :data:`MAX_AGE`), else None."""
    if not cookie or len(cookie) > 200:
        return None
    parts = cookie.split(".")
    if len(parts) != 5 or parts[0] != _VERSION:
        return None
    _version, account_hex, issued_text, nonce, mac = parts
    account = find_by_username(session, normalize_username(typed_username)[:64])
    try:
        issued = int(issued_text)
        named = uuid.UUID(hex=account_hex)
    except ValueError:
        return None
    if account is None or account.id != named or account.state != AccountState.ACTIVE:
        return None
    if account.password_record is None or not 0 <= now.timestamp() - issued <= MAX_AGE:
        return None
    if not hmac.compare_digest(mac, _mac(key, account, issued, nonce)):
        return None
    return "device-" + hashlib.sha256(mac.encode()).hexdigest()[:32]


def remember(response: Response, value: str, production: bool) -> Response:
    response.set_cookie(
        cookie_name(production),
        value,
        max_age=MAX_AGE,
        path="/",
        secure=production,
        httponly=True,
        samesite="Strict",
    )
    return response
