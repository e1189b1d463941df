"""Helpers for the service tests: people with real key pairs and reports submitted
through the services, in the module's real database, without HTTP; and the audit
entries a use case wrote, read back as an auditor's export shows them. Nothing is
mocked; Argon2 is cheap.

The names that would otherwise repeat ``tests/helpers.py``'s (whose helpers go through
the portals over HTTP) say they are the services' own: :class:`ServicePerson`,
:func:`service_submit`, :func:`service_sign_in`. Databases and instances come from
``tests/helpers.py`` as everywhere else."""

import json
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime

import pyotp
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from sipadu.accountability import audit
from sipadu.accountability.audit import OPERATOR, Actor
from sipadu.crypto import (
    Argon2Params,
    PrivateKey,
    PublicKey,
    Purpose,
    SecretRecord,
    open_field,
    open_private_key,
    verify_secret,
)
from sipadu.evidence import storage
from sipadu.persistence.db import make_engine, make_sessionmaker
from sipadu.persistence.models import Mailbox, Role, StaffAccount
from sipadu.services import Reason, ServiceError, key_ring
from sipadu.services.attachments import UploadedFile
from sipadu.services.categories import add_route, category_by_slug, seed_categories
from sipadu.services.intake import Intake
from sipadu.services.passphrases import mailbox_secret
from sipadu.services.reports import (
    MAILBOX_KEY_PURPOSE,
    ReportForm,
    SubmissionSettings,
    mailbox_owner,
    submit_report,
)
from sipadu.services.staff import create_account, password_bytes, unlock
from sipadu.services.staff_auth import SignedIn, check_credentials, finish_login
from sipadu.settings.config import DatePrecision

CHEAP = Argon2Params(time_cost=1, memory_kib=256, parallelism=1)
PASSWORD = "a long test password, not a common one"
PASSPHRASE = "kopi tubruk di pasar lama"
TODAY = date(2025, 3, 14)
CATEGORY = "kkn"


@dataclass(frozen=True)
class ServicePerson:
    """A staff member as the services see them: the account row, the private key their
    password opens and their TOTP seed. (``tests.helpers.Person`` is someone signing in
    over HTTP: a username, a password and a TOTP secret, nothing unlocked.)"""

    account: StaffAccount
    private: PrivateKey
    totp: str | None = None

    @property
    def id(self) -> uuid.UUID:
        return self.account.id

    def actor(self, role: str = "admin") -> Actor:
        """This person acting in ``role``."""
        return Actor(str(self.account.id), role)

    def code(self, now: datetime) -> str:
        """Their TOTP app's code at ``now``."""
        assert self.totp is not None
        return pyotp.TOTP(self.totp).at(now)


def person(session: Session, username: str, *roles: Role, may_grant: bool = False) -> ServicePerson:
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
    return ServicePerson(account, unlock(account, kek).private_key, new.totp_secret)


def route(session: Session, investigator: ServicePerson, category: str = CATEGORY) -> None:
    """New reports in ``category`` go to ``investigator`` (categories seeded if missing)."""
    seed_categories(session, OPERATOR)
    add_route(session, category_by_slug(session, category), investigator.account, OPERATOR)


LOOKUP_SALT = b"\x00" * 16


def submission_settings(
    recovery: PublicKey, precision: DatePrecision = DatePrecision.DAY
) -> SubmissionSettings:
    return SubmissionSettings(
        lookup_salt=LOOKUP_SALT,
        lookup_argon2=CHEAP,
        argon2=CHEAP,
        recovery=recovery,
        date_precision=precision,
    )


@dataclass(frozen=True)
class Submitted:
    report_id: uuid.UUID
    mailbox_id: uuid.UUID
    mailbox_private: PrivateKey
    code: str = ""


def service_submit(
    session: Session,
    recovery: PublicKey,
    *,
    identity: str = "",
    category: str = CATEGORY,
    files: Sequence[UploadedFile] = (),
    transcribed: bool = False,
    intake: Intake | None = None,
    concerns_inspectorate: bool = False,
    day: date = TODAY,
) -> Submitted:
    """A report submitted through the service (categories seeded if missing), and the
    mailbox key its code and passphrase open. (``tests.helpers.submit`` posts the form.)
    ``transcribed``: as if an operator typed it (issue 18), ``intake`` how it came in;
    ``day``: the day the submission stores it on."""
    seed_categories(session, OPERATOR)
    settings = submission_settings(recovery)
    form = ReportForm(
        category=category,
        title="Pungutan liar",
        what="Di loket",
        identity=identity,
        transcribed=transcribed,
        intake=intake,
        concerns_inspectorate=concerns_inspectorate,
    )
    receipt = submit_report(session, form, PASSPHRASE, settings, day, files)
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
    return Submitted(receipt.report_id, mailbox.id, private, receipt.code)


def code_renewed(session: Session, report: Submitted) -> Submitted:
    """``report`` (a typed one) as after its reporter took their own code at the first
    sign-in (issue 18): its sealed ``code_renewed`` mark, as
    :func:`sipadu.services.mailbox.save_change` seals it with a rekey (tested there)."""
    from sipadu.services.transcript import mark_code_renewed

    keys = key_ring.mailbox_keys(
        session, report.report_id, report.mailbox_id, report.mailbox_private
    )
    mark_code_renewed(session, keys, report.report_id)
    return report


def held(session: Session, report: Submitted, holder: ServicePerson) -> key_ring.HeldKeys:
    """The keys of ``report`` that ``holder``'s private key opens."""
    return key_ring.staff_keys(session, report.report_id, holder.id, holder.private)


def read_mark(session: Session, report: Submitted, holder: ServicePerson) -> int | None:
    """How many reporter messages ``holder`` had seen when they last opened ``report``:
    its grant's sealed read mark opened with their case key of epoch 0 (the title's);
    ``None`` if they never opened it."""
    from sipadu.persistence.models import ReportGrant
    from sipadu.services.row_metadata import read_mark_count, read_mark_field

    grant = session.get(ReportGrant, (report.report_id, holder.id))
    if grant is None or grant.read_mark is None:
        return None
    key = held(session, report, holder).key(Purpose.CASE, 0)
    field = read_mark_field(holder.id)
    opened = open_field(key, grant.read_mark, report_id=report.report_id, field=field)
    return read_mark_count(opened)


def held_as_custodian(
    session: Session, report: Submitted, holder: ServicePerson
) -> key_ring.HeldKeys:
    """The keys of ``report`` wrapped to ``holder`` as a custodian (never the same as
    :func:`held`: no investigator view opens them)."""
    return key_ring.custodian_keys(session, report.report_id, holder.id, holder.private)


def stored(database_url: str, *contents: bytes) -> list[storage.StoredFile]:
    """Files encrypted and staged in the database, committed as an upload's are while it
    arrives (short transactions of their own): call it before a test's session reads,
    from a module-scoped fixture, so that the session sees them. Unlinked until a report
    or message that names them commits."""
    engine = make_engine(database_url)
    try:
        return [storage.store(make_sessionmaker(engine), [data]) for data in contents]
    finally:
        engine.dispose()


class Recorded:
    """The audit entries appended from now on in this session's transaction, read back
    through :func:`sipadu.accountability.audit.export_lines` (what an auditor's export shows)."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.since = audit.head(session)[0]

    def entries(self) -> list[dict]:
        self.session.flush()
        lines = audit.export_lines(self.session.connection(), "jsonl", self.since, None, "")
        next(lines)  # the header
        return [json.loads(line) for line in lines]

    def actions(self) -> list[str]:
        return [entry["action"] for entry in self.entries()]

    def only(self, action: audit.Action) -> dict:
        """The one entry of ``action`` (and fail if there is none, or more)."""
        found = [entry for entry in self.entries() if entry["action"] == action.value]
        assert len(found) == 1, self.actions()
        return found[0]


@contextmanager
def refused(reason: Reason, field: str | None = None) -> Iterator[pytest.ExceptionInfo]:
    """The block must raise :class:`ServiceError` for ``reason`` on ``field`` (None: the
    form as a whole); the caught error is yielded for its params."""
    with pytest.raises(ServiceError) as info:
        yield info
    assert (info.value.reason, info.value.field) == (reason, field), info.value


def service_sign_in(session: Session, someone: ServicePerson, now: datetime) -> SignedIn:
    """A sign-in through :mod:`sipadu.services.staff_auth` (a new session row).
    (``tests.helpers.sign_in`` signs in on the staff portal, over HTTP.)"""
    checked = check_credentials(
        session, someone.account.username, PASSWORD, someone.code(now), argon2=CHEAP, now=now
    )
    assert checked.failure is None, checked
    signed_in = finish_login(session, checked, now)
    assert signed_in is not None
    return signed_in


def approve_identity(
    session: Session,
    report: Submitted,
    investigator: ServicePerson,
    custodian: ServicePerson,
    recovery: PublicKey,
) -> None:
    """``investigator`` asks for the reporter's identity and ``custodian`` (another
    person) approves: the only way an investigator view shows it (G3)."""
    from sipadu.services import grants

    request = grants.request_identity(
        session, report.report_id, investigator.account, "Perlu konfirmasi", recovery
    )
    grants.decide_identity(
        session, request.id, custodian.account, custodian.private, True, datetime.now(UTC)
    )
