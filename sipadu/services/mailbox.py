"""Opening a reporter's mailbox with code + passphrase (G7).

A typed code that is not 16 digits once spaces and dashes are removed is refused before
any work (:func:`well_formed_code`): that says nothing about any mailbox. Every other
attempt does exactly the same work, whatever is wrong: one Argon2id for the lookup id,
then one Argon2id with the mailbox's parameters, or, when no mailbox has that lookup id,
with a decoy record at parameters that live mailboxes have (:func:`decoy_params`).
Unknown code and wrong passphrase therefore cost the same and return the same ``None``.

**The decoy's cost after the parameters are raised.** A live record keeps the cost it
was made with until its holder signs in (then it is re-hashed); a decoy at today's cost
made an unknown code slower than a live one (470 ms against 292 ms), so anyone could
test a 16-digit number for being a live code. Each unknown code is therefore mapped, by
an HMAC of the code under an instance key, to one of the parameter sets live records
have, in proportion to how many have each (:func:`live_costs`): the same code always
costs the same, and over codes the costs are spread as live codes' are. Without the key
nobody can tell which codes the decoy runs cheap, so a code found slower (or faster)
than its mapped cost is not thereby found live.

Failed attempts are counted per code *before* any Argon2id (:func:`failure_bucket`): an
HMAC of the code, cut to 20 bits, so the rate-limit store never holds anything that
identifies a code.

**Changing the passphrase** (issue 18): :func:`prepare_change` checks the code and the
current passphrase exactly as a sign-in does (the same derivations, the same failure
counters in the portal), then makes a new record and KEK from the code and the new
passphrase and seals the *same* mailbox key under it; :func:`save_change` replaces both
in one write, only if the record is still the one that was checked. Every mailbox
session carries the :func:`record_stamp` of the record it signed in with, and is used
only while the mailbox still has that record (:func:`is_current`): a change ends every
other session at its next request, and the old passphrase opens nothing from then on.
(A re-hash at sign-in replaces the record too, so it ends other sessions likewise.)

**A new code at the first sign-in of a typed report** (issue 18, found in review): the
operator who typed a report saw the slip's code and suggested passphrase, and must keep
no way back in. Until the reporter takes a code of their own, the mailbox opens nothing
of the report (:func:`sipadu.services.transcript.slip_code_live`, sealed data only).
:func:`prepare_rekey` is a passphrase change that also draws a new code
(:func:`~sipadu.services.passphrases.new_code`) and its lookup id; no current passphrase
is asked again, because only a session signed in with the slip's code and passphrase
(the mailbox private key it holds) can ask for it, straight after signing in.
:func:`save_change` then replaces the lookup id, the record and the sealed key, and marks
the report's ``code_renewed`` field, in one transaction. From then on the slip's code
finds no mailbox, which is the same answer, at the same cost, as any unknown code
(:func:`attempt_login`); its failure counter is another code's, so the new code's starts
empty; and every other session (the operator's, if they signed in) ends at its next
request (:func:`is_current`). Nothing of a code or passphrase is logged.
"""

import hashlib
import hmac
import threading
import time
import uuid
from dataclasses import dataclass, field, replace
from functools import cache

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from sipadu.crypto import (
    RECORD_HEAD_LEN,
    Argon2Params,
    CryptoError,
    PrivateKey,
    SecretRecord,
    hash_secret,
    lookup_id,
    open_private_key,
    seal_private_key,
    verify_secret,
)
from sipadu.persistence.db import scope_to_report
from sipadu.persistence.dbroles import COSTS_FUNCTION
from sipadu.persistence.models import Mailbox
from sipadu.services import Derive, Reason, ServiceError, inline
from sipadu.services.key_ring import HeldKeys
from sipadu.services.passphrases import (
    CODE_DIGITS,
    mailbox_secret,
    new_code,
    normalize_code,
    suggest_passphrase,
)
from sipadu.services.reports import MAILBOX_KEY_PURPOSE, mailbox_owner
from sipadu.services.transcript import mark_code_renewed

# 10**16 codes over 2**20 counters: about 2**33 codes share each one. Enough counters
# that random guesses (which is all a stranger without a code can make) spread so thin
# that filling them all would take ~10 million Argon2-costing failures an hour; few
# enough that a counter name says nothing about which code was tried.
BUCKET_BITS = 20


class MalformedCode(ServiceError):
    """The typed code is not 16 digits once spaces and dashes are removed."""

    def __init__(self) -> None:
        super().__init__(Reason.MALFORMED_CODE, "code")


@dataclass(frozen=True)
class CostMix:
    """How many mailbox records have each Argon2 parameter set, in a fixed order
    (cheapest first); empty before the first report."""

    counts: tuple[tuple[Argon2Params, int], ...] = ()


class CostCache:
    """:func:`live_costs`, read again at most every ``seconds``: counting costs a scan of
    the mailbox table, and the mix changes only as reports arrive and records are
    re-hashed. Shared by a process's threads."""

    def __init__(self, seconds: float = 60.0) -> None:
        self.seconds = seconds
        self._lock = threading.Lock()
        self._mix: CostMix | None = None
        self._read_at = 0.0

    def get(self, session: Session) -> CostMix:
        with self._lock:
            if self._mix is None or time.monotonic() - self._read_at > self.seconds:
                self._mix, self._read_at = live_costs(session), time.monotonic()
            return self._mix


@dataclass(frozen=True)
class MailboxSettings:
    lookup_salt: bytes
    lookup_argon2: Argon2Params
    argon2: Argon2Params
    failure_key: bytes  # keys the failure counters (failure_bucket)
    decoy_key: bytes  # keys the decoy's choice of cost (decoy_params)
    # None: the live costs are counted at every attempt (tests); a portal keeps a cache.
    costs: CostCache | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class OpenedMailbox:
    mailbox_id: uuid.UUID
    report_id: uuid.UUID
    private_key: PrivateKey
    # The record_stamp of the mailbox record it was opened with: a session is valid only
    # while the mailbox still has that record (is_current).
    stamp: bytes = b""

    def __repr__(self) -> str:
        return f"OpenedMailbox({self.mailbox_id}, {self.report_id}, <key>)"


@dataclass(frozen=True)
class Rehashed:
    """A mailbox record re-made at today's Argon2 parameters, and the same mailbox key
    sealed under its KEK: computed with the attempt, stored by :func:`save_rehashed`."""

    secret_record: bytes
    sealed_private_key: bytes

    def __repr__(self) -> str:
        return "Rehashed(<record>, <sealed key>)"


@dataclass(frozen=True)
class LoginAttempt:
    """The outcome: the opened mailbox (None for every kind of failure), and a new
    record when the mailbox's one predates today's parameters."""

    opened: OpenedMailbox | None
    rehashed: Rehashed | None = None


def record_stamp(secret_record: bytes) -> bytes:
    """32 bytes that change whenever a mailbox's record is replaced (passphrase change,
    re-hash): SHA-256 of the record (a random salt and a verifier; nothing a stamp adds
    to what the database holds)."""
    return hashlib.sha256(b"sipadu.mailbox-record\x00" + secret_record).digest()


def well_formed_code(typed: str) -> str | None:
    """The 16 ASCII digits of a typed code, written in any digits and with any
    separators (:func:`sipadu.services.passphrases.normalize_code`), or None: anything
    else is refused before any Argon2id."""
    code = normalize_code(typed)
    if len(code) != CODE_DIGITS or not code.isascii() or not code.isdigit():
        return None
    return code


def failure_bucket(code: str, key: bytes) -> str:
    """The counter that failed logins with ``code`` (16 digits) count under, computed
    before any Argon2id: ``mailbox-<instance tag>-<20-bit HMAC of the code, hex>``.
    Keyed (by a key of the instance's own), so nobody can pick codes that share a
    counter with someone else's, and two instances on one Redis never mix.

    A counter holds no code: ~2**33 codes share each. Every failure of one code lands
    in one counter, so no code gets more failures than the limit allows."""
    digest = hmac.new(key, b"code\x00" + code.encode("ascii"), "sha256").digest()
    bucket = int.from_bytes(digest[:4], "big") >> (32 - BUCKET_BITS)
    tag = hmac.new(key, b"instance", "sha256").hexdigest()[:8]
    return f"mailbox-{tag}-{bucket:05x}"


@cache
def _decoy(params: Argon2Params) -> SecretRecord:
    return SecretRecord.decoy(params)


def live_costs(session: Session) -> CostMix:
    """How many mailbox records have each parameter set: from the first
    :data:`~sipadu.crypto.RECORD_HEAD_LEN` bytes of each record (its cost, nothing
    secret). On PostgreSQL through the function ``sipadu db reporter-role`` creates
    (:data:`~sipadu.persistence.dbroles.COSTS_FUNCTION`), which sees every mailbox where
    the reporter role's row-level security shows it none; a direct count where it does
    not exist (the owner role sees every row). Records whose head is not a known format
    are left out (they open nothing anyway)."""
    bind = session.get_bind()
    rows: list[tuple[bytes, int]]
    if bind.dialect.name == "postgresql" and session.scalar(
        text("SELECT to_regprocedure(:name) IS NOT NULL"), {"name": f"{COSTS_FUNCTION}()"}
    ):
        result = session.execute(text(f"SELECT head, records FROM {COSTS_FUNCTION}()"))  # noqa: S608 — a constant
        rows = [(bytes(head), int(records)) for head, records in result]
    else:
        head = func.substr(Mailbox.secret_record, 1, RECORD_HEAD_LEN)
        result = session.execute(select(head, func.count()).group_by(head))
        rows = [(bytes(head), int(records)) for head, records in result]
    counts: dict[Argon2Params, int] = {}
    for head_bytes, records in rows:
        try:
            params = SecretRecord.params_of_head(head_bytes)
        except CryptoError:
            continue
        counts[params] = counts.get(params, 0) + records
    order = sorted(counts, key=lambda p: (p.time_cost, p.memory_kib, p.parallelism))
    return CostMix(tuple((params, counts[params]) for params in order))


def decoy_params(code: str, key: bytes, mix: CostMix, current: Argon2Params) -> Argon2Params:
    """The parameters the decoy runs at for an unknown ``code`` (16 digits): the
    HMAC-SHA256 of the code under ``key``, read as a number below the total count of
    ``mix``, picks the set whose share of live records it falls in. The same code always
    gets the same set (until the mix changes), and a set is picked for as many codes in
    proportion as live records have it. ``current`` when there is no mailbox yet."""
    total = sum(records for _, records in mix.counts)
    if total == 0:
        return current
    digest = hmac.new(key, b"decoy\x00" + code.encode("ascii"), "sha256").digest()
    point = (int.from_bytes(digest[:8], "big") * total) >> 64
    for params, records in mix.counts:
        if point < records:
            return params
        point -= records
    raise AssertionError("unreachable: point < total")  # pragma: no cover


def attempt_login(
    session: Session,
    typed_code: str,
    passphrase: str,
    settings: MailboxSettings,
    *,
    derive: Derive = inline,
    rehash: bool = True,
) -> LoginAttempt:
    """Two Argon2id derivations whatever the outcome (see the module docstring), each
    run through ``derive``, on a read-only ``session``; a third, to re-hash, after a
    success whose record predates today's parameters (unless ``rehash`` is false: a
    passphrase change replaces the record anyway). Raises :class:`MalformedCode`
    (before any work) for a code that is not 16 digits; callers check it first."""
    code = well_formed_code(typed_code)
    if code is None:
        raise MalformedCode()
    # Counted before the transaction names a lookup id: a reporter role without the
    # costs function then sees no mailbox for any code, never only the typed one's.
    mix = settings.costs.get(session) if settings.costs is not None else live_costs(session)
    lookup = derive(lookup_id, code.encode("ascii"), settings.lookup_salt, settings.lookup_argon2)
    scope_to_report(session, lookup_id=lookup)
    mailbox = session.scalar(select(Mailbox).where(Mailbox.lookup_id == lookup))
    record = (
        SecretRecord.from_bytes(mailbox.secret_record)
        if mailbox is not None
        else _decoy(decoy_params(code, settings.decoy_key, mix, settings.argon2))
    )
    secret = mailbox_secret(code, passphrase)
    try:
        kek = derive(verify_secret, secret, record)
    except CryptoError:
        return LoginAttempt(None)
    if mailbox is None:  # pragma: no cover — a random verifier matched: 2**-256
        return LoginAttempt(None)
    owner = mailbox_owner(mailbox.id)
    private = open_private_key(
        mailbox.sealed_private_key, kek, owner=owner, purpose=MAILBOX_KEY_PURPOSE
    )
    opened = OpenedMailbox(
        mailbox.id, mailbox.report_id, private, record_stamp(mailbox.secret_record)
    )
    if not rehash or not record.needs_upgrade(settings.argon2):
        return LoginAttempt(opened)
    # Parameters were raised: re-hash now, while the derivation slot is held, so the
    # write that stores it (save_rehashed) runs no Argon2id inside its transaction.
    new_record, new_kek = derive(hash_secret, secret, settings.argon2)
    sealed = seal_private_key(private, new_kek, owner=owner, purpose=MAILBOX_KEY_PURPOSE)
    rehashed = Rehashed(new_record.to_bytes(), sealed)
    # The session starts with the record it will have once save_rehashed stores it.
    opened = replace(opened, stamp=record_stamp(rehashed.secret_record))
    return LoginAttempt(opened, rehashed)


def save_rehashed(session: Session, opened: OpenedMailbox, rehashed: Rehashed) -> None:
    """After a successful sign-in whose record was weaker than today's parameters:
    replace the record and the sealed key (the same mailbox key). The caller commits."""
    scope_to_report(session, opened.report_id)
    mailbox = session.get_one(Mailbox, opened.mailbox_id)
    mailbox.secret_record = rehashed.secret_record
    mailbox.sealed_private_key = rehashed.sealed_private_key


def is_current(session: Session, opened: OpenedMailbox) -> bool:
    """Whether the mailbox still has the record ``opened`` was opened with: false once
    the passphrase was changed (or the record re-hashed) since, and for a mailbox that is
    gone. One read, in the caller's transaction."""
    scope_to_report(session, opened.report_id)
    record = session.scalar(select(Mailbox.secret_record).where(Mailbox.id == opened.mailbox_id))
    return record is not None and hmac.compare_digest(record_stamp(record), opened.stamp)


@dataclass(frozen=True)
class PassphraseChange:
    """A new passphrase's record and the same mailbox key sealed under its KEK, computed
    by :func:`prepare_change`, stored by :func:`save_change`. ``opened`` is the mailbox
    as a session after the change holds it (the new record's stamp); ``replaces`` the
    stamp of the record that was checked; ``suggested`` the new passphrase when the
    server chose it (to be shown once), else None. A rekey (:func:`prepare_rekey`) also
    has the new ``code`` (16 digits, to be shown once) and its ``lookup`` id (32 bytes);
    a passphrase change keeps the code (both None)."""

    opened: OpenedMailbox
    replaces: bytes
    new: Rehashed
    suggested: str | None
    code: str | None = None
    lookup: bytes | None = None

    def __repr__(self) -> str:
        return "PassphraseChange(<secrets>)"


def prepare_change(
    session: Session,
    typed_code: str,
    current: str,
    new: str | None,
    settings: MailboxSettings,
    *,
    derive: Derive = inline,
) -> PassphraseChange | None:
    """Check ``typed_code`` and the ``current`` passphrase as :func:`attempt_login`
    does (two Argon2id; None for every kind of failure, alike), then derive the record
    and KEK of the code with the ``new`` passphrase (None: suggest one,
    :func:`~sipadu.services.passphrases.suggest_passphrase`) at today's parameters
    (a third) and seal the same mailbox key under it. Every derivation runs through
    ``derive``; nothing is written (``session`` is only read). Raises
    :class:`MalformedCode` before any work. Whether the code is the signed-in mailbox's
    is the caller's to check (``opened.mailbox_id``)."""
    attempt = attempt_login(session, typed_code, current, settings, derive=derive, rehash=False)
    if attempt.opened is None:
        return None
    code = well_formed_code(typed_code)
    assert code is not None  # attempt_login refused it otherwise
    return _resealed(attempt.opened, code, new, settings, derive)


def prepare_rekey(
    opened: OpenedMailbox,
    new: str | None,
    settings: MailboxSettings,
    *,
    derive: Derive = inline,
) -> PassphraseChange:
    """A new code for the mailbox ``opened`` (a session signed in with the slip of a
    typed report: see the module docstring) and the ``new`` passphrase (None: suggest
    one): the code's lookup id under the instance salt (as
    :func:`sipadu.services.reports.submit_report` makes one) and the record and KEK of
    code ‖ passphrase at today's parameters, the same mailbox key sealed under it. Two
    Argon2id, each through ``derive``; nothing read or written. :func:`save_change`
    stores it (with the mailbox's keys), only if the mailbox still has the record
    ``opened`` signed in with."""
    code = new_code()
    lookup = derive(lookup_id, code.encode("ascii"), settings.lookup_salt, settings.lookup_argon2)
    return replace(_resealed(opened, code, new, settings, derive), code=code, lookup=lookup)


def _resealed(
    opened: OpenedMailbox, code: str, new: str | None, settings: MailboxSettings, derive: Derive
) -> PassphraseChange:
    """The record of ``code`` with the ``new`` passphrase (None: a suggested one) and
    ``opened``'s key sealed under its KEK: one Argon2id, through ``derive``."""
    suggested = suggest_passphrase() if new is None else None
    chosen = suggested or new or ""
    record, kek = derive(hash_secret, mailbox_secret(code, chosen), settings.argon2)
    sealed = seal_private_key(
        opened.private_key,
        kek,
        owner=mailbox_owner(opened.mailbox_id),
        purpose=MAILBOX_KEY_PURPOSE,
    )
    new_record = Rehashed(record.to_bytes(), sealed)
    return PassphraseChange(
        replace(opened, stamp=record_stamp(new_record.secret_record)),
        opened.stamp,
        new_record,
        suggested,
    )


def save_change(session: Session, change: PassphraseChange, keys: HeldKeys | None = None) -> None:
    """Replace the mailbox's record and sealed key by ``change``'s, in one write of the
    caller's (write) transaction, which commits; for a rekey (``change.lookup`` set), its
    lookup id too, and the report's ``code_renewed`` field is sealed "1" with ``keys``
    (the mailbox's, required then), all in the same transaction. The mailbox row is
    locked while it is compared: if its record is no longer the one the change was
    prepared from (another change or rekey, in another window or by whoever else holds
    the slip, came first), raises ``ServiceError`` with
    :attr:`Reason.PASSPHRASE_CHANGED_MEANWHILE` and writes nothing."""
    opened = change.opened
    scope_to_report(session, opened.report_id)
    mailbox = session.scalar(
        select(Mailbox).where(Mailbox.id == opened.mailbox_id).with_for_update()
    )
    if mailbox is None or not hmac.compare_digest(
        record_stamp(mailbox.secret_record), change.replaces
    ):
        raise ServiceError(Reason.PASSPHRASE_CHANGED_MEANWHILE, "passphrase")
    if change.lookup is not None:
        if keys is None:
            raise TypeError("a rekey re-seals the report's code_renewed field: pass the keys")
        scope_to_report(session, lookup_id=change.lookup)
        taken = session.scalar(select(Mailbox.id).where(Mailbox.lookup_id == change.lookup))
        if taken is not None:  # pragma: no cover — 10**16 codes; refused, nothing written
            raise ServiceError(Reason.CODE_COLLISION)
        mailbox.lookup_id = change.lookup
        mark_code_renewed(session, keys, opened.report_id)
    mailbox.secret_record = change.new.secret_record
    mailbox.sealed_private_key = change.new.sealed_private_key
    session.flush()
