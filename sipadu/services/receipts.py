"""Proof-of-report receipts (issue 20, item 2; docs/receipt.md).

At submission (web or operator intake: both go through
:func:`sipadu.services.reports.submit_report`) a report gets a random 32-byte nonce,
wrapped to its mailbox only, and a *commitment*
``SHA-256(bind("sipadu.receipt.commitment.v1", report id, nonce))`` stored in
``receipt_commitment`` with the report's coarsened day and nothing that links it to the
report: without the nonce, nobody (staff, a database thief, the recovery key's holder)
can tell which report a commitment is.

Once a day's period is over, :func:`seal_finished_days` (run wherever checkpoints are
made: ``sipadu audit checkpoint``, its timer, an auditor's "sign now") puts the day's
commitments, sorted by their bytes (their order says nothing of when each came in), in
a Merkle tree (RFC 9162 §2.1, :mod:`sipadu.crypto.merkle`), appends *one*
``receipt.day`` audit entry per day with the root (never one per report: G2), and signs
a checkpoint right after, in the same transaction. A period is sealed once, and only
within :data:`SEAL_WINDOW` of its end: a receipt speaks of its period only because it
was signed soon after it (:mod:`sipadu.services.receipt_check` refuses a later one).

From then on the mailbox offers the reporter a receipt file (:func:`receipt_file`): the
day, the commitment, its inclusion proof, the root, the audit entries from the day's
entry to the checkpoint, the signed checkpoint, and the opening (report id and nonce).
Anyone can check it offline with the instance's pinned public key (the recipe in
docs/receipt.md; :func:`check`, from :mod:`sipadu.services.receipt_check`, is the same
check here, and the server runs it before it says a receipt is ready).
"""

import json
import secrets
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum

from sqlalchemy import delete, insert, select
from sqlalchemy.orm import Session

from sipadu.accountability import audit
from sipadu.accountability.audit import Action, Checkpoint
from sipadu.crypto import CryptoError, Purpose, merkle
from sipadu.persistence.models import (
    ReceiptBatch,
    ReceiptCommitment,
    ReceiptSeal,
    ReportBeforeReceipts,
)
from sipadu.services.key_ring import HeldKeys, NoKey, Recipient, wrap_receipt_nonce
from sipadu.services.receipt_check import (
    COMMITMENT_LABEL,
    FORMAT,
    NONCE_LEN,
    NOTE,
    SEAL_WINDOW,
    Checked,
    ReceiptInvalid,
    check,
    commitment_of,
    load,
    window_end,
)
from sipadu.settings.config import DatePrecision

__all__ = [
    "COMMITMENT_LABEL",
    "FORMAT",
    "NOTE",
    "SEAL_WINDOW",
    "Checked",
    "ReceiptFile",
    "ReceiptInvalid",
    "ReceiptState",
    "ReceiptStatus",
    "Sealed",
    "check",
    "commit_report",
    "commitment_of",
    "finished",
    "load",
    "period_last",
    "receipt_file",
    "receipt_json",
    "receipt_status",
    "seal_finished_days",
    "sealable",
]

# A period is sealed once it has been over this long: a submission whose transaction
# began before midnight (UTC) and ends just after it is dated to the day before, and
# must be in its day's tree (a period is sealed once: a commitment stored after its
# period's seal never gets a receipt).
SEAL_GRACE = timedelta(hours=1)
# The sealer stops this long before a period's window (SEAL_WINDOW) closes, so that the
# checkpoint it signs a moment later, at the clock's own time, is surely inside it.
SEAL_MARGIN = timedelta(hours=1)
_CHUNK = 500  # rows per statement when a day is sealed (bounded statement size)


def commit_report(session: Session, report_id: uuid.UUID, day: date, mailbox: Recipient) -> None:
    """A new report's receipt commitment (``day``: its coarsened ``received_on``), and
    its nonce wrapped to ``mailbox`` only. In the caller's transaction, that of the
    submission: every report stored from now on has one. The row names no report; its
    place among the others is erased by the daily rewrite (sipadu.persistence.row_order)."""
    nonce = secrets.token_bytes(NONCE_LEN)
    wrap_receipt_nonce(session, report_id, nonce, mailbox)
    session.execute(
        insert(ReceiptCommitment).values(
            id=uuid.uuid4(), day=day, commitment=commitment_of(report_id, nonce)
        )
    )


# --- sealing --------------------------------------------------------------------------


def period_last(day: date, precision: DatePrecision) -> date:
    """The last day of the period that ``day`` (a stored, coarsened date) begins under
    ``precision``: itself, its week's Sunday or its month's last day. A date that does
    not begin such a period was stored under a finer precision (the setting changed
    since): its period is itself."""
    return precision.period_end(day) if precision.period_start(day) == day else day


def finished(day: date, now: datetime, precision: DatePrecision) -> bool:
    """Whether the period of ``precision`` that ``day`` begins has been over for
    :data:`SEAL_GRACE` at ``now`` (UTC, as report days are): no report dated in it is
    still being stored."""
    return period_last(day, precision) < (now - SEAL_GRACE).date()


def sealable(day: date, now: datetime, precision: DatePrecision) -> bool:
    """Whether the period that ``day`` begins may be sealed at ``now``: it is
    :func:`finished`, and its checkpoint, signed now, is inside its window
    (:data:`SEAL_WINDOW` after the period's end, less :data:`SEAL_MARGIN`). A period
    whose window closed is never sealed: a receipt made now would prove nothing about
    it (docs/receipt.md)."""
    closes = window_end(period_last(day, precision)) - SEAL_MARGIN
    return finished(day, now, precision) and now < closes


@dataclass(frozen=True)
class Sealed:
    """What :func:`seal_finished_days` sealed: the first day of each period it sealed
    (each once, oldest first), and the checkpoint that covers their entries."""

    days: list[date]
    checkpoint: Checkpoint


def _sealed_days(session: Session, days: list[date]) -> set[date]:
    """Which of ``days`` (a few: those still in their window) have a batch already."""
    if not days:
        return set()
    return set(session.scalars(select(ReceiptBatch.day).where(ReceiptBatch.day.in_(days))))


def seal_finished_days(
    session: Session, signing_seed: bytes, now: datetime, precision: DatePrecision
) -> Sealed | None:
    """Seal every period that is :func:`sealable` at ``now``, has unsealed commitments
    and was never sealed (a period is sealed once): per period, the Merkle root (RFC
    9162 §2.1) of its commitments sorted by their bytes, a ``receipt_batch`` row, the
    commitments written anew under it in that order (new random ids), and one
    ``receipt.day`` audit entry (actor ``system``; detail ``day`` and ``last``, the
    period's first and last days, ``root`` as hex, ``size``); then one checkpoint signed
    with ``signing_seed`` covering them, stored with the entries in a ``receipt_seal``
    row. ``now``: an aware UTC time. Returns the days and that checkpoint, or None when
    there was nothing to seal (nothing is written then). In the caller's transaction,
    which must be a writing one (on SQLite, ``BEGIN IMMEDIATE``).

    The audit head is locked first, so two sealers (the timer and an auditor) never
    seal the same period twice. A commitment stored after its period was sealed (a
    submission that ended more than :data:`SEAL_GRACE` after midnight, or a row a
    database writer added to a past day) is never sealed, nor one whose window closed:
    a receipt sealed later would let a writer date a report earlier than it came."""
    audit.lock_head(session)
    days = session.scalars(
        select(ReceiptCommitment.day).where(ReceiptCommitment.batch_id.is_(None)).distinct()
    ).all()
    open_days = [day for day in days if sealable(day, now, precision)]
    sealed = _sealed_days(session, open_days)
    due = sorted(day for day in open_days if day not in sealed)
    if not due:
        return None
    return _seal(session, signing_seed, due, precision)


def _seal(
    session: Session, signing_seed: bytes, due: list[date], precision: DatePrecision
) -> Sealed:
    """Seal the periods that ``due`` begin (not empty), whatever their window: only
    :func:`seal_finished_days` calls it, having chosen them (a test plays a sealer that
    ignores the window through it)."""
    seal = ReceiptSeal(id=uuid.uuid4(), first_seq=0, checkpoint="", entries="")
    session.add(seal)
    session.flush()
    first: int | None = None
    for day in due:
        rows = session.execute(
            select(ReceiptCommitment.id, ReceiptCommitment.commitment).where(
                ReceiptCommitment.day == day, ReceiptCommitment.batch_id.is_(None)
            )
        ).all()
        leaves = sorted(bytes(commitment) for _id, commitment in rows)
        root = merkle.root(leaves).hex()
        detail: dict[str, audit.DetailValue] = {
            "day": day.isoformat(),
            "last": period_last(day, precision).isoformat(),
            "root": root,
            "size": len(leaves),
        }
        entry = audit.append(session, "system", "system", Action.RECEIPT_DAY, detail=detail)
        first = entry.seq if first is None else first
        batch = ReceiptBatch(
            id=uuid.uuid4(), day=day, root=root, size=len(leaves), seq=entry.seq, seal_id=seal.id
        )
        session.add(batch)
        session.flush()
        # Written anew, in the order of their bytes, in this transaction: until the daily
        # rewrite, a sealed day's rows then keep no trace (place in the heap, PostgreSQL's
        # xmin) of the submissions that wrote them beside their reports.
        ids = [row_id for row_id, _commitment in rows]
        for start in range(0, len(ids), _CHUNK):
            session.execute(
                delete(ReceiptCommitment).where(
                    ReceiptCommitment.id.in_(ids[start : start + _CHUNK])
                )
            )
        for start in range(0, len(leaves), _CHUNK):
            session.execute(
                insert(ReceiptCommitment),
                [
                    {"id": uuid.uuid4(), "day": day, "commitment": leaf, "batch_id": batch.id}
                    for leaf in leaves[start : start + _CHUNK]
                ],
            )
    assert first is not None  # due is not empty
    checkpoint = audit.make_checkpoint(session, signing_seed)
    session.flush()
    seal.first_seq = first
    seal.checkpoint = json.dumps(checkpoint.to_json(), sort_keys=True)
    seal.entries = json.dumps(
        audit.entries(session.connection(), first, checkpoint.seq), sort_keys=True
    )
    return Sealed(due, checkpoint)


# --- the reporter's receipt -----------------------------------------------------------


class ReceiptState(StrEnum):
    READY = "ready"  # sealed, and the file it makes checks: it can be downloaded
    PENDING = "pending"  # committed, its period not sealed yet
    LATE = "late"  # committed, and will never be sealed: its period was sealed without
    # it, or its window (SEAL_WINDOW) closed first
    NONE = "none"  # no nonce, and the report was stored before receipts existed
    BROKEN = "broken"  # the stored data does not check: changed in the database


@dataclass(frozen=True)
class ReceiptFile:
    day: date
    document: bytes  # UTF-8 JSON, format :data:`FORMAT` (docs/receipt.md)

    @property
    def name(self) -> str:
        """A file name that says what it is to its holder, not to a passer-by."""
        return f"receipt-{self.day.isoformat()}.json"


@dataclass(frozen=True)
class ReceiptStatus:
    """Where a report's receipt stands, its ``day`` (the first day of the period its
    report is dated in) when it has a commitment, and when READY the ``file``, built and
    checked."""

    state: ReceiptState
    day: date | None = None
    file: ReceiptFile | None = field(default=None, compare=False, repr=False)


def receipt_status(
    session: Session,
    keys: HeldKeys,
    precision: DatePrecision | None = None,
    *,
    pinned: str | None = None,
    now: datetime | None = None,
) -> ReceiptStatus:
    """Where the receipt of the report of ``keys`` stands (its mailbox's keys: only the
    mailbox holds the nonce). READY only once the file is built from what is stored and
    passes :func:`check` (against ``pinned``, the instance's audit public key where the
    caller knows it, else the key its checkpoint carries), the very check the download
    makes: the mailbox never offers a file that would then be refused. PENDING until its
    period is sealed; LATE once it never will be (its period was sealed without it, or,
    with ``precision`` given, its window closed at ``now``, by default the clock's).
    Without a nonce: NONE for a report stored before receipts
    (``report_before_receipts``), else BROKEN, as for any stored data that does not
    check. Reads only, in the caller's transaction; records nothing (G2)."""
    try:
        nonce = keys.key(Purpose.RECEIPT, 0)
    except NoKey:
        before = session.get(ReportBeforeReceipts, keys.report_id) is not None
        return ReceiptStatus(ReceiptState.NONE if before else ReceiptState.BROKEN)
    except CryptoError:
        return ReceiptStatus(ReceiptState.BROKEN)
    commitment = commitment_of(keys.report_id, nonce)
    row = session.execute(
        select(ReceiptCommitment.day, ReceiptCommitment.batch_id).where(
            ReceiptCommitment.commitment == commitment
        )
    ).first()
    if row is None:  # the nonce is there and its commitment is not: deleted
        return ReceiptStatus(ReceiptState.BROKEN)
    if row.batch_id is None:
        late = bool(_sealed_days(session, [row.day]))
        if precision is not None and not late:
            moment = now if now is not None else datetime.now(UTC)
            late = moment >= window_end(period_last(row.day, precision)) - SEAL_MARGIN
        return ReceiptStatus(ReceiptState.LATE if late else ReceiptState.PENDING, row.day)
    built = _build(session, keys.report_id, nonce, row.batch_id, pinned)
    if built is None:
        return ReceiptStatus(ReceiptState.BROKEN, row.day)
    return ReceiptStatus(ReceiptState.READY, row.day, built)


def _build(
    session: Session, report_id: uuid.UUID, nonce: bytes, batch_id: uuid.UUID, pinned: str | None
) -> ReceiptFile | None:
    """The receipt file from what is stored, or None unless it passes :func:`load` and
    :func:`check` as its holder will run them."""
    document = _document(session, report_id, nonce, batch_id)
    if document is None:
        return None
    text = (json.dumps(document, indent=1) + "\n").encode()
    try:
        check(load(text), pinned)
    except ReceiptInvalid:
        return None
    return ReceiptFile(date.fromisoformat(document["day"]), text)


def _document(
    session: Session, report_id: uuid.UUID, nonce: bytes, batch_id: uuid.UUID
) -> dict | None:
    """The receipt (format :data:`FORMAT`) of the commitment of ``report_id`` and
    ``nonce`` in batch ``batch_id``, built from what is stored and *not* checked; None
    when the stored rows do not make one. Only :func:`_build` hands it on, checked (a
    test shows through it what a server that ignores the window would give)."""
    commitment = commitment_of(report_id, nonce)
    batch = session.get(ReceiptBatch, batch_id)
    seal = session.get(ReceiptSeal, batch.seal_id) if batch is not None else None
    if batch is None or seal is None:
        return None
    leaves = sorted(
        bytes(c)
        for c in session.scalars(
            select(ReceiptCommitment.commitment).where(ReceiptCommitment.batch_id == batch.id)
        )
    )
    if commitment not in leaves:
        return None
    index = leaves.index(commitment)
    try:
        entries = [e for e in json.loads(seal.entries) if e["seq"] >= batch.seq]
        return {
            "format": FORMAT,
            "note": NOTE,
            "day": batch.day.isoformat(),
            "commitment": commitment.hex(),
            "leaf_index": index,
            "tree_size": len(leaves),
            "inclusion_proof": [p.hex() for p in merkle.inclusion_proof(leaves, index)],
            "root": merkle.root(leaves).hex(),
            "entries": entries,
            "checkpoint": json.loads(seal.checkpoint),
            "opening": {"report_id": str(report_id), "nonce": nonce.hex()},
        }
    except (ValueError, KeyError, TypeError, CryptoError):  # stored JSON that is not a seal's
        return None


def receipt_file(
    session: Session, keys: HeldKeys, *, pinned: str | None = None
) -> ReceiptFile | None:
    """The receipt of the report of ``keys`` (its mailbox's), or None when there is none
    to give: not sealed (yet, or ever), stored before receipts, or stored data that does
    not check (:func:`receipt_status`, which builds and checks it: a receipt that would
    fail its holder's check is never given). ``pinned``: as for :func:`receipt_status`.
    Reads only. Not an audit entry: reporter activity never is (G2)."""
    return receipt_status(session, keys, pinned=pinned).file


def receipt_json(session: Session, keys: HeldKeys, *, pinned: str | None = None) -> bytes | None:
    """The receipt file's bytes (UTF-8 JSON, docs/receipt.md) for the report of
    ``keys``, the mailbox keys as the mailbox view holds them
    (:func:`sipadu.services.key_ring.mailbox_keys`); None when its day is not sealed,
    when the report predates receipts, or when the stored data does not check.
    ``pinned``: as for :func:`receipt_status`. Reads only, in the caller's transaction;
    records nothing."""
    found = receipt_file(session, keys, pinned=pinned)
    return found.document if found is not None else None
