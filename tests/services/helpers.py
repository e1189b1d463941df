"""Helpers for the service tests: people with real key pairs and reports submitted
through the services, in the module's real database, without HTTP. Nothing is mocked;
Argon2 is cheap."""

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from sipadu.accountability.audit import OPERATOR
from sipadu.crypto import (
    Argon2Params,
    PrivateKey,
    PublicKey,
    SecretRecord,
    open_private_key,
    verify_secret,
)
from sipadu.persistence.models import Mailbox, Role, StaffAccount
from sipadu.services.categories import add_route, category_by_slug, seed_categories
from sipadu.services.passphrases import mailbox_secret
from sipadu.services.reports import (
    MAILBOX_KEY_PURPOSE,
    ReportForm,
    SubmissionSettings,
    mailbox_owner,
    submit_report,
)
from sipadu.services.staff import create_account, password_bytes, unlock
from sipadu.settings.config import DatePrecision

CHEAP = Argon2Params(time_cost=1, memory_kib=256, parallelism=1)
PASSWORD = "a long test password, not a common one"
PASSPHRASE = "kopi tubruk di pasar lama"
TODAY = date(2025, 3, 14)
CATEGORY = "kkn"


@dataclass(frozen=True)
class Person:
    """A staff member and the private key their password opens."""

    account: StaffAccount
    private: PrivateKey

    @property
    def id(self) -> uuid.UUID:
        return self.account.id


def person(session: Session, username: str, *roles: Role, may_grant: bool = False) -> Person:
    """An active account with a key pair, created as ``sipadu user create`` does."""
    new = create_account(
        session,
        username,
        set(roles),
        password=PASSWORD,
        argon2=CHEAP,
        actor=OPERATOR,
        now=datetime.now(UTC),
    )
    account = new.account
    account.may_grant = may_grant
    kek = verify_secret(password_bytes(PASSWORD), SecretRecord.from_bytes(account.password_record))
    return Person(account, unlock(account, kek).private_key)


def route(session: Session, investigator: Person, category: str = CATEGORY) -> None:
    """New reports in ``category`` go to ``investigator`` (categories seeded if missing)."""
    seed_categories(session, OPERATOR)
    add_route(session, category_by_slug(session, category), investigator.account, OPERATOR)


@dataclass(frozen=True)
class Submitted:
    report_id: uuid.UUID
    mailbox_id: uuid.UUID
    mailbox_private: PrivateKey


def submit(
    session: Session, recovery: PublicKey, *, identity: str = "", category: str = CATEGORY
) -> Submitted:
    """A report submitted through the service (categories seeded if missing), and the
    mailbox key its code and passphrase open."""
    seed_categories(session, OPERATOR)
    settings = SubmissionSettings(
        lookup_salt=b"\x00" * 16,
        lookup_argon2=CHEAP,
        argon2=CHEAP,
        recovery=recovery,
        date_precision=DatePrecision.DAY,
    )
    form = ReportForm(category=category, title="Pungutan liar", what="Di loket", identity=identity)
    receipt = submit_report(session, form, PASSPHRASE, settings, TODAY)
    mailbox = session.scalar(select(Mailbox).where(Mailbox.report_id == receipt.report_id))
    kek = verify_secret(
        mailbox_secret(receipt.code, PASSPHRASE), SecretRecord.from_bytes(mailbox.secret_record)
    )
    private = open_private_key(
        mailbox.sealed_private_key,
        kek,
        owner=mailbox_owner(mailbox.id),
        purpose=MAILBOX_KEY_PURPOSE,
    )
    return Submitted(receipt.report_id, mailbox.id, private)
