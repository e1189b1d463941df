"""The staff portal: investigators, custodians, admins, auditors. Internal network only.

Before every request the signed-in staff member (if any) is loaded from the server-side
session row, then the route's declared policy is enforced (:mod:`.policy`).
"""

import base64
import hmac
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import bleach
from flask import Blueprint, Flask, current_app, g, session
from limits import RateLimitItem, parse
from markupsafe import Markup, escape

from sipadu import recovery
from sipadu.config import Config, ConfigError, DatePrecision
from sipadu.crypto import Argon2Params, PublicKey, signing_public_key
from sipadu.derivations import Derivations
from sipadu.instance import load_secret
from sipadu.investigator import devices
from sipadu.investigator.forms import CASE_FIELD_LABELS, STATUS_LABELS
from sipadu.services.staff_auth import SessionToken, SignedIn, Timeouts, resume, touch
from sipadu.web import transaction

bp = Blueprint("staff", __name__)

_ID, _KEY = "staff_session", "staff_key"


@dataclass(frozen=True)
class StaffRuntime:
    argon2: Argon2Params
    timeouts: Timeouts
    link_ttl: timedelta
    # Failed sign-ins per typed name (limit_key) and per device cookie (devices.recognised)
    # in the portal's counters (sipadu.counters); over it, sign-in needs two codes.
    failures_per_account: RateLimitItem
    limit_salt: bytes  # keys the per-username failure counter without storing the name
    device_key: bytes  # the device cookies' MAC key
    production: bool  # cookies Secure and __Host-
    signing_seed: bytes | None  # None where the audit signing key is kept elsewhere
    recovery: PublicKey  # new key epochs and identity requests are wrapped to it too
    date_precision: DatePrecision  # staff replies are dated like the reporter's messages


def init_staff(app: Flask, config: Config) -> None:
    try:
        seed: bytes | None = load_secret(config, "audit_signing_key")
    except ConfigError:
        seed = None
    limit_salt = load_secret(config, "staff_session_key")
    per_account = parse(config.staff_failures_per_account)
    app.extensions["sipadu.staff"] = StaffRuntime(
        argon2=config.argon2,
        timeouts=Timeouts(
            idle=timedelta(seconds=config.staff_idle_seconds),
            absolute=timedelta(seconds=config.staff_absolute_seconds),
        ),
        link_ttl=timedelta(hours=config.enrollment_link_hours),
        failures_per_account=per_account,
        limit_salt=limit_salt,
        device_key=devices.device_key(limit_salt),
        production=config.production,
        signing_seed=seed,
        recovery=recovery.public_key(config),
        date_precision=config.date_precision,
    )
    app.extensions["sipadu.derivations"] = Derivations.for_portal(config, "staff")
    app.register_blueprint(bp)
    app.add_template_filter(_linkify, "linkify")


def _linkify(text: str) -> Markup:
    """Plain text, escaped, with web links made clickable and nothing else: staff and
    reporter messages are never rendered as HTML (bleach only adds the links)."""

    def safe_link(attrs, new=False):
        attrs[(None, "rel")] = "noopener noreferrer nofollow"
        attrs[(None, "target")] = "_blank"
        return attrs

    return Markup(  # noqa: S704 — escaped first; bleach adds only <a href> to http(s) URLs
        bleach.linkify(str(escape(text)), callbacks=[safe_link], parse_email=False)
    )


@bp.app_context_processor
def _labels() -> dict:
    return {"statuses": STATUS_LABELS, "field_labels": CASE_FIELD_LABELS}


def runtime() -> StaffRuntime:
    return current_app.extensions["sipadu.staff"]


def signing_public_key_hex() -> str | None:
    seed = runtime().signing_seed
    return signing_public_key(seed).hex() if seed is not None else None


def now() -> datetime:
    return datetime.now(UTC)


def limit_key(typed_username: str) -> str:
    """The failure counter of a typed username: a keyed hash, so the rate-limit store
    (Redis) never holds the name, and unknown names are counted exactly like real ones
    (no enumeration). Over its limit, sign-in asks for two codes instead of refusing."""
    name = typed_username.strip().lower()[:64].encode("utf-8")
    return hmac.new(runtime().limit_salt, b"staff-login\x00" + name, "sha256").hexdigest()[:32]


def begin_session(signed_in: SignedIn) -> None:
    session.clear()  # a fresh cookie (and CSRF token) at sign-in: the id rotates
    session[_ID] = base64.urlsafe_b64encode(signed_in.token.id).decode()
    session[_KEY] = base64.urlsafe_b64encode(signed_in.token.key).decode()
    session.permanent = False


def _token() -> SessionToken | None:
    try:
        return SessionToken(
            base64.urlsafe_b64decode(session[_ID]), base64.urlsafe_b64decode(session[_KEY])
        )
    except (KeyError, ValueError, TypeError):
        return None


@bp.before_request
def load_signed_in() -> None:
    g.staff = None
    token = _token()
    if token is None:
        return
    rt = runtime()
    moment = now()
    with transaction() as reading:
        signed_in, needs_write = resume(reading, token, moment, rt.timeouts)
    if needs_write:
        with transaction(write=True) as writing:
            touch(writing, token, moment, rt.timeouts)
    if signed_in is None:
        session.clear()
    g.staff = signed_in


from sipadu.investigator import policy  # noqa: E402

bp.before_request(policy.enforce)

from sipadu.investigator import admin, auditor, auth, cases, custodian, views  # noqa: E402, F401
