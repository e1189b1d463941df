"""The reporter portal (pelapor): exposed to Tor and the internet; works without JavaScript."""

import hmac
from dataclasses import dataclass

from flask import Blueprint, Flask, current_app, request
from limits import RateLimitItem, RateLimitItemPerHour, parse

from sipadu import recovery
from sipadu.config import Config
from sipadu.derivations import Derivations
from sipadu.instance import load_secret
from sipadu.reporter.uploads import init_uploads
from sipadu.services.dates import Deadlines
from sipadu.services.mailbox import MailboxSettings, failure_key
from sipadu.services.reports import SubmissionSettings
from sipadu.volatile import VolatileStore, make_store

bp = Blueprint("reporter", __name__)


@dataclass(frozen=True)
class ReporterRuntime:
    submission: SubmissionSettings
    mailbox: MailboxSettings
    sessions: VolatileStore
    idle_seconds: int
    failures_per_code: RateLimitItem
    reports_ceiling: RateLimitItem  # new reports per hour over the whole portal
    ceiling_key: str


def init_reporter(app: Flask, config: Config) -> None:
    """Everything the reporter views need, checked once at start: a production instance
    without a recovery public key, lookup salt or volatile session store does not start."""
    lookup_salt = load_secret(config, "lookup_salt")
    app.extensions["sipadu.reporter"] = ReporterRuntime(
        submission=SubmissionSettings(
            lookup_salt=lookup_salt,
            lookup_argon2=config.lookup_argon2,
            argon2=config.argon2,
            recovery=recovery.public_key(config),
            date_precision=config.date_precision,
            deadlines=Deadlines(config.ack_days, config.feedback_days, config.day_count),
        ),
        mailbox=MailboxSettings(
            lookup_salt,
            config.lookup_argon2,
            config.argon2,
            failure_key(load_secret(config, "reporter_session_key")),
        ),
        sessions=make_store(config, "mailbox-sessions"),
        idle_seconds=config.mailbox_idle_seconds,
        failures_per_code=parse(config.mailbox_failures_per_code),
        reports_ceiling=RateLimitItemPerHour(config.reports_per_hour),
        # Keyed on nothing about the client: one count for every host of this instance
        # (they share the lookup salt), apart from other instances on the same Redis.
        ceiling_key="report-ceiling-"
        + hmac.new(lookup_salt, b"report-ceiling", "sha256").hexdigest()[:16],
    )
    app.extensions["sipadu.derivations"] = Derivations.for_portal(config, "reporter")
    init_uploads(app, config)
    if config.onion_address:
        app.after_request(_onion_location(config.onion_address))
    app.register_blueprint(bp)


def _onion_location(onion: str):
    """Tor Browser offers the onion service to a reporter who arrived over the ordinary
    web (``Onion-Location``); a visit already on the onion gets no header."""

    def add(response):
        if request.host.split(":")[0] != onion:
            response.headers["Onion-Location"] = f"http://{onion}{request.full_path.rstrip('?')}"
        return response

    return add


def runtime() -> ReporterRuntime:
    return current_app.extensions["sipadu.reporter"]


from sipadu.reporter import mailbox, views  # noqa: E402, F401 — routes register on import
