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
unsealed commitments, sorted by their bytes (their order says nothing of when each came
in), in a Merkle tree (RFC 9162 §2.1, :mod:`sipadu.crypto.merkle`), appends *one*
``receipt.day`` audit entry per day with the root (never one per report: G2), and signs
a checkpoint right after, in the same transaction.

From then on the mailbox offers the reporter a receipt file (:func:`receipt_file`): the
day, the commitment, its inclusion proof, the root, the audit entries from the day's
entry to the checkpoint, the signed checkpoint, and the opening (report id and nonce).
Anyone can check it offline with the instance's pinned public key (the recipe in
docs/receipt.md; :func:`check` is the same check here).
"""

import hashlib
import json
import secrets
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum

from sqlalchemy import delete, insert, select
from sqlalchemy.orm import Session

from sipadu.accountability import audit
from sipadu.accountability.audit import Action, Checkpoint
from sipadu.crypto import CryptoError, Purpose, merkle
from sipadu.crypto.binding import bind
from sipadu.persistence.models import ReceiptBatch, ReceiptCommitment, ReceiptSeal
from sipadu.services.key_ring import HeldKeys, NoKey, Recipient, wrap_receipt_nonce
from sipadu.settings.config import DatePrecision

FORMAT = "sipadu-receipt-v1"
COMMITMENT_LABEL = "sipadu.receipt.commitment.v1"
NONCE_LEN = 32
# A period is sealed once it has been over this long: a submission whose transaction
# began before midnight (UTC) and ends just after it is dated to the day before, and
# would otherwise often miss its day's tree and go in a batch of its own, which would
# say it came in at the very end of its day.
SEAL_GRACE = timedelta(hours=1)
_CHUNK = 500  # rows per statement when a day is sealed (bounded statement size)

# Said in the file itself, for whoever opens it (docs/receipt.md has the check).
NOTE = {
    "id": (
        "Bukti bahwa SIPADU menerima sebuah laporan pada hari ini (tanggal 'day'), tanpa "
        "isi laporannya. Siapa pun dapat memeriksanya tanpa SIPADU, dengan kunci publik "
        "instansi (docs/receipt.md). Bagian 'opening' menunjukkan laporan yang mana; "
        "hapus bagian itu untuk hanya membuktikan bahwa ada laporan pada hari itu. "
        "PERHATIAN: berkas ini menunjukkan bahwa pemegangnya membuat laporan. Simpan di "
        "tempat yang aman."
    ),
    "en": (
        "Proof that SIPADU received a report on this day (the 'day'), without its "
        "content. Anyone can check it without SIPADU, with the instance's public key "
        "(docs/receipt.md). The 'opening' part shows which report; delete it to prove "
        "only that a report was made that day. WARNING: this file shows that whoever "
        "holds it made a report. Keep it somewhere safe."
    ),
}


def commitment_of(report_id: uuid.UUID, nonce: bytes) -> bytes:
    """``SHA-256(bind(COMMITMENT_LABEL, report_id.bytes, nonce))``, 32 bytes, where
    :func:`sipadu.crypto.binding.bind` writes each part after its length as a 4-byte
    big-endian integer (docs/receipt.md gives the bytes). Hiding: without the 256-bit
    nonce, trying report ids tells nothing; binding: SHA-256's collision resistance."""
    if len(nonce) != NONCE_LEN:
        raise ValueError("a receipt nonce is 32 bytes")
    return hashlib.sha256(bind(COMMITMENT_LABEL, report_id.bytes, nonce)).digest()


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


def finished(day: date, now: datetime, precision: DatePrecision) -> bool:
    """Whether the period of ``precision`` holding ``day`` has been over for
    :data:`SEAL_GRACE` at ``now`` (UTC, as report days are): no report dated in it is
    still being stored."""
    return precision.period_end(day) < (now - SEAL_GRACE).date()


@dataclass(frozen=True)
class Sealed:
    """What :func:`seal_finished_days` sealed: the first day of each period it sealed
    (each once, oldest first), and the checkpoint that covers their entries."""

    days: list[date]
    checkpoint: Checkpoint


def seal_finished_days(
    session: Session, signing_seed: bytes, now: datetime, precision: DatePrecision
) -> Sealed | None:
    """Seal every finished period (:func:`finished`) that has unsealed commitments: per
    period, the Merkle root (RFC 9162 §2.1) of its commitments sorted by their bytes, a
    ``receipt_batch`` row, the commitments written anew under it in that order (new
    random ids), and one ``receipt.day`` audit entry (actor ``system``; detail ``day``,
    ``root`` as hex, ``size``); then one checkpoint signed with ``signing_seed``
    covering them, stored with the entries in a ``receipt_seal`` row. ``now``: an
    aware UTC time. Returns the days and that checkpoint, or None when there was
    nothing to seal (nothing is written then). In the caller's transaction, which must
    be a writing one (on SQLite, ``BEGIN IMMEDIATE``).

    The audit head is locked first, so two sealers (the timer and an auditor) never
    seal the same commitment twice. A commitment stored after its period was sealed (a
    submission that ended after the seal began) stays unsealed and goes in a later
    batch of the same day: its receipt comes a little later, nothing is lost."""
    audit.lock_head(session)
    days = session.scalars(
        select(ReceiptCommitment.day).where(ReceiptCommitment.batch_id.is_(None)).distinct()
    ).all()
    due = sorted(day for day in days if finished(day, now, precision))
    if not due:
        return None
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
    READY = "ready"  # sealed: the file can be downloaded
    PENDING = "pending"  # committed, its period not sealed yet
    NONE = "none"  # no commitment: the report was stored before receipts existed
    BROKEN = "broken"  # the stored data does not check: changed in the database


@dataclass(frozen=True)
class ReceiptStatus:
    """Where a report's receipt stands, and its ``day`` (the first day of the period its
    report is dated in) when it has a commitment."""

    state: ReceiptState
    day: date | None = None


@dataclass(frozen=True)
class ReceiptFile:
    day: date
    document: bytes  # UTF-8 JSON, format :data:`FORMAT` (docs/receipt.md)

    @property
    def name(self) -> str:
        """A file name that says what it is to its holder, not to a passer-by."""
        return f"receipt-{self.day.isoformat()}.json"


def _commitment(keys: HeldKeys) -> bytes | ReceiptStatus:
    try:
        nonce = keys.key(Purpose.RECEIPT, 0)
    except NoKey:
        return ReceiptStatus(ReceiptState.NONE)
    except CryptoError:
        return ReceiptStatus(ReceiptState.BROKEN)
    return commitment_of(keys.report_id, nonce)


def receipt_status(session: Session, keys: HeldKeys) -> ReceiptStatus:
    """Whether the report of ``keys`` (its mailbox's: only the mailbox holds the nonce)
    has a receipt to download. Reads only, in the caller's transaction: one unwrap and
    one lookup, nothing built."""
    found = _commitment(keys)
    if isinstance(found, ReceiptStatus):
        return found
    row = session.execute(
        select(ReceiptCommitment.day, ReceiptCommitment.batch_id).where(
            ReceiptCommitment.commitment == found
        )
    ).first()
    if row is None:  # the nonce is there and its commitment is not: deleted
        return ReceiptStatus(ReceiptState.BROKEN)
    state = ReceiptState.PENDING if row.batch_id is None else ReceiptState.READY
    return ReceiptStatus(state, row.day)


def receipt_file(session: Session, keys: HeldKeys) -> ReceiptFile | None:
    """The receipt of the report of ``keys`` (its mailbox's), or None when there is none
    to give: not sealed yet, stored before receipts, or stored data that does not check
    (the file is checked with :func:`check` before it is handed out, so a receipt that
    would fail its holder's check is never given). Reads only. Not an audit entry:
    reporter activity never is (G2)."""
    status = receipt_status(session, keys)
    if status.state is not ReceiptState.READY:
        return None
    found = _commitment(keys)
    assert isinstance(found, bytes)
    batch_id = session.scalar(
        select(ReceiptCommitment.batch_id).where(ReceiptCommitment.commitment == found)
    )
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
    if found not in leaves:
        return None
    index = leaves.index(found)
    nonce = keys.key(Purpose.RECEIPT, 0)
    try:
        entries = [e for e in json.loads(seal.entries) if e["seq"] >= batch.seq]
        document = {
            "format": FORMAT,
            "note": NOTE,
            "day": batch.day.isoformat(),
            "commitment": found.hex(),
            "leaf_index": index,
            "tree_size": len(leaves),
            "inclusion_proof": [p.hex() for p in merkle.inclusion_proof(leaves, index)],
            "root": merkle.root(leaves).hex(),
            "entries": entries,
            "checkpoint": json.loads(seal.checkpoint),
            "opening": {"report_id": str(keys.report_id), "nonce": nonce.hex()},
        }
        check(document, None)
    except (ValueError, KeyError, TypeError, CryptoError, ReceiptInvalid):
        return None
    return ReceiptFile(batch.day, (json.dumps(document, indent=1) + "\n").encode())


def receipt_json(session: Session, keys: HeldKeys) -> bytes | None:
    """The receipt file's bytes (UTF-8 JSON, docs/receipt.md) for the report of
    ``keys``, the mailbox keys as the mailbox view holds them
    (:func:`sipadu.services.key_ring.mailbox_keys`); None when its day is not sealed
    yet, when the report predates receipts, or when the stored data does not check.
    Reads only, in the caller's transaction; records nothing."""
    found = receipt_file(session, keys)
    return found.document if found is not None else None


# --- checking a receipt -----------------------------------------------------------------


class ReceiptInvalid(Exception):
    """A receipt that does not prove what it says: ``str()`` says which check failed."""


@dataclass(frozen=True)
class Checked:
    """What a receipt that checks proves: a report committed as ``commitment`` was in
    the tree of ``day`` sealed at ``sealed_at`` (the ``receipt.day`` entry's time), under
    a checkpoint signed by the key checked against; and, with the opening, its
    ``report_id`` (else None)."""

    day: str
    commitment: str
    sealed_at: str
    checkpoint_seq: int
    report_id: str | None


def _fail(reason: str) -> ReceiptInvalid:
    return ReceiptInvalid(reason)


def check(receipt: Mapping, pinned: str | None) -> Checked:
    """Check a receipt as docs/receipt.md's offline recipe does: the checkpoint's Ed25519
    signature (against ``pinned``, the hex key one pinned; None only for the server's own
    check before it hands a file out, which then uses the key the checkpoint carries),
    the chain of entry hashes from the day's ``receipt.day`` entry to the checkpoint's,
    the entry's day, root and size against the receipt's, the inclusion proof (RFC 9162
    §2.1.3.2) and, when present, the opening against the commitment. Raises
    :class:`ReceiptInvalid` naming the first failed check."""
    if receipt.get("format") != FORMAT:
        raise _fail("not a SIPADU receipt")
    try:
        cp = Checkpoint.from_json(receipt["checkpoint"])
    except (KeyError, TypeError, ValueError):
        raise _fail("the checkpoint is malformed") from None
    if pinned is not None and cp.public_key != pinned:
        raise _fail("the checkpoint is not signed by the pinned key")
    try:
        cp.verify()
    except (CryptoError, ValueError):
        raise _fail("the checkpoint's signature is not valid") from None
    entries = receipt.get("entries")
    if not isinstance(entries, list) or not entries:
        raise _fail("no audit entries")
    previous: Mapping | None = None
    for entry in entries:
        try:
            seq = entry["seq"]
            record = {k: entry[k] for k in ("seq", "at", "actor", "role", "action")}
            record |= {"report_id": entry["report_id"], "detail": entry["detail"]}
            if previous is not None and (
                seq != previous["seq"] + 1 or entry["prev_hash"] != previous["hash"]
            ):
                raise _fail(f"entry {seq}: the chain is broken")
            digest = audit.entry_hash(entry["prev_hash"], audit.fast_canonical(record))
        except (KeyError, TypeError, ValueError, AttributeError):
            raise _fail("an audit entry is malformed") from None
        if digest != entry["hash"]:
            raise _fail(f"entry {seq}: altered")
        previous = entry
    if previous is None or (previous["seq"], previous["hash"]) != (cp.seq, cp.hash):
        raise _fail("the entries do not end at the checkpoint")
    day_entry = entries[0]
    detail = day_entry["detail"]
    if day_entry["action"] != Action.RECEIPT_DAY.value or not isinstance(detail, Mapping):
        raise _fail("the first entry is not a day's receipt entry")
    stated = (receipt.get("day"), receipt.get("root"), receipt.get("tree_size"))
    if (detail.get("day"), detail.get("root"), detail.get("size")) != stated:
        raise _fail("the day, root or size differ from the signed entry")
    try:
        commitment = bytes.fromhex(receipt["commitment"])
        proof = [bytes.fromhex(p) for p in receipt["inclusion_proof"]]
        merkle.verify_inclusion(
            commitment,
            int(receipt["leaf_index"]),
            int(receipt["tree_size"]),
            proof,
            bytes.fromhex(receipt["root"]),
        )
    except (KeyError, TypeError, ValueError, CryptoError):
        raise _fail("the inclusion proof does not lead to the root") from None
    opening = receipt.get("opening")
    report_id = None
    if opening is not None:
        try:
            report = uuid.UUID(opening["report_id"])
            nonce = bytes.fromhex(opening["nonce"])
            opened = commitment_of(report, nonce)
        except (KeyError, TypeError, ValueError):
            raise _fail("the opening is malformed") from None
        if opened != commitment:
            raise _fail("the opening does not match the commitment")
        report_id = str(report)
    return Checked(str(receipt["day"]), commitment.hex(), str(day_entry["at"]), cp.seq, report_id)
