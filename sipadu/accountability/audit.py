"""The tamper-evident staff access log (DESIGN.md G4, G5, §7).

Every staff action appends an entry *in the same transaction* as the action:

    hash = SHA-256(prev_hash ‖ RFC 8785 JSON of {seq, at, actor, role, action, report_id, detail})

so the entry exists if and only if the action committed. Appends are serialized on the
single ``audit_head`` row (a row lock on PostgreSQL, the write lock on SQLite): call
:func:`append` as the last statement before commit, and never stream a download inside
that transaction, so the lock is held only for the append.

Signed checkpoints ``(seq, hash, at)`` let an auditor who kept one detect any later
rewrite, deletion or truncation of what came before it, even by someone who holds the
database *and* the signing key.

Reporter activity never enters the chain (that would record exact times of anonymous
people): :func:`count_reporter_event` keeps only a count per day (or coarser period).
"""

import csv
import hashlib
import io
import ipaddress
import json
import re
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from enum import StrEnum
from typing import TypeAlias

import rfc8785
from sqlalchemy import Connection, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from sipadu.crypto import CryptoError, sign, signing_public_key, verify_signature
from sipadu.persistence.models import AuditCheckpoint, AuditEvent, AuditHead, ReporterDailyCount
from sipadu.settings.config import DatePrecision

GENESIS = "00" * 32
CHECKPOINT_LABEL = "sipadu.audit.checkpoint.v1"
CHECKPOINT_FORMAT = "sipadu-audit-checkpoint-v1"
EXPORT_FORMAT = "sipadu-audit-export-v1"


class AuditError(Exception):
    """A programming error in what was to be recorded (unknown action, forbidden detail).
    The caller's transaction must not commit: the action does not happen."""


class Action(StrEnum):
    """Everything that may be recorded. Adding an action is a code change, on purpose."""

    SYSTEM_INIT = "system.init"
    CATEGORY_CREATE = "category.create"
    CATEGORY_UPDATE = "category.update"
    ACCOUNT_CREATE = "account.create"
    ACCOUNT_ACTIVATE = "account.activate"
    ACCOUNT_DEACTIVATE = "account.deactivate"
    ROLE_GRANT = "role.grant"
    ROLE_REVOKE = "role.revoke"
    PERMISSION_CHANGE = "permission.change"
    KEY_REGISTER = "key.register"
    PASSWORD_CHANGE = "password.change"  # noqa: S105 — an action name
    PASSWORD_RESET = "password.reset"  # noqa: S105 — an action name
    TOTP_RESET = "totp.reset"
    LOGIN_SUCCESS = "login.success"
    LOGIN_FAILURE = "login.failure"
    # A wrong password given as proof anywhere but the sign-in form (a TOTP enrollment
    # link, a password change): counted against the account's sign-in budget too.
    PASSWORD_PROOF_FAILURE = "password.proof_failure"  # noqa: S105 — an action name
    LOGOUT = "logout"
    PROPOSAL_CREATE = "proposal.create"
    PROPOSAL_APPROVE = "proposal.approve"
    PROPOSAL_REJECT = "proposal.reject"
    ROUTE_ADD = "route.add"
    ROUTE_REMOVE = "route.remove"
    RECIPIENT_ADD = "export_recipient.add"  # offered on the export form from now on
    RECIPIENT_REMOVE = "export_recipient.remove"
    REPORT_LIST = "report.list"
    REPORT_READ = "report.read"
    REPORT_SEARCH = "report.search"  # the reports a search opened; never the query
    REPORT_EXPORT = "report.export"
    REPORT_EXPORT_PLAINTEXT = "report.export_plaintext"  # confirmed, unencrypted
    REPORT_PRINT = "report.print"  # the printable case file (berkas)
    ATTACHMENT_DOWNLOAD = "attachment.download"
    # safe copies (issue 21): a file's pages made into a new PDF of pixels (the outcome:
    # made, or the reason why not; never a name or content), and such a copy downloaded
    SAFE_COPY_MAKE = "attachment.safe_copy_make"
    SAFE_COPY_DOWNLOAD = "attachment.safe_copy"
    MESSAGE_SEND = "message.send"
    NOTE_ADD = "note.add"
    STATUS_CHANGE = "status.change"
    SPAM_MARK = "report.spam"  # hidden from the default list; nothing else changes
    SPAM_UNMARK = "report.not_spam"
    REPORT_REOPEN = "report.reopen"  # a closed or rejected report back in review
    CASE_LABELS = "case.labels"  # labels or priority changed (sealed: no value recorded)
    CASE_LEAD = "case.lead"  # the lead investigator chosen or cleared
    CASE_LINK = "case.link"  # two reports linked (related or duplicate)
    CASE_UNLINK = "case.unlink"
    GRANT_ADD = "grant.add"
    GRANT_REVOKE = "grant.revoke"
    GRANT_RECUSE = "grant.recuse"  # an investigator dropped their own grant
    IDENTITY_REQUEST = "identity.request"
    IDENTITY_APPROVE = "identity.approve"
    IDENTITY_REFUSE = "identity.refuse"
    IDENTITY_READ = "identity.read"
    IDENTITY_REQUEST_READ = "identity_request.read"  # a request's reason, decrypted
    INTEGRITY_FAILURE = "record.integrity_failure"  # a sealed row did not open: tampering
    RECOVERY_GRANT = "recovery.grant"
    AUDIT_VIEW = "audit.view"
    AUDIT_EXPORT = "audit.export"
    AUDIT_CHECKPOINT = "audit.checkpoint"
    AUDIT_VERIFY = "audit.verify"
    RETENTION_SHRED = "retention.shred"  # a purge deleted expired reports' keys
    RETENTION_PURGE = "retention.purge"  # then their ciphertext
    ROW_ORDER_RESHUFFLE = "db.reshuffle"  # reporter-side tables rewritten in key order
    # intake (issue 18 item 1): an operator typed in a report for someone; the channel
    # and office only: no report id, no code, no content (docs/audit.md, "Intake").
    REPORT_INTAKE = "report.intake"
    # coi (issue 18): the conflict-of-interest group, and an outside keyholder's export
    COI_MEMBER_ADD = "coi_member.add"
    COI_MEMBER_REMOVE = "coi_member.remove"
    COI_EXTERNAL_EXPORT = "report.export_external"
    # units (issue 18): reported units that admins configure (categories: category.*)
    UNIT_CREATE = "unit.create"
    UNIT_UPDATE = "unit.update"
    # notify (issue 19): a person's own digest choices (whether an address and a key are
    # registered, never which), and each daily digest the timer sent or failed to send,
    # with the counts it told (docs/staff.md "Daily digest")
    NOTIFY_SETTINGS = "notify.settings"
    DIGEST_SENT = "notify.digest"
    DIGEST_FAILED = "notify.digest_failed"
    # The address's confirmation: a code mailed (or not: the error's class name), a new
    # one asked for, the address confirmed; the account and flags only, never the
    # address or the code
    CONFIRMATION_SENT = "notify.confirmation_sent"
    CONFIRMATION_FAILED = "notify.confirmation_failed"
    CONFIRMATION_REQUESTED = "notify.confirmation_requested"
    ADDRESS_CONFIRMED = "notify.confirmed"
    # statistics (issue 19): the compliance statistics page and its CSV, for auditors and
    # custodians; the period shown and a count only (docs/staff.md, "Statistics")
    STATISTICS_VIEW = "statistics.view"
    STATISTICS_EXPORT = "statistics.export"
    # transparency (issue 19): a month's public report signed and published (detail: the
    # month, the document's SHA-256 and the one it replaced); its facts file read
    TRANSPARENCY_PUBLISH = "transparency.publish"
    TRANSPARENCY_FACTS = "transparency.facts"
    # receipts (issue 20): one finished day's report commitments sealed in a Merkle tree
    # (actor system; detail: the day, the root, the number of leaves), never one entry
    # per report (docs/receipt.md)
    RECEIPT_DAY = "receipt.day"
    # escalation (issue 20): a registered recipient offered to reporters (or no longer),
    # with its upload address; applied by an approved proposal
    RECIPIENT_OFFER = "export_recipient.offer"
    # referral (issue 20): a report referred to a registered agency (its name, key
    # fingerprint and the redaction profile: never content), each download of its
    # encrypted bundle, and the agency's answer recorded (docs/referral.md)
    REPORT_REFER = "report.refer"
    REFERRAL_BUNDLE = "referral.bundle"
    REFERRAL_RESPONSE = "referral.response"


class ReporterMetric(StrEnum):
    REPORT_SUBMITTED = "report_submitted"
    REPORT_UNROUTED = "report_unrouted"
    REPORT_REFUSED_CEILING = "report_refused_ceiling"  # over SIPADU_REPORTS_PER_HOUR
    MAILBOX_LOGIN = "mailbox_login"
    MAILBOX_LOGIN_FAILED = "mailbox_login_failed"
    MESSAGE_SENT = "message_sent"
    PASSPHRASE_CHANGED = "passphrase_changed"  # noqa: S105 — a metric; issue 18, mailbox
    # issue 20: a report forwarded by its reporter to an outside agency (its first
    # bundle only: made again, it is not counted again)
    ESCALATION = "escalation"


@dataclass(frozen=True)
class Actor:
    """Who performs a use case: a staff account id and the role it acts in."""

    id: str
    role: str


OPERATOR = Actor("operator", "operator")  # someone at the server's shell (the CLI)


# Who acted: a staff account id, or one of these. Never a typed name (DESIGN.md §7): a
# failed login whose username matched no account is recorded as "unknown"; what is done
# through a one-time link is the "link"'s (whoever held it: the owner, or an admin who
# saw it), with who issued it in the detail, never the account owner's.
ACTORS = frozenset({"unknown", "operator", "system", "link"})
ROLES = frozenset({"admin", "investigator", "custodian", "auditor", "operator", "system", "none"})

# --- what may be recorded -------------------------------------------------------------

_KEY = re.compile(r"^[a-z][a-z0-9_]{0,47}$")
# A detail key is split on "_" and refused if any part names a secret, an address or
# content: the log is read by auditors who must not learn what staff may not tell.
_FORBIDDEN_KEY_PARTS = frozenset(
    {
        "password",
        "passphrase",
        "passwd",
        "pw",
        "secret",
        "token",
        "totp",
        "otp",
        "code",
        "pin",
        "key",
        "seed",
        "ip",
        "addr",
        "address",
        "agent",
        "ua",
        "useragent",
        "cookie",
        "session",
        "body",
        "text",
        "content",
        "plaintext",
        "message",
        "title",
        "identity",
        "typed",
        "email",
        "mail",
    }
)
# Keys that name a forbidden thing only to say whether it was there: taken with a boolean
# value and nothing else (an export records whether the reporter's identity was in it).
_FLAG_KEYS = frozenset({"identity_included"})
_TOKEN_SPLIT = re.compile(r"[\s,;()\[\]{}<>\"'=/]+")
MAX_DETAIL_STRING = 200
MAX_SAFE_INTEGER = 2**53 - 1

DetailValue: TypeAlias = str | int | bool | list[str | int | bool | None] | None


def _looks_like_code(value: str) -> bool:
    """A report code as shown (four groups of four digits) or typed (sixteen digits).
    Token-based on purpose: digits inside a UUID or a hex fingerprint never match."""
    tokens = value.split()
    if any(len(t) == 16 and t.isdigit() for t in tokens):
        return True
    quads = [len(t) == 4 and t.isdigit() for t in tokens]
    return any(all(quads[i : i + 4]) for i in range(len(quads) - 3))


# An e-mail address: something@domain.tld (the digest's addresses never enter the log).
_MAIL_ADDRESS = re.compile(r"[^\s@]+@[^\s@]+\.[A-Za-z]{2,}")


def _is_ip(candidate: str) -> bool:
    try:
        ipaddress.ip_address(candidate)
    except ValueError:
        return False
    return True


def _check_string(value: str, where: str) -> None:
    if len(value) > MAX_DETAIL_STRING:
        raise AuditError(f"{where}: longer than {MAX_DETAIL_STRING} characters")
    if _looks_like_code(value):
        raise AuditError(f"{where}: looks like a report code")
    if _MAIL_ADDRESS.search(value):
        raise AuditError(f"{where}: looks like an e-mail address")
    for token in _TOKEN_SPLIT.split(value):
        candidates = {token, token.strip(".:,"), token.strip("[]:").split("%")[0]}
        if any(_is_ip(candidate) for candidate in candidates if candidate):
            raise AuditError(f"{where}: looks like an IP address")


def _check_scalar(value: object, where: str) -> None:
    if value is None or isinstance(value, bool):
        return
    if isinstance(value, int):
        if abs(value) > MAX_SAFE_INTEGER:
            raise AuditError(f"{where}: integer out of range")
        if len(str(abs(value))) == 16:
            raise AuditError(f"{where}: looks like a report code")
        return
    if isinstance(value, str):
        _check_string(value, where)
        return
    raise AuditError(f"{where}: only strings, integers, booleans and null are recorded")


def check_detail(detail: Mapping[str, object] | None) -> None:
    """Refuse anything that must not enter the log. Raises :class:`AuditError`."""
    if detail is None:
        return
    if not isinstance(detail, Mapping):
        raise AuditError("detail must be a mapping")
    for key, value in detail.items():
        if not isinstance(key, str) or not _KEY.match(key):
            raise AuditError(f"detail key {key!r}: lower-case a-z, 0-9 and _ only")
        if key in _FLAG_KEYS:
            if not isinstance(value, bool):
                raise AuditError(f"detail key {key!r} takes true or false only")
            continue
        if set(key.split("_")) & _FORBIDDEN_KEY_PARTS:
            raise AuditError(f"detail key {key!r} names something that must not be logged")
        if isinstance(value, list):
            for index, item in enumerate(value):
                _check_scalar(item, f"detail[{key!r}][{index}]")
        else:
            _check_scalar(value, f"detail[{key!r}]")


def _check_actor(actor: str, role: str, action: Action) -> None:
    if actor not in ACTORS:
        try:
            uuid.UUID(actor)
        except ValueError:
            raise AuditError(
                "actor must be a staff account id or one of "
                f"{sorted(ACTORS)}; never a typed username"
            ) from None
    if role not in ROLES:
        raise AuditError(f"unknown role {role!r}")


# --- hashing --------------------------------------------------------------------------


def _record(
    seq: int,
    at: str,
    actor: str,
    role: str,
    action: str,
    report_id: str | None,
    detail: object,  # as appended, or as read back from the log (any JSON)
) -> dict[str, object]:
    return {
        "seq": seq,
        "at": at,
        "actor": actor,
        "role": role,
        "action": action,
        "report_id": report_id,
        "detail": detail,
    }


def canonical(record: Mapping) -> bytes:
    """RFC 8785 (JCS) bytes of a record, as appended."""
    return rfc8785.dumps(record)


def fast_canonical(record: Mapping) -> bytes:
    """The same bytes as :func:`canonical` for every record :func:`append` can write
    (ASCII keys; strings, safe integers, booleans, null; no floats), computed by the
    standard library's C encoder. Used by verification and by auditors' offline checks;
    a property test holds the two equal."""
    return json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def entry_hash(prev_hash: str, canonical_bytes: bytes) -> str:
    return hashlib.sha256(bytes.fromhex(prev_hash) + canonical_bytes).hexdigest()


def now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


# --- append ---------------------------------------------------------------------------


def append(
    session: Session,
    actor: str,
    role: str,
    action: Action | str,
    report_id: uuid.UUID | None = None,
    detail: Mapping[str, DetailValue] | None = None,
) -> AuditEvent:
    """Append an entry inside the caller's transaction and return it.

    Raises :class:`AuditError` for an unknown action, a forbidden actor or detail; the
    caller's transaction must then roll back, so the action does not happen either.
    """
    try:
        action = Action(action)
    except ValueError:
        raise AuditError(f"unknown audit action {action!r}") from None
    _check_actor(actor, role, action)
    check_detail(detail)
    detail_obj = dict(detail) if detail is not None else None
    head = session.execute(
        update(AuditHead)
        .where(AuditHead.id == 1)
        .values(seq=AuditHead.seq + 1)
        .returning(AuditHead.seq, AuditHead.hash)
    ).first()
    if head is None:
        raise AuditError("the audit head row is missing: run `sipadu db upgrade`")
    seq, prev_hash = head
    at = now_iso()
    report = str(report_id) if report_id is not None else None
    record = _record(seq, at, actor, role, action.value, report, detail_obj)
    digest = entry_hash(prev_hash, canonical(record))
    event = AuditEvent(
        seq=seq,
        at=at,
        actor=actor,
        role=role,
        action=action.value,
        report_id=report_id,
        detail=canonical(detail_obj).decode() if detail_obj is not None else None,
        prev_hash=prev_hash,
        hash=digest,
    )
    session.add(event)
    session.execute(update(AuditHead).where(AuditHead.id == 1).values(hash=digest))
    session.flush()
    return event


# --- reporter counts (outside the chain) ----------------------------------------------


def count_reporter_event(
    session: Session, metric: ReporterMetric | str, day: date, precision: DatePrecision
) -> None:
    """Add one to the count of ``metric`` for the period holding ``day``: the only trace
    reporter activity leaves. Kept per period of the instance's date precision (the
    period's first day: the day, the week's Monday, the month's 1st), as coarse as the
    dates on the reporter's own rows: a count per exact day would tell, within a week,
    which day a report dated only by its week arrived (G2)."""
    metric = ReporterMetric(metric)
    period = precision.period_start(day)
    dialect = session.get_bind().dialect.name
    insert_ = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(ReporterDailyCount)
    session.execute(
        insert_.values(day=period, metric=metric.value, count=1).on_conflict_do_update(
            index_elements=["day", "metric"], set_={"count": ReporterDailyCount.count + 1}
        )
    )


# --- checkpoints ----------------------------------------------------------------------


@dataclass(frozen=True)
class Checkpoint:
    seq: int
    hash: str
    at: str
    public_key: str
    signature: str

    def message(self) -> bytes:
        return canonical({"seq": self.seq, "hash": self.hash, "at": self.at})

    def verify(self) -> None:
        """Raise :class:`CryptoError` unless signed by ``public_key``."""
        verify_signature(
            bytes.fromhex(self.public_key),
            CHECKPOINT_LABEL,
            self.message(),
            bytes.fromhex(self.signature),
        )

    def to_json(self) -> dict:
        return {"format": CHECKPOINT_FORMAT, **vars(self)}

    @classmethod
    def from_json(cls, data: Mapping) -> "Checkpoint":
        if data.get("format") != CHECKPOINT_FORMAT:
            raise ValueError("not a SIPADU audit checkpoint")
        return cls(
            seq=int(data["seq"]),
            hash=str(data["hash"]),
            at=str(data["at"]),
            public_key=str(data["public_key"]),
            signature=str(data["signature"]),
        )


def lock_head(session: Session) -> tuple[int, str]:
    """The head, locked for the rest of the caller's transaction (``FOR UPDATE`` on
    PostgreSQL; on SQLite the write transaction holds the lock already): what the caller
    reads after this, no concurrent appender can change until it commits. Raises
    :class:`AuditError` when the head row is missing."""
    row = session.execute(
        select(AuditHead.seq, AuditHead.hash).where(AuditHead.id == 1).with_for_update()
    ).first()
    if row is None:
        raise AuditError("the audit head row is missing: run `sipadu db upgrade`")
    return row.seq, row.hash


def head(session: Session) -> tuple[int, str]:
    row = session.execute(select(AuditHead.seq, AuditHead.hash).where(AuditHead.id == 1)).first()
    return (row.seq, row.hash) if row else (0, GENESIS)


def make_checkpoint(session: Session, signing_seed: bytes) -> Checkpoint:
    """Sign the current head and store the checkpoint (the caller commits)."""
    seq, digest = head(session)
    at = now_iso()
    public_key = signing_public_key(signing_seed).hex()
    message = canonical({"seq": seq, "hash": digest, "at": at})
    signature = sign(signing_seed, CHECKPOINT_LABEL, message).hex()
    checkpoint = Checkpoint(seq, digest, at, public_key, signature)
    session.add(AuditCheckpoint(**vars(checkpoint)))
    return checkpoint


def latest_checkpoint(session: Session) -> Checkpoint | None:
    row = session.scalars(
        select(AuditCheckpoint).order_by(AuditCheckpoint.seq.desc(), AuditCheckpoint.at.desc())
    ).first()
    if row is None:
        return None
    return Checkpoint(row.seq, row.hash, row.at, row.public_key, row.signature)


# --- verification ---------------------------------------------------------------------


class Broken(StrEnum):
    """Why verification failed: typed, so each reader's page words it in the reader's
    language (sipadu/investigator/words.py); :data:`BROKEN_TEXT` is the English of the
    command line and the docs. The values each names are in ``Verdict.values``."""

    ENTRIES_MISSING = "entries_missing"  # expected, found
    CHAIN_BROKEN = "chain_broken"
    DETAIL_NOT_JSON = "detail_not_json"
    ENTRY_ALTERED = "entry_altered"
    KEPT_OTHER_KEY = "kept_other_key"
    KEPT_BAD_SIGNATURE = "kept_bad_signature"
    DIFFERS_FROM_KEPT = "differs_from_kept"
    STORED_OTHER_KEY = "stored_other_key"
    STORED_BAD_SIGNATURE = "stored_bad_signature"
    DIFFERS_FROM_STORED = "differs_from_stored"
    ENDS_BEFORE_KEPT = "ends_before_kept"  # count, kept
    STORED_BEYOND_END = "stored_beyond_end"  # seq
    HEAD_MISMATCH = "head_mismatch"


BROKEN_TEXT: dict[Broken, str] = {
    Broken.ENTRIES_MISSING: "expected entry {expected} here, found {found} (entries missing)",
    Broken.CHAIN_BROKEN: "prev_hash does not match the previous entry (chain broken)",
    Broken.DETAIL_NOT_JSON: "detail is not valid JSON (entry altered)",
    Broken.ENTRY_ALTERED: "hash does not match the entry's content (entry altered)",
    Broken.KEPT_OTHER_KEY: "a kept checkpoint is signed by another key",
    Broken.KEPT_BAD_SIGNATURE: "kept checkpoint has a bad signature",
    Broken.DIFFERS_FROM_KEPT: "differs from a checkpoint an auditor kept (rewritten history)",
    Broken.STORED_OTHER_KEY: "a stored checkpoint is signed by another key",
    Broken.STORED_BAD_SIGNATURE: "a stored checkpoint has a bad signature",
    Broken.DIFFERS_FROM_STORED: "differs from a signed stored checkpoint (rewritten history)",
    Broken.ENDS_BEFORE_KEPT: (
        "the log ends at {count} but an auditor kept a checkpoint at {kept} (truncated)"
    ),
    Broken.STORED_BEYOND_END: "a stored checkpoint covers entry {seq} beyond the end (truncated)",
    Broken.HEAD_MISMATCH: "head row does not match the last entry",
}


@dataclass(frozen=True)
class Verdict:
    """``bad_seq``: the first bad entry, or None when the failure is no entry's (a kept
    checkpoint signed by another key is refused before the walk)."""

    ok: bool
    count: int
    head_hash: str
    bad_seq: int | None = None
    broken: Broken | None = None
    values: Mapping[str, int] = field(default_factory=dict)
    # The last entry a checkpoint signed by the pinned key (stored, or kept by an
    # auditor) vouches for: a database writer can rewrite what comes after it, and
    # delete the stored checkpoints, undetected (0 without a pinned key).
    signed_upto: int = 0

    def unsigned(self) -> str:
        """What no pinned-key checkpoint covers, in words ("" if everything is)."""
        if not self.ok or self.signed_upto >= self.count:
            return ""
        first, last = self.signed_upto + 1, self.count
        return f"entries {first} to {last} are covered by no checkpoint signed by the pinned key"

    @property
    def reason(self) -> str:
        """Why it failed, in English (the command line's words); "" if it did not."""
        return "" if self.broken is None else BROKEN_TEXT[self.broken].format(**self.values)

    def line(self) -> str:
        if self.ok:
            return f"OK {self.count} {self.head_hash}"
        if self.bad_seq is None:
            return f"FAIL: {self.reason}"
        return f"FAIL entry {self.bad_seq}: {self.reason}"


EVENT_COLUMNS = "seq, at, actor, role, action, report_id, detail, prev_hash, hash"


def _rows(connection: Connection | Session, after: int = 0, batch: int = 5000) -> Iterator[tuple]:
    """Stream the entries after ``after`` in order, a batch at a time (constant memory on
    any backend, no server-side cursor needed; each batch may be read in a transaction
    of its own)."""
    last = after
    while True:
        rows = connection.execute(
            text(
                f"SELECT {EVENT_COLUMNS} FROM audit_event"  # noqa: S608 — fixed columns
                " WHERE seq > :last ORDER BY seq LIMIT :n"
            ),
            {"last": last, "n": batch},
        ).all()
        if not rows:
            return
        yield from rows
        last = rows[-1][0]


def _report_id_text(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, uuid.UUID):
        return str(value)
    text_value = str(value)
    return str(uuid.UUID(text_value)) if len(text_value) == 32 else text_value


def check_entry(
    row: Mapping | tuple, expected_seq: int, prev_hash: str
) -> tuple[Broken, dict[str, int]] | None:
    """Why an entry does not continue the chain (and the values that says), or None."""
    seq, at, actor, role, action, report_id, detail, stored_prev, stored_hash = row
    if seq != expected_seq:
        return Broken.ENTRIES_MISSING, {"expected": expected_seq, "found": seq}
    if stored_prev != prev_hash:
        return Broken.CHAIN_BROKEN, {}
    try:
        detail_obj = json.loads(detail) if detail is not None else None
    except ValueError:
        return Broken.DETAIL_NOT_JSON, {}
    record = _record(seq, at, actor, role, action, _report_id_text(report_id), detail_obj)
    if entry_hash(prev_hash, fast_canonical(record)) != stored_hash:
        return Broken.ENTRY_ALTERED, {}
    return None


def verify_chain(
    connection: Connection,
    kept: list[Checkpoint] = (),  # type: ignore[assignment]
    expected_public_key: str | None = None,
) -> Verdict:
    """Walk the whole chain once, in constant memory.

    Checks every link and hash; every stored checkpoint's signature (against
    ``expected_public_key`` when given) and that the chain passes through it; every
    checkpoint an auditor kept (``kept``), whose signature must be valid and whose entry
    must still exist with the same hash; and that the head row matches the last entry.

    Without ``expected_public_key`` a stored checkpoint is checked against the key it
    carries, which proves only internal consistency: anyone who can write the database
    can store a checkpoint signed by a key of their own. Whatever tells a person the log
    is intact (the auditor's page, ``sipadu audit verify``) passes the pinned key.
    """
    for checkpoint in kept:
        if expected_public_key and checkpoint.public_key != expected_public_key:
            return Verdict(False, 0, "", checkpoint.seq, Broken.KEPT_OTHER_KEY)
        try:
            checkpoint.verify()
        except CryptoError:
            return Verdict(False, 0, "", checkpoint.seq, Broken.KEPT_BAD_SIGNATURE)
    kept_by_seq: dict[int, list[Checkpoint]] = {}
    for checkpoint in kept:
        kept_by_seq.setdefault(checkpoint.seq, []).append(checkpoint)
    stored = _stored_checkpoints(connection)
    pending_stored = next(stored, None)
    count, prev_hash = 0, GENESIS
    signed_upto = 0

    def check_checkpoints_at(seq: int, digest: str) -> Broken | None:
        nonlocal pending_stored, signed_upto
        for checkpoint in kept_by_seq.get(seq, []):
            if checkpoint.hash != digest:
                return Broken.DIFFERS_FROM_KEPT
            if expected_public_key:
                signed_upto = seq
        while pending_stored is not None and pending_stored.seq <= seq:
            if pending_stored.seq == seq:
                problem = _stored_problem(pending_stored, digest, expected_public_key)
                if problem:
                    return problem
                if expected_public_key:
                    signed_upto = seq
            pending_stored = next(stored, None)
        return None

    problem = check_checkpoints_at(0, GENESIS)
    if problem:
        return Verdict(False, 0, GENESIS, 0, problem)
    for row in _rows(connection):
        broken = check_entry(row, count + 1, prev_hash)
        if broken:
            return Verdict(False, count, prev_hash, count + 1, *broken)
        count, prev_hash = row[0], row[8]
        problem = check_checkpoints_at(count, prev_hash)
        if problem:
            return Verdict(False, count, prev_hash, count, problem)
    beyond = [c.seq for c in kept if c.seq > count]
    if beyond:
        return Verdict(
            False,
            count,
            prev_hash,
            count + 1,
            Broken.ENDS_BEFORE_KEPT,
            {"count": count, "kept": max(beyond)},
        )
    if pending_stored is not None:
        return Verdict(
            False,
            count,
            prev_hash,
            count + 1,
            Broken.STORED_BEYOND_END,
            {"seq": pending_stored.seq},
        )
    head_row = connection.execute(text("SELECT seq, hash FROM audit_head WHERE id = 1")).first()
    if (head_row is None and count) or (head_row and tuple(head_row) != (count, prev_hash)):
        return Verdict(False, count, prev_hash, count + 1, Broken.HEAD_MISMATCH)
    return Verdict(True, count, prev_hash, signed_upto=signed_upto)


def _stored_checkpoints(connection: Connection) -> Iterator[Checkpoint]:
    result = connection.execute(
        text("SELECT seq, hash, at, public_key, signature FROM audit_checkpoint ORDER BY seq")
    )
    for row in result:
        yield Checkpoint(*row)


def _stored_problem(
    checkpoint: Checkpoint, digest: str, expected_public_key: str | None
) -> Broken | None:
    if expected_public_key and checkpoint.public_key != expected_public_key:
        return Broken.STORED_OTHER_KEY
    try:
        checkpoint.verify()
    except CryptoError:
        return Broken.STORED_BAD_SIGNATURE
    if checkpoint.hash != digest:
        return Broken.DIFFERS_FROM_STORED
    return None


# --- export ---------------------------------------------------------------------------


def entries(connection: Connection | Session, first: int, last: int) -> list[dict]:
    """The entries ``first`` to ``last`` (inclusive) as the JSON Lines export shows each
    one (``detail`` parsed, ``report_id`` as text): what an offline check hashes again.
    Reads only."""
    names = EVENT_COLUMNS.split(", ")
    found = []
    for row in _rows(connection, after=first - 1):
        if row[0] > last:
            break
        entry = dict(zip(names, row, strict=True))
        entry["report_id"] = _report_id_text(entry["report_id"])
        entry["detail"] = json.loads(entry["detail"]) if entry["detail"] else None
        found.append(entry)
    return found


def export_lines(
    connection: Connection | Session,
    fmt: str,
    since: int,
    checkpoint: Checkpoint | None,
    public_key: str | None,
) -> Iterator[str]:
    """Stream an export: a header naming the format, the instance's signing public key
    (null where the exporting host does not know it) and the latest checkpoint, then
    one entry per line (JSON Lines) or row (CSV). The key is the instance's, never a
    checkpoint row's: a row's key is whatever its writer chose. The offline check uses
    the key the auditor pinned, not this one (docs/audit.md)."""
    header = {
        "format": EXPORT_FORMAT,
        "public_key": public_key,
        "checkpoint": checkpoint.to_json() if checkpoint else None,
        "since": since,
    }
    names = EVENT_COLUMNS.split(", ")
    if fmt == "jsonl":
        yield json.dumps(header, sort_keys=True) + "\n"
    elif fmt == "csv":
        yield "# " + json.dumps(header, sort_keys=True) + "\n"
        yield ",".join(names) + "\r\n"
    else:
        raise ValueError(f"unknown export format {fmt!r}")
    for row in _rows(connection, after=since):
        entry = dict(zip(names, row, strict=True))
        entry["report_id"] = _report_id_text(entry["report_id"])
        if fmt == "jsonl":
            entry["detail"] = json.loads(entry["detail"]) if entry["detail"] else None
            yield json.dumps(entry, sort_keys=True, ensure_ascii=False) + "\n"
        else:
            buffer = io.StringIO()
            csv.writer(buffer).writerow(["" if v is None else v for v in entry.values()])
            yield buffer.getvalue()
