"""When the Argon2 parameters are raised, every password and mailbox record is re-hashed
at its next successful sign-in, and what it protects is re-sealed: nobody loses access,
and the weaker record is gone."""

from sqlalchemy import select

from sipadu import create_app
from sipadu.crypto import SecretRecord
from sipadu.persistence.models import Mailbox, StaffAccount
from sipadu.settings.config import load_config
from sipadu.web.context import dispose
from tests.helpers import STRONGER, database, init_demo, login, sign_in, submit


def params_of(record: bytes):
    return SecretRecord.from_bytes(record).params


def test_staff_passwords_and_mailboxes_are_rehashed_at_their_next_sign_in(
    env, reporter_app, database_url
):
    people = init_demo(env)
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
