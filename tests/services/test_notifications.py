"""Staff notifications (:mod:`sipadu.services.notifications`, issue 19): a person's
address and OpenPGP key are stored sealed (no address in the database, none in the log),
open only on their own row with the server's key, and admins learn only whether one is
set; the daily run sends each person one digest a day at or after the hour, through a
real SMTP server (aiosmtpd), gives a failed sending back to the next run, and sends
nothing twice."""

import json
import uuid
from datetime import UTC, datetime, timedelta
from functools import partial
from zoneinfo import ZoneInfo

import pysequoia
import pytest
from sqlalchemy import func, select, update

from sipadu.accountability import audit
from sipadu.hosting import mail
from sipadu.persistence.db import make_engine, make_sessionmaker
from sipadu.persistence.models import (
    AccountState,
    AuditEvent,
    Report,
    Role,
    StaffAccount,
    StaffNotification,
)
from sipadu.services import notifications
from sipadu.services.dates import today
from sipadu.services.notifications import DigestSettings, choices, save_choices, send_digests
from sipadu.services.refusals import Reason
from sipadu.settings.config import load_config
from tests.helpers import database
from tests.mailserver import smtp_server
from tests.services.helpers import Recorded, person, refused, route, service_submit

KEY = notifications.sealing_key(b"\x11" * 32)
OTHER_KEY = notifications.sealing_key(b"\x22" * 32)
ADDRESS = "penyidik.satu@jakarta.go.id"
ZONE = ZoneInfo("Asia/Jakarta")


def rows_bytes(session) -> bytes:
    return b"".join(
        (row.sealed_address or b"") + (row.sealed_openpgp_key or b"")
        for row in session.scalars(select(StaffNotification))
    )


# --- choices ----------------------------------------------------------------------------


def test_an_address_is_stored_sealed_and_opens_only_on_its_row_with_the_key(session):
    someone = person(session, "alamat.satu", Role.INVESTIGATOR)
    other = person(session, "alamat.dua", Role.INVESTIGATOR)
    save_choices(session, someone.account, KEY, address=ADDRESS, always_send=True)
    session.flush()
    row = session.get(StaffNotification, someone.id)
    assert ADDRESS.encode() not in row.sealed_address and b"jakarta" not in rows_bytes(session)
    # Padded: a short and a long address are sealed to the same size.
    save_choices(session, other.account, KEY, address="a@b.id", always_send=False)
    session.flush()
    assert len(session.get(StaffNotification, other.id).sealed_address) == len(row.sealed_address)
    assert choices(session, someone.id, KEY) == notifications.DigestChoices(ADDRESS, True, None)
    assert choices(session, someone.id, OTHER_KEY).unreadable  # the server's key changed
    # Moved onto another account's row, it does not open there.
    session.get(StaffNotification, other.id).sealed_address = row.sealed_address
    session.flush()
    moved = choices(session, other.id, KEY)
    assert moved.unreadable and moved.address is None
    assert notifications.registered(session).keys() >= {someone.id, other.id}
    assert not notifications.registered(session)[someone.id]  # not confirmed yet


def test_saving_and_removing_are_recorded_without_the_address(session):
    someone = person(session, "alamat.log", Role.CUSTODIAN)
    log = Recorded(session)
    save_choices(session, someone.account, KEY, address=ADDRESS, always_send=False)
    notifications.remove_address(session, someone.account)
    session.flush()
    entries = [e for e in log.entries() if e["action"] == audit.Action.NOTIFY_SETTINGS.value]
    assert [e["detail"]["registered"] for e in entries] == [True, False]
    assert all("@" not in json.dumps(e) for e in log.entries())
    assert session.get(StaffNotification, someone.id) is None
    assert choices(session, someone.id, KEY) == notifications.DigestChoices()


@pytest.mark.parametrize(
    "address",
    [
        "no-at-sign",
        "a@b",
        "a b@jakarta.go.id",
        "penyidik@jakarta.go.id\r\nBcc: luar@example.com",
        "pényidik@jakarta.go.id",
        ".awal@jakarta.go.id",
        "dua..titik@jakarta.go.id",
        "a@-jakarta.go.id",
        "x" * 250 + "@b.id",
        '"quoted"@jakarta.go.id',
        "a@[127.0.0.1]",
    ],
)
def test_an_address_that_is_not_plain_is_refused(session, address):
    someone = person(session, f"alamat.{uuid.uuid4().hex[:6]}", Role.INVESTIGATOR)
    with refused(Reason.MAIL_ADDRESS_INVALID, "address"):
        save_choices(session, someone.account, KEY, address=address, always_send=False)
    with refused(Reason.NO_MAIL_ADDRESS, "address"):
        save_choices(session, someone.account, KEY, address="  ", always_send=True)
    assert session.get(StaffNotification, someone.id) is None


def test_an_openpgp_key_is_sealed_kept_when_left_empty_and_dropped_on_request(session):
    someone = person(session, "alamat.pgp", Role.INVESTIGATOR)
    cert = pysequoia.Tsk.generate(f"Penyidik <{ADDRESS}>").extract_certificate()
    save_choices(
        session, someone.account, KEY, address=ADDRESS, always_send=False, openpgp_key=str(cert)
    )
    session.flush()
    assert b"BEGIN PGP" not in rows_bytes(session) and ADDRESS.encode() not in rows_bytes(session)
    assert choices(session, someone.id, KEY).openpgp_fingerprint == cert.fingerprint.lower()
    save_choices(session, someone.account, KEY, address=ADDRESS, always_send=True)  # kept
    assert choices(session, someone.id, KEY).openpgp_fingerprint == cert.fingerprint.lower()
    with refused(Reason.OPENPGP_KEY_UNREADABLE, "openpgp_key"):
        save_choices(
            session, someone.account, KEY, address=ADDRESS, always_send=True, openpgp_key="x"
        )
    save_choices(
        session, someone.account, KEY, address=ADDRESS, always_send=True, drop_openpgp=True
    )
    assert choices(session, someone.id, KEY).openpgp_fingerprint is None


def test_an_openpgp_key_that_no_longer_opens_must_be_given_again_or_dropped(session):
    """After the server's key changed, writing the address again (as the page asks) must
    not keep a key that no longer opens: that would fail every digest for good. The
    person pastes the key again, or drops it; the address alone is refused."""
    someone = person(session, "alamat.ganti", Role.INVESTIGATOR)
    cert = pysequoia.Tsk.generate(f"Penyidik <{ADDRESS}>").extract_certificate()
    save_choices(
        session, someone.account, KEY, address=ADDRESS, always_send=False, openpgp_key=str(cert)
    )
    assert choices(session, someone.id, OTHER_KEY).unreadable  # the server's key changed
    with refused(Reason.OPENPGP_KEY_AGAIN, "openpgp_key"):
        save_choices(session, someone.account, OTHER_KEY, address=ADDRESS, always_send=False)
    assert choices(session, someone.id, KEY).openpgp_fingerprint  # nothing changed
    save_choices(
        session,
        someone.account,
        OTHER_KEY,
        address=ADDRESS,
        always_send=False,
        openpgp_key=str(cert),
    )
    again = choices(session, someone.id, OTHER_KEY)
    assert not again.unreadable and again.openpgp_fingerprint == cert.fingerprint.lower()
    save_choices(
        session, someone.account, KEY, address=ADDRESS, always_send=False, drop_openpgp=True
    )
    assert choices(session, someone.id, KEY) == notifications.DigestChoices(ADDRESS, False, None)


def test_the_log_refuses_an_address_in_any_detail(session):
    for detail in ({"note": f"kirim ke {ADDRESS}"}, {"email": "ya"}, {"mail_to": "x"}):
        with pytest.raises(audit.AuditError):
            audit.append(session, "system", "system", audit.Action.DIGEST_FAILED, detail=detail)


# --- the daily run, through a real SMTP server -------------------------------------------


def build_world(new_database_url, recovery, *, confirmed: bool):
    """Four people with addresses on a database of their own (the run commits): an
    investigator with late reports, one with nothing waiting who wants the digest
    anyway, one with nothing waiting who does not, and a deactivated one; their
    addresses ``confirmed`` (as if each had typed their code) or not."""
    day = today()
    with database(new_database_url) as session:
        busy = person(session, "sibuk", Role.INVESTIGATOR)
        route(session, busy)
        idle_always = person(session, "tenang.selalu", Role.INVESTIGATOR)
        idle_quiet = person(session, "tenang.diam", Role.INVESTIGATOR)
        gone = person(session, "sudah.keluar", Role.INVESTIGATOR)
        route(session, gone)
        for due in (day - timedelta(days=1), day + timedelta(days=1), day + timedelta(days=60)):
            report = service_submit(session, recovery.public_key())
            session.execute(
                update(Report)
                .where(Report.id == report.report_id)
                .values(ack_due_on=due, feedback_due_on=day + timedelta(days=80))
            )
        people = {"busy": busy, "always": idle_always, "quiet": idle_quiet, "gone": gone}
        for name, someone in people.items():
            save_choices(
                session,
                someone.account,
                KEY,
                address=f"{name}@jakarta.go.id",
                always_send=name == "always",
            )
        session.execute(
            update(StaffAccount)
            .where(StaffAccount.id == gone.id)
            .values(state=AccountState.DEACTIVATED.value)
        )
        session.execute(update(StaffNotification).values(confirmed=confirmed))
        session.commit()
    engine = make_engine(new_database_url)
    yield make_sessionmaker(engine, write=True), new_database_url
    engine.dispose()


@pytest.fixture
def world(new_database_url, recovery):
    yield from build_world(new_database_url, recovery, confirmed=True)


def at(hour: int, days: int = 0) -> datetime:
    local = datetime.combine(today(), datetime.min.time(), ZONE) + timedelta(days=days, hours=hour)
    return local.astimezone(UTC)


def run(sessions, server, now, send=None, domains=()):
    config = load_config(server.env).mail
    settings = DigestSettings(KEY, config.sender, ZONE, 7, domains)
    return send_digests(sessions, settings, now, send or partial(mail.send, config))


def body(data: bytes) -> bytes:
    return data.split(b"\r\n\r\n", 1)[1]


def entries(url: str, action: audit.Action) -> list[dict]:
    with database(url) as session:
        return [
            json.loads(e.detail)
            for e in session.scalars(select(AuditEvent).where(AuditEvent.action == action.value))
        ]


def test_before_the_hour_nothing_is_looked_at_and_nothing_sent(world):
    sessions, _url = world
    with smtp_server() as server:
        done = run(sessions, server, at(6, 0) + timedelta(minutes=59))
    assert done == notifications.DigestRun(due=False)
    assert server.inbox.messages == []


def test_one_digest_a_day_to_whom_something_waits_or_who_asked(world):
    sessions, url = world
    with smtp_server() as server:
        first = run(sessions, server, at(7))
        again = run(sessions, server, at(21))  # the same day: nothing twice
        inbox = server.inbox
        assert (first.sent, first.quiet, first.failed) == (2, 2, 0)
        assert (again.sent, again.quiet, again.failed) == (0, 0, 0)
        assert sorted(r for m in inbox.messages for r in m.recipients) == [
            "always@jakarta.go.id",
            "busy@jakarta.go.id",
        ]
        busy = inbox.to("busy@jakarta.go.id")[0].data
        always = inbox.to("always@jakarta.go.id")[0].data
        # The same body size with work waiting and with none; the whole message differs
        # only by the length of its To address.
        assert len(body(busy)) == len(body(always))
        assert len(busy) - len("busy") == len(always) - len("always")
        next_day = run(sessions, server, at(7, days=1))
        assert next_day.sent == 2 and len(inbox.messages) == 4
    sent = entries(url, audit.Action.DIGEST_SENT)
    assert len(sent) == 4 and all("@" not in json.dumps(e) for e in sent)
    assert {e["need_action"] for e in sent} == {0, 2}  # overdue and due soon; not the far one


def test_a_refused_recipient_stops_no_one_else_and_is_tried_again(world):
    sessions, url = world
    with smtp_server() as server:
        server.inbox.refuse.add("busy@jakarta.go.id")
        first = run(sessions, server, at(8))
        assert (first.sent, first.failed) == (1, 1)
        assert [m.recipients for m in server.inbox.messages] == [["always@jakarta.go.id"]]
        server.inbox.refuse.clear()
        retried = run(sessions, server, at(9))
        assert (retried.sent, retried.failed) == (1, 0)
        assert server.inbox.messages[-1].recipients == ["busy@jakarta.go.id"]
    failed = entries(url, audit.Action.DIGEST_FAILED)
    assert failed == [{"account": failed[0]["account"], "error": "SMTPRecipientsRefused"}]
    # The log says what happened: the refused digest has no "sent" entry, and its retry
    # exactly one (the review found "sent" written before sending, then twice).
    sent = entries(url, audit.Action.DIGEST_SENT)
    assert len(sent) == 2
    assert [e["account"] for e in sent].count(failed[0]["account"]) == 1


def test_the_sent_entry_is_written_once_the_server_took_the_mail(world):
    """While the SMTP transaction runs, the day is claimed (a second run sends nothing)
    but no "sent" entry exists yet; it is written after the server said 250."""
    sessions, url = world
    seen = []
    with smtp_server() as server:
        config = load_config(server.env).mail

        def sending(message):
            with database(url) as session:
                claimed = session.scalar(
                    select(func.count()).where(StaffNotification.sent_on == today())
                )
            seen.append((len(entries(url, audit.Action.DIGEST_SENT)), claimed))
            mail.send(config, message)

        done = run(sessions, server, at(7), send=sending)
    assert done.sent == 2 and len(server.inbox.messages) == 2
    # While the first mail is sent: its day claimed, no entry; the second: one entry.
    assert [told for told, _claimed in seen] == [0, 1]
    assert all(claimed > told for told, claimed in seen)
    assert len(entries(url, audit.Action.DIGEST_SENT)) == 2


def test_a_server_that_is_down_fails_everyone_and_the_next_run_sends(world):
    sessions, _url = world
    with smtp_server() as server:
        pass  # stopped: its port refuses connections
    down = run(sessions, server, at(7))
    assert (down.sent, down.failed) == (0, 2)
    with smtp_server() as server:
        up = run(sessions, server, at(8))
    assert up.sent == 2


def test_an_address_that_no_longer_opens_is_reported_not_sent(world):
    sessions, url = world
    with smtp_server() as server:
        config = load_config(server.env).mail
        settings = DigestSettings(OTHER_KEY, config.sender, ZONE, 7)  # the key changed
        done = send_digests(sessions, settings, at(7), partial(mail.send, config))
        assert (done.sent, done.failed) == (0, 2) and server.inbox.messages == []
        assert run(sessions, server, at(8)).sent == 0  # not retried the same day
    assert {e["error"] for e in entries(url, audit.Action.DIGEST_FAILED)} == {"unreadable"}


# --- a Rust panic inside Sequoia --------------------------------------------------------

# pyo3's exception for a Rust panic: "pyo3_runtime.PanicException", deriving from
# BaseException (not Exception). Its class exists only once a panic happened, and no
# input found here makes pysequoia 0.1.35 panic, so a class of that module and name
# stands in for it, raised where Sequoia would.
PanicException = type("PanicException", (BaseException,), {"__module__": "pyo3_runtime"})


class PanickingSequoia:
    """pysequoia whose every parse panics."""

    class Cert:
        @staticmethod
        def split_bytes(_data):
            raise PanicException("index out of bounds: the len is 0 but the index is 0")

        from_bytes = split_bytes

    encrypt = Cert.split_bytes


def test_a_panic_in_sequoia_is_refused_as_a_bad_key(session, monkeypatch):
    from sipadu.services import openpgp

    someone = person(session, "alamat.panik", Role.INVESTIGATOR)
    cert = str(pysequoia.Tsk.generate(f"Penyidik <{ADDRESS}>").extract_certificate())
    monkeypatch.setattr(openpgp, "pysequoia", PanickingSequoia)
    assert openpgp.is_panic(PanicException()) and not openpgp.is_panic(KeyboardInterrupt())
    with refused(Reason.OPENPGP_KEY_UNREADABLE, "openpgp_key"):
        save_choices(
            session, someone.account, KEY, address=ADDRESS, always_send=False, openpgp_key=cert
        )
    with refused(Reason.OPENPGP_KEY_UNUSABLE, "openpgp_key"):
        openpgp.encrypt(cert, b"x")
    assert openpgp.fingerprint(cert) == ""
    # Anything else that is not an Exception still goes through.
    monkeypatch.setattr(PanickingSequoia.Cert, "from_bytes", staticmethod(_interrupt))
    with pytest.raises(KeyboardInterrupt):
        openpgp.fingerprint(cert)


def _interrupt(_data):
    raise KeyboardInterrupt
