"""Casework basics on a granted report (issue 17, item 3): labels and priority, the
lead investigator, links between related or duplicate reports, and stepping down from
a report (recusal). The values live in the report's sealed case record
(:mod:`sipadu.services.case_record`); each change is recorded in the caller's
transaction (G4), without the sealed values themselves: a label in the audit log would
be a label in plaintext at rest.

Every function raises :class:`~sipadu.services.cases.NotGranted` for a report the
account does not hold, and ``ServiceError`` with a :class:`Reason` for a refusal.
"""

import re
import uuid
from dataclasses import dataclass, replace

from sqlalchemy.orm import Session

from sipadu.accountability import audit
from sipadu.accountability.audit import Action
from sipadu.crypto import PrivateKey, PublicKey
from sipadu.persistence.models import Report, Role, StaffAccount
from sipadu.services import Reason, ServiceError, case_record, key_ring
from sipadu.services.case_record import (
    EMPTY,
    MAX_LINKS,
    CaseRecord,
    Link,
    LinkKind,
    Priority,
    clean_labels,
)
from sipadu.services.cases import NotGranted, granted, titles_of
from sipadu.services.key_ring import HeldKeys, key_fingerprint, staff_keys
from sipadu.services.reports import locked_report

_UUID = re.compile(r"[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}")


def _locked(session: Session, report_id: uuid.UUID, account_id: uuid.UUID) -> Report:
    granted(session, report_id, account_id)
    report = locked_report(session, report_id)
    if report is None:  # pragma: no cover — the grant's foreign key
        raise NotGranted()
    return report


def _current(session: Session, keys: HeldKeys) -> CaseRecord:
    """The record to change: one that fails its integrity check (its failure was
    recorded when it was shown) is replaced, starting from the empty record."""
    return case_record.read(session, keys) or EMPTY


# --- labels and priority ---------------------------------------------------------------------


def set_labels(
    session: Session,
    keys: HeldKeys,
    account_id: uuid.UUID,
    labels: str,
    priority: str,
    *,
    erase_confirmed: bool = False,
) -> CaseRecord:
    """Replace the report's labels (as typed: :func:`~case_record.clean_labels`) and
    priority (``high``, ``normal``, ``low``). Any holder may. Recorded as
    ``case.labels`` with the number of labels only. Raises ``LABEL_TOO_LONG``,
    ``TOO_MANY_LABELS`` (field ``labels``), ``UNKNOWN_PRIORITY`` (``priority``), or
    ``ERASE_LABELS_NOT_CONFIRMED`` (``confirm``) when no label is given, the report has
    some and ``erase_confirmed`` is false: an empty field saved by a slip erases none."""
    cleaned = clean_labels(labels)
    try:
        chosen = Priority(priority)
    except ValueError:
        raise ServiceError(Reason.UNKNOWN_PRIORITY, "priority") from None
    report = _locked(session, keys.report_id, account_id)
    current = _current(session, keys)
    if current.labels and not cleaned and not erase_confirmed:
        raise ServiceError(Reason.ERASE_LABELS_NOT_CONFIRMED, "confirm")
    record = replace(current, labels=cleaned, priority=chosen)
    case_record.write(session, keys, report, record)
    audit.append(
        session,
        str(account_id),
        "investigator",
        Action.CASE_LABELS,
        report_id=report.id,
        detail={"labels": len(cleaned)},
    )
    return record


# --- the lead investigator ----------------------------------------------------------------


def set_lead(
    session: Session, keys: HeldKeys, actor: StaffAccount, lead_id: uuid.UUID | None
) -> CaseRecord:
    """Make ``lead_id`` (an active investigator who holds the report) its lead, or
    clear the lead (``None``). Only a holder allowed to share may (the right that
    decides who works the report). Recorded as ``case.lead`` (the account, or
    ``cleared``). Raises ``NOT_ALLOWED_TO_SHARE`` or ``LEAD_NOT_HOLDER`` (field
    ``lead``)."""
    granted(session, keys.report_id, actor.id)
    if not actor.may_grant:
        raise ServiceError(Reason.NOT_ALLOWED_TO_SHARE)
    lead = None if lead_id is None else session.get(StaffAccount, lead_id)
    if lead_id is not None and (
        lead is None
        or not lead.active
        or Role.INVESTIGATOR not in lead.role_set
        or not key_ring.is_holder(session, keys.report_id, lead_id)
    ):
        raise ServiceError(Reason.LEAD_NOT_HOLDER, "lead")
    report = _locked(session, keys.report_id, actor.id)
    record = replace(_current(session, keys), lead=lead_id)
    case_record.write(session, keys, report, record)
    audit.append(
        session,
        str(actor.id),
        "investigator",
        Action.CASE_LEAD,
        report_id=report.id,
        detail=(
            {"cleared": True}
            if lead is None
            else {"account": str(lead.id), "username": lead.username}
        ),
    )
    return record


# --- links between reports -----------------------------------------------------------------


def report_id_in(typed: str) -> uuid.UUID:
    """The report id in what was typed: the id itself, or the address of its case page.
    Raises ``NOT_A_REPORT_ID`` (field ``other``)."""
    found = _UUID.search(typed or "")
    if found is None:
        raise ServiceError(Reason.NOT_A_REPORT_ID, "other")
    return uuid.UUID(found.group(0))


def _other_keys(
    session: Session, account_id: uuid.UUID, private: PrivateKey, other_id: uuid.UUID
) -> HeldKeys:
    """The account's keys of the other report of a link; a report it does not hold, or
    that does not exist, is one refusal (never "not found" versus "not yours")."""
    if not key_ring.is_holder(session, other_id, account_id):
        raise ServiceError(Reason.LINK_NOT_HELD, "other")
    return staff_keys(session, other_id, account_id, private)


def _both_locked(
    session: Session, first: uuid.UUID, second: uuid.UUID, account_id: uuid.UUID
) -> dict[uuid.UUID, Report]:
    """Both reports' rows, locked in id order (two linkers never wait on each other)."""
    return {rid: _locked(session, rid, account_id) for rid in sorted((first, second))}


def link(
    session: Session,
    keys: HeldKeys,
    account_id: uuid.UUID,
    private: PrivateKey,
    other_id: uuid.UUID,
    kind: str,
) -> None:
    """Link the report to ``other_id`` as ``related`` or ``duplicate``: the link is
    written in both reports' sealed records, so the linker must hold both. Recorded as
    ``case.link`` (the other report, the kind) on the report linked from. Raises
    ``LINK_NOT_HELD``, ``LINK_TO_ITSELF``, ``ALREADY_LINKED``, ``TOO_MANY_LINKS``
    (field ``other``) or ``UNKNOWN_LINK_KIND`` (``kind``)."""
    granted(session, keys.report_id, account_id)
    try:
        chosen = LinkKind(kind)
    except ValueError:
        raise ServiceError(Reason.UNKNOWN_LINK_KIND, "kind") from None
    if other_id == keys.report_id:
        raise ServiceError(Reason.LINK_TO_ITSELF, "other")
    other_keys = _other_keys(session, account_id, private, other_id)
    reports = _both_locked(session, keys.report_id, other_id, account_id)
    mine, theirs = _current(session, keys), _current(session, other_keys)
    if mine.link_to(other_id) is not None:
        raise ServiceError(Reason.ALREADY_LINKED, "other")
    if len(mine.links) >= MAX_LINKS or len(theirs.links) >= MAX_LINKS:
        raise ServiceError(Reason.TOO_MANY_LINKS, "other", max=MAX_LINKS)
    here = replace(mine, links=(*mine.links, Link(other_id, chosen)))
    there = replace(
        theirs,
        links=(
            *(ln for ln in theirs.links if ln.report_id != keys.report_id),
            Link(keys.report_id, chosen),
        ),
    )
    case_record.write(session, keys, reports[keys.report_id], here)
    case_record.write(session, other_keys, reports[other_id], there)
    audit.append(
        session,
        str(account_id),
        "investigator",
        Action.CASE_LINK,
        report_id=keys.report_id,
        detail={"other": str(other_id), "kind": chosen.value},
    )


def unlink(
    session: Session,
    keys: HeldKeys,
    account_id: uuid.UUID,
    private: PrivateKey,
    other_id: uuid.UUID,
) -> None:
    """Remove the link between the report and ``other_id`` from both records (so, like
    linking, only by someone who holds both). Recorded as ``case.unlink``. Raises
    ``LINK_NOT_HELD`` or ``NOT_LINKED`` (field ``other``)."""
    granted(session, keys.report_id, account_id)
    other_keys = _other_keys(session, account_id, private, other_id)
    reports = _both_locked(session, keys.report_id, other_id, account_id)
    mine, theirs = _current(session, keys), _current(session, other_keys)
    if mine.link_to(other_id) is None and theirs.link_to(keys.report_id) is None:
        raise ServiceError(Reason.NOT_LINKED, "other")
    here = replace(mine, links=tuple(ln for ln in mine.links if ln.report_id != other_id))
    there = replace(
        theirs, links=tuple(ln for ln in theirs.links if ln.report_id != keys.report_id)
    )
    case_record.write(session, keys, reports[keys.report_id], here)
    case_record.write(session, other_keys, reports[other_id], there)
    audit.append(
        session,
        str(account_id),
        "investigator",
        Action.CASE_UNLINK,
        report_id=keys.report_id,
        detail={"other": str(other_id)},
    )


# --- the case page -----------------------------------------------------------------------------


@dataclass(frozen=True)
class LinkedReport:
    report_id: uuid.UUID
    title: str
    kind: LinkKind


@dataclass(frozen=True)
class Casework:
    """What the case page shows of the record. ``record`` is ``None`` when it failed its
    integrity check (recorded). ``links`` are only those to reports the viewer holds:
    a link never tells anyone the id or title of a report they were not given."""

    record: CaseRecord | None
    lead: StaffAccount | None
    links: list[LinkedReport]


def casework_of(
    session: Session, keys: HeldKeys, account_id: uuid.UUID, private: PrivateKey
) -> Casework:
    """The record of a report the account holds, its lead (while the lead holds the
    report) and its links to reports the account holds too, their titles opened with
    the account's keys. A record that fails to open is recorded as
    ``record.integrity_failure`` (kind ``case_record``), in the caller's transaction."""
    granted(session, keys.report_id, account_id)
    record = case_record.read(session, keys)
    if record is None:
        audit.append(
            session,
            str(account_id),
            "investigator",
            Action.INTEGRITY_FAILURE,
            report_id=keys.report_id,
            detail={"kind": "case_record", "id": str(keys.report_id)},
        )
        return Casework(None, None, [])
    lead = None
    if record.lead is not None and key_ring.is_holder(session, keys.report_id, record.lead):
        lead = session.get(StaffAccount, record.lead)
    held = [ln for ln in record.links if key_ring.is_holder(session, ln.report_id, account_id)]
    titles = titles_of(session, account_id, private, [ln.report_id for ln in held])
    return Casework(
        record,
        lead,
        [LinkedReport(ln.report_id, titles.get(ln.report_id, ""), ln.kind) for ln in held],
    )


# --- stepping down ------------------------------------------------------------------------------


def recuse(
    session: Session,
    report_id: uuid.UUID,
    account: StaffAccount,
    private: PrivateKey,
    recovery: PublicKey,
) -> int:
    """``account`` drops its own grant of the report (a conflict of interest, or not its
    case): as a revocation (:func:`sipadu.services.grants.revoke`), its wraps and grant
    go and a new key epoch begins, so it reads nothing written from now on; no right to
    share is needed. If it was the lead, the lead is cleared first (while it still holds
    the internal key). Refused with ``LAST_HOLDER`` when no other investigator holds the
    report: it would be left to the recovery key alone. Recorded as ``grant.recuse``.
    Returns the new epoch."""
    granted(session, report_id, account.id)
    report = locked_report(session, report_id)
    if report is None:  # pragma: no cover — the grant's foreign key
        raise NotGranted()
    others = [
        a
        for a in key_ring.holders(session, report_id)
        if a.id != account.id and a.active and a.public_key and Role.INVESTIGATOR in a.role_set
    ]
    if not others:
        raise ServiceError(Reason.LAST_HOLDER)
    keys = staff_keys(session, report_id, account.id, private)
    record = case_record.read(session, keys)
    was_lead = record is not None and record.lead == account.id
    if record is not None and was_lead:
        case_record.write(session, keys, report, replace(record, lead=None))
    removed = key_ring.revoke_holder(session, report, account.id, recovery)
    audit.append(
        session,
        str(account.id),
        "investigator",
        Action.GRANT_RECUSE,
        report_id=report_id,
        detail={
            "account": str(account.id),
            "username": account.username,
            "fingerprint": key_fingerprint(account),
            "wraps_removed": removed,
            "new_epoch": report.key_epoch,
            "was_lead": was_lead,
        },
    )
    return report.key_epoch
