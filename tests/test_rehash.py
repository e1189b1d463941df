"""When the Argon2 parameters are raised, every password and mailbox record is re-hashed
at its next successful sign-in, and what it protects is re-sealed: nobody loses access,
and the weaker record is gone."""

import statistics
import time

from sqlalchemy import select

from sipadu import create_app
from sipadu.crypto import SecretRecord
from sipadu.persistence.models import Mailbox, StaffAccount
from sipadu.settings.config import load_config
from sipadu.web.context import dispose
from tests.helpers import (
    STRONGER,
    database,
    kdf_calls,
    login,
    random_code,
    sign_in,
    submit,
)


def params_of(record: bytes):
    return SecretRecord.from_bytes(record).params


def test_staff_passwords_and_mailboxes_are_rehashed_at_their_next_sign_in(
    people, env, reporter_app, database_url
):
    code, passphrase, _ = submit(reporter_app.test_client(), title="Diperkuat")
    with database(database_url) as session:
        before_staff = session.scalar(
            select(StaffAccount).where(StaffAccount.username == "auditor")
        )
        before_mailbox = session.scalars(select(Mailbox)).all()[-1]
        session.expunge_all()
    assert params_of(before_staff.password_record).time_cost == 1

    stronger = {**env, **STRONGER}
    staff = create_app("staff", load_config(stronger))
    reporter = create_app("reporter", load_config(stronger))
    try:
        assert sign_in(staff.test_client(), people["auditor"]).status_code == 303
        box = reporter.test_client()
        assert login(box, code, passphrase).status_code == 303
        with database(database_url) as session:
            after_staff = session.get(StaffAccount, before_staff.id)
            after_mailbox = session.get(Mailbox, before_mailbox.id)
            assert params_of(after_staff.password_record).time_cost == 2
            assert params_of(after_staff.password_record).memory_kib == 512
            assert after_staff.public_key == before_staff.public_key  # the same key pair
            assert after_staff.sealed_private_key != before_staff.sealed_private_key
            assert after_staff.sealed_totp != before_staff.sealed_totp
            assert params_of(after_mailbox.secret_record).time_cost == 2
            assert after_mailbox.public_key == before_mailbox.public_key
        # Everything still opens, at the new cost.
        assert sign_in(staff.test_client(), people["auditor"]).status_code == 303
        again = reporter.test_client()
        assert login(again, code, passphrase).status_code == 303
        assert "Diperkuat" in again.get("/mailbox").get_data(as_text=True)
    finally:
        dispose(staff)
        dispose(reporter)


def _argon2(memory_mib: int) -> dict[str, str]:
    return {
        "SIPADU_ARGON2_TIME_COST": "1",
        "SIPADU_ARGON2_MEMORY_KIB": str(memory_mib * 1024),
        "SIPADU_ARGON2_PARALLELISM": "1",
    }


def test_after_costs_are_raised_an_unknown_code_takes_as_long_as_a_wrong_passphrase(
    people, env, database_url, monkeypatch
):
    """Issue 15, item 11: with records made at 8 MiB and the configuration raised to
    32 MiB, an unknown code ran its decoy at 32 MiB and a wrong passphrase on a live code
    at the record's 8 MiB (in production 470 ms against 292 ms): a 16-digit number could
    be tested for being a live code. The decoy now runs at a cost live records have."""
    old = create_app("reporter", load_config({**env, **_argon2(8)}))
    try:
        live = [submit(old.test_client(), title=f"Lama {n}")[:2] for n in range(6)]
    finally:
        dispose(old)
    with database(database_url) as session:
        live_params = {params_of(box.secret_record) for box in session.scalars(select(Mailbox))}
    new = create_app("reporter", load_config({**env, **_argon2(32)}))
    calls = kdf_calls(monkeypatch)
    timings: dict[str, list[float]] = {"unknown code": [], "wrong passphrase": []}
    decoys = set()
    try:
        for n in range(12):  # interleaved, so a busy machine slows both alike
            for label, (code, passphrase) in (
                ("unknown code", (random_code(), "frasa sandi yang salah")),
                ("wrong passphrase", (live[n % len(live)][0], "frasa sandi yang salah")),
            ):
                calls.clear()
                started = time.perf_counter()
                assert login(new.test_client(), code, passphrase).status_code == 400
                timings[label].append(time.perf_counter() - started)
                if label == "unknown code":
                    decoys.add(calls[-1][1])
    finally:
        dispose(new)
    # The choice itself: only costs that live records have, never today's 32 MiB that
    # none has yet.
    assert decoys <= live_params, (decoys, live_params)
    # And coarsely, the clock (before the fix: about 3 times as long).
    unknown, wrong = (statistics.median(t) for t in timings.values())
    assert max(unknown, wrong) / min(unknown, wrong) < 1.6, timings
