"""Confirming a digest address (:mod:`sipadu.services.confirmation`, issue 19 review): a
new or changed address gets no digest; any ``sipadu notify`` run mails it one code (real
SMTP, aiosmtpd), of constant size, kept only as an HMAC with an expiry and a few tries;
typing it confirms the address; the log holds flags only. And the institution's mail
domains (``SIPADU_NOTIFY_DOMAINS``), on saving and on sending."""

import email
import json
import re
from datetime import UTC, datetime, timedelta
from email import policy
from functools import partial

import pytest
from sqlalchemy import select, update

from sipadu.accountability import audit
from sipadu.hosting import mail
from sipadu.persistence.models import AuditEvent, StaffAccount, StaffNotification
from sipadu.services import confirmation
from sipadu.services.confirmation import (
    CODE_HOURS,
    MAX_TRIES,
    Confirmation,
    ask_new_code,
    confirm,
    send_confirmations,
    take_try,
)
from sipadu.services.notifications import DigestSettings, save_choices
from sipadu.services.refusals import Reason
from sipadu.settings.config import ConfigError, load_config
from tests.helpers import database
from tests.mailserver import smtp_server
from tests.services.helpers import refused
from tests.services.test_notifications import KEY, ZONE, at, body, build_world, entries, run

CODE = re.compile(rb"\b(\d{4}) (\d{4})\b")


@pytest.fixture
def unconfirmed(new_database_url, recovery):
    yield from build_world(new_database_url, recovery, confirmed=False)


@pytest.fixture
def world(new_database_url, recovery):
    yield from build_world(new_database_url, recovery, confirmed=True)


def codes(sessions, server, now, domains=()):
    config = load_config(server.env).mail
    settings = DigestSettings(KEY, config.sender, ZONE, 7, domains)
    return send_confirmations(sessions, settings, now, partial(mail.send, config))


def code_to(server, address: str) -> str:
    found = CODE.search(
        email.message_from_bytes(server.inbox.to(address)[-1].data, policy=policy.default)
        .get_content()
        .encode()
    )
    assert found
    return (found.group(1) + found.group(2)).decode()


def account(url, name) -> StaffAccount:
    with database(url) as session:
        found = session.scalar(select(StaffAccount).where(StaffAccount.username == name))
        session.expunge(found)
        return found


def typed(url, name, code, now=None):
    """The page's two transactions: the try counted and committed, then the code."""
    now = now or datetime.now(UTC)
    someone = account(url, name)
    with database(url) as session:
        take_try(session, someone.id, now)
        session.commit()
    with database(url) as session:
        confirm(session, session.merge(someone), KEY, confirmation.normalized(code))
        session.commit()


def row(url, name) -> StaffNotification:
    with database(url) as session:
        found = session.get(StaffNotification, account(url, name).id)
        session.expunge(found)
        return found


NAMES = {"busy": "sibuk", "always": "tenang.selalu", "quiet": "tenang.diam", "gone": "sudah.keluar"}


def test_an_unconfirmed_address_gets_a_code_at_any_hour_and_never_a_digest(unconfirmed):
    sessions, url = unconfirmed
    with smtp_server() as server:
        # At 3 in the morning (the digest's hour is 7): codes go out, digests do not.
        sent = codes(sessions, server, at(3))
        assert (sent.sent, sent.failed) == (3, 0)  # not the deactivated account's
        assert codes(sessions, server, at(4)).sent == 0  # one code per address
        assert run(sessions, server, at(7)).sent == 0  # no digest before confirmation
        recipients = sorted(r for m in server.inbox.messages for r in m.recipients)
        assert recipients == ["always@jakarta.go.id", "busy@jakarta.go.id", "quiet@jakarta.go.id"]
        # Of one size whatever the code; nothing of the person or their account.
        assert len({len(body(m.data)) for m in server.inbox.messages}) == 1
        for arrived in server.inbox.messages:
            text = email.message_from_bytes(arrived.data, policy=policy.default).get_content()
            assert len(text.encode()) == confirmation.BODY_BYTES
            assert "sibuk" not in text and "tenang" not in text
            assert arrived.data.count(b"@jakarta.go.id") == 1  # the To header only
        code = code_to(server, "busy@jakarta.go.id")
        # Kept as an HMAC with an expiry, never the code.
        stored = row(url, NAMES["busy"])
        assert code.encode() not in stored.code_mac and len(stored.code_mac) == 32
        expires = stored.code_expires_at.replace(tzinfo=UTC)
        assert expires - at(3) == timedelta(hours=CODE_HOURS)
        typed(url, NAMES["busy"], f"{code[:4]} {code[4:]}")
        assert row(url, NAMES["busy"]).confirmed and row(url, NAMES["busy"]).code_mac is None
        done = run(sessions, server, at(8))
        assert done.sent == 1 and server.inbox.messages[-1].recipients == ["busy@jakarta.go.id"]
    # The log: flags and the account only.
    with database(url) as session:
        details = [
            (e.action, e.detail or "")
            for e in session.scalars(select(AuditEvent).order_by(AuditEvent.seq))
        ]
    told = [d for action, d in details if action.startswith("notify.")]
    assert all("@" not in d and code not in d for d in told)
    assert [a for a, _ in details].count(audit.Action.CONFIRMATION_SENT.value) == 3
    assert [a for a, _ in details].count(audit.Action.ADDRESS_CONFIRMED.value) == 1
    assert all(
        set(json.loads(d)) == {"account", "encrypted"}
        for a, d in details
        if a == audit.Action.CONFIRMATION_SENT.value
    )


def test_a_wrong_code_spends_one_of_a_few_tries_then_none_works(unconfirmed):
    sessions, url = unconfirmed
    with smtp_server() as server:
        codes(sessions, server, at(3))
        right = code_to(server, "busy@jakarta.go.id")
        wrong = f"{(int(right) + 1) % 10**8:08d}"
        for left in range(MAX_TRIES - 1, 0, -1):
            with refused(Reason.CONFIRMATION_CODE_WRONG, "code") as info:
                typed(url, NAMES["busy"], wrong)
            assert info.value.params == {"left": left}
        with refused(Reason.CONFIRMATION_CODE_SPENT, "code"):
            typed(url, NAMES["busy"], wrong)
        with refused(Reason.CONFIRMATION_CODE_SPENT, "code"):  # not even the right one now
            typed(url, NAMES["busy"], right)
        assert row(url, NAMES["busy"]).code_attempts == MAX_TRIES
        with refused(Reason.CONFIRMATION_CODE_SHAPE, "code"):
            confirmation.normalized("12345")
        # A new code, asked for, comes at the next run; the old one stays dead.
        with database(url) as session:
            ask_new_code(session, session.merge(account(url, NAMES["busy"])))
            session.commit()
        with refused(Reason.CONFIRMATION_NOT_SENT, "code"):
            typed(url, NAMES["busy"], right)
        assert codes(sessions, server, at(4)).sent == 1
        new = code_to(server, "busy@jakarta.go.id")
        if new != right:
            with refused(Reason.CONFIRMATION_CODE_WRONG, "code"):
                typed(url, NAMES["busy"], right)
        typed(url, NAMES["busy"], new)
        assert row(url, NAMES["busy"]).confirmed
        with refused(Reason.NOTHING_TO_CONFIRM, "code"):
            typed(url, NAMES["busy"], new)


def test_a_code_expires(unconfirmed):
    sessions, url = unconfirmed
    with smtp_server() as server:
        codes(sessions, server, at(3))
        code = code_to(server, "busy@jakarta.go.id")
    later = at(3) + timedelta(hours=CODE_HOURS, seconds=1)
    with database(url) as session:
        assert confirmation.where(session, account(url, NAMES["busy"]).id, later) is (
            Confirmation.SPENT
        )
    with refused(Reason.CONFIRMATION_CODE_SPENT, "code"):
        typed(url, NAMES["busy"], code, now=later)
    assert not row(url, NAMES["busy"]).confirmed


def test_a_changed_address_must_be_confirmed_again_the_same_one_not(world):
    sessions, url = world
    busy = account(url, NAMES["busy"])
    with database(url) as session:
        save_choices(
            session, session.merge(busy), KEY, address="busy@jakarta.go.id", always_send=True
        )
        session.commit()
    assert row(url, NAMES["busy"]).confirmed  # the same address, another choice
    with database(url) as session:
        save_choices(
            session, session.merge(busy), KEY, address="orang.lain@example.com", always_send=True
        )
        session.commit()
    assert not row(url, NAMES["busy"]).confirmed
    with smtp_server() as server:
        assert run(sessions, server, at(7)).sent == 1  # "always" only; not the new address
        assert server.inbox.to("orang.lain@example.com") == []
        assert codes(sessions, server, at(7)).sent == 1
        assert len(server.inbox.to("orang.lain@example.com")) == 1  # its code, nothing else


def test_a_refused_code_gives_the_claim_back_and_is_sent_next_run(unconfirmed):
    sessions, url = unconfirmed
    with smtp_server() as server:
        server.inbox.refuse.add("busy@jakarta.go.id")
        first = codes(sessions, server, at(3))
        assert (first.sent, first.failed) == (2, 1)
        assert row(url, NAMES["busy"]).code_mac is None  # given back
        server.inbox.refuse.clear()
        assert codes(sessions, server, at(4)).sent == 1
    failed = entries(url, audit.Action.CONFIRMATION_FAILED)
    assert [e["error"] for e in failed] == ["SMTPRecipientsRefused"]
    assert len(entries(url, audit.Action.CONFIRMATION_SENT)) == 3


def test_addresses_outside_the_institution_s_domains(world):
    sessions, url = world
    busy = account(url, NAMES["busy"])
    domains = ("inspektorat.jakarta.go.id", "jakarta.go.id")
    with database(url) as session:
        with refused(Reason.MAIL_DOMAIN_NOT_ALLOWED, "address") as info:
            save_choices(
                session,
                session.merge(busy),
                KEY,
                address="pelapor@gmail.com",
                always_send=True,
                domains=domains,
            )
        assert info.value.params == {"domains": "inspektorat.jakarta.go.id, jakarta.go.id"}
        # A subdomain not listed is not taken either; a listed one in capitals is.
        with refused(Reason.MAIL_DOMAIN_NOT_ALLOWED, "address"):
            save_choices(
                session,
                session.merge(busy),
                KEY,
                address="a@dinas.jakarta.go.id",
                always_send=True,
                domains=domains,
            )
        save_choices(
            session,
            session.merge(busy),
            KEY,
            address="A@Inspektorat.Jakarta.go.id",
            always_send=True,
            domains=domains,
        )
        session.rollback()
    # Registered before the setting: the run sends it nothing (and says so).
    with smtp_server() as server:
        done = run(sessions, server, at(7), domains=("inspektorat.jakarta.go.id",))
        assert (done.sent, done.failed) == (0, 2) and server.inbox.messages == []
    assert {e["error"] for e in entries(url, audit.Action.DIGEST_FAILED)} == {"domain"}
    assert load_config({"SIPADU_NOTIFY_DOMAINS": " Jakarta.go.id ; inspektorat.jakarta.go.id;"})
    with pytest.raises(ConfigError, match="SIPADU_NOTIFY_DOMAINS"):
        load_config({"SIPADU_NOTIFY_DOMAINS": "jakarta.go.id, inspektorat.jakarta.go.id"})
    with pytest.raises(ConfigError, match="SIPADU_NOTIFY_DOMAINS"):
        load_config({"SIPADU_NOTIFY_DOMAINS": "@jakarta.go.id"})


def test_a_deactivated_account_gets_no_code(unconfirmed):
    sessions, url = unconfirmed
    with database(url) as session:
        session.execute(update(StaffNotification).values(code_mac=None))
        session.commit()
    with smtp_server() as server:
        codes(sessions, server, at(3))
        assert server.inbox.to("gone@jakarta.go.id") == []
    assert row(url, NAMES["gone"]).code_mac is None  # not claimed: sent once reactivated
