"""Staff sign-in and sessions (:mod:`sipadu.services.staff_auth`), called directly:
every failure looks the same to the caller but is recorded by kind, a TOTP step counts
once, the session row opens nothing without the cookie's key, and sessions end on
either timeout. Real Argon2 (cheap), a real database, rolled back after each test."""

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from sipadu.accountability.audit import OPERATOR, Action
from sipadu.crypto import Argon2Params, CryptoError, SecretRecord
from sipadu.persistence.models import AccountState, Role, StaffSession
from sipadu.services import staff
from sipadu.services import staff_auth as auth
from sipadu.services.staff_auth import Failure, SessionToken, Timeouts
from tests.services.helpers import CHEAP, PASSWORD, Recorded, ServicePerson, person, service_sign_in

NOW = datetime.now(UTC)
STEP = timedelta(seconds=30)
TIMEOUTS = Timeouts()


def check(
    session,
    someone: ServicePerson,
    *,
    password: str = PASSWORD,
    code: str | None = None,
    second_code: str | None = None,
    argon2: Argon2Params = CHEAP,
    now: datetime = NOW,
) -> auth.Checked:
    """A sign-in by ``someone``, with their current code unless told otherwise."""
    return auth.check_credentials(
        session,
        someone.account.username,
        password,
        someone.code(now) if code is None else code,
        argon2=argon2,
        now=now,
        second_code=second_code,
    )


def wrong(code: str) -> str:
    return f"{(int(code) + 1) % 10**6:06d}"


def session_row(session, someone: ServicePerson) -> StaffSession:
    return session.scalar(select(StaffSession).where(StaffSession.account_id == someone.id))


def test_a_correct_sign_in_opens_a_session_only_the_cookie_can_open(session):
    someone = person(session, "masuk", Role.INVESTIGATOR)
    log = Recorded(session)

    checked = check(session, someone)
    assert checked.failure is None and checked.upgrade is None
    signed_in = auth.finish_login(session, checked, NOW)

    assert signed_in.private_key().public_key() == someone.private.public_key()
    row = session_row(session, someone)
    assert signed_in.token.id.hex() not in row.id_hash
    assert signed_in.token.key not in row.sealed_private_key
    # The stored row without the cookie's key opens nothing.
    guessed = SessionToken(signed_in.token.id, bytes(32))
    with pytest.raises(CryptoError):
        auth.SignedIn(someone.account, guessed, row.sealed_private_key).private_key()
    assert someone.account.totp_last_step == int(NOW.timestamp()) // 30
    entry = log.only(Action.LOGIN_SUCCESS)
    assert (entry["actor"], entry["role"], entry["detail"]) == (str(someone.id), "none", None)


def test_an_unknown_name_a_wrong_password_and_a_wrong_code_all_fail_without_a_key(session):
    someone = person(session, "gagal", Role.INVESTIGATOR)
    unknown = auth.check_credentials(
        session, "tidak.ada", PASSWORD, "123456", argon2=CHEAP, now=NOW
    )
    wrong_password = check(session, someone, password="bukan sandinya")
    wrong_code = check(session, someone, code=wrong(someone.code(NOW)))

    assert (unknown.account, unknown.failure) == (None, Failure.CREDENTIALS)
    assert wrong_password.failure is Failure.CREDENTIALS
    assert wrong_code.failure is Failure.SECOND_FACTOR
    for checked in (unknown, wrong_password, wrong_code):
        assert checked.private_key is None and checked.step is None


def test_an_account_without_a_password_yet_fails_as_credentials(session):
    invited = staff.create_account(
        session, "diundang", {Role.AUDITOR}, argon2=CHEAP, actor=OPERATOR, now=NOW
    ).account
    checked = auth.check_credentials(session, "diundang", PASSWORD, "123456", argon2=CHEAP, now=NOW)
    assert (checked.account, checked.failure) == (invited, Failure.CREDENTIALS)


def test_only_an_active_account_signs_in_and_only_after_both_factors(session):
    admin = person(session, "penutup", Role.ADMIN)
    someone = person(session, "nonaktif", Role.AUDITOR)
    staff.deactivate(session, someone.account, admin.actor())

    assert check(session, someone).failure is Failure.NOT_ACTIVE
    assert check(session, someone, password="salah sekali").failure is Failure.CREDENTIALS


def test_after_a_totp_reset_the_password_alone_signs_nobody_in(session):
    someone = person(session, "tanpa.benih", Role.AUDITOR)
    staff.reset_totp(session, someone.account, OPERATOR, NOW, timedelta(days=1))
    assert check(session, someone).failure is Failure.SECOND_FACTOR


def test_a_code_counts_once_even_when_two_sign_ins_raced_with_it(session):
    someone = person(session, "balapan", Role.INVESTIGATOR)
    first, second = check(session, someone), check(session, someone)
    log = Recorded(session)

    assert auth.finish_login(session, first, NOW) is not None
    assert auth.finish_login(session, second, NOW) is None

    assert check(session, someone).failure is Failure.SECOND_FACTOR  # replayed
    assert log.actions() == ["login.success", "login.failure"]
    assert log.entries()[-1]["detail"] == {"reason": "second_factor"}
    assert check(session, someone, now=NOW + STEP).failure is None  # the next code works


def test_two_consecutive_codes_sign_in_and_spend_both_steps(session):
    someone = person(session, "dua.kode", Role.INVESTIGATOR)
    now_code, next_code = someone.code(NOW), someone.code(NOW + STEP)

    swapped = check(session, someone, code=next_code, second_code=now_code)
    checked = check(session, someone, code=now_code, second_code=next_code)

    assert swapped.failure is Failure.SECOND_FACTOR
    assert checked.failure is None
    assert checked.step == checked.first_step + 1 == int((NOW + STEP).timestamp()) // 30
    auth.finish_login(session, checked, NOW)
    assert someone.account.totp_last_step == checked.step
    assert check(session, someone, code=next_code).failure is Failure.SECOND_FACTOR


def test_a_failure_names_the_account_only_if_the_username_matched_one(session):
    someone = person(session, "tercatat", Role.AUDITOR)
    log = Recorded(session)

    auth.record_failure(session, None, Failure.CREDENTIALS)
    auth.record_failure(session, someone.account, Failure.NOT_ACTIVE)

    assert [(e["actor"], e["role"], e["detail"]) for e in log.entries()] == [
        ("unknown", "none", {"reason": "credentials"}),
        (str(someone.id), "none", {"reason": "not_active"}),
    ]


def test_a_weaker_record_is_rehashed_at_sign_in_and_keeps_the_same_key(session):
    someone = person(session, "diperbarui", Role.INVESTIGATOR)
    stronger = Argon2Params(time_cost=2, memory_kib=512, parallelism=1)

    checked = check(session, someone, argon2=stronger)
    assert checked.failure is None and checked.upgrade is not None
    auth.finish_login(session, checked, NOW)

    assert SecretRecord.from_bytes(someone.account.password_record).params == stronger
    again = check(session, someone, argon2=stronger, now=NOW + STEP)
    assert again.failure is None and again.upgrade is None
    assert again.private_key.public_key() == someone.private.public_key()


def test_a_session_resumes_until_idle_or_too_old_and_wants_a_touch_once_a_minute(session):
    someone = person(session, "sesi", Role.INVESTIGATOR)
    signed_in = service_sign_in(session, someone, NOW)
    token = signed_in.token

    assert auth.resume(session, token, NOW + timedelta(seconds=10), TIMEOUTS)[1] is False
    resumed, stale = auth.resume(session, token, NOW + timedelta(minutes=2), TIMEOUTS)
    assert resumed.account is someone.account and stale is True
    assert resumed.private_key().public_key() == someone.private.public_key()
    assert auth.resume(session, token, NOW + timedelta(minutes=31), TIMEOUTS) == (None, True)

    busy = [NOW + timedelta(minutes=25 * n) for n in range(1, 25)]  # 10 hours, never idle
    for moment in busy:
        assert auth.resume(session, token, moment, TIMEOUTS)[0] is not None, moment - NOW
        auth.touch(session, token, moment, TIMEOUTS)
    later = busy[-1] + timedelta(minutes=25)
    assert auth.resume(session, token, later, TIMEOUTS) == (None, True)  # too old
    auth.touch(session, token, later, TIMEOUTS)  # expired: the row goes
    assert session_row(session, someone) is None


def test_a_session_of_an_account_no_longer_active_opens_nor_does_an_unknown_cookie(session):
    someone = person(session, "berakhir", Role.AUDITOR)
    token = service_sign_in(session, someone, NOW).token
    stranger = SessionToken(b"\1" * 32, b"\2" * 32)
    assert auth.resume(session, stranger, NOW, TIMEOUTS) == (None, False)
    # Deactivation ends sessions too; this is the check behind it, should a row remain.
    someone.account.state = AccountState.DEACTIVATED.value
    assert auth.resume(session, token, NOW, TIMEOUTS) == (None, True)


def test_logging_out_deletes_the_session_and_is_recorded(session):
    someone = person(session, "keluar", Role.AUDITOR)
    signed_in = service_sign_in(session, someone, NOW)
    log = Recorded(session)

    auth.logout(session, signed_in)

    assert auth.resume(session, signed_in.token, NOW, TIMEOUTS) == (None, False)
    entry = log.only(Action.LOGOUT)
    assert entry["actor"] == str(someone.id)


def test_purging_removes_only_sessions_past_a_timeout(session):
    fresh, idle, old = (person(session, n, Role.AUDITOR) for n in ("segar", "diam", "tua"))
    service_sign_in(session, fresh, NOW)
    service_sign_in(session, idle, NOW - timedelta(minutes=45))
    service_sign_in(session, old, NOW - timedelta(hours=11))
    session_row(session, old).last_seen_at = NOW

    assert auth.purge_expired(session, NOW, TIMEOUTS) == 2

    left = set(session.scalars(select(StaffSession.account_id)))
    assert fresh.id in left and idle.id not in left and old.id not in left
