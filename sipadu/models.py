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
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    Uuid,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class Role(enum.StrEnum):
    ADMIN = "admin"
    INVESTIGATOR = "investigator"
    CUSTODIAN = "custodian"
    AUDITOR = "auditor"


class CategorySlug(enum.StrEnum):
    """The four report categories; slugs are the stable form field values."""

    ABUSE_OF_AUTHORITY = "abuse_of_authority"
    ADMINISTRATIVE_VIOLATION = "administrative_violation"
    KKN = "kkn"
    STAFF_DISCIPLINE = "staff_discipline"


class StaffAccount(Base):
    """A member of the inspectorate's staff. Staff-side times are exact on purpose: they
    are accountable. Key material is stored only as versioned crypto blobs."""

    __tablename__ = "staff_account"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(128))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # kdf.SecretRecord: Argon2id parameters, salt, verifier. Null until activation.
    password_record: Mapped[bytes | None] = mapped_column(LargeBinary)
    # keys.PublicKey wire format, and the private key sealed under the password KEK.
    public_key: Mapped[bytes | None] = mapped_column(LargeBinary)
    sealed_private_key: Mapped[bytes | None] = mapped_column(LargeBinary)
    totp_secret: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    roles: Mapped[list["StaffRole"]] = relationship(
        back_populates="account", cascade="all, delete-orphan", lazy="selectin"
    )

    @property
    def role_set(self) -> frozenset[Role]:
        return frozenset(Role(r.role) for r in self.roles)


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


class Category(Base):
    __tablename__ = "category"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    slug: Mapped[str] = mapped_column(String(64), unique=True)
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


class AuditEvent(Base):
    """One entry of the tamper-evident staff access log (DESIGN.md §7).

    ``seq`` is the primary key: the chain's order *is* its identity, and it counts staff
    actions, never reports. ``at`` is the exact UTC time as the ISO 8601 string that was
    hashed (no database round-trip can alter it). ``detail`` is canonical JSON.
    """

    __tablename__ = "audit_event"

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

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    metric: Mapped[str] = mapped_column(String(32), primary_key=True)
    count: Mapped[int] = mapped_column(BigInteger)
