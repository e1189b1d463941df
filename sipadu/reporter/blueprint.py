"""The reporter portal's blueprint and its runtime: what every reporter view needs, built
and checked once at start (:func:`make_runtime`) and read per request (:func:`runtime`).
A leaf: the view modules import it, the package only registers them."""

import hmac
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import quote, quote_from_bytes

from flask import Blueprint, Response, current_app, request
from limits import RateLimitItem, RateLimitItemPerHour, parse

from sipadu.persistence.volatile import VolatileStore, make_store
from sipadu.services.attachments import shorten_name
from sipadu.services.mailbox import CostCache, MailboxSettings
from sipadu.services.reports import SubmissionSettings
from sipadu.settings.config import Config
from sipadu.settings.instance import derived_key, load_secret, reporter_audit_key
from sipadu.web.i18n import current_language
from sipadu.web.submissions import FormKind, Submissions, submission_settings
from sipadu.web.uploads import upload_limits
from sipadu.web.words import deadline_words

bp = Blueprint("reporter", __name__)

# The mailbox failure counters' key, derived from the reporter session key
# (sipadu.settings.instance.derived_key; the label they have always had).
FAILURES_LABEL = "sipadu.mailbox.failures.v1"
# The key that picks, per unknown code, the cost its decoy runs at
# (sipadu.services.mailbox.decoy_params).
DECOY_LABEL = "sipadu.mailbox.decoy.v1"
# The MAC key of one-time submission tokens (sipadu.web.submissions).
SUBMISSION_LABEL = "sipadu.submission-token.v1"
# The key of the files a form carries across a warning round-trip (sipadu.web.kept_files).
KEPT_FILES_LABEL = "sipadu.kept-files-key.v1"


@dataclass(frozen=True)
class ReporterRuntime:
    submission: SubmissionSettings
    mailbox: MailboxSettings
    sessions: VolatileStore
    submissions: Submissions
    idle_seconds: int
    failures_per_code: RateLimitItem
    reports_ceiling: RateLimitItem  # new reports per hour over the whole portal
    ceiling_key: str
    # the audit public key the agencies' offers are checked with (issue 20); None: none
    # is offered (sipadu.settings.instance.reporter_audit_key)
    audit_key: bytes | None
    # the key files kept across a warning round-trip are sealed under (sipadu.web.kept_files)
    kept_files_key: bytes
    # the same key as hex, that receipts are checked against before the mailbox offers
    # one (docs/receipt.md); None: the key a stored checkpoint carries
    audit_public_key: str | None = None


def make_runtime(config: Config) -> ReporterRuntime:
    """Everything the reporter views need: a production instance without a recovery
    public key, lookup salt or volatile session store does not start."""
    lookup_salt = load_secret(config, "lookup_salt")
    session_key = load_secret(config, "reporter_session_key")
    audit_key = reporter_audit_key(config)
    return ReporterRuntime(
        submission=submission_settings(config, lookup_salt),
        mailbox=MailboxSettings(
            lookup_salt,
            config.lookup_argon2,
            config.argon2,
            failure_key=derived_key(session_key, FAILURES_LABEL),
            decoy_key=derived_key(session_key, DECOY_LABEL),
            costs=CostCache(),
        ),
        sessions=make_store(config, "mailbox-sessions"),
        submissions=Submissions(
            key=derived_key(session_key, SUBMISSION_LABEL),
            pending=make_store(config, "submissions-pending"),
            used=make_store(config, "submissions-used"),
            receipts=make_store(config, "submissions-receipts"),
        ),
        idle_seconds=config.mailbox_idle_seconds,
        failures_per_code=parse(config.mailbox_failures_per_code),
        reports_ceiling=RateLimitItemPerHour(config.reports_per_hour),
        # Keyed on nothing about the client: one count for every host of this instance
        # (they share the lookup salt), apart from other instances on the same Redis.
        ceiling_key="report-ceiling-"
        + hmac.new(lookup_salt, b"report-ceiling", "sha256").hexdigest()[:16],
        audit_key=audit_key,
        kept_files_key=derived_key(session_key, KEPT_FILES_LABEL),
        audit_public_key=audit_key.hex() if audit_key else None,
    )


def runtime() -> ReporterRuntime:
    return current_app.extensions["sipadu.reporter"]


@bp.context_processor
def _form_tokens() -> dict[str, Callable[[str], str]]:
    """``submission_token("report"|"message")`` in templates: the one-time token of the
    form being rendered (:meth:`Submissions.for_form`)."""
    return {"submission_token": lambda purpose: runtime().submissions.for_form(FormKind(purpose))}


@bp.context_processor
def limits() -> dict[str, object]:
    """What every reporter form states before the reporter starts: the limits on files
    (from config) and how long the mailbox waits before it closes itself."""
    config: Config = current_app.extensions["sipadu.config"]
    return {
        "upload_limits": upload_limits(config),
        "idle_minutes": config.mailbox_idle_seconds // 60,
        "tor_upload": {"mb": TOR_EXAMPLE_MIB, "minutes": tor_minutes(TOR_EXAMPLE_MIB)},
    }


@bp.app_context_processor
def orientation() -> dict[str, object]:
    """What every reporter page says about who runs the portal and what happens next
    (issue 16 item 8; ``reporter/_trust.html``), in the page's language. An app context
    processor, so the reporter portal's error pages carry it too."""
    config: Config = current_app.extensions["sipadu.config"]
    office = config.institution
    lang = current_language()
    ack, feedback = deadline_words(config)
    return {
        "institution": {
            "name": office.name,
            "description": office.description.in_language(lang),
            "address": office.address,
            "hours": office.hours.in_language(lang),
            "phone": office.phone,
            "legal_basis": office.legal_basis.in_language(lang),
        },
        "deadlines": {"ack": ack, "feedback": feedback},
    }


# What the forms say a large file takes over Tor (issue 16 item 6): an upload at the
# slow end of the "tens to hundreds of KB/s" docs/deploy.md gives a real Tor upload
# (50 KiB/s, as issue 16 reckons), for a 45 MiB example: about 15 minutes.
TOR_KIB_PER_SECOND = 50
TOR_EXAMPLE_MIB = 45


def tor_minutes(mib: int) -> int:
    """Whole minutes ``mib`` MiB take at TOR_KIB_PER_SECOND, rounded."""
    return round(mib * 1024 / TOR_KIB_PER_SECOND / 60)


SHOWN_NAME = 60  # characters of a file name on a reporter page


@bp.app_template_filter("short_name")
def short_name(name: str) -> str:
    """A file name as a page shows it: at most 60 characters, its extension kept."""
    return shorten_name(name, SHOWN_NAME)


# What may stand unencoded in a URL's path (RFC 3986 pchar and "/"), and in its query
# (which arrives encoded already: "%" stays).
_PATH_SAFE = "/:@!$&'()*+,;=-._~"
_QUERY_SAFE = _PATH_SAFE + "?%"


def same_place() -> str:
    """This request's path and query, URL-encoded: a header value. The path arrives
    decoded, so ``/%0d%0aSet-Cookie:...`` would put a line break in the header (a 500,
    and a line of the visitor's choosing in the log)."""
    path = quote(request.path, safe=_PATH_SAFE)
    query = quote_from_bytes(request.query_string, safe=_QUERY_SAFE)
    return f"{path}?{query}" if query else path


def onion_location(onion: str) -> Callable[[Response], Response]:
    """Tor Browser offers the onion service to a reporter who arrived over the ordinary
    web (``Onion-Location``); a visit already on the onion gets no header."""

    def add(response: Response) -> Response:
        if request.host.split(":")[0] != onion:
            response.headers["Onion-Location"] = f"http://{onion}{same_place()}"
        return response

    return add
