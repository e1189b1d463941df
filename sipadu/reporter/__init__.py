"""The reporter portal (pelapor): exposed to Tor and the internet; works without JavaScript."""

from dataclasses import dataclass

from flask import Blueprint, Flask, current_app
from limits import RateLimitItem, parse

from sipadu import recovery
from sipadu.config import Config
from sipadu.instance import load_secret
from sipadu.reporter.uploads import init_uploads
from sipadu.services.dates import Deadlines
from sipadu.services.mailbox import MailboxSettings
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
    failures_global: RateLimitItem


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
        mailbox=MailboxSettings(lookup_salt, config.lookup_argon2, config.argon2),
        sessions=make_store(config, "mailbox-sessions"),
        idle_seconds=config.mailbox_idle_seconds,
        failures_per_code=parse(config.mailbox_failures_per_code),
        failures_global=parse(config.mailbox_failures_global),
    )
    init_uploads(app)
    app.register_blueprint(bp)


def runtime() -> ReporterRuntime:
    return current_app.extensions["sipadu.reporter"]


from sipadu.reporter import mailbox, views  # noqa: E402, F401 — routes register on import
