"""Words for the internal values both portals, the refusal messages and the staff pages
share: roles, report statuses (as staff read them) and categories. A page shows these,
never ``custodian``, ``in_review`` or ``kkn``; the values stay in form fields and query
strings. The staff portal's other tables are in ``sipadu/investigator/words.py``."""

from flask_babel import lazy_gettext as _l
from flask_babel.speaklater import LazyString

from sipadu.persistence.models import CategorySlug, ReportStatus, Role

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
}
# The names of the reporter's form (sipadu/web/reporter_forms.py): one translation each.
CATEGORY_LABELS: dict[str, LazyString] = {
    CategorySlug.ABUSE_OF_AUTHORITY.value: _l("Abuse of authority"),
    CategorySlug.ADMINISTRATIVE_VIOLATION.value: _l("Administrative violation"),
    CategorySlug.KKN.value: _l("Corruption, collusion or nepotism (KKN)"),
    CategorySlug.STAFF_DISCIPLINE.value: _l("Staff discipline violation"),
}
