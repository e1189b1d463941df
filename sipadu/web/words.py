"""Words for the internal values both portals, the refusal messages and the staff pages
share: roles, report statuses (as staff read them) and categories. A page shows these,
never ``custodian``, ``in_review`` or ``kkn``; the values stay in form fields and query
strings. The staff portal's other tables are in ``sipadu/investigator/words.py``."""

from collections.abc import Mapping
from dataclasses import dataclass

from flask import Flask, g, has_request_context
from flask_babel import Babel, force_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel.speaklater import LazyString

from sipadu.persistence.models import CategorySlug, ReportStatus, Role
from sipadu.services.categories import CategoryWords, configured_words
from sipadu.settings.config import Config, DayCount
from sipadu.web.context import has_database, transaction
from sipadu.web.i18n import current_language

ROLE_LABELS: dict[str, LazyString] = {
    Role.ADMIN.value: _l("Admin"),
    Role.INVESTIGATOR.value: _l("Investigator"),
    Role.CUSTODIAN.value: _l("Custodian"),
    Role.AUDITOR.value: _l("Auditor"),
    Role.OPERATOR.value: _l("Intake operator"),
}
STATUS_LABELS: dict[str, LazyString] = {
    ReportStatus.RECEIVED.value: _l("Received"),
    ReportStatus.IN_REVIEW.value: _l("Being reviewed"),
    ReportStatus.INVESTIGATING.value: _l("Being followed up"),
    ReportStatus.CLOSED_SUBSTANTIATED.value: _l("Closed: confirmed"),
    ReportStatus.CLOSED_UNSUBSTANTIATED.value: _l("Closed: not confirmed"),
    ReportStatus.REJECTED.value: _l("Not taken up"),
    ReportStatus.REFERRED.value: _l("Referred to another body"),
}
# The names of the reporter's form (sipadu/web/reporter_forms.py): one translation each.
CATEGORY_LABELS: dict[str, LazyString] = {
    CategorySlug.ABUSE_OF_AUTHORITY.value: _l("Abuse of authority"),
    CategorySlug.ADMINISTRATIVE_VIOLATION.value: _l("Administrative violation"),
    CategorySlug.KKN.value: _l("Corruption, collusion or nepotism (KKN)"),
    CategorySlug.STAFF_DISCIPLINE.value: _l("Staff discipline violation"),
}


# The indicators of the transparency report (issue 19; sipadu.services.transparency).
INDICATOR_LABELS: dict[str, LazyString] = {
    "received": _l("Reports received"),
    "ack_on_time": _l("Acknowledged on time"),
    "ack_late": _l("Acknowledged late, or overdue"),
    "ack_pending": _l("Acknowledgement not yet due"),
    "feedback_on_time": _l("Feedback given on time"),
    "feedback_late": _l("Feedback given late, or overdue"),
    "feedback_pending": _l("Feedback not yet due"),
    "closed_substantiated": _l("Closed: confirmed"),
    "closed_unsubstantiated": _l("Closed: not confirmed"),
    "referred": _l("Referred to another body"),
    "rejected": _l("Not taken up"),
    "reopened": _l("Reopened"),
    "median_days_to_ack": _l("Median days to acknowledgement"),
    "median_days_to_feedback": _l("Median days to first feedback"),
    "median_days_to_close": _l("Median days to closing"),
}


# --- categories that admins configure (issue 18) -----------------------------------------


@dataclass(frozen=True)
class ShownCategory:
    """A category as the portals show it: its parent's slug (None: top-level), whether
    it is statutory, and its stored words (empty for a statutory one: the code's)."""

    parent: str | None
    statutory: bool
    words: CategoryWords


def shown_categories() -> dict[str, ShownCategory]:
    """Slug → :class:`ShownCategory` of every category, read once per request (a page
    names many); empty outside a request (the CLI: the code's words only)."""
    if not has_request_context() or not has_database():
        return {}
    if "sipadu_categories" not in g:
        with transaction() as session:
            stored = configured_words(session)
            slugs = {category.id: slug for slug, (category, _) in stored.items()}
            g.sipadu_categories = {
                slug: ShownCategory(
                    slugs.get(category.parent_id) if category.parent_id else None,
                    category.statutory,
                    words,
                )
                for slug, (category, words) in stored.items()
            }
    shown: dict[str, ShownCategory] = g.sipadu_categories
    return shown


def in_language(indonesian: str, english: str) -> str:
    """The reader's language's words, else the other language's (never nothing)."""
    first, second = (indonesian, english) if current_language() == "id" else (english, indonesian)
    return first or second


def category_label(slug: str) -> str:
    """A category's own label in the reader's language: its stored words, else the
    code's translated words (the four statutory ones), else the slug (a row nobody
    worded: the tests keep that from happening)."""
    shown = shown_categories().get(slug)
    stored = in_language(shown.words.label_id, shown.words.label_en) if shown else ""
    return stored or str(CATEGORY_LABELS.get(slug, slug))


def category_said(slug: str) -> str:
    """A category in words, as staff and reporters read it: a sub-category with its
    category first ("KKN — Procurement")."""
    shown = shown_categories().get(slug)
    if shown is not None and shown.parent:
        return f"{category_label(shown.parent)} — {category_label(slug)}"
    return category_label(slug)


def deadline_words(config: Config) -> tuple[str, str]:
    """The acknowledgement and feedback deadlines as the reporter reads them, in the
    current language: e.g. ``("7 working days", "90 days")`` for
    SIPADU_ACK_DAYS and SIPADU_FEEDBACK_DAYS, counted as SIPADU_DAY_COUNT says (EU
    2019/1937 Art. 9(1)(b) and (f)). The reporter's pages and the operator's slip."""
    if config.day_count is DayCount.WORKING:
        return (
            _("%(days)d working days", days=config.ack_days),
            _("%(days)d working days", days=config.feedback_days),
        )
    return _("%(days)d days", days=config.ack_days), _("%(days)d days", days=config.feedback_days)


def in_both_languages(words: Mapping[str, LazyString]) -> dict[str, tuple[str, str]]:
    """Each of ``words`` as ``(Indonesian, English)``, also outside any request (the
    CLI's published documents, which carry both): through a bare app that reads the
    portals' translations."""
    app = Flask("sipadu")
    Babel(app, default_translation_directories="translations")
    both: dict[str, tuple[str, str]] = {}
    with app.app_context():
        for key, lazy in words.items():
            with force_locale("id"):
                indonesian = str(lazy)
            with force_locale("en"):
                english = str(lazy)
            both[key] = (indonesian, english)
    return both
