"""Plain words for every internal value a staff page could show (issue 15): the audit
log's actions, actors and roles and its entries' details; account states, proposals,
identity requests, categories. A page shows these, never ``identity.read``,
``route_add`` or ``kkn`` (the values stay in attributes and query strings).

One table per kind of value, each keyed by its enum's values; ``tests/test_audit.py``
checks that every member of :class:`~sipadu.accountability.audit.Action` and of each
enum here has words, in English and Indonesian, so a new action or state without
words fails the tests, not a page. :func:`entry_words` turns an audit entry's detail
into a sentence; the raw JSON stays one click away for auditors, labelled as technical.
"""

import json
import re
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
from flask_babel.speaklater import LazyString

from sipadu.accountability.audit import OPERATOR, Action, Broken, Verdict
from sipadu.evidence.safe_copy import CannotConvert
from sipadu.investigator.forms import (
    CASE_FIELD_LABELS,
    LINK_KIND_LABELS,
    METRIC_LABELS,
    PART_LABELS,
    PRIORITY_LABELS,
)
from sipadu.persistence.models import (
    AccountState,
    AuditEvent,
    CoiMemberKind,
    IdentityRequestState,
    ProposalKind,
    ProposalState,
    RecipientState,
    UnitKind,
)
from sipadu.services.intake import Channel
from sipadu.services.links import LINK_ACTOR
from sipadu.services.staff_auth import Failure, Proof
from sipadu.web.i18n import filesize
from sipadu.web.words import CATEGORY_LABELS, ROLE_LABELS, STATUS_LABELS, category_said

# --- safe copies (issue 21) --------------------------------------------------------------

SAFE_COPY_REFUSALS: dict[str, LazyString] = {
    CannotConvert.UNSUPPORTED: _l(
        "By its content it is not a PDF, an office document or a picture, so it has no"
        " pages to turn into pictures."
    ),
    CannotConvert.UNREADABLE: _l(
        "It looks like a PDF, an office document or a picture, but it is damaged, protected"
        " by a password, or built in a way the converter cannot read."
    ),
    CannotConvert.TOO_LARGE: _l(
        "It has too many pages, or pages too large, to turn into pictures here (a limit"
        " set by the administrator)."
    ),
    CannotConvert.TOO_COSTLY: _l(
        "Converting it took more memory or time than allowed. Files built to exhaust a"
        ' computer ("bombs") look like this, as do some very large documents.'
    ),
    CannotConvert.NO_ISOLATION: _l(
        "This server cannot cut the office converter off the network, so office documents"
        " are not converted here. Ask the administrator to allow user namespaces on this server."
    ),
}

# --- the audit log -----------------------------------------------------------------------

ACTION_LABELS: dict[str, LazyString] = {
    Action.SYSTEM_INIT: _l("Instance set up"),
    Action.CATEGORY_CREATE: _l("Category created"),
    Action.CATEGORY_UPDATE: _l("Category changed, opened or closed to reports"),
    Action.ACCOUNT_CREATE: _l("Account created"),
    Action.ACCOUNT_ACTIVATE: _l("Account activated"),
    Action.ACCOUNT_DEACTIVATE: _l("Account deactivated"),
    Action.ROLE_GRANT: _l("Role given"),
    Action.ROLE_REVOKE: _l("Role removed"),
    Action.PERMISSION_CHANGE: _l("Permission to share reports changed"),
    Action.KEY_REGISTER: _l("Key pair and password set"),
    Action.PASSWORD_CHANGE: _l("Password changed"),
    Action.PASSWORD_RESET: _l("Password reset or activation link issued"),
    Action.TOTP_RESET: _l("Authenticator app reset"),
    Action.LOGIN_SUCCESS: _l("Signed in"),
    Action.LOGIN_FAILURE: _l("Sign-in failed"),
    Action.PASSWORD_PROOF_FAILURE: _l("Wrong password given as proof"),
    Action.LOGOUT: _l("Signed out"),
    Action.PROPOSAL_CREATE: _l("Change proposed"),
    Action.PROPOSAL_APPROVE: _l("Proposal approved"),
    Action.PROPOSAL_REJECT: _l("Proposal rejected"),
    Action.ROUTE_ADD: _l("Routing added"),
    Action.ROUTE_REMOVE: _l("Routing removed"),
    Action.RECIPIENT_ADD: _l("Export recipient registered"),
    Action.RECIPIENT_REMOVE: _l("Export recipient removed"),
    Action.REPORT_LIST: _l("Report list viewed"),
    Action.REPORT_READ: _l("Report read"),
    Action.REPORT_SEARCH: _l("Search in one's own reports"),
    Action.REPORT_EXPORT: _l("Report exported, encrypted"),
    Action.REPORT_EXPORT_PLAINTEXT: _l("Report exported, unencrypted"),
    Action.REPORT_PRINT: _l("Case file opened for printing"),
    Action.ATTACHMENT_DOWNLOAD: _l("File downloaded"),
    Action.SAFE_COPY_MAKE: _l("Safe copy of a file made"),
    Action.SAFE_COPY_DOWNLOAD: _l("Safe copy of a file downloaded"),
    Action.MESSAGE_SEND: _l("Message sent to the reporter"),
    Action.NOTE_ADD: _l("Internal note added"),
    Action.STATUS_CHANGE: _l("Status changed"),
    Action.SPAM_MARK: _l("Marked as spam"),
    Action.SPAM_UNMARK: _l("Spam mark removed"),
    Action.REPORT_REOPEN: _l("Report reopened"),
    Action.CASE_LABELS: _l("Labels or priority changed"),
    Action.CASE_LEAD: _l("Lead investigator changed"),
    Action.CASE_LINK: _l("Reports linked"),
    Action.CASE_UNLINK: _l("Link between reports removed"),
    Action.GRANT_ADD: _l("Report shared"),
    Action.GRANT_REVOKE: _l("Access to a report revoked"),
    Action.GRANT_RECUSE: _l("Investigator stepped down from a report"),
    Action.IDENTITY_REQUEST: _l("Reporter's identity requested"),
    Action.IDENTITY_APPROVE: _l("Identity request approved"),
    Action.IDENTITY_REFUSE: _l("Identity request refused"),
    Action.IDENTITY_READ: _l("Reporter's identity seen"),
    Action.IDENTITY_REQUEST_READ: _l("Reason of an identity request read"),
    Action.INTEGRITY_FAILURE: _l("Integrity check failed"),
    Action.RECOVERY_GRANT: _l("Report given with the recovery key"),
    Action.AUDIT_VIEW: _l("Audit log viewed"),
    Action.AUDIT_EXPORT: _l("Audit log exported"),
    Action.AUDIT_CHECKPOINT: _l("Checkpoint signed"),
    Action.AUDIT_VERIFY: _l("Audit log verified"),
    Action.RETENTION_SHRED: _l("Keys of expired reports deleted"),
    Action.RETENTION_PURGE: _l("Expired reports deleted"),
    Action.ROW_ORDER_RESHUFFLE: _l("Reporter data rewritten in key order"),
    Action.REPORT_INTAKE: _l("Report taken in by an operator"),
    Action.COI_MEMBER_ADD: _l("Added to the conflict-of-interest team"),
    Action.COI_MEMBER_REMOVE: _l("Removed from the conflict-of-interest team"),
    Action.COI_EXTERNAL_EXPORT: _l("Report exported to an outside keyholder"),
    Action.UNIT_CREATE: _l("Reported unit added"),
    Action.UNIT_UPDATE: _l("Reported unit changed"),
    Action.NOTIFY_SETTINGS: _l("Daily digest choices changed"),
    Action.DIGEST_SENT: _l("Daily digest sent"),
    Action.DIGEST_FAILED: _l("Daily digest not sent"),
    Action.CONFIRMATION_SENT: _l("Digest address: confirmation code sent"),
    Action.CONFIRMATION_FAILED: _l("Digest address: confirmation code not sent"),
    Action.CONFIRMATION_REQUESTED: _l("Digest address: new confirmation code asked for"),
    Action.ADDRESS_CONFIRMED: _l("Digest address confirmed"),
    Action.STATISTICS_VIEW: _l("Compliance statistics viewed"),
    Action.STATISTICS_EXPORT: _l("Compliance statistics exported"),
    Action.TRANSPARENCY_PUBLISH: _l("Transparency report published"),
    Action.TRANSPARENCY_FACTS: _l("Facts of a transparency report read"),
    Action.RECEIPT_DAY: _l("A day's reports sealed for their receipts"),
    Action.RECIPIENT_OFFER: _l("Export recipient offered to reporters, or no longer"),
    Action.REPORT_REFER: _l("Report referred to another body"),
    Action.REFERRAL_BUNDLE: _l("Referral bundle downloaded"),
    Action.REFERRAL_RESPONSE: _l("Agency's response to a referral recorded"),
}

# The role an entry was made in (audit.ROLES): the staff roles, and who else acts.
# "operator" is both a staff role (the intake operator, issue 18) and the role of the
# server's shell (audit.OPERATOR, in entries since the first): the table says the staff
# role, :func:`entry_role_said` tells the shell's entries by their actor.
ROLE_WORDS: dict[str, LazyString] = {
    **ROLE_LABELS,
    "system": _l("System"),
    "none": _l("No role: acting as themselves"),
}

# Actors that are not accounts (audit.ACTORS).
ACTOR_WORDS: dict[str, LazyString] = {
    OPERATOR.id: _l("the operator at the server"),
    "unknown": _l("a name that matches no account"),
    "system": _l("the system"),
    LINK_ACTOR.id: _l("whoever held a one-time link"),
}

# --- other pages -------------------------------------------------------------------------

ACCOUNT_STATE_LABELS: dict[str, LazyString] = {
    AccountState.INVITED: _l("Invited: the link is not used yet"),
    AccountState.PENDING: _l("Waiting for a second admin"),
    AccountState.ACTIVE: _l("Active"),
    AccountState.DEACTIVATED: _l("Deactivated"),
}
PROPOSAL_KIND_LABELS: dict[str, LazyString] = {
    ProposalKind.ROLE_GRANT: _l("Give a role"),
    ProposalKind.ACCOUNT_ACTIVATE: _l("Activate an account"),
    ProposalKind.ROUTE_ADD: _l("Add routing"),  # then the category; the account beside
    ProposalKind.ROUTE_REMOVE: _l("Remove routing"),
    ProposalKind.HOLD_SET: _l("Put a report on legal hold"),
    ProposalKind.HOLD_RELEASE: _l("Take a report off legal hold"),
    ProposalKind.TOTP_RESET: _l("Reset the authenticator app"),
    ProposalKind.RECIPIENT_ADD: _l("Register an export recipient"),
    ProposalKind.RECIPIENT_REMOVE: _l("Remove an export recipient"),
    ProposalKind.RECIPIENT_OFFER: _l("Offer an export recipient to reporters, or no longer"),
    ProposalKind.COI_MEMBER_ADD: _l("Add to the conflict-of-interest team"),
    ProposalKind.COI_MEMBER_REMOVE: _l("Remove from the conflict-of-interest team"),
    ProposalKind.CATEGORY_ADD: _l("Add a category"),
    ProposalKind.CATEGORY_CHANGE: _l("Change a category"),
    ProposalKind.UNIT_ADD: _l("Add a reported unit"),
    ProposalKind.UNIT_CHANGE: _l("Change a reported unit"),
    ProposalKind.UNIT_IMPORT: _l("Import reported units"),
}
# A member of the conflict-of-interest team, by what it holds (issue 18).
COI_MEMBER_KIND_LABELS: dict[str, LazyString] = {
    CoiMemberKind.INVESTIGATOR: _l("investigator of the team"),
    CoiMemberKind.CUSTODIAN: _l("custodian of the team"),
    CoiMemberKind.EXTERNAL: _l("outside keyholder"),
}
UNIT_KIND_LABELS: dict[str, LazyString] = {
    UnitKind.SKPD: _l("SKPD (department, agency or office)"),
    UnitKind.CITY: _l("Kota Administrasi"),
    UnitKind.DISTRICT: _l("Kecamatan"),
    UnitKind.SUBDISTRICT: _l("Kelurahan"),
}
RECIPIENT_STATE_LABELS: dict[str, LazyString] = {
    RecipientState.PROPOSED: _l("waiting for a second admin"),
    RecipientState.ACTIVE: _l("registered"),
    RecipientState.REJECTED: _l("rejected"),
    RecipientState.REMOVED: _l("removed"),
}
PROPOSAL_STATE_LABELS: dict[str, LazyString] = {
    ProposalState.PENDING: _l("waiting"),
    ProposalState.APPROVED: _l("approved"),
    ProposalState.REJECTED: _l("rejected"),
}
REQUEST_STATE_LABELS: dict[str, LazyString] = {
    IdentityRequestState.PENDING: _l("waiting for a custodian"),
    IdentityRequestState.APPROVED: _l("approved"),
    IdentityRequestState.REFUSED: _l("refused"),
}
# How a report came in (sipadu.services.intake.Channel; issue 18).
CHANNEL_LABELS: dict[str, LazyString] = {
    Channel.WEB: _l("On the reporter portal"),
    Channel.WALK_IN: _l("In person at a counter"),
    Channel.PHONE: _l("By telephone"),
    Channel.LETTER: _l("By letter"),
    Channel.EMAIL: _l("By e-mail"),
    Channel.OTHER: _l("Another way"),
}
# How statistics are grouped (sipadu.services.statistics.PeriodKind; issue 19).
STATISTICS_KIND_WORDS: dict[str, LazyString] = {
    "month": _l("month"),
    "quarter": _l("quarter"),
    "year": _l("year"),
}
TABLES: dict[str, Mapping[str, LazyString]] = {
    "action": ACTION_LABELS,
    "role": ROLE_WORDS,
    "account_state": ACCOUNT_STATE_LABELS,
    "proposal_kind": PROPOSAL_KIND_LABELS,
    "proposal_state": PROPOSAL_STATE_LABELS,
    "request_state": REQUEST_STATE_LABELS,
    "recipient_state": RECIPIENT_STATE_LABELS,
    "coi_member_kind": COI_MEMBER_KIND_LABELS,
    "unit_kind": UNIT_KIND_LABELS,
    "category": CATEGORY_LABELS,
    "status": STATUS_LABELS,
    "priority": PRIORITY_LABELS,
    "link_kind": LINK_KIND_LABELS,
    "metric": METRIC_LABELS,  # reporter activity counted per day (audit.ReporterMetric)
    "channel": CHANNEL_LABELS,
}


# Why a verification failed (audit.Broken), in the reader's language: never the
# command line's English. Values as in Verdict.values.
BROKEN_WORDS: dict[Broken, LazyString] = {
    Broken.ENTRIES_MISSING: _l(
        "Entry %(expected)d was expected here and entry %(found)d was found: entries are missing."
    ),
    Broken.CHAIN_BROKEN: _l("It does not link to the entry before it: the chain was broken there."),
    Broken.DETAIL_NOT_JSON: _l("Its details are unreadable: the entry was altered."),
    Broken.ENTRY_ALTERED: _l("Its content does not match its hash: the entry was altered."),
    Broken.KEPT_OTHER_KEY: _l(
        "A checkpoint file you gave is signed by another key than the one pinned."
    ),
    Broken.KEPT_BAD_SIGNATURE: _l("A checkpoint file you gave has a bad signature."),
    Broken.DIFFERS_FROM_KEPT: _l(
        "The log differs there from a checkpoint file you kept: its history was rewritten."
    ),
    Broken.STORED_OTHER_KEY: _l(
        "A checkpoint stored on the server is signed by another key than the one pinned."
    ),
    Broken.STORED_BAD_SIGNATURE: _l("A checkpoint stored on the server has a bad signature."),
    Broken.DIFFERS_FROM_STORED: _l(
        "The log differs there from a signed checkpoint stored on the server: its history "
        "was rewritten."
    ),
    Broken.ENDS_BEFORE_KEPT: _l(
        "The log ends at entry %(count)d, but a checkpoint file you kept covers entry "
        "%(kept)d: entries were cut off the end."
    ),
    Broken.STORED_BEYOND_END: _l(
        "A checkpoint stored on the server covers entry %(seq)d, beyond the end of the "
        "log: entries were cut off the end."
    ),
    Broken.HEAD_MISMATCH: _l("The record of the log's last entry does not match its last entry."),
}


def verdict_said(verdict: Verdict) -> str:
    """A failed verification in a sentence of the reader's language: the first bad
    entry, if there is one, and why (template filter ``verdict_said``)."""
    why = "" if verdict.broken is None else str(BROKEN_WORDS[verdict.broken]) % verdict.values
    if verdict.bad_seq is None:
        said = _("NOT intact.")
    else:
        said = _("NOT intact: the first bad entry is %(seq)d.", seq=verdict.bad_seq)
    return " ".join(part for part in (said, why) if part)


def grouped(fingerprint: object) -> str:
    """A fingerprint as the proposals and account pages show it, to compare by eye:
    upper-case hex in groups of 4 (``3F2A 9B10 …``), however the entry stored it; "—"
    for none; anything not hex as it is."""
    if not fingerprint:
        return "—"
    digits = str(fingerprint).replace(" ", "").upper()
    if not re.fullmatch(r"[0-9A-F]+", digits):
        return str(fingerprint)
    return " ".join(digits[i : i + 4] for i in range(0, len(digits), 4))


_ISO_TIME = re.compile(r"(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2}:\d{2})(?:\.\d+)?(?:Z|\+00:00)?")


def when_said(at: object) -> str:
    """A time of the log (an ISO 8601 string such as ``2026-11-30T14:21:56.019511Z``,
    or a datetime, in UTC) as people read it: ``2026-11-30 14:21:56 UTC`` (template
    filter ``when``). Anything else as it is."""
    if isinstance(at, datetime):
        return at.strftime("%Y-%m-%d %H:%M:%S UTC")
    match = _ISO_TIME.fullmatch(str(at))
    return f"{match.group(1)} {match.group(2)} UTC" if match else str(at)


def entry_role_said(actor: str, role: str) -> str:
    """The role an audit entry was made in, in words (template filter ``entry_role``):
    an entry of a one-time link (actor ``link``, role ``none``) was made by whoever held
    the link, not by an account acting as itself."""
    if actor == LINK_ACTOR.id:
        return str(_l("Holder of a one-time link"))
    if actor == OPERATOR.id:
        return str(_l("Server operator"))
    return said(role, "role")


def said(value: str | None, what: str) -> str:
    """``value`` (an internal value of the kind ``what``, a key of :data:`TABLES`) in
    the reader's language: the template filter ``said``. A value without words (a row
    older than its enum) comes back as it is: the tests keep every current value worded."""
    if value is None:
        return ""
    if what == "category":  # admins add categories: their words are stored (issue 18)
        return category_said(value)
    words = TABLES[what].get(value)
    return value if words is None else str(words)


def roles_said(roles: Iterable[object]) -> str:
    """A set of roles (``Role`` members or values), in words, sorted, comma-separated."""
    return ", ".join(sorted(said(str(r), "role") for r in roles))


def actor_said(actor: str, names: Mapping[str, str]) -> str:
    """Who made an entry: an account's username, or words for the other actors."""
    if actor in ACTOR_WORDS:
        return str(ACTOR_WORDS[actor])
    return names.get(actor, actor)


def change_said(
    kind: str, role: str | None = None, category: str | None = None, recipient: str | None = None
) -> str:
    """A proposal's change in words: "Give a role: Custodian"; ``recipient`` is an
    export recipient's name, shown as it is."""
    words = said(kind, "proposal_kind")
    if role:
        words += ": " + said(role, "role")
    if category:
        words += ": " + said(category, "category")
    if recipient:
        words += ": " + recipient
    return words


# --- an entry's detail, as a sentence -------------------------------------------------------

_LOGIN_FAILURES: dict[str, LazyString] = {
    Failure.CREDENTIALS: _l("A sign-in failed: wrong username or password."),
    Failure.SECOND_FACTOR: _l(
        "A sign-in failed: the authenticator code was wrong or already used."
    ),
    Failure.NOT_ACTIVE: _l("A sign-in failed: the account is not active."),
    Failure.RATE_LIMITED: _l("A sign-in was refused: too many failed attempts."),
}
_INTEGRITY_KINDS = {
    "message": _l("A message"),
    "note": _l("An internal note"),
    "attachment": _l("A file"),
    "identity_request": _l("An identity request"),
    "case_record": _l("The labels, priority, lead and links of a report"),
    # referral.bundle refuses a referral row that differs from its logged report.refer
    "referral": _l("A referral to an outside agency (its bundle was refused)"),
}
_FILTERS = {
    "actor": _l("actor"),
    "action": _l("action"),
    "report_id": _l("report"),
    "since": _l("from date"),
    "until": _l("until date"),
    "status": _l("status"),
    "category": _l("category"),
    "deadline": _l("deadline"),
    "unread": _l("unread"),
    "spam": _l("spam"),
    "label": _l("label"),
    "priority": _l("priority"),
}
_EXTRA_FIELDS = {"title": _l("Title")}


def _yes_no(value: object) -> str:
    return _("yes") if value else _("no")


def _count(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _ids(value: object) -> list[str]:
    return [str(v) for v in value] if isinstance(value, list) else []


def _filters(used: object) -> str:
    if not isinstance(used, list) or not used:
        return _("none")
    return ", ".join(str(_FILTERS.get(str(f), f)) for f in used)


def _issuers(ids: object, names: Mapping[str, str]) -> str:
    people = [actor_said(str(i), names) for i in ids] if isinstance(ids, list) else []
    return _(" and ").join(people) or _("nobody recorded")


def _link_words(action: str, name: str, issued: str) -> str:
    what: str | None = {
        Action.TOTP_RESET.value: _("A new authenticator app for %(name)s was set up", name=name),
        Action.KEY_REGISTER.value: _(
            "A new key pair and password for %(name)s were set", name=name
        ),
    }.get(action) or _("The account %(name)s was activated", name=name)
    return _(
        "%(what)s through a one-time link issued by %(issued)s. Whoever held the link did "
        "this: not necessarily %(name)s.",
        what=what,
        issued=issued,
        name=name,
    )


Sentence = Callable[[dict, str], str]


def _integrity(d: dict, _name: str) -> str:
    kind = str(d.get("kind"))
    if kind == "report_field":
        field = str(d.get("id"))
        label = CASE_FIELD_LABELS.get(field) or _EXTRA_FIELDS.get(field) or _("another field")
        what = _("The report's field “%(field)s”", field=str(label))
    else:
        what = str(_INTEGRITY_KINDS.get(kind, _("A record")))
    return _(
        "%(what)s failed its integrity check: it was changed in the database after it was "
        "written, and was not shown.",
        what=what,
    )


def _status(d: dict, _name: str) -> str:
    words = _(
        "From “%(old)s” to “%(new)s”.",
        old=said(str(d.get("from")), "status"),
        new=said(str(d.get("to")), "status"),
    )
    if d.get("acknowledged"):
        words += " " + _("The report was acknowledged with this change.")
    if d.get("with_reason"):
        words += " " + _("A reason was given to the reporter.")
    return words


def _export(d: dict, _name: str) -> str:
    words = _(
        "Encrypted: %(encrypted)s. The reporter's identity included: %(identity)s.",
        encrypted=_yes_no(d.get("encrypted")),
        identity=_yes_no(d.get("identity_included")),
    )
    if d.get("recipient_fingerprint"):
        words += " " + _(
            "To: %(recipient)s (fingerprint %(fingerprint)s).",
            recipient=str(d.get("recipient") or _("an age recipient typed in")),
            fingerprint=grouped(d.get("recipient_fingerprint")),
        )
    return words


def _print(d: dict, _name: str) -> str:
    return _(
        "Internal notes printed: %(notes)s. The reporter's identity included: %(identity)s.",
        notes=_yes_no(d.get("notes_included")),
        identity=_yes_no(d.get("identity_included")),
    )


def _recipient(d: dict, verb: str) -> str:
    return verb % {
        "recipient": str(d.get("recipient") or "?"),
        "fingerprint": grouped(d.get("fingerprint")),
    }


def _coi_member(d: dict, name: str, verb: str) -> str:
    return verb % {
        "who": str(d.get("recipient") or name or "?"),
        "member": said(str(d.get("member")), "coi_member_kind"),
        "fingerprint": grouped(d.get("fingerprint")),
    }


def _proposal(d: dict, name: str, verb: str) -> str:
    change = change_said(str(d.get("kind")), d.get("role"), d.get("category"), d.get("recipient"))
    if d.get("member"):
        change += " (" + said(str(d.get("member")), "coi_member_kind") + ")"
    if d.get("unit_name"):
        change += ": " + str(d["unit_name"])
    if d.get("label_id") or d.get("label_en"):
        change += ": " + str(d.get("label_id") or d.get("label_en"))
    elif d.get("name") and not d.get("username"):
        change += ": " + str(d["name"])
    if d.get("rows"):
        change += " " + _("(%(rows)d units)", rows=_count(d.get("rows")))
    if "offered_to_reporters" in d:  # escalation (issue 20)
        change += ". " + offer_said(d)
    words = verb % {"change": change}
    if d.get("username"):
        words += " " + _("Account: %(name)s.", name=name)
    if d.get("needed"):
        words += " " + _(
            "Approval %(n)d of %(needed)d.",
            n=_count(d.get("approvals")),
            needed=_count(d.get("needed")),
        )
    return words


def _role(d: dict) -> str:
    return said(str(d.get("role")), "role")


def _category(d: dict) -> str:
    return said(str(d.get("category")), "category")


def _category_update(d: dict) -> str:
    """A category's words changed (issue 18), and/or its accepting reports or not."""
    parts = []
    if d.get("changed"):
        parts.append(_("The words of %(category)s were changed.", category=_category(d)))
    if "accepting_reports" in d:
        parts.append(
            _("%(category)s accepts reports again.", category=_category(d))
            if d.get("accepting_reports")
            else _("%(category)s no longer accepts reports.", category=_category(d))
        )
    return " ".join(parts) or _("%(category)s: nothing changed.", category=_category(d))


def _unit_update(d: dict) -> str:
    parts = []
    if d.get("renamed_from"):
        parts.append(
            _("Unit %(old)s renamed %(new)s.", old=d["renamed_from"], new=d.get("name", "?"))
        )
    if "active" in d:
        parts.append(
            _("Reporters can choose the unit again.")
            if d.get("active")
            else _("Reporters can no longer choose the unit.")
        )
    return " ".join(parts) or _("Nothing changed.")


def _route(d: dict, name: str, add: bool) -> str:
    """A routing change in words: by category, by unit, or by both (issue 18)."""
    unit = d.get("unit_name")
    if unit and d.get("category"):
        verb = (
            _(
                "New reports of the category %(category)s about %(unit)s are now encrypted "
                "to %(name)s."
            )
            if add
            else _(
                "New reports of the category %(category)s about %(unit)s are no longer "
                "encrypted to %(name)s."
            )
        )
    elif unit:
        verb = (
            _("New reports about %(unit)s are now encrypted to %(name)s.")
            if add
            else _("New reports about %(unit)s are no longer encrypted to %(name)s.")
        )
    else:
        verb = (
            _("New reports of the category %(category)s are now encrypted to %(name)s.")
            if add
            else _("New reports of the category %(category)s are no longer encrypted to %(name)s.")
        )
    return verb % {"category": _category(d), "unit": unit or "", "name": name}


def _password_reset(d: dict, name: str) -> str:
    if d.get("link") == "activation":
        return _("A new activation link was issued for %(name)s.", name=name)
    return _(
        "The password of %(name)s was reset: a new key pair comes with the new password. "
        "Reports taken away: %(grants)d (report keys removed: %(wraps)d). Sessions "
        "ended: %(sessions)d.",
        name=name,
        grants=_count(d.get("grants_dropped")),
        wraps=_count(d.get("wraps_dropped")),
        sessions=_count(d.get("sessions_ended")),
    )


def _parts(value: object) -> str:
    """A referral profile's dropped parts, in words ("—": none)."""
    parts = [str(p) for p in value] if isinstance(value, list) else []
    return "; ".join(str(PART_LABELS.get(p, p)) for p in parts) or "—"


def _refer(d: dict, _name: str) -> str:
    words = _(
        "Referred to %(recipient)s (fingerprint %(fingerprint)s). Left out of its bundle: "
        "%(dropped)s. The reporter's identity passed on: %(identity)s. Follow up by "
        "%(due)s.",
        recipient=str(d.get("recipient") or "?"),
        fingerprint=grouped(d.get("recipient_fingerprint")),
        dropped=_parts(d.get("profile")),
        identity=_yes_no(d.get("identity_included")),
        due=str(d.get("follow_up_due_on") or "?"),
    )
    if d.get("to"):
        words += " " + _status(d, _name)
    return words


def _identity_read(d: dict, _name: str) -> str:
    if d.get("via") == "referral":
        return _("The reporter's identity was included in a referral's encrypted bundle.")
    if d.get("via") == "print":
        return _("The reporter's identity was included in a printed case file.")
    if d.get("via") == "export":
        if d.get("encrypted"):
            return _("The reporter's identity was included in an encrypted export.")
        return _("The reporter's identity was included in an unencrypted export.")
    return _("The reporter's identity was shown on the case page.")


def _verify(d: dict, _name: str) -> str:
    if d.get("ok"):
        return _(
            "Intact: %(count)d entries; checkpoint files given: %(kept)d.",
            count=_count(d.get("entries")),
            kept=_count(d.get("checkpoints")),
        )
    return _(
        "NOT intact: the first bad entry is %(seq)s; checkpoint files given: %(kept)d.",
        seq=d.get("bad_entry") or "?",
        kept=_count(d.get("checkpoints")),
    )


def _statistics(d: Mapping[str, object]) -> str:
    kind = STATISTICS_KIND_WORDS.get(str(d.get("kind")))
    return _(
        "The year %(year)s, by %(kind)s: %(reports)d reports.",
        year=str(d.get("year", "?")),
        kind=str(kind) if kind is not None else "?",
        reports=_count(d.get("reports")),
    )


SENTENCES: dict[str, Sentence] = {
    Action.SYSTEM_INIT: lambda d, _n: _(
        "Version %(version)s. Demo accounts: %(demo)s.",
        version=str(d.get("version", "?")),
        demo=_yes_no(d.get("demo")),
    ),
    Action.CATEGORY_CREATE: lambda d, _n: _("Category: %(category)s.", category=_category(d)),
    Action.CATEGORY_UPDATE: lambda d, _n: _category_update(d),
    Action.ACCOUNT_CREATE: lambda d, n: _(
        "Account %(name)s, roles: %(roles)s.", name=n, roles=roles_said(d.get("roles") or [])
    ),
    Action.ACCOUNT_ACTIVATE: lambda d, n: _("The account %(name)s can now sign in.", name=n),
    Action.ACCOUNT_DEACTIVATE: lambda d, n: _(
        "%(name)s can no longer sign in. Sessions ended: %(sessions)d. Reports taken "
        "away: %(grants)d (report keys removed: %(wraps)d).",
        name=n,
        sessions=_count(d.get("sessions_ended")),
        grants=_count(d.get("grants_dropped")),
        wraps=_count(d.get("wraps_dropped")),
    ),
    Action.ROLE_GRANT: lambda d, n: _(
        "%(name)s now holds the role %(role)s.", name=n, role=_role(d)
    ),
    Action.ROLE_REVOKE: lambda d, n: _(
        "%(name)s no longer holds the role %(role)s. Reports taken away: %(grants)d "
        "(report keys removed: %(wraps)d).",
        name=n,
        role=_role(d),
        grants=_count(d.get("grants_dropped")),
        wraps=_count(d.get("wraps_dropped")),
    ),
    Action.PERMISSION_CHANGE: lambda d, n: (
        _("%(name)s may now share reports with colleagues.", name=n)
        if d.get("may_grant")
        else _("%(name)s may no longer share reports with colleagues.", name=n)
    ),
    Action.KEY_REGISTER: lambda d, n: _(
        "A key pair for %(name)s, fingerprint %(fingerprint)s.",
        name=n,
        fingerprint=grouped(d.get("fingerprint")),
    ),
    Action.PASSWORD_CHANGE: lambda d, n: _("%(name)s changed their own password.", name=n),
    Action.PASSWORD_RESET: _password_reset,
    Action.TOTP_RESET: lambda d, n: _(
        "The authenticator app of %(name)s was reset. Sessions ended: %(sessions)d.",
        name=n,
        sessions=_count(d.get("sessions_ended")),
    ),
    Action.LOGIN_SUCCESS: lambda d, _n: _("A sign-in with password and authenticator code."),
    Action.LOGIN_FAILURE: lambda d, _n: str(
        _LOGIN_FAILURES.get(str(d.get("reason")), _("A sign-in failed."))
    ),
    Action.LOGOUT: lambda d, _n: _("The session was ended."),
    Action.PROPOSAL_CREATE: lambda d, n: _proposal(d, n, _("Proposed: %(change)s.")),
    Action.PROPOSAL_APPROVE: lambda d, n: _proposal(d, n, _("Approved: %(change)s.")),
    Action.PROPOSAL_REJECT: lambda d, n: _proposal(d, n, _("Rejected: %(change)s.")),
    Action.ROUTE_ADD: lambda d, n: _route(d, n, True),
    Action.ROUTE_REMOVE: lambda d, n: _route(d, n, False),
    Action.REPORT_LIST: lambda d, _n: _(
        "Titles of the listed reports shown. Filters: %(filters)s.",
        filters=_filters(d.get("filters")),
    ),
    Action.REPORT_READ: lambda d, _n: _("The case page was opened."),
    Action.REPORT_SEARCH: lambda d, _n: ngettext(
        "A search read %(num)d report (their ids are in the technical detail); %(found)d "
        "matched. The words searched for are not recorded.",
        "A search read %(num)d reports (their ids are in the technical detail); %(found)d "
        "matched. The words searched for are not recorded.",
        len(_ids(d.get("reports"))),
        found=_count(d.get("found")),
    ),
    Action.REPORT_EXPORT: _export,
    Action.REPORT_EXPORT_PLAINTEXT: _export,
    Action.REPORT_PRINT: _print,
    Action.RECIPIENT_ADD: lambda d, _n: _recipient(
        d,
        _("Exports can now be encrypted to %(recipient)s (fingerprint %(fingerprint)s)."),
    ),
    Action.RECIPIENT_REMOVE: lambda d, _n: _recipient(
        d, _("%(recipient)s is no longer offered for exports (fingerprint %(fingerprint)s).")
    ),
    Action.COI_MEMBER_ADD: lambda d, n: _coi_member(
        d,
        n,
        _(
            "New reports about the Inspectorate's own staff now also go to %(who)s, as "
            "%(member)s (fingerprint %(fingerprint)s)."
        ),
    ),
    Action.COI_MEMBER_REMOVE: lambda d, n: _coi_member(
        d,
        n,
        _(
            "New reports about the Inspectorate's own staff no longer go to %(who)s, as "
            "%(member)s (fingerprint %(fingerprint)s)."
        ),
    ),
    Action.COI_EXTERNAL_EXPORT: lambda d, _n: _recipient(
        d,
        _(
            "The report was exported at the server, encrypted to the outside keyholder "
            "%(recipient)s (fingerprint %(fingerprint)s)."
        ),
    ),
    Action.ATTACHMENT_DOWNLOAD: lambda d, _n: _(
        "A file of %(size)s was downloaded.", size=filesize(_count(d.get("size")))
    ),
    Action.SAFE_COPY_MAKE: lambda d, _n: (
        _("A safe copy of a file was made.")
        if d.get("outcome") == "made"
        else _(
            "A safe copy of a file could not be made: %(why)s",
            why=SAFE_COPY_REFUSALS.get(str(d.get("outcome")), _("unknown reason")),
        )
    ),
    Action.SAFE_COPY_DOWNLOAD: lambda d, _n: _(
        "A safe copy of %(size)s was downloaded.", size=filesize(_count(d.get("size")))
    ),
    Action.MESSAGE_SEND: lambda d, _n: _(
        "A message to the reporter. Files: %(files)d.", files=_count(d.get("files"))
    ),
    Action.NOTE_ADD: lambda d, _n: _("An internal note was written."),
    Action.STATUS_CHANGE: _status,
    Action.SPAM_MARK: lambda d, _n: _("Hidden from the report list as spam."),
    Action.SPAM_UNMARK: lambda d, _n: _("Listed again: not spam."),
    Action.REPORT_REOPEN: lambda d, _n: _(
        "Reopened: from “%(old)s” to “%(new)s”. A reason was given to the reporter.",
        old=said(str(d.get("from")), "status"),
        new=said(str(d.get("to")), "status"),
    ),
    Action.CASE_LABELS: lambda d, _n: _(
        "Labels and priority set (sealed, not shown here). Labels: %(count)d.",
        count=_count(d.get("labels")),
    ),
    Action.CASE_LEAD: lambda d, n: (
        _("The report has no lead investigator now.")
        if d.get("cleared")
        else _("%(name)s now leads the work on this report.", name=n)
    ),
    Action.CASE_LINK: lambda d, _n: _(
        "Linked to report %(other)s: %(kind)s.",
        other=str(d.get("other") or "?"),
        kind=said(str(d.get("kind")), "link_kind"),
    ),
    Action.CASE_UNLINK: lambda d, _n: _(
        "No longer linked to report %(other)s.", other=str(d.get("other") or "?")
    ),
    Action.GRANT_RECUSE: lambda d, n: (
        _(
            "%(name)s stepped down and no longer has access to what is written from now "
            "on. They were the lead investigator; the report has none now.",
            name=n,
        )
        if d.get("was_lead")
        else _(
            "%(name)s stepped down and no longer has access to what is written from now on.",
            name=n,
        )
    ),
    Action.GRANT_ADD: lambda d, n: _("The report was shared with %(name)s.", name=n),
    Action.GRANT_REVOKE: lambda d, n: _(
        "%(name)s no longer has access to what is written from now on.", name=n
    ),
    Action.IDENTITY_REQUEST: lambda d, _n: _("A custodian was asked to reveal the identity."),
    Action.IDENTITY_APPROVE: lambda d, n: _(
        "%(name)s may now see the reporter's identity.", name=n
    ),
    Action.IDENTITY_REFUSE: lambda d, n: _("%(name)s may not see the reporter's identity.", name=n),
    Action.IDENTITY_READ: _identity_read,
    Action.IDENTITY_REQUEST_READ: lambda d, _n: _("A custodian read why the identity is needed."),
    Action.INTEGRITY_FAILURE: _integrity,
    Action.RECOVERY_GRANT: lambda d, n: _(
        "The report was given to %(name)s with the offline recovery key.", name=n
    ),
    Action.AUDIT_VIEW: lambda d, _n: _("Filters: %(filters)s.", filters=_filters(d.get("filters"))),
    Action.AUDIT_EXPORT: lambda d, _n: _(
        "Format: %(format)s. From entry %(since)d.",
        format=str(d.get("format", "?")).upper(),
        since=_count(d.get("since")),
    ),
    Action.AUDIT_CHECKPOINT: lambda d, _n: _(
        "The log was signed up to entry %(seq)d.", seq=_count(d.get("seq"))
    ),
    Action.AUDIT_VERIFY: _verify,
    Action.RETENTION_SHRED: lambda d, _n: _(
        "Reports past their retention period: %(reports)d; keys deleted: %(keys)d.",
        reports=_count(d.get("reports")),
        keys=_count(d.get("keys")),
    ),
    Action.RETENTION_PURGE: lambda d, _n: _(
        "Reports deleted: %(reports)d; files deleted: %(files)d.",
        reports=_count(d.get("reports")),
        files=_count(d.get("files")),
    ),
    Action.ROW_ORDER_RESHUFFLE: lambda d, _n: _(
        "Tables rewritten: %(tables)d, in %(ms)d ms, so the order reporters and staff "
        "wrote in cannot be read from the database.",
        tables=_count(d.get("tables")),
        ms=_count(d.get("ms")),
    ),
    Action.REPORT_INTAKE: lambda d, _n: _(
        "A report came in %(channel)s, received at %(office)s.",
        channel=said(str(d.get("channel")), "channel").lower(),
        office=str(d.get("office") or "?"),
    ),
    Action.UNIT_CREATE: lambda d, _n: _(
        "%(kind)s %(name)s.", kind=said(str(d.get("kind")), "unit_kind"), name=d.get("name", "?")
    ),
    Action.UNIT_UPDATE: lambda d, _n: _unit_update(d),
    Action.NOTIFY_SETTINGS: lambda d, n: _digest_choices(d, n),
    Action.DIGEST_SENT: lambda d, n: _digest_sent(d, n),
    Action.DIGEST_FAILED: lambda d, n: _(
        "The daily digest of %(name)s could not be sent (%(error)s); it is tried again at "
        "the next run.",
        name=n,
        error=str(d.get("error") or "?"),
    ),
    Action.CONFIRMATION_SENT: lambda d, n: (
        _("A code to confirm the digest address of %(name)s was mailed, encrypted.", name=n)
        if d.get("encrypted")
        else _("A code to confirm the digest address of %(name)s was mailed.", name=n)
    ),
    Action.CONFIRMATION_FAILED: lambda d, n: _(
        "The code to confirm the digest address of %(name)s could not be mailed (%(error)s).",
        name=n,
        error=str(d.get("error") or "?"),
    ),
    Action.CONFIRMATION_REQUESTED: lambda d, n: _(
        "%(name)s asked for a new code to confirm their digest address.", name=n
    ),
    Action.ADDRESS_CONFIRMED: lambda d, n: _(
        "%(name)s confirmed their digest address with the code mailed to it.", name=n
    ),
    Action.STATISTICS_VIEW: lambda d, _n: _statistics(d),
    Action.STATISTICS_EXPORT: lambda d, _n: _statistics(d),
    Action.TRANSPARENCY_PUBLISH: lambda d, _n: (
        _(
            "The transparency report for %(month)s was published again, replacing the "
            "earlier one (SHA-256 %(earlier)s); the new document's SHA-256: %(sha256)s.",
            month=str(d.get("month")),
            earlier=str(d.get("replaces")),
            sha256=str(d.get("sha256")),
        )
        if d.get("replaces")
        else _(
            "The transparency report for %(month)s was published; its SHA-256: %(sha256)s.",
            month=str(d.get("month")),
            sha256=str(d.get("sha256")),
        )
    ),
    Action.TRANSPARENCY_FACTS: lambda d, _n: _(
        "The facts file of the transparency report for %(month)s was read.",
        month=str(d.get("month")),
    ),
    Action.RECEIPT_DAY: lambda d, _n: (
        ngettext(
            "The commitment of %(num)d report received on %(day)s was sealed, so that its "
            "reporter can download a proof of report; the tree's root: %(root)s.",
            "The commitments of %(num)d reports received on %(day)s were sealed, so that "
            "their reporters can download a proof of report; the tree's root: %(root)s.",
            _count(d.get("size")),
            day=str(d.get("day")),
            root=str(d.get("root")),
        )
        if d.get("last") in (None, d.get("day"))
        else ngettext(  # a week or a month (SIPADU_DATE_PRECISION)
            "The commitment of %(num)d report received from %(day)s to %(last)s was sealed, "
            "so that its reporter can download a proof of report; the tree's root: %(root)s.",
            "The commitments of %(num)d reports received from %(day)s to %(last)s were "
            "sealed, so that their reporters can download a proof of report; the tree's "
            "root: %(root)s.",
            _count(d.get("size")),
            day=str(d.get("day")),
            last=str(d.get("last")),
            root=str(d.get("root")),
        )
    ),
    Action.RECIPIENT_OFFER: lambda d, _n: (
        _recipient(d, _("%(recipient)s (fingerprint %(fingerprint)s):")) + " " + offer_said(d)
    ),
    Action.REPORT_REFER: _refer,
    Action.REFERRAL_BUNDLE: lambda d, _n: _(
        "The bundle of the referral to %(recipient)s was downloaded, encrypted to its key "
        "(fingerprint %(fingerprint)s). The reporter's identity included: %(identity)s.",
        recipient=str(d.get("recipient") or "?"),
        fingerprint=grouped(d.get("recipient_fingerprint")),
        identity=_yes_no(d.get("identity_included")),
    ),
    Action.REFERRAL_RESPONSE: lambda d, _n: (
        _(
            "The response of %(recipient)s to a referral was recorded, after its follow-up "
            "day. Its text is sealed, not in the log.",
            recipient=str(d.get("recipient") or "?"),
        )
        if d.get("after_follow_up")
        else _(
            "The response of %(recipient)s to a referral was recorded. Its text is sealed, "
            "not in the log.",
            recipient=str(d.get("recipient") or "?"),
        )
    ),
}


def offer_said(d: Mapping[str, object]) -> str:
    """Whether a recipient is offered to reporters, and where they upload (issue 20), as
    a proposal's content or an entry's detail says."""
    if d.get("offered_to_reporters"):
        return _(
            "Offered to reporters whose deadline passed; they upload the file at %(channel)s.",
            channel=str(d.get("reporter_channel") or "?"),
        )
    return _("Not offered to reporters.")


def _digest_choices(d: dict, n: str) -> str:
    if not d.get("registered"):
        return _(
            "%(name)s removed their e-mail address: no daily digest is mailed to them.", name=n
        )
    sentence = _("%(name)s registered an e-mail address for the daily digest.", name=n)
    if d.get("always_send"):
        sentence += " " + _("It is sent every day, even when nothing waits.")
    if d.get("openpgp"):
        sentence += " " + _("It is encrypted to their OpenPGP key.")
    if d.get("confirmed") is False:
        sentence += " " + _("The address is not confirmed yet: no digest goes to it.")
    return sentence


def _digest_sent(d: dict, n: str) -> str:
    """The counts a digest told (only those of the roles its person holds)."""
    parts = []
    if "need_action" in d:
        parts.append(
            _(
                "reports that need action: %(num)d, overdue: %(late)d",
                num=_count(d.get("need_action")),
                late=_count(d.get("overdue")),
            )
        )
    if "pending_requests" in d:
        parts.append(
            _(
                "identity requests waiting: %(num)d; across the institution, overdue "
                "acknowledgements: %(ack)d, overdue feedback: %(feedback)d",
                num=_count(d.get("pending_requests")),
                ack=_count(d.get("late_acknowledgements")),
                feedback=_count(d.get("late_feedback")),
            )
        )
    if "proposals" in d:
        parts.append(_("proposals waiting: %(num)d", num=_count(d.get("proposals"))))
    told = "; ".join(parts) or _("nothing waits")
    if d.get("encrypted"):
        return _("The daily digest of %(name)s, encrypted, told: %(told)s.", name=n, told=told)
    return _("The daily digest of %(name)s told: %(told)s.", name=n, told=told)


def entry_words(entry: AuditEvent, names: Mapping[str, str]) -> str:
    """What ``entry``'s detail says, as a sentence in the reader's language: names for
    account ids, words for statuses, roles and categories, yes/no for flags. Entries made
    through a one-time link or a password proof say who issued the link and that
    whoever held it acted, not necessarily the owner (issue 15). An empty string for a
    detail that is not a JSON object (the page then shows the technical detail only)."""
    try:
        detail = json.loads(entry.detail) if entry.detail else {}
    except ValueError:
        return ""
    if not isinstance(detail, dict):
        return ""
    name = str(detail.get("username") or names.get(str(detail.get("account")), "?"))
    via_link = entry.actor == LINK_ACTOR.id
    issued = _issuers(detail.get("issued_by"), names)
    if entry.action == Action.PASSWORD_PROOF_FAILURE:
        if via_link or detail.get("proof") == Proof.TOTP_ENROLLMENT:
            return _(
                "A wrong password for %(name)s was typed at a one-time link to set up an "
                "authenticator app (issued by %(issued)s).",
                name=name,
                issued=issued,
            )
        return _(
            "A wrong current password was typed when changing the password of %(name)s.", name=name
        )
    if via_link and entry.action in (
        Action.TOTP_RESET,
        Action.KEY_REGISTER,
        Action.ACCOUNT_ACTIVATE,
    ):
        return _link_words(entry.action, name, issued)
    if entry.action == Action.TOTP_RESET and detail.get("proposal"):
        return _(
            "The authenticator app of %(name)s was reset; the one-time link was issued by "
            "%(issued)s (proposed by the first, approved and shown to the second).",
            name=name,
            issued=issued,
        )
    sentence = SENTENCES.get(entry.action)
    return sentence(detail, name) if sentence is not None else ""
