"""Tables. Each feature adds its own, in its own Alembic migration.

Table rules (DESIGN.md §3): random UUID primary keys (nothing sequential to count or
order reports by); no exact reporter-side timestamps; every ciphertext column holds a
versioned blob from :mod:`sipadu.crypto` (its first byte is the format version).
"""

import enum
import uuid
from datetime import UTC, date, datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    DateTime,
    Enum,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    Uuid,
    false,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.sql.elements import conv

from sipadu.persistence.checked import (
    CheckedDate,
    CheckedDateTime,
    CheckedInt,
    CheckedUuid,
    CheckedWord,
    SealedBytes,
)

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(UTC)


# Every table that can hold a row a reporter's action created or last changed (G2). On
# SQLite such a table has no hidden rowid: a rowid counts up with each insert, so it would
# place a reporter's row between two staff rows whose exact times are in the audit log.
# Rows are stored in the order of their (random) primary key instead. Their physical
# order (pages, and on PostgreSQL ctid and xmin) is erased by the periodic rewrite of
# sipadu.persistence.row_order (docs/crypto.md, "Row order"), which finds these tables by
# this option: a new reporter-side table adds it, or its rows give away their order.
WITHOUT_ROWID = {"sqlite_with_rowid": False}


def hides_row_order(table_name: str) -> bool:
    """Whether ``table_name`` holds reporter-side rows (stored without rowid, reshuffled)."""
    table = Base.metadata.tables[table_name]
    return table.dialect_options["sqlite"]["with_rowid"] is False


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class Role(enum.StrEnum):
    ADMIN = "admin"
    INVESTIGATOR = "investigator"
    CUSTODIAN = "custodian"
    AUDITOR = "auditor"
    # Types in a report for someone at a counter, by phone, letter or e-mail, and keeps
    # nothing of it: no grant, no wrap (issue 18 item 1; docs/intake.md).
    OPERATOR = "operator"


class CategorySlug(enum.StrEnum):
    """The four report categories; slugs are the stable form field values."""

    ABUSE_OF_AUTHORITY = "abuse_of_authority"
    ADMINISTRATIVE_VIOLATION = "administrative_violation"
    KKN = "kkn"
    STAFF_DISCIPLINE = "staff_discipline"


class AccountState(enum.StrEnum):
    """``invited``: waits for its owner to open the activation link. ``pending``: its
    owner set a password and enrolled TOTP; a second admin must approve (accounts holding
    a role that reads or routes reports). ``active``: may sign in and receive report keys.
    ``deactivated``: may do nothing; its sessions are gone."""

    INVITED = "invited"
    PENDING = "pending"
    ACTIVE = "active"
    DEACTIVATED = "deactivated"


class EnrollmentKind(enum.StrEnum):
    ACTIVATE = "activate"  # set a password (a new key pair) and enroll TOTP
    TOTP = "totp"  # prove the password, enroll a new TOTP secret


class StaffAccount(Base):
    """A member of the inspectorate's staff. Staff-side times are exact on purpose: they
    are accountable. Key material is stored only as versioned crypto blobs."""

    __tablename__ = "staff_account"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(128))
    state: Mapped[str] = mapped_column(String(16), default=AccountState.INVITED.value, index=True)
    may_grant: Mapped[bool] = mapped_column(Boolean, default=False)  # share reports (admins set)
    # kdf.SecretRecord: Argon2id parameters, salt, verifier. Null until activation.
    password_record: Mapped[bytes | None] = mapped_column(SealedBytes)
    # keys.PublicKey wire format, and the private key sealed under the password KEK.
    public_key: Mapped[bytes | None] = mapped_column(SealedBytes)
    sealed_private_key: Mapped[bytes | None] = mapped_column(SealedBytes)
    # The TOTP secret, sealed under the password KEK too: a database and server copy
    # without the password yields no second factor.
    sealed_totp: Mapped[bytes | None] = mapped_column(SealedBytes)
    totp_last_step: Mapped[int] = mapped_column(BigInteger, default=0)  # a code counts once
    # A one-time link: only a hash of its token is stored.
    enrollment_token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    enrollment_kind: Mapped[str | None] = mapped_column(String(16))
    enrollment_expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Who issued the pending link (audit actor ids, space-separated: a TOTP reset of a
    # sensitive role names its proposer and its approver): its use is recorded as the
    # link's, naming them, never as the owner's own action (issue 15).
    enrollment_issued_by: Mapped[str | None] = mapped_column(String(160))
    invited_by: Mapped[str | None] = mapped_column(String(64))  # audit actor id
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    @property
    def active(self) -> bool:
        return self.state == AccountState.ACTIVE

    roles: Mapped[list["StaffRole"]] = relationship(
        back_populates="account", cascade="all, delete-orphan", lazy="selectin"
    )

    @property
    def role_set(self) -> frozenset[Role]:
        return frozenset(Role(r.role) for r in self.roles)


class StaffNotification(Base):
    """A staff member's daily digest (issue 19; docs/staff.md "Daily digest"): the
    address they registered, sealed under a key of the server's
    (:mod:`sipadu.services.notifications`), so a database copy alone shows no address;
    whether the digest goes out even when nothing waits (its arrival then says nothing);
    an optional OpenPGP public key it is encrypted to, sealed too (a key names its
    owner's addresses); and ``sent_on``, the day in the instance's time zone the last
    digest was sent (claimed before sending, given back if sending failed). A row exists
    only while an address is registered. Never read or written by the reporter portal's
    database role.

    No digest goes to an address until it is ``confirmed``: ``sipadu notify`` mails it a
    one-time code, of which only ``code_mac`` is kept (HMAC-SHA256 under the sealing
    key), valid until ``code_expires_at`` for ``code_attempts`` tries
    (:mod:`sipadu.services.confirmation`). A new or changed address starts unconfirmed
    with no code: the next run sends one."""

    __tablename__ = "staff_notification"

    account_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("staff_account.id", ondelete="CASCADE"), primary_key=True
    )
    sealed_address: Mapped[bytes] = mapped_column(SealedBytes)
    always_send: Mapped[bool] = mapped_column(Boolean, default=False)
    sealed_openpgp_key: Mapped[bytes | None] = mapped_column(SealedBytes)
    sent_on: Mapped[date | None] = mapped_column(Date)
    confirmed: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    code_mac: Mapped[bytes | None] = mapped_column(LargeBinary)
    code_expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    code_attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class StaffRole(Base):
    """One role held by one account; a person may hold several."""

    __tablename__ = "staff_role"

    account_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("staff_account.id", ondelete="CASCADE"), primary_key=True
    )
    role: Mapped[Role] = mapped_column(
        Enum(Role, native_enum=False, length=16, values_callable=lambda e: [m.value for m in e]),
        primary_key=True,
    )
    account: Mapped[StaffAccount] = relationship(back_populates="roles")


# Bounds of a category's words (characters, after NFKC): a label fits a radio button, a
# description and examples a line or two of help beside it (issue 18).
CATEGORY_LABEL_MAX = 100
CATEGORY_TEXT_MAX = 400


class Category(Base):
    """A kind of report reporters choose. The four statutory ones (:class:`CategorySlug`,
    ``statutory``) are seeded and never deleted; admins add others and sub-categories
    (one level: ``parent_id`` names a top-level category) under the two-person rule
    (:mod:`sipadu.services.category_config`). Words are plain text in both languages;
    empty words of a statutory category mean: the translated words of the code
    (sipadu/web/reporter_forms.py), so it stays worded in both languages until an admin
    changes them. ``slug`` is the form value: a statutory slug, or a random one."""

    __tablename__ = "category"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # issue 18: admins configure categories
    parent_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("category.id", ondelete="RESTRICT"), index=True
    )
    statutory: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    label_id: Mapped[str] = mapped_column(String(CATEGORY_LABEL_MAX), default="", server_default="")
    label_en: Mapped[str] = mapped_column(String(CATEGORY_LABEL_MAX), default="", server_default="")
    description_id: Mapped[str] = mapped_column(
        String(CATEGORY_TEXT_MAX), default="", server_default=""
    )
    description_en: Mapped[str] = mapped_column(
        String(CATEGORY_TEXT_MAX), default="", server_default=""
    )
    examples_id: Mapped[str] = mapped_column(
        String(CATEGORY_TEXT_MAX), default="", server_default=""
    )
    examples_en: Mapped[str] = mapped_column(
        String(CATEGORY_TEXT_MAX), default="", server_default=""
    )


class UnitKind(enum.StrEnum):
    """What a reported unit is (issue 18): a regional work unit, or one of the three
    levels of the city's territorial administration. Shown in words, never as is."""

    SKPD = "skpd"  # Satuan Kerja Perangkat Daerah: a department, agency or office
    CITY = "kota"  # Kota Administrasi
    DISTRICT = "kecamatan"
    SUBDISTRICT = "kelurahan"


UNIT_NAME_MAX = 150


class Unit(Base):
    """A unit a report may concern (issue 18): an SKPD, a Kota Administrasi, a kecamatan
    under one, a kelurahan under a kecamatan. Configured by admins under the two-person
    rule. Nothing of a report: which unit a report concerns is sealed in the report's
    ``unit`` field, never a column."""

    __tablename__ = "unit"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    kind: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(UNIT_NAME_MAX))
    parent_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("unit.id", ondelete="RESTRICT"), index=True
    )
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class CategoryRoute(Base):
    """New reports in ``category`` are wrapped to ``account`` (an active investigator)."""

    __tablename__ = "category_route"

    category_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("category.id", ondelete="CASCADE"), primary_key=True
    )
    account_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("staff_account.id", ondelete="CASCADE"), primary_key=True
    )


class UnitRoute(Base):
    """New reports concerning ``unit`` (and, when ``category_id`` is set, in that
    category or sub-category) are wrapped to ``account`` (issue 18): more specific than
    a :class:`CategoryRoute` (:func:`sipadu.services.key_ring.routed_investigators`)."""

    __tablename__ = "unit_route"
    __table_args__ = (UniqueConstraint("unit_id", "category_id", "account_id"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    unit_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("unit.id", ondelete="CASCADE"), index=True
    )
    category_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("category.id", ondelete="CASCADE")
    )
    account_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("staff_account.id", ondelete="CASCADE"), index=True
    )


class AuditEvent(Base):
    """One entry of the tamper-evident staff access log (DESIGN.md §7).

    ``seq`` is the primary key: the chain's order *is* its identity, and it counts staff
    actions, never reports. ``at`` is the exact UTC time as the ISO 8601 string that was
    hashed (no database round-trip can alter it). ``detail`` is canonical JSON.
    """

    __tablename__ = "audit_event"
    # The reports an action names, without reading every entry (statistics' reopenings;
    # migration 0023).
    __table_args__ = (Index("ix_audit_event_action_report_id", "action", "report_id"),)

    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    at: Mapped[str] = mapped_column(String(32), index=True)
    actor: Mapped[str] = mapped_column(String(64), index=True)
    role: Mapped[str] = mapped_column(String(16))
    action: Mapped[str] = mapped_column(String(48), index=True)
    report_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, index=True)
    detail: Mapped[str | None] = mapped_column(Text)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class AuditHead(Base):
    """The single row appends lock: serializes writers so the chain never forks."""

    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    seq: Mapped[int] = mapped_column(BigInteger)
    hash: Mapped[str] = mapped_column(String(64))


class AuditCheckpoint(Base):
    """An Ed25519-signed statement "the log had ``seq`` entries ending in ``hash``"."""

    __tablename__ = "audit_checkpoint"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    seq: Mapped[int] = mapped_column(BigInteger, index=True)
    hash: Mapped[str] = mapped_column(String(64))
    at: Mapped[str] = mapped_column(String(32))
    public_key: Mapped[str] = mapped_column(String(64))
    signature: Mapped[str] = mapped_column(String(128))


class ReporterDailyCount(Base):
    """Reporter activity, outside the chain: only a count per day and metric (G2)."""

    __tablename__ = "reporter_daily_count"
    __table_args__ = (WITHOUT_ROWID,)

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    metric: Mapped[str] = mapped_column(String(32), primary_key=True)
    count: Mapped[int] = mapped_column(BigInteger)


class ReportStatus(enum.StrEnum):
    RECEIVED = "received"
    IN_REVIEW = "in_review"
    INVESTIGATING = "investigating"
    CLOSED_SUBSTANTIATED = "closed_substantiated"
    CLOSED_UNSUBSTANTIATED = "closed_unsubstantiated"
    REJECTED = "rejected"
    # Passed on to a competent body (pelimpahan, issue 20): a closing outcome, set only by
    # a referral (:mod:`sipadu.services.referral`), never by the status form.
    REFERRED = "referred"


class Report(Base):
    """A report. Nothing here is plaintext but its category and status; its only date
    is the coarsened day (or week, month) it was received (G2)."""

    __tablename__ = "report"
    __table_args__ = (
        Index("ix_report_received_on_id", "received_on", "id"),
        # Covers the statistics' reading of a year (sipadu.services.statistics): without
        # it, each report in range costs a primary-key lookup (migration 0023).
        Index(
            "ix_report_statistics",  # the convention's would be too long for PostgreSQL
            "received_on",
            "category_id",
            "status",
            "ack_due_on",
            "acknowledged_on",
            "feedback_due_on",
            "closed_on",
            "first_closed_on",  # migration 0028
            "id",
        ),
        WITHOUT_ROWID,
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    category_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("category.id"), index=True)
    status: Mapped[str] = mapped_column(String(32), default=ReportStatus.RECEIVED.value, index=True)
    received_on: Mapped[date] = mapped_column(Date, index=True)
    key_epoch: Mapped[int] = mapped_column(Integer, default=0)
    # Deadlines, computed at submission from the coarsened day (calendar or Indonesian
    # working days, as configured then): stored so that lists filter and sort on indexes.
    ack_due_on: Mapped[date | None] = mapped_column(Date, index=True)
    feedback_due_on: Mapped[date | None] = mapped_column(Date, index=True)
    acknowledged_on: Mapped[date | None] = mapped_column(Date)  # first move out of received
    closed_on: Mapped[date | None] = mapped_column(Date)
    # The first day the report was closed, rejected or referred: the reporter's feedback
    # by closing, which a reopening (that clears ``closed_on``) never takes back
    # (migration 0028; sipadu.services.statistics.feedback_closing).
    first_closed_on: Mapped[date | None] = mapped_column(Date)
    # For "unread": how many messages the reporter sent, as counting the ``message`` rows
    # whose author is the reporter tells anyway. No value says when (G2).
    reporter_messages: Mapped[int] = mapped_column(Integer, default=0)
    legal_hold: Mapped[bool] = mapped_column(Boolean, default=False)  # blocks retention purge
    spam: Mapped[bool] = mapped_column(Boolean, default=False)  # hidden from the default list
    # The period (coarsened as every reporter-side date, G2) in which the reporter first
    # made a bundle to take their report to an outside agency themselves, a deadline
    # having passed unmet (issue 20, sipadu.services.escalation). Never which agency.
    escalated_on: Mapped[date | None] = mapped_column(Date)


class ReportField(Base):
    """One sealed, padded field of a report (title, what, who, ..., identity)."""

    __tablename__ = "report_field"
    __table_args__ = (WITHOUT_ROWID,)

    report_id: Mapped[uuid.UUID] = mapped_column(
        CheckedUuid, ForeignKey("report.id", ondelete="CASCADE"), primary_key=True
    )
    name: Mapped[str] = mapped_column(CheckedWord(32), primary_key=True)
    epoch: Mapped[int] = mapped_column(CheckedInt)
    sealed: Mapped[bytes] = mapped_column(SealedBytes)


class ReportKey(Base):
    """A report key (case, internal or identity; one epoch) wrapped to one recipient."""

    __tablename__ = "report_key"
    __table_args__ = (
        UniqueConstraint(
            "report_id",
            "purpose",
            "epoch",
            "recipient_kind",
            "recipient_fingerprint",
            name=conv("uq_report_key_recipient"),  # the convention's name is too long for PG
        ),
        WITHOUT_ROWID,
    )

    id: Mapped[uuid.UUID] = mapped_column(CheckedUuid, primary_key=True, default=uuid.uuid4)
    report_id: Mapped[uuid.UUID] = mapped_column(
        CheckedUuid, ForeignKey("report.id", ondelete="CASCADE"), index=True
    )
    purpose: Mapped[str] = mapped_column(CheckedWord(16))
    epoch: Mapped[int] = mapped_column(CheckedInt)
    # staff|custodian|mailbox|recovery|external (coi: an outside keyholder's age key)
    recipient_kind: Mapped[str] = mapped_column(CheckedWord(16))
    recipient_id: Mapped[uuid.UUID | None] = mapped_column(CheckedUuid, index=True)
    recipient_fingerprint: Mapped[str] = mapped_column(CheckedWord(64))
    wrapped: Mapped[bytes] = mapped_column(SealedBytes)


class Mailbox(Base):
    """The reporter's anonymous mailbox. Found only by ``lookup_id`` =
    Argon2id(code, instance salt); its private key opens only with code ‖ passphrase."""

    __tablename__ = "mailbox"
    __table_args__ = (WITHOUT_ROWID,)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    report_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("report.id", ondelete="CASCADE"), unique=True
    )
    lookup_id: Mapped[bytes] = mapped_column(LargeBinary(32), unique=True)
    secret_record: Mapped[bytes] = mapped_column(SealedBytes)
    public_key: Mapped[bytes] = mapped_column(SealedBytes)
    sealed_private_key: Mapped[bytes] = mapped_column(SealedBytes)


class Message(Base):
    """A message between reporter and investigators, sealed under the case key, dated
    only to the coarsened day (G2). Its position in the thread is sealed inside
    ``body`` and its epoch only bound to it (format version 2): a plaintext position or
    epoch would order a reporter's message among staff actions the audit log dates
    (docs/crypto.md "Row order"). ``position`` and ``epoch`` hold values only in rows
    written in format version 1, before; they stay readable."""

    __tablename__ = "message"
    __table_args__ = (
        UniqueConstraint("report_id", "position"),
        # Covers "the first staff message of each report" (statistics; migration 0023).
        Index("ix_message_author_report_id_sent_on", "author", "report_id", "sent_on"),
        WITHOUT_ROWID,
    )

    id: Mapped[uuid.UUID] = mapped_column(CheckedUuid, primary_key=True, default=uuid.uuid4)
    report_id: Mapped[uuid.UUID] = mapped_column(
        CheckedUuid, ForeignKey("report.id", ondelete="CASCADE"), index=True
    )
    position: Mapped[int | None] = mapped_column(CheckedInt)  # version 1 rows only
    author: Mapped[str] = mapped_column(CheckedWord(16))  # reporter | staff
    author_account_id: Mapped[uuid.UUID | None] = mapped_column(
        CheckedUuid, ForeignKey("staff_account.id")
    )
    epoch: Mapped[int | None] = mapped_column(CheckedInt)  # version 1 rows only
    sent_on: Mapped[date] = mapped_column(CheckedDate)
    body: Mapped[bytes] = mapped_column(SealedBytes)


class Blob(Base):
    """Encrypted bytes (a file stream, see docs/crypto.md), stored as chunk rows.

    A blob is *staged* while its upload runs and until the commit that creates its report
    or message *links* it. Staged blobs carry ``active_bucket``, the 10-minute window of
    their last write, so ``sipadu purge`` can remove abandoned uploads; linking clears it,
    so stored evidence keeps no upload time (G2)."""

    __tablename__ = "blob"
    __table_args__ = (WITHOUT_ROWID,)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    linked: Mapped[bool] = mapped_column(Boolean, default=False, index=True)
    active_bucket: Mapped[int | None] = mapped_column(BigInteger, index=True)
    chunk_count: Mapped[int] = mapped_column(Integer, default=0)
    stored_bytes: Mapped[int] = mapped_column(BigInteger, default=0)


class BlobChunk(Base):
    __tablename__ = "blob_chunk"
    __table_args__ = (WITHOUT_ROWID,)

    blob_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("blob.id", ondelete="CASCADE"), primary_key=True
    )
    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    data: Mapped[bytes] = mapped_column(SealedBytes)


class Attachment(Base):
    """An evidence file of a report (or of one of its messages). Its name, type, size and
    file key are sealed under a case key, its epoch bound, not stored (``epoch`` holds a
    value only in rows of format version 1, as for messages); its bytes are a blob."""

    __tablename__ = "attachment"
    __table_args__ = (WITHOUT_ROWID,)

    id: Mapped[uuid.UUID] = mapped_column(CheckedUuid, primary_key=True, default=uuid.uuid4)
    report_id: Mapped[uuid.UUID] = mapped_column(
        CheckedUuid, ForeignKey("report.id", ondelete="CASCADE"), index=True
    )
    message_id: Mapped[uuid.UUID | None] = mapped_column(
        CheckedUuid, ForeignKey("message.id", ondelete="CASCADE"), index=True
    )
    blob_id: Mapped[uuid.UUID] = mapped_column(CheckedUuid, ForeignKey("blob.id"), unique=True)
    uploader: Mapped[str] = mapped_column(CheckedWord(16))  # reporter | staff
    epoch: Mapped[int | None] = mapped_column(CheckedInt)  # version 1 rows only
    sealed_name: Mapped[bytes] = mapped_column(SealedBytes)
    sealed_type: Mapped[bytes] = mapped_column(SealedBytes)
    sealed_size: Mapped[bytes] = mapped_column(SealedBytes)
    sealed_key: Mapped[bytes] = mapped_column(SealedBytes)


class SafeCopy(Base):
    """An attachment's safe copy (issue 21; sipadu.services.safe_copies): a new PDF made
    of its pages' pixels only, stored as a blob of its own, or the remembered reason it
    could not be made. One row per attachment at most (made once). ``sealed`` holds the
    copy's file key, size and page count, or the reason, sealed under the case key of
    ``epoch`` and bound to the attachment, the blob (none for a reason) and the epoch
    (:func:`sipadu.services.row_metadata.safe_copy_bound`). Written only by staff."""

    __tablename__ = "safe_copy"

    attachment_id: Mapped[uuid.UUID] = mapped_column(
        CheckedUuid, ForeignKey("attachment.id", ondelete="CASCADE"), primary_key=True
    )
    blob_id: Mapped[uuid.UUID | None] = mapped_column(
        CheckedUuid, ForeignKey("blob.id"), unique=True
    )
    epoch: Mapped[int] = mapped_column(CheckedInt)
    sealed: Mapped[bytes] = mapped_column(SealedBytes)


class StaffSession(Base):
    """A signed-in staff member. The row is found by a hash of the cookie's random id and
    holds the private key sealed under the cookie's random per-session key: a database
    copy alone opens no session and no key (DESIGN.md §4)."""

    __tablename__ = "staff_session"

    id_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    account_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("staff_account.id", ondelete="CASCADE"), index=True
    )
    sealed_private_key: Mapped[bytes] = mapped_column(SealedBytes)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    last_seen_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class ProposalKind(enum.StrEnum):
    ROLE_GRANT = "role_grant"
    ACCOUNT_ACTIVATE = "account_activate"
    ROUTE_ADD = "route_add"
    ROUTE_REMOVE = "route_remove"
    HOLD_SET = "hold_set"  # a legal hold on a report: it is kept past its retention
    HOLD_RELEASE = "hold_release"
    TOTP_RESET = "totp_reset"  # drop an account's TOTP seed and issue an enrollment link
    RECIPIENT_ADD = "recipient_add"  # register an export recipient (docs/casework.md)
    RECIPIENT_REMOVE = "recipient_remove"
    # escalation (issue 20): offer a registered recipient to reporters, with its upload
    # address, or stop; ``content`` holds the change (docs/escalation.md)
    RECIPIENT_OFFER = "recipient_offer"
    # coi (issue 18): a member of the conflict-of-interest group (docs/conflict-of-interest.md)
    COI_MEMBER_ADD = "coi_member_add"
    COI_MEMBER_REMOVE = "coi_member_remove"
    # units (issue 18): configured categories and units; ``content`` holds the change
    CATEGORY_ADD = "category_add"
    CATEGORY_CHANGE = "category_change"
    UNIT_ADD = "unit_add"
    UNIT_CHANGE = "unit_change"
    UNIT_IMPORT = "unit_import"


class RecipientState(enum.StrEnum):
    PROPOSED = "proposed"  # waiting for a second admin: not offered yet
    ACTIVE = "active"  # offered on the export form
    REJECTED = "rejected"  # its proposal was rejected (kept: the proposal names it)
    REMOVED = "removed"  # taken off the form by an approved removal


class ExportRecipient(Base):
    """An age recipient exports may be encrypted to (the inspectorate's archive key, KPK,
    BPKP...), offered by name on the export form once a second admin approved it
    (:mod:`sipadu.services.export_recipients`). A public key and a name: nothing secret,
    nothing of a report. ``recipient`` is the canonical ``age1…`` string; its fingerprint
    is derived from it, never stored apart (docs/casework.md)."""

    __tablename__ = "export_recipient"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    name: Mapped[str] = mapped_column(String(100))
    recipient: Mapped[str] = mapped_column(String(200))
    state: Mapped[str] = mapped_column(String(16), default=RecipientState.PROPOSED.value)
    # escalation (issue 20): offered to reporters whose deadline passed, with the
    # agency's own upload address; set only by an approved proposal (docs/escalation.md)
    offered_to_reporters: Mapped[bool] = mapped_column(
        Boolean, default=False, server_default=false()
    )
    reporter_channel: Mapped[str | None] = mapped_column(String(200))
    # the instance's audit key's Ed25519 signature (64 bytes) over what two admins
    # offered (id, name, key, address), made when the second approved it: the reporter
    # portal offers nothing whose signature does not check (a row changed in the
    # database; :func:`sipadu.services.export_recipients.offer_checks`)
    offer_signature: Mapped[bytes | None] = mapped_column(LargeBinary(64))


class CoiMemberKind(enum.StrEnum):
    """What a member of the conflict-of-interest group holds (issue 18, item 3)."""

    INVESTIGATOR = "investigator"  # a staff investigator: the case and internal keys, a grant
    CUSTODIAN = "custodian"  # a staff custodian: the identity key and requests' keys
    EXTERNAL = "external"  # an outside body's age key (BPKP, KPK): case and internal keys


class CoiMember(Base):
    """A member of the conflict-of-interest group: the keyholders of reports that concern
    the inspectorate's own staff, instead of the routed investigators and the ordinary
    custodians (ISO 37002 §8.4.1; :mod:`sipadu.services.conflict_of_interest`). A staff
    member (``account_id``) or an outside body's age recipient (``name``, canonical
    ``age1…`` ``recipient``). ``state`` as an export recipient's: proposed, active once
    a second admin approved, rejected or removed. Nothing of a report."""

    __tablename__ = "coi_member"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    kind: Mapped[str] = mapped_column(String(16))
    account_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("staff_account.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str | None] = mapped_column(String(100))
    recipient: Mapped[str | None] = mapped_column(String(200))
    state: Mapped[str] = mapped_column(String(16), default=RecipientState.PROPOSED.value)


class ProposalState(enum.StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"


class Proposal(Base):
    """A security-relevant admin change that takes effect only when a second admin
    approves it. ``fingerprint`` pins the key the proposer saw: if the account's key
    changes before approval, the proposal cannot be approved."""

    __tablename__ = "proposal"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    kind: Mapped[str] = mapped_column(String(32))
    state: Mapped[str] = mapped_column(String(16), default=ProposalState.PENDING.value, index=True)
    account_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("staff_account.id", ondelete="CASCADE"), index=True
    )
    report_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("report.id", ondelete="CASCADE"), index=True
    )
    role: Mapped[str | None] = mapped_column(String(16))
    category_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("category.id", ondelete="CASCADE")
    )
    recipient_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("export_recipient.id", ondelete="CASCADE")
    )
    coi_member_id: Mapped[uuid.UUID | None] = mapped_column(  # coi (issue 18)
        ForeignKey("coi_member.id", ondelete="CASCADE")
    )
    fingerprint: Mapped[str | None] = mapped_column(String(64))
    # issue 18: the unit a route or unit change names, and the proposed words or rows
    # as canonical JSON, so the approver sees exactly what they approve
    unit_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("unit.id", ondelete="CASCADE"))
    content: Mapped[str | None] = mapped_column(Text)
    proposed_by: Mapped[str] = mapped_column(String(64))  # audit actor id
    proposed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    decided_by: Mapped[str | None] = mapped_column(String(64))
    # A proposal made at the server's shell ("operator") takes two distinct admins: the
    # first approval is kept here, the second decides (issue 15).
    seconded_by: Mapped[str | None] = mapped_column(String(64))
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class ReportGrant(Base):
    """An investigator's access to a report: the list of reports they work is the list of
    these rows. The keys themselves are the ``report_key`` wraps to their public key.
    ``read_mark`` is the number of the reporter's messages they had seen when they last
    opened the report (for "unread"), sealed under the report's case key (the epoch of
    its title) and bound to the account; ``None``: never opened. In plaintext, with the
    audit log's time of each ``report.read``, it said how many messages the reporter had
    sent at that second (G2, docs/crypto.md "Row order"). A mark that does not open
    (altered, or stored as another type: :class:`SealedBytes`) counts as nothing read."""

    __tablename__ = "report_grant"
    __table_args__ = (WITHOUT_ROWID,)

    report_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("report.id", ondelete="CASCADE"), primary_key=True
    )
    account_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("staff_account.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    read_mark: Mapped[bytes | None] = mapped_column(SealedBytes)


class Note(Base):
    """An investigators' internal note, sealed under the internal key: never wrapped to
    the mailbox, so never readable by the reporter."""

    __tablename__ = "note"

    id: Mapped[uuid.UUID] = mapped_column(CheckedUuid, primary_key=True, default=uuid.uuid4)
    report_id: Mapped[uuid.UUID] = mapped_column(
        CheckedUuid, ForeignKey("report.id", ondelete="CASCADE"), index=True
    )
    author_account_id: Mapped[uuid.UUID | None] = mapped_column(
        CheckedUuid, ForeignKey("staff_account.id", ondelete="SET NULL")
    )
    epoch: Mapped[int] = mapped_column(CheckedInt)
    written_at: Mapped[datetime] = mapped_column(CheckedDateTime(timezone=True), default=utcnow)
    body: Mapped[bytes] = mapped_column(SealedBytes)


class CaseRecord(Base):
    """A report's casework record (issue 17): its labels, priority, lead investigator
    and links to related reports, all in one value sealed under the report's internal
    key (never the mailbox's) and bound to its epoch. No plaintext label, priority, lead
    or link is stored; a report without a row has none (priority normal). Written only
    by staff; stored without rowid and rewritten in key order with the reporter-side
    tables, so its rows say nothing of when they were first written either."""

    __tablename__ = "case_record"
    __table_args__ = (WITHOUT_ROWID,)

    report_id: Mapped[uuid.UUID] = mapped_column(
        CheckedUuid, ForeignKey("report.id", ondelete="CASCADE"), primary_key=True
    )
    epoch: Mapped[int] = mapped_column(CheckedInt)
    sealed: Mapped[bytes] = mapped_column(SealedBytes)


class IdentityRequestState(enum.StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REFUSED = "refused"


class IdentityRequest(Base):
    """An investigator asks to see a reporter's identity; a custodian decides. The reason
    is sealed under the report's identity key (custodians hold it; so does recovery)."""

    __tablename__ = "identity_request"

    id: Mapped[uuid.UUID] = mapped_column(CheckedUuid, primary_key=True, default=uuid.uuid4)
    report_id: Mapped[uuid.UUID] = mapped_column(
        CheckedUuid, ForeignKey("report.id", ondelete="CASCADE"), index=True
    )
    account_id: Mapped[uuid.UUID] = mapped_column(
        CheckedUuid, ForeignKey("staff_account.id", ondelete="CASCADE"), index=True
    )
    reason: Mapped[bytes] = mapped_column(SealedBytes)
    state: Mapped[str] = mapped_column(CheckedWord(16), default="pending", index=True)
    requested_at: Mapped[datetime] = mapped_column(CheckedDateTime(timezone=True), default=utcnow)
    decided_by: Mapped[uuid.UUID | None] = mapped_column(
        CheckedUuid, ForeignKey("staff_account.id", ondelete="SET NULL")
    )
    decided_at: Mapped[datetime | None] = mapped_column(CheckedDateTime(timezone=True))


class TransparencyReport(Base):
    """A month's published transparency report (issue 19; docs/transparency.md): the
    signed JSON document exactly as served, and the facts file it was computed from
    with the salt its commitment was made with. Staff-side: written by the operator's
    ``sipadu transparency publish``. The reporter portal's role reads the month, the
    document and the day only (dbroles.py): the facts file is the auditors'."""

    __tablename__ = "transparency_report"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    month: Mapped[str] = mapped_column(String(7), unique=True)  # "2026-11"
    document: Mapped[bytes] = mapped_column(LargeBinary)  # canonical JSON, signed
    facts: Mapped[bytes] = mapped_column(LargeBinary)  # CSV (docs/transparency.md)
    facts_salt: Mapped[bytes] = mapped_column(LargeBinary)  # 32 random bytes
    published_on: Mapped[date] = mapped_column(Date)


class ReceiptCommitment(Base):
    """A report's receipt commitment (issue 20; docs/receipt.md): ``SHA-256`` of a label,
    the report's id and a random nonce wrapped to its mailbox only. Deliberately *not*
    linked to the report (no report id, no key shared with it): only the mailbox, which
    holds the nonce, can tell which commitment is its report's. ``day`` is the report's
    coarsened ``received_on``; ``batch_id`` is set when the day is sealed into a Merkle
    tree. Written by the reporter's submission, so stored without rowid and rewritten in
    key order with the reporter-side tables (a row's place must not tell which report,
    written in the same transaction, it belongs to). It outlives its report: a purged
    report's commitment stays a leaf of its day's tree (other receipts need it)."""

    __tablename__ = "receipt_commitment"
    __table_args__ = (Index("ix_receipt_commitment_day_batch_id", "day", "batch_id"), WITHOUT_ROWID)

    id: Mapped[uuid.UUID] = mapped_column(CheckedUuid, primary_key=True, default=uuid.uuid4)
    day: Mapped[date] = mapped_column(CheckedDate)
    commitment: Mapped[bytes] = mapped_column(LargeBinary(32), unique=True)
    batch_id: Mapped[uuid.UUID | None] = mapped_column(CheckedUuid, ForeignKey("receipt_batch.id"))


class ReportBeforeReceipts(Base):
    """A report stored before receipts existed (issue 20; docs/receipt.md, "Other
    cases"): migration 0027 lists every report that then had no receipt nonce. Its
    mailbox says it has no receipt and that nothing is wrong; a report *not* listed here
    whose nonce is missing had it removed, and its mailbox says the data failed a check.
    Written by that migration only; the reporter portal's role may read its own
    report's row, never write one."""

    __tablename__ = "report_before_receipts"

    report_id: Mapped[uuid.UUID] = mapped_column(
        CheckedUuid, ForeignKey("report.id", ondelete="CASCADE"), primary_key=True
    )


class ReceiptSeal(Base):
    """One run of :func:`sipadu.services.receipts.seal_finished_days`: the checkpoint it
    signed right after its ``receipt.day`` entries, and those entries (from ``first_seq``
    to the checkpoint's ``seq``) as an audit export shows them, JSON. Kept here because
    a receipt carries them and the reporter portal's role may not read the audit log.
    Staff-side (made by the server's timer or an auditor)."""

    __tablename__ = "receipt_seal"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    first_seq: Mapped[int] = mapped_column(BigInteger)
    checkpoint: Mapped[str] = mapped_column(Text)
    entries: Mapped[str] = mapped_column(Text)


class ReceiptBatch(Base):
    """A day's sealed commitments: the root of their Merkle tree (RFC 9162 §2.1, leaves
    sorted by their bytes), their number and the ``seq`` of its ``receipt.day`` audit
    entry. One per period (a period is sealed once, within its window: a commitment
    stored after its period was sealed is never sealed; docs/receipt.md; batches made
    before that rule may be more). Staff-side."""

    __tablename__ = "receipt_batch"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    day: Mapped[date] = mapped_column(Date, index=True)
    root: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(Integer)
    seq: Mapped[int] = mapped_column(BigInteger, unique=True)
    seal_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("receipt_seal.id"), index=True)


class Referral(Base):
    """A report referred to another body (pelimpahan, issue 20; docs/referral.md): the
    registry row it was referred to (``recipient_id``) and that row's ``agency`` name
    and ``fingerprint`` as they were then (a later change of the registry rewrites no
    history), the day it was referred and the day the holders should have the agency's
    answer by (``follow_up_due_on``, SIPADU_REFERRAL_FOLLOW_UP_DAYS later), and the
    redaction ``profile`` its bundle is made with (canonical JSON of what it leaves out,
    no content). Once the answer is recorded: the day, and its text sealed under the
    report's internal key of ``response_epoch`` (never the mailbox's), like a note.

    Staff-side: only staff write it, and the audit log dates every change to the second
    anyway (``report.refer``), so its row order tells nothing. The reporter portal's
    role reads the agency, the day and the profile of its own report's rows only
    (dbroles.py): the mailbox says "referred to <agency> on <day>"."""

    __tablename__ = "referral"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    report_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("report.id", ondelete="CASCADE"), index=True
    )
    recipient_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("export_recipient.id"))
    agency: Mapped[str] = mapped_column(String(100))
    fingerprint: Mapped[str] = mapped_column(String(64))
    referred_on: Mapped[date] = mapped_column(Date)
    follow_up_due_on: Mapped[date] = mapped_column(Date, index=True)
    response_recorded_on: Mapped[date | None] = mapped_column(CheckedDate)
    response_epoch: Mapped[int | None] = mapped_column(CheckedInt)
    sealed_response: Mapped[bytes | None] = mapped_column(SealedBytes)
    profile: Mapped[str] = mapped_column(Text)
