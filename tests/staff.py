"""Helpers for tests that use the staff portal: demo credentials, sign-in, forms."""

import re
import time
from dataclasses import dataclass

import pyotp
from click.testing import CliRunner
from sqlalchemy import select, update

from sipadu.cli import main as cli
from sipadu.persistence.db import make_engine
from sipadu.persistence.models import StaffAccount
from tests.conftest import database

TOKEN = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


@dataclass
class Person:
    username: str
    password: str
    totp_secret: str
    step: int = 0  # the last TOTP step used: each code counts once
    database_url: str | None = None

    def code(self) -> str:
        """A code for a time step not used yet (the server refuses replays: only three
        steps are valid at any moment). Tests sign the same people in far more often
        than three times in 30 seconds, so when the fresh steps run out this helper
        forgets the account's last used step in the database — a test shortcut; the
        replay test itself never takes it. Never the step before the current one: a
        half-minute boundary between making the code and checking it would void it."""
        current = int(time.time()) // 30
        self.step = max(self.step + 1, current, self._last_step() + 1)
        if self.step > current + 1:
            if self.database_url is None:
                raise AssertionError("out of fresh TOTP codes for this half-minute")
            self._forget_last_step()
            self.step = current
        return pyotp.TOTP(self.totp_secret).generate_otp(self.step)

    def two_codes(self) -> tuple[str, str]:
        """Codes of two consecutive steps, both valid now and never used: the current
        step's and the next one's (the server allows one step of drift either side, so
        a half-minute boundary in between still leaves both valid)."""
        current = int(time.time()) // 30
        if max(self.step, self._last_step()) >= current:
            if self.database_url is None:
                raise AssertionError("out of fresh TOTP codes for this half-minute")
            self._forget_last_step()
        self.step = current + 1
        totp = pyotp.TOTP(self.totp_secret)
        return totp.generate_otp(current), totp.generate_otp(current + 1)

    def _last_step(self) -> int:
        if self.database_url is None:
            return 0
        engine = make_engine(self.database_url)
        with engine.connect() as connection:
            last = connection.scalar(
                select(StaffAccount.totp_last_step).where(StaffAccount.username == self.username)
            )
        engine.dispose()
        return last or 0

    def _forget_last_step(self) -> None:
        engine = make_engine(self.database_url)
        with engine.begin() as connection:
            connection.execute(
                update(StaffAccount)
                .where(StaffAccount.username == self.username)
                .values(totp_last_step=0)
            )
        engine.dispose()


def init_demo(env: dict) -> dict[str, Person]:
    result = CliRunner().invoke(cli, ["init", "--demo"], env=env, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return {
        m.group(2): Person(m.group(2), m.group(3), m.group(4), 0, env["SIPADU_DATABASE_URL"])
        for m in re.finditer(r"^demo (\S+) (\S+) (\S+) (\S+)$", result.stdout, re.M)
    }


def csrf(client, path: str) -> str:
    return TOKEN.search(client.get(path).get_data(as_text=True)).group(1)


def sign_in(
    client,
    person: Person,
    *,
    password: str | None = None,
    code: str | None = None,
    next_code: str | None = None,
):
    data = {
        "csrf_token": csrf(client, "/login"),
        "username": person.username,
        "password": person.password if password is None else password,
        "totp": person.code() if code is None else code,
    }
    if next_code is not None:
        data["totp_next"] = next_code
    return client.post("/login", data=data)


def signed_in(app, person: Person):
    client = app.test_client()
    response = sign_in(client, person)
    assert response.status_code == 303, response.get_data(as_text=True)[:500]
    return client


def post(client, path: str, form_page: str = "/", **data):
    """POST with a CSRF token taken from ``form_page``."""
    return client.post(path, data={"csrf_token": csrf(client, form_page), **data})


def account_of(database_url: str, username: str) -> StaffAccount:
    """The stored account, detached (for looking at what the portal wrote)."""
    with database(database_url) as session:
        account = session.scalar(select(StaffAccount).where(StaffAccount.username == username))
        session.expunge_all()
        return account
