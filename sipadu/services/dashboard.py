"""The staff home page's counts, per role (issue 17, item 2): what waits for whom.

Counts only, from indexed queries (the grant's account index, the report's status and
deadline indexes, the pending-state indexes of identity requests and proposals): no
plaintext is read except the investigator's own sealed read marks, opened as the list's
"unread" filter opens them (with the case key of each title's epoch, reached without
opening the title), and nothing is written. The auditor's chain state reuses the
last recorded verification and checks the latest checkpoint against its entry (a few
rows), never the whole chain (docs/staff.md, "The home page").
"""

import json
import uuid
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import ColumnElement, Select, and_, func, or_, select
from sqlalchemy.orm import Session

from sipadu.accountability.audit import Action, head, latest_checkpoint
from sipadu.crypto import CryptoError, PrivateKey
from sipadu.persistence.models import (
    AuditEvent,
    IdentityRequest,
    IdentityRequestState,
    Proposal,
    ProposalState,
    Report,
    ReportGrant,
    ReportStatus,
)
from sipadu.services.cases import count_unread, deadline_clause
from sipadu.services.key_ring import addressed_to

# The most reports whose read marks one home page opens (one HPKE unwrap each, about
# 0.3 ms; benchmarks/search.py times the page): past it the count says "at least".
UNREAD_CHECK_LIMIT = 200
# A referral's follow-up too (issue 20): the agency's answer is to be recorded.
DUE = (
    "ack_soon",
    "ack_overdue",
    "feedback_soon",
    "feedback_overdue",
    "follow_up_soon",
    "follow_up_overdue",
)


@dataclass(frozen=True)
class CaseCounts:
    """An investigator's reports of the default list (spam hidden), as the list's filters
    would show them: ``by_status`` (every status, zeros included, in workflow order),
    ``due`` (each of :data:`DUE` → count), ``unread`` (reports with messages not read;
    a lower bound when ``unread_complete`` is false)."""

    total: int
    by_status: dict[str, int]
    due: dict[str, int]
    unread: int
    unread_complete: bool


def _held(account_id: uuid.UUID) -> Select:
    return (
        select(func.count())
        .select_from(Report)
        .join(
            ReportGrant,
            and_(ReportGrant.report_id == Report.id, ReportGrant.account_id == account_id),
        )
        .where(Report.spam.is_(False))
    )


def case_counts(
    session: Session, account_id: uuid.UUID, private: PrivateKey, today: date
) -> CaseCounts:
    """The counts of :class:`CaseCounts` for ``account_id`` on ``today``. Reads only."""
    grouped = {
        status: count
        for count, status in session.execute(
            _held(account_id).add_columns(Report.status).group_by(Report.status)
        )
    }
    by_status = {s.value: grouped.get(s.value, 0) for s in ReportStatus}
    due = {
        name: session.scalar(_held(account_id).where(*deadline_clause(name, today))) or 0
        for name in DUE
    }
    unread, complete = count_unread(session, account_id, private, UNREAD_CHECK_LIMIT)
    return CaseCounts(sum(by_status.values()), by_status, due, unread, complete)


def _any_of(names: tuple[str, ...], today: date) -> ColumnElement[bool]:
    """Reports matching at least one of the deadline filters ``names``: each counted once."""
    return or_(*(and_(*deadline_clause(name, today)) for name in names))


# Acknowledgement, feedback (issue 19) or a referral's follow-up (issue 20) due soon or
# overdue.
NEED_ACTION = DUE
OVERDUE = ("ack_overdue", "feedback_overdue", "follow_up_overdue")


def action_counts(session: Session, account_id: uuid.UUID, today: date) -> tuple[int, int]:
    """``(need_action, overdue)`` of an investigator on ``today`` (issue 19's digest):
    the reports of their default list (granted, spam hidden) that any filter of
    :data:`NEED_ACTION` shows, and those that ``ack_overdue``, ``feedback_overdue`` or
    ``follow_up_overdue`` (a referral's answer not recorded in time, issue 20) shows;
    each report counted once however many filters show it. Reads only, on the
    deadline indexes; no sealed value is opened."""
    need = session.scalar(_held(account_id).where(_any_of(NEED_ACTION, today))) or 0
    late = session.scalar(_held(account_id).where(_any_of(OVERDUE, today))) or 0
    return need, late


def institution_overdue(session: Session, today: date) -> tuple[int, int]:
    """``(acknowledgements, feedback)`` overdue across the whole institution on
    ``today`` (spam hidden): what the custodian (the Inspektur) is told every day, as
    counts (issue 19; the list filters ``ack_overdue`` and ``feedback_overdue``)."""
    every = select(func.count()).select_from(Report).where(Report.spam.is_(False))
    return (
        session.scalar(every.where(*deadline_clause("ack_overdue", today))) or 0,
        session.scalar(every.where(*deadline_clause("feedback_overdue", today))) or 0,
    )


def identity_requests_waiting(session: Session, custodian_id: uuid.UUID) -> int:
    """Pending identity requests ``custodian_id`` may decide: everyone's but its own,
    on reports whose keys it holds as a custodian (:func:`key_ring.addressed_to`)."""
    return (
        session.scalar(
            select(func.count())
            .select_from(IdentityRequest)
            .where(
                IdentityRequest.state == IdentityRequestState.PENDING.value,
                IdentityRequest.account_id != custodian_id,
                addressed_to(custodian_id, IdentityRequest.report_id),
            )
        )
        or 0
    )


def proposals_waiting(session: Session) -> int:
    """Pending two-person proposals (an admin may approve those of others, reject any)."""
    return (
        session.scalar(
            select(func.count())
            .select_from(Proposal)
            .where(Proposal.state == ProposalState.PENDING.value)
        )
        or 0
    )


@dataclass(frozen=True)
class ChainState:
    """What the home page tells an auditor about the log, without walking it.

    ``verified_at``/``verified_ok``/``verified_entries``/``bad_entry``: the last
    verification an auditor ran on ``/audit/verify`` (its ``audit.verify`` entry), or
    None when there was none. ``checkpoint_at``: the latest stored checkpoint's time
    (None: no checkpoint); ``checkpoint_holds``: it is signed by the instance's key and
    the entry it names still carries its hash, and the head has not gone back before it
    (False when no key is known here to check it with). ``entries``: the head's count;
    ``since_checkpoint``: entries no checkpoint covers yet."""

    entries: int
    verified_at: datetime | None
    verified_ok: bool | None
    verified_entries: int | None
    bad_entry: int | None
    checkpoint_at: datetime | None
    checkpoint_holds: bool
    since_checkpoint: int

    @property
    def broken(self) -> bool:
        """The last verification failed, or the latest checkpoint no longer holds."""
        return self.verified_ok is False or (
            self.checkpoint_at is not None and not self.checkpoint_holds
        )


def chain_state(session: Session, public_key: str | None) -> ChainState:
    """The :class:`ChainState` from the head row, the last ``audit.verify`` entry (the
    action index) and the latest checkpoint, checked against ``public_key`` (the
    instance's, never a row's) and its entry (the primary key): a constant number of
    rows, whatever the log's length. Reads only."""
    seq, _digest = head(session)
    last = session.scalars(
        select(AuditEvent)
        .where(AuditEvent.action == Action.AUDIT_VERIFY.value)
        .order_by(AuditEvent.seq.desc())
        .limit(1)
    ).first()
    verified_at = verified_ok = verified_entries = bad_entry = None
    if last is not None:
        detail = _detail(last.detail)
        verified_at = _moment(last.at)
        verified_ok = detail.get("ok") is True
        verified_entries = _int(detail.get("entries"))
        bad_entry = _int(detail.get("bad_entry"))
    checkpoint = latest_checkpoint(session)
    if checkpoint is None:
        return ChainState(
            seq, verified_at, verified_ok, verified_entries, bad_entry, None, False, seq
        )
    holds = public_key is not None and checkpoint.public_key == public_key
    if holds:
        try:
            checkpoint.verify()
        except (CryptoError, ValueError):  # ValueError: a signature that is not hex
            holds = False
    if holds and checkpoint.seq > 0:
        entry_hash = session.scalar(select(AuditEvent.hash).where(AuditEvent.seq == checkpoint.seq))
        holds = entry_hash == checkpoint.hash
    holds = holds and seq >= checkpoint.seq
    return ChainState(
        seq,
        verified_at,
        verified_ok,
        verified_entries,
        bad_entry,
        _moment(checkpoint.at),
        holds,
        max(0, seq - checkpoint.seq),
    )


def _detail(text: str | None) -> dict:
    try:
        value = json.loads(text) if text else {}
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _moment(iso: str) -> datetime | None:
    try:
        return datetime.fromisoformat(iso.replace("Z", "+00:00"))
    except ValueError:
        return None
