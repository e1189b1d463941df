"""One-time links (:mod:`sipadu.services.links`), called directly: only a hash is
stored, a link opens nothing once expired, replaced, mistyped or its account
deactivated; who issued it is kept until it is spent (issue 15 item 2). Real database;
each test's transaction is rolled back."""

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from sipadu.accountability.audit import OPERATOR
from sipadu.persistence.models import EnrollmentKind, Role, StaffAccount
from sipadu.services import links, staff
from tests.services.helpers import CHEAP, person, service_sign_in

NOW = datetime.now(UTC)
TTL = timedelta(days=3)


def invite(session, username: str, *roles: Role):
    new = staff.create_account(session, username, set(roles), argon2=CHEAP, actor=OPERATOR, now=NOW)
    return new.account, new.enrollment_token


def test_a_link_opens_nothing_once_expired_replaced_mistyped_or_deactivated(session):
    account, token = invite(session, "tautan", Role.AUDITOR)
    assert links.account_for_link(session, token, NOW + TTL) is None
    assert links.account_for_link(session, token[:-1], NOW) is None
    assert links.account_for_link(session, token * 4, NOW) is None
    assert links.account_for_link(session, "", NOW) is None

    newer = staff.resend_link(session, account, OPERATOR, NOW, TTL)
    assert links.account_for_link(session, token, NOW) is None
    assert links.account_for_link(session, newer, NOW) is account

    staff.deactivate(session, account, OPERATOR)
    assert links.account_for_link(session, newer, NOW) is None


def test_only_a_hash_of_the_token_is_stored_with_who_issued_it_until_spent(session):
    account = person(session, "tautan.baru", Role.AUDITOR).account
    token = links.issue_link(account, EnrollmentKind.TOTP, NOW, TTL, ["a", "b", "a"])
    session.flush()
    stored = session.scalar(select(StaffAccount).where(StaffAccount.id == account.id))
    assert stored is not None and token not in repr(vars(stored))
    assert stored.enrollment_token_hash == links.token_hash(token) != token
    assert links.issuers(account) == ["a", "b"]  # de-duplicated, oldest first
    assert links.account_for_link(session, token, NOW) is account

    links.spend_link(account)
    assert links.issuers(account) == []
    assert links.account_for_link(session, token, NOW) is None


def test_dropping_the_totp_ends_every_session_and_issues_a_totp_link(session):
    someone = person(session, "ganti.hp", Role.INVESTIGATOR)
    service_sign_in(session, someone, NOW)
    service_sign_in(session, someone, NOW + timedelta(minutes=1))  # a later code
    assert someone.account.totp_last_step > 0  # the old seed's codes used
    token, ended = links.drop_totp(session, someone.account, ["admin1"], NOW, TTL)
    assert ended == 2 and someone.account.sealed_totp is None
    # A new seed has used no step: the old seed's last step (perhaps one ahead of the
    # clock) once refused the new app's first code as a replay.
    assert someone.account.totp_last_step == 0
    assert someone.account.enrollment_kind == EnrollmentKind.TOTP.value
    assert links.account_for_link(session, token, NOW) is someone.account
