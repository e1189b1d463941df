"""Tables. Each feature adds its own, in its own Alembic migration.

Table rules (DESIGN.md §3): random UUID primary keys (nothing sequential to count or
order reports by); no exact reporter-side timestamps; every ciphertext column holds a
versioned blob from :mod:`sipadu.crypto` (its first byte is the format version).
"""

import enum
import uuid
from datetime import UTC, datetime

from sqlalchemy import (
    Boolean,
    DateTime,
    Enum,
    ForeignKey,
    LargeBinary,
    MetaData,
    String,
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
