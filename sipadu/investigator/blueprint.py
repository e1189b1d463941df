"""The staff portal's blueprint and its runtime: what every staff view needs, built once
at start (:func:`make_runtime`) and read per request (:func:`runtime`). A leaf: the view
modules import it, the package only registers them."""

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from flask import Blueprint, current_app
from limits import RateLimitItem, parse

from sipadu.accountability import recovery
from sipadu.crypto import Argon2Params, PublicKey
from sipadu.investigator.forms import CASE_FIELD_LABELS
from sipadu.persistence.volatile import make_store
from sipadu.services.notifications import sealing_key
from sipadu.services.operator_intake import check_offices
from sipadu.services.referral import FollowUp
from sipadu.services.reports import SubmissionSettings
from sipadu.services.staff_auth import Timeouts
from sipadu.settings.config import Config, ConfigError, DatePrecision, DayCount
from sipadu.settings.instance import audit_public_key, derived_key, load_secret
from sipadu.web.submissions import Submissions, submission_settings
from sipadu.web.words import STATUS_LABELS

bp = Blueprint("staff", __name__)

# Keys derived from the staff session key, one per use (sipadu.settings.instance.derived_key).
FAILURES_LABEL = "sipadu.staff.failures.v1"
DEVICE_LABEL = "sipadu.staff.device-cookie.v1"
# The MAC key of the intake form's one-time submission tokens (sipadu.web.submissions).
SUBMISSION_LABEL = "sipadu.staff.submission-token.v1"


@dataclass(frozen=True)
class StaffRuntime:
    argon2: Argon2Params
    timeouts: Timeouts
    link_ttl: timedelta
    # Failed sign-ins per typed name (signin.limit_key) and per device cookie
    # (devices.recognised) in the portal's counters (sipadu.persistence.counters); over it, sign-in
    # needs two codes.
    failures_per_account: RateLimitItem
    failures_key: bytes  # keys the per-username failure counter without storing the name
    device_key: bytes  # the device cookies' MAC key
    production: bool  # cookies Secure and __Host-
    signing_seed: bytes | None  # None where the audit signing key is kept elsewhere
    # The key stored checkpoints must be signed by (the signing key's, else
    # SIPADU_AUDIT_PUBLIC_KEY); None where this host knows neither.
    audit_public_key: str | None
    recovery: PublicKey  # new key epochs and identity requests are wrapped to it too
    date_precision: DatePrecision  # staff replies are dated like the reporter's messages
    # One report per intake form, and its slip sealed for this browser session a few
    # minutes (sipadu.web.submissions; docs/intake.md "Sent twice").
    submissions: Submissions
    # How an operator's report is stored (sipadu.services.operator_intake): as the
    # reporter portal stores one. None where this host lacks the lookup salt (intake is
    # then refused, docs/intake.md "Configuration").
    submission: SubmissionSettings | None = None
    # The daily digest (issue 19): the key addresses are sealed under
    # (sipadu.services.notifications.sealing_key), and whether it goes by e-mail (at the
    # hour, in the time zone) or is shown on the home page instead.
    notify_key: bytes = b""
    mail_configured: bool = False
    digest_hour: int = 7
    time_zone: str = "Asia/Jakarta"
    notify_domains: tuple[str, ...] = ()  # SIPADU_NOTIFY_DOMAINS (empty: any domain)
    # A referral's follow-up (issue 20): SIPADU_REFERRAL_FOLLOW_UP_DAYS, counted as
    # SIPADU_DAY_COUNT says.
    follow_up: FollowUp = field(default_factory=lambda: FollowUp(30, DayCount.CALENDAR))


def make_runtime(config: Config) -> StaffRuntime:
    """Everything the staff views need. Raises :class:`ConfigError` for an office of
    ``SIPADU_INTAKE_OFFICES`` the audit log would refuse (docs/intake.md)."""
    check_offices(config.intake_offices)
    try:
        seed: bytes | None = load_secret(config, "audit_signing_key")
    except ConfigError:
        seed = None
    session_key = load_secret(config, "staff_session_key")
    try:
        lookup_salt: bytes | None = load_secret(config, "lookup_salt")
    except ConfigError:
        lookup_salt = None
    return StaffRuntime(
        argon2=config.argon2,
        timeouts=Timeouts(
            idle=timedelta(seconds=config.staff_idle_seconds),
            absolute=timedelta(seconds=config.staff_absolute_seconds),
        ),
        link_ttl=timedelta(hours=config.enrollment_link_hours),
        failures_per_account=parse(config.staff_failures_per_account),
        failures_key=derived_key(session_key, FAILURES_LABEL),
        device_key=derived_key(session_key, DEVICE_LABEL),
        production=config.production,
        signing_seed=seed,
        audit_public_key=audit_public_key(config),
        recovery=recovery.public_key(config),
        date_precision=config.date_precision,
        submissions=Submissions(
            key=derived_key(session_key, SUBMISSION_LABEL),
            pending=make_store(config, "intake-pending"),
            used=make_store(config, "intake-used"),
            receipts=make_store(config, "intake-receipts"),
        ),
        submission=None if lookup_salt is None else submission_settings(config, lookup_salt),
        notify_key=sealing_key(session_key),
        mail_configured=config.mail is not None,
        digest_hour=config.digest_hour,
        time_zone=config.time_zone,
        notify_domains=config.notify_domains,
        follow_up=FollowUp(config.referral_follow_up_days, config.day_count),
    )


def runtime() -> StaffRuntime:
    return current_app.extensions["sipadu.staff"]


def now() -> datetime:
    return datetime.now(UTC)


def signing_public_key_hex() -> str | None:
    """The instance's checkpoint public key, if known here: never read from the database
    (a row's key is whatever its writer chose)."""
    return runtime().audit_public_key


@bp.app_context_processor
def _labels() -> dict:
    return {"statuses": STATUS_LABELS, "field_labels": CASE_FIELD_LABELS}
