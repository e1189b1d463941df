"""The check of a proof-of-report receipt (``sipadu-receipt-v1``; issue 20 item 2,
docs/receipt.md): :func:`load` reads the file as the offline recipe does, :func:`check`
makes the recipe's checks in the recipe's order and refuses with the recipe's reasons.
The server runs both on every receipt before it hands it out
(:func:`sipadu.services.receipts.receipt_status`); tests/test_receipt_check.py runs them
and the recipe, as docs/receipt.md prints it, on the same real receipt and on the same
forgeries, and requires the same answer.

What a receipt that checks proves, and its limits: docs/receipt.md, "What is stored, and
what it proves". In short: the report's commitment was a leaf of the tree that a
``receipt.day`` audit entry states for a period (a UTC day, ISO week or month), under a
checkpoint signed by the pinned key no later than :data:`SEAL_WINDOW` after that period
ended; with the opening, which report that commitment is.
"""

import hashlib
import json
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, NoReturn

from sipadu.accountability import audit
from sipadu.accountability.audit import Action, Checkpoint
from sipadu.crypto import CryptoError, merkle
from sipadu.crypto.binding import bind

FORMAT = "sipadu-receipt-v1"
COMMITMENT_LABEL = "sipadu.receipt.commitment.v1"
NONCE_LEN = 32
# A period's commitments are sealed at most this long after the period ended (its last
# day's end, UTC), and a receipt whose checkpoint is later does not check: a receipt
# speaks of its period only if it was made soon after it. The checkpoint timer runs
# hourly (docs/audit.md, "On a timer") and seals a day an hour or two after it ends; a
# week leaves room for an outage or a broken timer found at the next weekly look. The
# recipe in docs/receipt.md states the same number.
SEAL_WINDOW = timedelta(days=7)
# Bounds that no receipt SIPADU makes comes near: they only keep a hostile file's work
# small (a Merkle tree of 2**32 leaves has a 32-element proof).
_MAX_SEQ = 2**63 - 1
_MAX_TREE = 2**32
_MAX_PROOF = 64
_MAX_ENTRIES = 1000

# The members of the format (docs/receipt.md, "The file"); nothing else is accepted.
RECEIPT_MEMBERS = (
    "format",
    "day",
    "commitment",
    "leaf_index",
    "tree_size",
    "inclusion_proof",
    "root",
    "entries",
    "checkpoint",
)
RECEIPT_OPTIONAL = ("note", "opening")
CHECKPOINT_MEMBERS = ("format", "seq", "hash", "at", "public_key", "signature")
ENTRY_MEMBERS = ("seq", "at", "actor", "role", "action", "report_id", "detail", "prev_hash", "hash")
DAY_DETAIL_MEMBERS = ("day", "last", "root", "size")
OPENING_MEMBERS = ("report_id", "nonce")

# Said in the file itself, for whoever opens it. Part of the format: a file whose note
# differs does not check (the recipe holds its SHA-256), so nobody can add words to a
# receipt that a reader would take as proven.
NOTE = {
    "id": (
        "Bukti laporan (SIPADU). Berkas ini membuktikan bahwa laporan yang disebut di "
        "bagian 'opening' sudah diterima instansi ketika laporan-laporan pada periodenya "
        "disegel. Periode itu dimulai pada 'day', tanggal menurut UTC (satu hari UTC "
        "dimulai pukul 07.00 WIB), dan penyegelan, yang waktunya ditampilkan oleh "
        "pemeriksaan, paling lambat 7 hari setelah periode itu berakhir. Isi laporan tidak "
        "ditunjukkan. Siapa pun dapat memeriksanya tanpa SIPADU, dengan kunci publik "
        "instansi yang diumumkan (docs/receipt.md). Hapus bagian 'opening' untuk hanya "
        "membuktikan bahwa ada laporan pada periode itu, tanpa menunjukkan laporan yang "
        "mana. PERHATIAN: berkas ini menunjukkan bahwa pemegangnya membuat laporan. Simpan "
        "di tempat yang aman."
    ),
    "en": (
        "Proof of report (SIPADU). This file proves that the report named in its "
        "'opening' part had reached the inspectorate when the reports of its period were "
        "sealed. The period begins on 'day', a date in UTC (a UTC day begins at 07:00 "
        "WIB), and the sealing, whose time the check prints, is at most 7 days after the "
        "period ended. It does not show what the report says. Anyone can check it "
        "without SIPADU, with the inspectorate's published public key (docs/receipt.md). "
        "Delete the 'opening' part to prove only that a report was made in that period, "
        "not which one. WARNING: this file shows that whoever holds it made a report. "
        "Keep it somewhere safe."
    ),
}
# What the recipe compares a file's note with (its RFC 8785 bytes' SHA-256).
NOTE_SHA256 = hashlib.sha256(audit.fast_canonical(NOTE)).hexdigest()


def _canonical(value: object) -> bytes:
    """RFC 8785 bytes of what an audit entry holds (:func:`sipadu.accountability.audit.
    fast_canonical`); a lone surrogate, which UTF-8 cannot encode, is malformed."""
    try:
        return audit.fast_canonical(value)  # type: ignore[arg-type]
    except ValueError:
        _fail("the receipt is malformed")


def _sha256_of(value: object) -> str:
    return hashlib.sha256(_canonical(value)).hexdigest()


_HEX = re.compile(r"[0-9a-f]*")
_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_MOMENT = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{6}Z")
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


class ReceiptInvalid(Exception):
    """A receipt that does not prove what it says: ``str()`` says which check failed, in
    the words the recipe prints after ``FAIL:``."""


@dataclass(frozen=True)
class Checked:
    """What a receipt that checks proves: a report committed as ``commitment`` (hex) was
    a leaf of the tree of the period from ``day`` to ``last`` (ISO dates, UTC), sealed at
    ``sealed_at`` (the ``receipt.day`` entry's time) under checkpoint ``checkpoint_seq``,
    signed by the key checked against at ``signed_at``, at most :data:`SEAL_WINDOW` after
    the period; and, with the opening, its ``report_id`` (else None)."""

    day: str
    last: str
    commitment: str
    sealed_at: str
    signed_at: str
    checkpoint_seq: int
    report_id: str | None


def commitment_of(report_id: uuid.UUID, nonce: bytes) -> bytes:
    """``SHA-256(bind(COMMITMENT_LABEL, report_id.bytes, nonce))``, 32 bytes, where
    :func:`sipadu.crypto.binding.bind` writes each part after its length as a 4-byte
    big-endian integer (docs/receipt.md gives the bytes). Hiding: without the 256-bit
    nonce, trying report ids tells nothing; binding: SHA-256's collision resistance.
    Raises ValueError for a nonce that is not 32 bytes."""
    if len(nonce) != NONCE_LEN:
        raise ValueError("a receipt nonce is 32 bytes")
    return hashlib.sha256(bind(COMMITMENT_LABEL, report_id.bytes, nonce)).digest()


def window_end(last: date) -> datetime:
    """The first moment (aware, UTC) at which a checkpoint is too late for the period
    whose last day is ``last``: :data:`SEAL_WINDOW` after that day's end."""
    return datetime.combine(last + timedelta(days=1), time(), UTC) + SEAL_WINDOW


def is_period(first: date, last: date) -> bool:
    """Whether ``first`` to ``last`` is a period SIPADU dates reports by
    (``SIPADU_DATE_PRECISION``, :class:`sipadu.settings.config.DatePrecision`): one day,
    an ISO week (Monday to Sunday) or a calendar month."""
    following = (first.replace(day=28) + timedelta(days=4)).replace(day=1)
    return (
        last == first
        or (first.weekday() == 0 and last == first + timedelta(days=6))
        or (first.day == 1 and last == following - timedelta(days=1))
    )


def _fail(reason: str) -> NoReturn:
    raise ReceiptInvalid(reason)


def _unique(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    names = [name for name, _value in pairs]
    if len(set(names)) != len(names):
        _fail("a member appears twice")
    return dict(pairs)


def _no_fraction(text: str) -> NoReturn:
    _fail("a number is not a whole number")


def load(document: bytes | str) -> Any:
    """The JSON value of a receipt file (UTF-8) as the recipe reads it: a member given
    twice in one object, a number with a fraction or exponent, and NaN or Infinity are
    refused (:class:`ReceiptInvalid`), so that what a person reads in the file is what
    was checked. RFC 8259; duplicate names are what its section 4 leaves open."""
    try:
        text = document.decode("utf-8") if isinstance(document, bytes) else document
        return json.loads(
            text, object_pairs_hook=_unique, parse_float=_no_fraction, parse_constant=_no_fraction
        )
    except (ValueError, RecursionError):
        _fail("the receipt is malformed")


def _members(
    value: object, where: str, required: tuple[str, ...], optional: tuple[str, ...] = ()
) -> dict:
    if not isinstance(value, dict):
        _fail(f"{where} is not an object")
    names = set(value)
    if not set(required) <= names or not names <= set(required) | set(optional):
        _fail(f"{where} has missing or unknown members")
    return value


def _integer(value: object, low: int, high: int) -> int:
    if type(value) is not int or not low <= value <= high:
        _fail("a number is not a whole number in its range")
    return value


def _hex(value: object, size: int) -> bytes:
    if not isinstance(value, str) or len(value) != 2 * size or not _HEX.fullmatch(value):
        _fail(f"a value is not {size} bytes in lower-case hex")
    return bytes.fromhex(value)


def _day(value: object) -> date:
    if not isinstance(value, str) or not _DAY.fullmatch(value):
        _fail("a date is not YYYY-MM-DD")
    try:
        return date.fromisoformat(value)
    except ValueError:
        _fail("a date is not YYYY-MM-DD")


def _moment(value: object) -> datetime:
    if not isinstance(value, str) or not _MOMENT.fullmatch(value):
        _fail("a time is not YYYY-MM-DDTHH:MM:SS.ffffffZ")
    try:
        return datetime.strptime(value, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
    except ValueError:
        _fail("a time is not YYYY-MM-DDTHH:MM:SS.ffffffZ")


def _text(value: object) -> str:
    if not isinstance(value, str):
        _fail("an audit entry is malformed")
    return value


def check(receipt: Mapping, pinned: str | None) -> Checked:
    """Check a receipt (as :func:`load` reads it) as docs/receipt.md's offline recipe
    does, in its order: the format and its members (none missing, none added; integers,
    lower-case hex of exact lengths, canonical dates and times); the checkpoint's
    Ed25519 signature against ``pinned`` (the hex key one pinned; None only for the
    server's own check when it knows no pinned key: the key the checkpoint carries);
    the chain of entry hashes from the period's ``receipt.day`` entry to the
    checkpoint's; that entry's period, root and size against the receipt's; the
    checkpoint's time within :data:`SEAL_WINDOW` of the period's end; the inclusion
    proof (RFC 9162 §2.1.3.2); and, when present, the opening against the commitment.
    Raises :class:`ReceiptInvalid` naming the first failed check."""
    if not isinstance(receipt, dict) or receipt.get("format") != FORMAT:
        _fail("not a SIPADU receipt")
    _members(receipt, "the receipt", RECEIPT_MEMBERS, RECEIPT_OPTIONAL)
    if "note" in receipt and _sha256_of(receipt["note"]) != NOTE_SHA256:
        _fail("the note is not the format's own")
    # 1. The checkpoint is signed by the key you pinned.
    cp = _members(receipt["checkpoint"], "the checkpoint", CHECKPOINT_MEMBERS)
    if cp["format"] != audit.CHECKPOINT_FORMAT:
        _fail("the checkpoint is not a SIPADU audit checkpoint")
    _integer(cp["seq"], 1, _MAX_SEQ)
    _hex(cp["hash"], 32)
    signed_at = _moment(cp["at"])
    _hex(cp["public_key"], 32)
    _hex(cp["signature"], 64)
    checkpoint = Checkpoint.from_json(cp)
    if pinned is not None and checkpoint.public_key != pinned.lower():
        _fail("the checkpoint is not signed by the pinned key")
    try:
        checkpoint.verify()
    except (CryptoError, ValueError):
        _fail("the checkpoint is not signed by the pinned key")
    # 2. The entries chain, hash by hash, from the period's entry to the checkpoint.
    entries = receipt["entries"]
    if not isinstance(entries, list) or not 1 <= len(entries) <= _MAX_ENTRIES:
        _fail("the audit entries are missing or too many")
    previous: dict | None = None
    for entry in entries:
        _members(entry, "an audit entry", ENTRY_MEMBERS)
        seq = _integer(entry["seq"], 1, _MAX_SEQ)
        _moment(entry["at"])
        for name in ("actor", "role", "action"):
            _text(entry[name])
        if entry["report_id"] is not None:
            _text(entry["report_id"])
        if entry["detail"] is not None and not isinstance(entry["detail"], dict):
            _fail("an audit entry is malformed")
        _hex(entry["prev_hash"], 32)
        _hex(entry["hash"], 32)
        if previous is not None and (
            seq != previous["seq"] + 1 or entry["prev_hash"] != previous["hash"]
        ):
            _fail(f"entry {seq}: the chain is broken")
        record = {name: entry[name] for name in ENTRY_MEMBERS[:7]}
        digest = audit.entry_hash(entry["prev_hash"], _canonical(record))
        if digest != entry["hash"]:
            _fail(f"entry {seq}: altered")
        previous = entry
    assert previous is not None  # entries is not empty
    if (previous["seq"], previous["hash"]) != (checkpoint.seq, checkpoint.hash):
        _fail("the entries do not end at the checkpoint")
    # 3. The period's entry states the receipt's day, root and tree size.
    day_entry = entries[0]
    if (day_entry["action"], day_entry["actor"], day_entry["role"]) != (
        Action.RECEIPT_DAY.value,
        "system",
        "system",
    ):
        _fail("the first entry is not a period's receipt entry")
    detail = _members(day_entry["detail"], "the period's entry", DAY_DETAIL_MEMBERS)
    first, last = _day(detail["day"]), _day(detail["last"])
    size = _integer(receipt["tree_size"], 1, _MAX_TREE)
    stated = (detail["day"], detail["root"], _integer(detail["size"], 1, _MAX_TREE))
    if stated != (receipt["day"], receipt["root"], size):
        _fail("the day, root or size differ from the signed entry")
    if not is_period(first, last):
        _fail("the period is not a day, a week or a month")
    # 4. It was sealed soon after the period: a later seal says nothing of the period.
    if signed_at >= window_end(last):
        _fail("signed more than 7 days after its period ended")
    # 5. The commitment is a leaf of that period's tree.
    commitment = _hex(receipt["commitment"], 32)
    index = _integer(receipt["leaf_index"], 0, size - 1)
    proof = receipt["inclusion_proof"]
    if not isinstance(proof, list) or len(proof) > _MAX_PROOF:
        _fail("the inclusion proof is malformed")
    path = [_hex(p, 32) for p in proof]
    root = _hex(receipt["root"], 32)
    try:
        merkle.verify_inclusion(commitment, index, size, path, root)
    except CryptoError:
        _fail("the commitment is not in the period's tree")
    # 6. With the opening: which report the commitment is.
    report_id = None
    if "opening" in receipt:
        opening = _members(receipt["opening"], "the opening", OPENING_MEMBERS)
        if not isinstance(opening["report_id"], str) or not _UUID.fullmatch(opening["report_id"]):
            _fail("the opening's report id is not a lower-case UUID")
        nonce = _hex(opening["nonce"], NONCE_LEN)
        if commitment_of(uuid.UUID(opening["report_id"]), nonce) != commitment:
            _fail("the opening does not match the commitment")
        report_id = opening["report_id"]
    return Checked(
        detail["day"],
        detail["last"],
        commitment.hex(),
        day_entry["at"],
        cp["at"],
        checkpoint.seq,
        report_id,
    )
