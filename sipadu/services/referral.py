"""Referral (pelimpahan) with tracking (issue 20, item 1; docs/referral.md).

An investigator holding a report refers it to a competent body (KPK, Ombudsman RI, the
police or prosecutors, BPKP, another region's inspectorate) chosen from the export
recipients' registry (:mod:`sipadu.services.export_recipients`: two admins, age keys
with fingerprints). ISO 37002:2021 §8.5 asks to refer matters and monitor the results;
Indonesian WBS rules (e.g. the Finance Ministry's) provide for passing cases on.

- :func:`refer` records the referral (the registry row, its name and fingerprint as
  they are now, the day, the follow-up's due day, the redaction :class:`Profile`),
  moves the report to ``referred`` (a closing outcome, like a close: ``closed_on``, and
  the acknowledgement if it was still only received) and appends ``report.refer`` with
  the agency, its registry row, the fingerprint and the profile, never content. The
  same referral sent again (a double click, a resend of the form: see :func:`refer`)
  is that referral: nothing more is recorded.
- :func:`open_bundle` makes its bundle: today's signed export (:mod:`sipadu.services.
  export`) of a view redacted by the profile (:func:`redact`), with a ``referral`` key
  in the signed manifest, age-encrypted to the agency's registered key. Every download
  is appended as ``referral.bundle`` before the first byte; so a bundle lost on the way
  is downloaded again, never re-referred. The referral must still be what ``report.refer``
  recorded (profile, agency, registry row, key fingerprint: the hash-chained log is
  what a row changed in the database is checked against), and the agency's key still
  the registered one: a key removed from the registry (or changed in the database)
  gets nothing more.
- :func:`record_response` records the agency's answer (sealed under the internal key,
  like a note) and ends the follow-up; ``referral.response``.

The reporter reads "referred to <agency> on <day>" in the mailbox (:func:`told`), and
whether their identity was passed on (EU Directive 2019/1937 Art. 16(3): a reporting
person is told before their identity is disclosed).
"""

import json
import re
import uuid
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from datetime import date
from pathlib import PurePosixPath

from sqlalchemy import select
from sqlalchemy.orm import Session

from sipadu.accountability import audit
from sipadu.accountability.audit import Action, DetailValue
from sipadu.crypto import CryptoError, Purpose, open_field, seal_field
from sipadu.persistence.db import scope_to_report
from sipadu.persistence.models import (
    AuditEvent,
    ExportRecipient,
    RecipientState,
    Referral,
    ReportField,
    ReportStatus,
)
from sipadu.services import Reason, ServiceError
from sipadu.services.attachments import AttachmentInfo
from sipadu.services.cases import (
    CaseView,
    NotGranted,
    due_soon_until,
    granted,
    identity_approved,
    mark_closed,
    open_case,
    seal_reason,
)
from sipadu.services.dates import add_days
from sipadu.services.export_recipients import (
    checked_name,
    intact,
    recipient_fingerprint,
    registered_recipient,
)
from sipadu.services.key_ring import HeldKeys, NoKey
from sipadu.services.reports import CASE_FIELDS, STATUS_REASON_FIELD, locked_report
from sipadu.services.row_metadata import response_bound, response_field
from sipadu.settings.config import DayCount

# --- what a bundle holds --------------------------------------------------------------

FIELD = "field:"  # a report field's part: "field:who"
# Besides the case fields: the reason the reporter was given, the unit concerned and how
# the report came in (an operator's office and username).
EXTRA_FIELDS = ("status_reason", "unit", "intake")
FIELD_PARTS = tuple(FIELD + name for name in (*CASE_FIELDS, *EXTRA_FIELDS))
IDENTITY = "identity"
NOTES = "notes"
MESSAGES = "messages"
ATTACHMENTS = "attachments"
ATTACHMENT_NAMES = "attachment_names"  # the files' own names (else "file.pdf")
PARTS = (*FIELD_PARTS, MESSAGES, ATTACHMENTS, ATTACHMENT_NAMES, IDENTITY, NOTES)
# Left out unless the investigator ticks them: the identity is custodian-gated (G3), and
# the notes are the inspectorate's own thinking.
OUT_BY_DEFAULT = frozenset({IDENTITY, NOTES})


@dataclass(frozen=True)
class Profile:
    """A redaction profile: the parts of :data:`PARTS` a referral's bundle leaves out.
    Its canonical JSON (:meth:`as_json`) is ``{"dropped": [sorted part names]}``: what
    is stored, shown in the signed manifest and (as the list) in the access log."""

    dropped: frozenset[str]

    @classmethod
    def keeping(cls, kept: Iterable[str]) -> "Profile":
        """The profile that keeps exactly ``kept`` (the ticked boxes). Raises
        :class:`ServiceError` ``REFERRAL_UNKNOWN_PART`` (field ``include``) for a name
        not in :data:`PARTS` (a form that was not ours)."""
        chosen = set(kept)
        if chosen - set(PARTS):
            raise ServiceError(Reason.REFERRAL_UNKNOWN_PART, "include")
        return cls(frozenset(PARTS) - chosen)

    @classmethod
    def default(cls) -> "Profile":
        return cls(OUT_BY_DEFAULT)

    @classmethod
    def from_json(cls, text: str) -> "Profile":
        """A stored profile read back. Raises ``ValueError`` for anything
        :meth:`as_json` does not write (a row changed in the database)."""
        value = json.loads(text)
        if not isinstance(value, dict) or set(value) != {"dropped"}:
            raise ValueError("not a profile")
        dropped = value["dropped"]
        if not isinstance(dropped, list) or not all(isinstance(p, str) for p in dropped):
            raise ValueError("not a profile")
        if set(dropped) - set(PARTS) or sorted(set(dropped)) != dropped:
            raise ValueError("not a profile")
        return cls(frozenset(dropped))

    def keeps(self, part: str) -> bool:
        return part not in self.dropped

    def listed(self) -> list[str]:
        """The dropped parts, sorted (what ``report.refer`` records as ``profile``)."""
        return sorted(self.dropped)

    def as_json(self) -> str:
        return json.dumps({"dropped": self.listed()}, separators=(",", ":"))

    def empty(self) -> bool:
        """Whether the agency would get nothing of the report itself: no case field, no
        message, no file (the identity, notes, unit or intake alone are no report)."""
        fields = any(self.keeps(FIELD + name) for name in CASE_FIELDS)
        return not (fields or self.keeps(MESSAGES) or self.keeps(ATTACHMENTS))


def _part_of_field(name: str) -> str | None:
    """The profile part a report field (as ``CaseView.failed_fields`` names it) belongs
    to, None for a field no profile part covers (a transcript's answer)."""
    if name in CASE_FIELDS or name in EXTRA_FIELDS:
        return FIELD + name
    return IDENTITY if name == IDENTITY else None


# The extensions a neutral file name keeps (lower case, without the dot): common
# formats of evidence that the agency needs to know how to open. Anything else after a
# file name's last dot may be a word of the name ("Rekaman suara Pak.Joko"), so it goes.
SAFE_EXTENSIONS = frozenset(
    {
        *("pdf", "txt", "rtf", "csv", "xml", "json", "eml", "msg"),
        *("doc", "docx", "xls", "xlsx", "ppt", "pptx", "odt", "ods", "odp"),
        *("jpg", "jpeg", "png", "gif", "webp", "heic", "tif", "tiff", "bmp"),
        *("mp3", "m4a", "wav", "ogg", "oga", "opus", "amr", "aac", "flac"),
        *("mp4", "m4v", "mov", "3gp", "avi", "mkv", "webm"),
        *("zip", "7z", "rar", "gz"),
    }
)
# A file whose name has none of them: the extension its type says (IANA media types).
TYPE_EXTENSIONS = {
    "application/pdf": "pdf",
    "text/plain": "txt",
    "text/csv": "csv",
    "image/jpeg": "jpg",
    "image/png": "png",
    "image/gif": "gif",
    "image/webp": "webp",
    "audio/mpeg": "mp3",
    "audio/mp4": "m4a",
    "audio/ogg": "ogg",
    "audio/wav": "wav",
    "video/mp4": "mp4",
    "video/quicktime": "mov",
    "video/webm": "webm",
    "application/zip": "zip",
}


def neutral_name(name: str, content_type: str = "") -> str:
    """A file's name without its own words: ``file`` and an extension only from
    :data:`SAFE_EXTENSIONS` (``Surat Budi Santoso.PDF`` → ``file.pdf``), else the one
    :data:`TYPE_EXTENSIONS` gives for ``content_type`` (the type stored with the file),
    else none (``Rekaman suara Pak.Joko`` → ``file``): the agency can still open it,
    and no word of the name is kept."""
    suffix = PurePosixPath(name.replace("\\", "/")).suffix.lower().removeprefix(".")
    if suffix not in SAFE_EXTENSIONS:
        suffix = TYPE_EXTENSIONS.get(content_type.split(";")[0].strip().lower(), "")
    return "file" + (f".{suffix}" if suffix else "")


def redact(view: CaseView, profile: Profile) -> CaseView:
    """``view`` with what ``profile`` drops taken out, so the archive holds none of it,
    nor its name, nor its digest: dropped fields are absent from ``report.json`` (not
    empty), the identity is null, the notes, messages or files are gone (and so their
    paths and digests from the manifest), the files' names neutral
    (:func:`neutral_name`) when their names are dropped; integrity failures are named
    only for parts kept."""
    fields = {n: v for n, v in view.fields.items() if profile.keeps(FIELD + n)}
    failed = frozenset(
        name
        for name in view.failed_fields
        if (part := _part_of_field(name)) is None or profile.keeps(part)
    )
    files: list[AttachmentInfo] = []
    if profile.keeps(ATTACHMENTS):
        named = profile.keeps(ATTACHMENT_NAMES)
        files = [
            a if named or not a.intact else replace(a, name=neutral_name(a.name, a.content_type))
            for a in view.attachments
        ]
    return replace(
        view,
        fields=fields,
        status_reason=view.status_reason if profile.keeps(FIELD + "status_reason") else None,
        identity=view.identity if profile.keeps(IDENTITY) else None,
        messages=view.messages if profile.keeps(MESSAGES) else [],
        notes=view.notes if profile.keeps(NOTES) else [],
        attachments=files,
        identity_requests=[],
        failed_fields=failed,
        unit=view.unit if profile.keeps(FIELD + "unit") else None,
        intake=view.intake if profile.keeps(FIELD + "intake") else None,
    )


def omitted_documents(profile: Profile) -> frozenset[str]:
    """The archive's JSON documents a bundle of ``profile`` leaves out entirely."""
    return frozenset(
        name
        for part, name in ((MESSAGES, "messages.json"), (NOTES, "notes.json"))
        if not profile.keeps(part)
    )


# --- referring ------------------------------------------------------------------------

# A referral is a closing outcome reached from the open part of the workflow, or another
# agency for a report already referred. A closed or rejected report is reopened first.
REFERABLE = frozenset(
    {
        ReportStatus.RECEIVED,
        ReportStatus.IN_REVIEW,
        ReportStatus.INVESTIGATING,
        ReportStatus.REFERRED,
    }
)


@dataclass(frozen=True)
class FollowUp:
    """How long the holders have to record an agency's answer:
    ``SIPADU_REFERRAL_FOLLOW_UP_DAYS`` days counted as ``SIPADU_DAY_COUNT`` says (like
    the acknowledgement and feedback deadlines, :func:`sipadu.services.dates.add_days`)."""

    days: int
    count: DayCount

    def due(self, referred_on: date) -> date:
        return add_days(referred_on, self.days, self.count)


def refer(
    session: Session,
    keys: HeldKeys,
    account_id: uuid.UUID,
    recipient_id: uuid.UUID,
    profile: Profile,
    reason: str,
    today: date,
    follow_up: FollowUp,
) -> tuple[Referral, bool]:
    """Refer the report of ``keys`` to the registered recipient ``recipient_id``, its
    bundle to be made with ``profile``; ``reason``: optional words the reporter reads
    under the new status (without them, an earlier status reason is taken away, so the
    mailbox shows the referral alone). Returns the referral and whether it was made now
    (False: the same referral, sent again, changed nothing and recorded nothing).

    Sent again (a double click, the browser resending the form, two tabs) means: the
    report is still ``referred`` by that very referral, not by one made after a
    reopening (:func:`_resent`), to the same registry row and key, the same day, with
    the same profile. Refusals come first, so a form sent again to a report closed
    since is refused like any other.

    Raises :class:`NotGranted`; :class:`ServiceError` ``NO_SUCH_RECIPIENT`` (field
    ``to``: not, or no longer, registered), ``REFERRAL_EMPTY`` (field ``include``),
    ``REFERRAL_NOT_OPEN`` (closed or rejected), ``REFERRAL_IDENTITY_NOT_SEEN`` (field
    ``include``: the identity ticked by an investigator no custodian approved for it,
    G3). The caller commits."""
    granted(session, keys.report_id, account_id)
    report = locked_report(session, keys.report_id)
    if report is None:  # pragma: no cover — the grant's foreign key
        raise NotGranted()
    row = registered_recipient(session, recipient_id)
    if not _recordable(row.name):  # a name changed in the database: no such agency
        raise ServiceError(Reason.NO_SUCH_RECIPIENT, "to")
    fingerprint = recipient_fingerprint(row.recipient)
    if profile.empty():
        raise ServiceError(Reason.REFERRAL_EMPTY, "include")
    current = ReportStatus(report.status)
    if current not in REFERABLE:
        raise ServiceError(Reason.REFERRAL_NOT_OPEN)
    included = profile.keeps(IDENTITY)
    if included and not identity_approved(session, keys, account_id):
        raise ServiceError(Reason.REFERRAL_IDENTITY_NOT_SEEN, "include")
    if current is ReportStatus.REFERRED:
        same = _resent(session, report.id, row.id, fingerprint, profile, today)
        if same is not None:
            return same, False
    reason = reason.strip()
    if reason:
        seal_reason(session, keys, report, reason)
    elif current is not ReportStatus.REFERRED:
        stale = session.get(ReportField, (report.id, STATUS_REASON_FIELD))
        if stale is not None:
            session.delete(stale)
    acknowledged = current is ReportStatus.RECEIVED
    if acknowledged:
        report.acknowledged_on = today
    if current is not ReportStatus.REFERRED:
        mark_closed(report, today)
        report.status = ReportStatus.REFERRED.value
    referral = Referral(
        id=uuid.uuid4(),
        report_id=report.id,
        recipient_id=row.id,
        agency=row.name,
        fingerprint=fingerprint,
        referred_on=today,
        follow_up_due_on=follow_up.due(today),
        profile=profile.as_json(),
    )
    session.add(referral)
    detail: dict[str, DetailValue] = {
        "referral": str(referral.id),
        "recipient": row.name,
        "recipient_id": str(row.id),
        "recipient_fingerprint": fingerprint,
        "profile": list(profile.listed()),
        "identity_included": included,
        "follow_up_due_on": referral.follow_up_due_on.isoformat(),
        "with_reason": bool(reason),
    }
    if current is not ReportStatus.REFERRED:  # a step of the status history too
        detail |= {"from": current.value, "to": ReportStatus.REFERRED.value}
        detail["acknowledged"] = acknowledged
    audit.append(session, str(account_id), "investigator", Action.REPORT_REFER, report.id, detail)
    return referral, True


def _recordable(name: str) -> bool:
    """Whether a registry row's name is still one :func:`checked_name` accepts (so the
    access log records it, and the reporter reads it as registered)."""
    try:
        return checked_name(name) == name
    except ServiceError:
        return False


def _referral(session: Session, report_id: uuid.UUID, referral_id: uuid.UUID) -> Referral:
    row = session.get(Referral, referral_id)
    if row is None or row.report_id != report_id:
        raise ServiceError(Reason.NO_SUCH_REFERRAL)
    return row


@dataclass(frozen=True)
class Logged:
    """What ``report.refer`` recorded of one referral: the entry's place in the chain
    (``seq``), the agency's name, its registry row (None in entries written before the
    row was recorded), the key's fingerprint, the dropped parts, and whether the report
    became ``referred`` with it (``opened``: the entry has ``to``)."""

    seq: int
    agency: object
    recipient_id: object
    fingerprint: object
    profile: object
    opened: bool


def logged_referrals(session: Session, report_id: uuid.UUID) -> dict[str, Logged]:
    """The report's ``report.refer`` entries by referral id: the hash-chained log is
    what a ``referral`` row changed in the database (its profile, agency, registry row
    or key) is checked against. Reads the report's entries of that action (the
    ``(action, report_id)`` index)."""
    return {
        str(detail.get("referral")): Logged(
            seq,
            detail.get("recipient"),
            detail.get("recipient_id"),
            detail.get("recipient_fingerprint"),
            detail.get("profile"),
            "to" in detail,
        )
        for seq, detail in _entries(session, Action.REPORT_REFER, report_id)
    }


def _entries(
    session: Session, action: Action, report_id: uuid.UUID
) -> Iterator[tuple[int, dict[str, object]]]:
    """The report's ``action`` entries as (seq, detail), by the ``(action, report_id)``
    index; an entry whose detail is not a JSON object is skipped (the chain's
    verification names it)."""
    for seq, text in session.execute(
        select(AuditEvent.seq, AuditEvent.detail).where(
            AuditEvent.action == action.value, AuditEvent.report_id == report_id
        )
    ):
        try:
            detail = json.loads(text or "{}")
        except ValueError:
            continue
        if isinstance(detail, dict):
            yield seq, detail


def _logged_profile(row: Referral, logged: Logged | None) -> Profile | None:
    """The referral's profile, or None when it does not read or differs from the one
    ``report.refer`` recorded (changed in the database: a bundle would leave out less
    than was decided)."""
    try:
        profile = Profile.from_json(row.profile)
    except ValueError:
        return None
    if logged is None or logged.profile != profile.listed():
        return None
    return profile


def _logged_agency(row: Referral, logged: Logged | None) -> bool:
    """Whether the referral goes where ``report.refer`` recorded: the same agency name,
    key fingerprint and registry row. A row pointed in the database at another key (its
    registry row's, swapped) or at another registered agency would otherwise get the
    next bundle encrypted to it (G3). An entry without the registry row (written before
    it was recorded) is checked on the name and the fingerprint, which decide the key."""
    return (
        logged is not None
        and logged.agency == row.agency
        and logged.fingerprint == row.fingerprint
        and logged.recipient_id in (None, str(row.recipient_id))
    )


def checked_profile(session: Session, row: Referral) -> Profile | None:
    """The referral's profile when the row is what ``report.refer`` recorded (profile,
    agency, registry row, fingerprint), None otherwise: no bundle is made of it."""
    logged = logged_referrals(session, row.report_id).get(str(row.id))
    profile = _logged_profile(row, logged)
    return profile if profile is not None and _logged_agency(row, logged) else None


def _resent(
    session: Session,
    report_id: uuid.UUID,
    recipient_id: uuid.UUID,
    fingerprint: str,
    profile: Profile,
    today: date,
) -> Referral | None:
    """The referral a referral request repeats, if it is one sent again: made today, to
    the same registry row and key, with the same profile, and part of the report's
    current ``referred`` spell: logged at or after the ``report.refer`` that made the
    report ``referred`` last (only a referral makes it so; a reopening ends the spell,
    so a referral after one is a decision of its own). Call it for a report that is
    ``referred`` now. Same name and key under another registry row (the key registered
    again) is another referral: its bundle goes by the row that is registered now."""
    logged = logged_referrals(session, report_id)
    spell = max((entry.seq for entry in logged.values() if entry.opened), default=None)
    if spell is None:  # pragma: no cover — a referred report was made so by a referral
        return None
    for candidate in session.scalars(
        select(Referral).where(
            Referral.report_id == report_id,
            Referral.recipient_id == recipient_id,
            Referral.fingerprint == fingerprint,
            Referral.referred_on == today,
            Referral.profile == profile.as_json(),
        )
    ):
        entry = logged.get(str(candidate.id))
        if entry is not None and entry.seq >= spell and _logged_agency(candidate, entry):
            return candidate
    return None


@dataclass(frozen=True)
class Bundle:
    """What a referral's download needs once recorded: the redacted view, the agency's
    canonical ``age1…`` key, the ``referral`` object of the signed manifest, the
    documents left out, and a file name."""

    view: CaseView
    recipient: str
    manifest: dict[str, object]
    omit: frozenset[str]
    filename: str


def _file_word(agency: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", agency).strip("-")[:40] or "agency"


def open_bundle(
    session: Session,
    keys: HeldKeys,
    account_id: uuid.UUID,
    referral_id: uuid.UUID,
    today: date,
) -> Bundle | None:
    """The bundle of a referral, its download recorded (``referral.bundle``: the
    referral, the agency, its fingerprint, whether the identity is in it; and an
    ``identity.read`` when it is), for :func:`sipadu.services.export.report_zip` and
    :func:`~sipadu.services.export.age_encrypted`. The caller commits before the first
    byte. ``today`` is the bundle's day (``made_on`` in the manifest, beside the
    referral's ``day``).

    Raises :class:`NotGranted`, ``NoKey``; :class:`ServiceError`
    ``NO_SUCH_REFERRAL``, ``REFERRAL_RECIPIENT_GONE`` (``name``: the agency's; the key was removed
    from the registry, or no longer matches the fingerprint referred to),
    ``REFERRAL_IDENTITY_NOT_SEEN`` (the profile passes the identity on, and this
    investigator may not see it). None when the row is not what ``report.refer``
    recorded (:func:`checked_profile`: its profile, agency, registry row or key
    fingerprint changed in the database): then only a ``record.integrity_failure``
    (kind ``referral``) is appended, which the caller commits, and nothing is sent."""
    granted(session, keys.report_id, account_id)
    row = _referral(session, keys.report_id, referral_id)
    profile = checked_profile(session, row)
    if profile is None:
        audit.append(
            session,
            str(account_id),
            "investigator",
            Action.INTEGRITY_FAILURE,
            report_id=row.report_id,
            detail={"kind": "referral", "id": str(row.id)},
        )
        return None
    registry = session.get(ExportRecipient, row.recipient_id)
    if (
        registry is None
        or registry.state != RecipientState.ACTIVE
        or not intact(registry.recipient)
        or recipient_fingerprint(registry.recipient) != row.fingerprint
    ):
        raise ServiceError(Reason.REFERRAL_RECIPIENT_GONE, name=row.agency)
    view = open_case(session, keys, account_id, record=False)
    if profile.keeps(IDENTITY) and view.identity is None:
        raise ServiceError(Reason.REFERRAL_IDENTITY_NOT_SEEN)
    redacted = redact(view, profile)
    included = redacted.identity is not None
    audit.append(
        session,
        str(account_id),
        "investigator",
        Action.REFERRAL_BUNDLE,
        report_id=row.report_id,
        detail={
            "referral": str(row.id),
            "recipient": row.agency,
            "recipient_fingerprint": row.fingerprint,
            "identity_included": included,
        },
    )
    if included:
        audit.append(
            session,
            str(account_id),
            "investigator",
            Action.IDENTITY_READ,
            report_id=row.report_id,
            detail={"via": "referral", "encrypted": True},
        )
    manifest: dict[str, object] = {
        "agency": row.agency,
        "fingerprint": row.fingerprint,
        "day": row.referred_on.isoformat(),
        "made_on": today.isoformat(),
        "profile": {"dropped": profile.listed()},
    }
    filename = (
        f"sipadu-pelimpahan-{row.referred_on.isoformat()}-{_file_word(row.agency)}"
        f"-{row.report_id}.zip.age"
    )
    return Bundle(redacted, registry.recipient, manifest, omitted_documents(profile), filename)


# --- the agency's answer --------------------------------------------------------------


def record_response(
    session: Session,
    keys: HeldKeys,
    account_id: uuid.UUID,
    referral_id: uuid.UUID,
    text: str,
    today: date,
) -> Referral:
    """Record the agency's answer to a referral: its text sealed under the report's
    current internal key (holders read it, never the reporter), bound to the day and the
    epoch (:func:`sipadu.services.row_metadata.response_bound`); the follow-up ends.
    ``referral.response`` records the referral, the agency and whether the answer came
    after the follow-up day, never the text. The same answer sent again changes and
    records nothing.

    Raises :class:`NotGranted`; :class:`ServiceError` ``NO_SUCH_REFERRAL``,
    ``EMPTY_TEXT`` (field ``response``), ``RESPONSE_ALREADY_RECORDED`` (field
    ``response``: another answer is there; more goes in a note)."""
    granted(session, keys.report_id, account_id)
    report = locked_report(session, keys.report_id)
    if report is None:  # pragma: no cover — the grant's foreign key
        raise NotGranted()
    row = _referral(session, report.id, referral_id)
    text = text.strip()
    if not text:
        raise ServiceError(Reason.EMPTY_TEXT, "response")
    if row.response_recorded_on is not None:
        if opened_response(keys, row) == text:
            return row
        raise ServiceError(Reason.RESPONSE_ALREADY_RECORDED, "response")
    row.response_recorded_on = today
    row.response_epoch = report.key_epoch
    row.sealed_response = seal_field(
        keys.key(Purpose.INTERNAL, report.key_epoch),
        text.encode("utf-8"),
        report_id=report.id,
        field=response_field(row.id),
        bound=response_bound(row),
    )
    audit.append(
        session,
        str(account_id),
        "investigator",
        Action.REFERRAL_RESPONSE,
        report_id=report.id,
        detail={
            "referral": str(row.id),
            "recipient": row.agency,
            "after_follow_up": today > row.follow_up_due_on,
        },
    )
    return row


def opened_response(keys: HeldKeys, row: Referral) -> str | None:
    """The recorded answer, or None when none is recorded or it fails its integrity
    check (altered, moved to another referral, re-dated; or its key is not held)."""
    if row.sealed_response is None:
        return None
    try:
        bound = response_bound(row)  # first: a malformed epoch is no epoch to look up
        return open_field(
            keys.key(Purpose.INTERNAL, row.response_epoch or 0),
            row.sealed_response,
            report_id=row.report_id,
            field=response_field(row.id),
            bound=bound,
        ).decode("utf-8")
    except (CryptoError, UnicodeDecodeError, NoKey):
        return None


# --- what the case page and the mailbox show ------------------------------------------


@dataclass(frozen=True)
class ReferralView:
    """A referral as its report's holders see it. ``dropped``: the profile's parts,
    None when the stored profile fails its check (no bundle is then made);
    ``registered``: the agency's key is still the registered one (a bundle can be
    made); ``downloads``: bundles downloaded so far (the log's ``referral.bundle``);
    ``response``: the answer (None: none, or it failed its check: ``response_intact``);
    ``agency_intact``: its agency, registry row and fingerprint are those
    ``report.refer`` recorded (else no bundle is made)."""

    id: uuid.UUID
    agency: str
    fingerprint: str
    referred_on: date
    follow_up_due_on: date
    response_recorded_on: date | None
    response: str | None
    response_intact: bool
    dropped: frozenset[str] | None
    registered: bool
    downloads: int
    agency_intact: bool = True

    def waiting(self) -> bool:
        return self.response_recorded_on is None

    def overdue(self, today: date) -> bool:
        return self.waiting() and self.follow_up_due_on < today

    def due_soon(self, today: date) -> bool:
        return self.waiting() and today <= self.follow_up_due_on <= due_soon_until(today)


def _downloads(session: Session, report_id: uuid.UUID) -> dict[str, int]:
    return Counter(
        str(detail.get("referral"))
        for _seq, detail in _entries(session, Action.REFERRAL_BUNDLE, report_id)
    )


def referrals_of(session: Session, keys: HeldKeys) -> list[ReferralView]:
    """The referrals of the report of ``keys``, oldest first, their answers opened with
    the holder's internal keys. Reads only: the case page that shows them records
    itself (``report.read``)."""
    rows = list(
        session.scalars(
            select(Referral)
            .where(Referral.report_id == keys.report_id)
            .order_by(Referral.referred_on, Referral.agency, Referral.id)
        )
    )
    if not rows:
        return []
    logged = logged_referrals(session, keys.report_id)
    downloads = _downloads(session, keys.report_id)
    registry = {
        r.id: r
        for r in session.scalars(
            select(ExportRecipient).where(ExportRecipient.id.in_({r.recipient_id for r in rows}))
        )
    }
    views = []
    for row in rows:
        recorded = logged.get(str(row.id))
        profile = _logged_profile(row, recorded)
        entry = registry.get(row.recipient_id)
        registered = (
            entry is not None
            and entry.state == RecipientState.ACTIVE
            and intact(entry.recipient)
            and recipient_fingerprint(entry.recipient) == row.fingerprint
        )
        response = opened_response(keys, row)
        views.append(
            ReferralView(
                row.id,
                row.agency,
                row.fingerprint,
                row.referred_on,
                row.follow_up_due_on,
                row.response_recorded_on,
                response,
                row.sealed_response is None or response is not None,
                None if profile is None else profile.dropped,
                registered,
                downloads.get(str(row.id), 0),
                _logged_agency(row, recorded),
            )
        )
    return views


@dataclass(frozen=True)
class ToldReferral:
    """What the reporter reads of a referral: the agency, the day, and whether the
    bundle passes their identity on."""

    agency: str
    referred_on: date
    identity_passed_on: bool


def told(session: Session, report_id: uuid.UUID) -> list[ToldReferral]:
    """The report's referrals as the reporter's mailbox shows them, oldest first. Reads
    only the columns the reporter portal's database role may read (dbroles.py), in a
    transaction scoped to the report. A profile that does not read is told as passing
    the identity on (the reporter is never told less than may have happened)."""
    scope_to_report(session, report_id)
    found = []
    for agency, day, text in session.execute(
        select(Referral.agency, Referral.referred_on, Referral.profile)
        .where(Referral.report_id == report_id)
        .order_by(Referral.referred_on, Referral.agency)
    ):
        try:
            passed = Profile.from_json(text).keeps(IDENTITY)
        except ValueError:
            passed = True
        found.append(ToldReferral(agency, day, passed))
    return found
