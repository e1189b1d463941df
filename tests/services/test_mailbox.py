"""Opening a reporter's mailbox with code and passphrase (:mod:`sipadu.services.mailbox`),
called directly: a malformed code is refused before any work; an unknown code and a
wrong passphrase cost the same derivations and give the same answer; a record made at
weaker parameters is re-hashed; failure counters name no code. Real Argon2 (cheap).

And the mailbox's messages (:func:`sipadu.services.reports.read_mailbox`): a message
relabelled, reordered, re-dated or turned back to the old format in the database fails
its integrity check and is shown as such, with no body; an old-format message still
reads."""

import os
import uuid
from dataclasses import replace
from datetime import date

import pytest
from sqlalchemy import select, update
from sqlalchemy import text as sa_text

from sipadu.crypto import Argon2Params, Purpose, SecretRecord
from sipadu.crypto.fields import _seal_v1
from sipadu.persistence.models import Mailbox, Message, ReportField, Role
from sipadu.reporter.blueprint import DECOY_LABEL, FAILURES_LABEL
from sipadu.services import Reason, cases, key_ring, mailbox, reports, transcript
from sipadu.services.mailbox import MailboxSettings, attempt_login
from sipadu.services.passphrases import format_code
from sipadu.services.reports import read_mailbox
from sipadu.settings.config import DatePrecision
from sipadu.settings.instance import derived_key
from tests.services.helpers import (
    CHEAP,
    LOOKUP_SALT,
    PASSPHRASE,
    TODAY,
    person,
    refused,
    route,
    service_submit,
)

SETTINGS = MailboxSettings(
    LOOKUP_SALT,
    CHEAP,
    CHEAP,
    failure_key=derived_key(b"s" * 32, FAILURES_LABEL),
    decoy_key=derived_key(b"s" * 32, DECOY_LABEL),
)
STRONGER = Argon2Params(time_cost=2, memory_kib=512, parallelism=1)


class Counting:
    """A ``derive`` that runs each derivation here, naming what it ran."""

    def __init__(self) -> None:
        self.ran: list[str] = []

    def __call__(self, fn, *args):
        self.ran.append(fn.__name__)
        return fn(*args)


def test_the_code_and_passphrase_open_the_mailbox_key_however_the_code_is_typed(session, recovery):
    report = service_submit(session, recovery.public_key())
    for typed in (
        report.code,
        format_code(report.code),
        "-".join(format_code(report.code).split()),
    ):
        attempt = attempt_login(session, typed, f"  {PASSPHRASE.replace(' ', '  ')}  ", SETTINGS)
        assert attempt.rehashed is None
        assert (attempt.opened.mailbox_id, attempt.opened.report_id) == (
            report.mailbox_id,
            report.report_id,
        )
        assert attempt.opened.private_key.public_key() == report.mailbox_private.public_key()


def test_an_unknown_code_and_a_wrong_passphrase_do_the_same_work_and_fail_alike(session, recovery):
    report = service_submit(session, recovery.public_key())
    unknown_code = f"{(int(report.code) + 1) % 10**16:016d}"
    outcomes = []
    for code, passphrase in ((unknown_code, PASSPHRASE), (report.code, PASSPHRASE + "x")):
        derive = Counting()
        outcomes.append(
            (attempt_login(session, code, passphrase, SETTINGS, derive=derive), derive.ran)
        )
    assert outcomes[0] == outcomes[1]
    assert outcomes[0] == (mailbox.LoginAttempt(None), ["lookup_id", "verify_secret"])


@pytest.mark.parametrize(
    "typed", ["", "123", "1" * 15, "1" * 17, "12345678901234ab", "\u0661" * 15, "\u00b9" * 16]
)
def test_a_malformed_code_is_refused_before_any_derivation(session, typed):
    derive = Counting()
    with refused(Reason.MALFORMED_CODE, "code"):
        attempt_login(session, typed, PASSPHRASE, SETTINGS, derive=derive)
    assert derive.ran == []
    assert mailbox.well_formed_code(typed) is None


def test_a_record_made_at_weaker_parameters_is_rehashed_and_keeps_the_key(session, recovery):
    report = service_submit(session, recovery.public_key())
    stronger = replace(SETTINGS, argon2=STRONGER)
    derive = Counting()

    attempt = attempt_login(session, report.code, PASSPHRASE, stronger, derive=derive)
    assert derive.ran == ["lookup_id", "verify_secret", "hash_secret"]
    mailbox.save_rehashed(session, attempt.opened, attempt.rehashed)

    row = session.get(Mailbox, report.mailbox_id)
    assert SecretRecord.from_bytes(row.secret_record).params == STRONGER
    again = attempt_login(session, report.code, PASSPHRASE, stronger)
    assert again.rehashed is None
    assert again.opened.private_key.public_key() == report.mailbox_private.public_key()


def test_a_failure_counter_is_the_same_for_a_code_and_names_no_code():
    key = SETTINGS.failure_key
    code = "0123456789012345"
    bucket = mailbox.failure_bucket(code, key)
    prefix, tag, number = bucket.split("-")
    assert prefix == "mailbox" and len(tag) == 8 and len(number) == 5
    assert int(number, 16) < 2**mailbox.BUCKET_BITS
    assert code not in bucket and mailbox.failure_bucket(code, key) == bucket
    other_instance = derived_key(b"t" * 32, FAILURES_LABEL)
    assert len(other_instance) == 32 and other_instance != key
    assert mailbox.failure_bucket(code, other_instance).split("-")[1] != tag
    spread = {mailbox.failure_bucket(f"{n:016d}", key) for n in range(200)}
    assert len(spread) > 190  # codes spread over the counters


def test_a_rehashed_record_hides_its_bytes_in_repr():
    rehashed = mailbox.Rehashed(b"secret-record", b"sealed-key")
    assert "secret-record" not in repr(rehashed) and "sealed-key" not in repr(rehashed)


class Recording(Counting):
    """A ``derive`` that also keeps the parameters each mailbox-key derivation ran at."""

    def __init__(self) -> None:
        super().__init__()
        self.params: list[Argon2Params] = []

    def __call__(self, fn, *args):
        if fn.__name__ == "verify_secret":
            self.params.append(args[1].params)
        return super().__call__(fn, *args)


def test_after_costs_are_raised_an_unknown_code_costs_what_a_live_code_costs(session, recovery):
    """Issue 15, item 11: once the Argon2 parameters were raised, a live record keeps
    its old cost until its holder signs in, while the decoy for an unknown code ran at
    the new cost (470 ms against 292 ms): timing told a live code from an unknown one.
    Now each unknown code is mapped, by a keyed hash, to one of the parameter sets live
    records have, in proportion to how many have each."""
    reports = [service_submit(session, recovery.public_key()) for _ in range(4)]
    stronger = replace(SETTINGS, argon2=STRONGER)
    first = attempt_login(session, reports[0].code, PASSPHRASE, stronger)
    mailbox.save_rehashed(session, first.opened, first.rehashed)  # 3 at CHEAP, 1 at STRONGER
    session.flush()
    assert mailbox.live_costs(session) == mailbox.CostMix(((CHEAP, 3), (STRONGER, 1)))

    live = {report.code for report in reports}
    unknown = [f"{n * 7919 + 13:016d}" for n in range(400)]
    assert not live & set(unknown)
    chosen = {}
    for code in unknown:
        derive = Recording()
        assert attempt_login(session, code, PASSPHRASE, stronger, derive=derive).opened is None
        chosen[code] = derive.params[0]
    assert set(chosen.values()) <= {CHEAP, STRONGER}
    share = sum(params == CHEAP for params in chosen.values()) / len(chosen)
    assert 0.6 < share < 0.9, share  # 3 of 4 live records are at CHEAP
    for code in unknown[:40]:  # the same code always costs the same
        derive = Recording()
        attempt_login(session, code, PASSPHRASE, stronger, derive=derive)
        assert derive.params == [chosen[code]]
    for report in reports[1:]:  # a wrong passphrase runs at the record's own cost
        derive = Recording()
        attempt_login(session, report.code, PASSPHRASE + "x", stronger, derive=derive)
        assert derive.params == [CHEAP]


def test_the_decoy_cost_is_keyed_and_follows_the_mix():
    mix = mailbox.CostMix(((CHEAP, 1), (STRONGER, 1)))
    codes = [f"{n:016d}" for n in range(300)]
    ours = [mailbox.decoy_params(code, SETTINGS.decoy_key, mix, STRONGER) for code in codes]
    other = [mailbox.decoy_params(code, bytes(32), mix, STRONGER) for code in codes]
    assert ours != other  # nobody without the instance's key can tell which codes are slow
    assert 0.35 < ours.count(CHEAP) / len(codes) < 0.65
    assert mailbox.decoy_params(codes[0], SETTINGS.decoy_key, mailbox.CostMix(), STRONGER) == (
        STRONGER
    )  # no mailbox yet: today's parameters
    only_old = mailbox.CostMix(((CHEAP, 5),))
    assert {mailbox.decoy_params(c, SETTINGS.decoy_key, only_old, STRONGER) for c in codes} == {
        CHEAP
    }


# --- messages: author, position, date and epoch are bound (sealed field format 2) -------


@pytest.fixture
def conversation(session, recovery):
    """A report with a reporter's message (position 1) and an investigator's reply (2),
    and the mailbox's keys."""

    staff = person(session, "penyidik.pesan", Role.INVESTIGATOR)
    route(session, staff)
    report = service_submit(session, recovery.public_key())
    keys = key_ring.mailbox_keys(
        session, report.report_id, report.mailbox_id, report.mailbox_private
    )
    asked = reports.add_reporter_message(
        session, keys, report.report_id, "Apakah sudah dibaca?", TODAY, DatePrecision.DAY
    )
    staff_keys = key_ring.staff_keys(session, report.report_id, staff.id, staff.private)
    answered = cases.reply(
        session, staff_keys, staff.id, "Sudah, terima kasih.", TODAY, DatePrecision.DAY
    )
    return report, keys, asked.id, answered.id, staff


def _tamper(session, message_id, **values) -> None:
    """Change a message row as a database writer would: SQL, then reload."""
    session.execute(update(Message).where(Message.id == message_id).values(**values))
    session.expire_all()


def _shown(session, keys) -> list[tuple[str, bool, str]]:

    view = read_mailbox(session, keys, keys.report_id)
    return [(m.author, m.intact, m.body) for m in view.messages]


def test_an_untouched_conversation_reads_in_order(session, conversation):
    _report, keys, _asked, _answered, _staff = conversation
    assert _shown(session, keys) == [
        ("reporter", True, "Apakah sudah dibaca?"),
        ("staff", True, "Sudah, terima kasih."),
    ]


def test_a_staff_message_relabelled_as_the_reporters_fails_its_integrity_check(
    session, conversation
):
    _report, keys, _asked, answered, _staff = conversation
    _tamper(session, answered, author="reporter", author_account_id=None)
    assert _shown(session, keys)[1] == ("reporter", False, "")


def test_a_message_moved_to_another_staff_account_fails_its_integrity_check(session, conversation):
    _report, keys, _asked, answered, _staff = conversation

    other = person(session, "penyidik.lain", Role.INVESTIGATOR)
    _tamper(session, answered, author_account_id=other.id)
    assert [intact for _, intact, _ in _shown(session, keys)] == [True, False]


def test_swapped_sealed_bodies_fail_their_integrity_check(session, conversation):
    """The order is inside the sealed bodies (no position column, G2): to reorder the
    thread a writer must swap bodies, and each binds its own row."""
    _report, keys, asked, answered, _staff = conversation
    first, second = session.get(Message, asked).body, session.get(Message, answered).body
    _tamper(session, asked, body=second)
    _tamper(session, answered, body=first)
    assert [(intact, body) for _, intact, body in _shown(session, keys)] == [
        (False, ""),
        (False, ""),
    ]


def test_a_plaintext_position_or_epoch_on_a_new_message_fails_its_integrity_check(
    session, conversation
):
    """A new-format message stores neither: a writer who adds one to move it (or to make
    the thread look as if it did) gets a failed message, not a reordered thread."""
    _report, keys, _asked, answered, _staff = conversation
    _tamper(session, answered, position=0)
    assert [(author, intact) for author, intact, _ in _shown(session, keys)] == [
        ("reporter", True),
        ("staff", False),
    ]
    _tamper(session, answered, position=None, epoch=0)
    assert [intact for _, intact, _ in _shown(session, keys)] == [True, False]
    _tamper(session, answered, epoch=None)
    assert [intact for _, intact, _ in _shown(session, keys)] == [True, True]


def test_no_message_stores_its_position_or_epoch(session, conversation):
    """G2: ``message.position`` and ``message.epoch`` of the audit log's ``message.send``
    neighbours would place the reporter's message between two staff replies."""
    report, _keys, _asked, _answered, _staff = conversation
    rows = session.scalars(select(Message).where(Message.report_id == report.report_id)).all()
    assert [(m.position, m.epoch) for m in rows] == [(None, None), (None, None)]


def test_a_re_dated_message_fails_its_integrity_check(session, conversation):
    _report, keys, asked, _answered, _staff = conversation
    _tamper(session, asked, sent_on=date(2024, 1, 2))
    assert [(author, intact) for author, intact, _ in _shown(session, keys)] == [
        ("staff", True),
        ("reporter", False),  # failed: its position is unknown, so it comes last
    ]


def test_a_version_byte_turned_back_to_the_old_format_fails(session, conversation):
    """Downgrade: the old format binds no metadata, but the version is itself in the
    associated data, so a new message does not open as an old one."""
    _report, keys, asked, _answered, _staff = conversation
    body = session.get(Message, asked).body
    assert body[0] == 2
    _tamper(session, asked, body=b"\x01" + body[1:], position=1, epoch=0)
    assert [(author, intact) for author, intact, _ in _shown(session, keys)] == [
        ("staff", True),
        ("reporter", False),
    ]


def _legacy(session, keys, report_id, position: int, author: str, text: str):
    """A message row as the code before format version 2 wrote it."""

    message_id = uuid.uuid4()
    body = _seal_v1(
        keys.key(Purpose.CASE, 0),
        os.urandom(12),
        text.encode(),
        report_id=report_id,
        field=f"message/{message_id}/body",
    )
    session.add(
        Message(
            id=message_id,
            report_id=report_id,
            position=position,
            author=author,
            epoch=0,
            sent_on=TODAY,
            body=body,
        )
    )
    session.flush()
    return message_id


def test_an_old_format_message_still_reads(session, recovery):

    report = service_submit(session, recovery.public_key())
    keys = key_ring.mailbox_keys(
        session, report.report_id, report.mailbox_id, report.mailbox_private
    )
    _legacy(session, keys, report.report_id, 1, "reporter", "pesan lama")
    _legacy(session, keys, report.report_id, 2, "staff", "balasan lama")
    assert _shown(session, keys) == [
        ("reporter", True, "pesan lama"),
        ("staff", True, "balasan lama"),
    ]


def test_an_old_format_message_cannot_be_moved_after_a_new_one(session, conversation):
    """Old messages bind no position, but they were all written before the first new
    one (whose sealed position counts them): one placed at or after it was moved there."""
    report, keys, _asked, _answered, _staff = conversation
    old = _legacy(session, keys, report.report_id, 3, "reporter", "pesan lama")
    assert _shown(session, keys)[2] == ("reporter", False, "")
    _tamper(session, old, position=1)  # the first new one's sealed position
    assert _shown(session, keys)[2] == ("reporter", False, "")
    _tamper(session, old, position=0)  # before every new one: where an old one belongs
    assert _shown(session, keys)[0] == ("reporter", True, "pesan lama")


def test_a_thread_continues_its_old_messages_numbering(session, recovery):
    """A report with old-format messages 1 and 2 gets new ones numbered 3, 4 (counted
    under the report's lock), and they read after the old ones."""
    report = service_submit(session, recovery.public_key())
    keys = key_ring.mailbox_keys(
        session, report.report_id, report.mailbox_id, report.mailbox_private
    )
    _legacy(session, keys, report.report_id, 1, "reporter", "pesan lama")
    _legacy(session, keys, report.report_id, 2, "staff", "balasan lama")
    new = reports.add_reporter_message(
        session, keys, report.report_id, "pesan baru", TODAY, DatePrecision.DAY
    )
    assert reports.open_message(keys, new)[0] == 3
    assert [(m.position, m.body) for m in read_mailbox(session, keys, keys.report_id).messages] == [
        (1, "pesan lama"),
        (2, "balasan lama"),
        (3, "pesan baru"),
    ]


# --- a key row changed in the database: failed fields, never a 500 (issue 15, item 9) ---

KEY_CHANGES = [
    ("identity", "epoch = 42"),
    ("identity", "purpose = 'internal'"),
    ("identity", "recipient_kind = 'staff'"),
    ("identity", "recipient_id = X'00'"),
    ("identity", "epoch = 'abc'"),
    ("case", "epoch = 42"),
    ("case", "purpose = 'internal'"),
    ("case", "recipient_kind = 'custodian'"),
    ("case", "recipient_id = 'zz'"),
]


@pytest.mark.parametrize(
    ("purpose", "change"), KEY_CHANGES, ids=[f"{p}:{c}" for p, c in KEY_CHANGES]
)
def test_a_changed_mailbox_key_row_fails_its_fields_never_a_500(session, recovery, purpose, change):
    """The review's ``update report_key set epoch=42 ... recipient_kind='mailbox' and
    purpose='identity'``: ``NoKey`` from the identity field made GET /mailbox a 500."""
    if session.get_bind().dialect.name != "sqlite":
        pytest.skip("PostgreSQL refuses a value of the wrong type in a column")
    report = service_submit(session, recovery.public_key(), identity="Budi, 0812")
    reports.add_reporter_message(
        session, _keys(session, report), report.report_id, "Ada kabar?", TODAY, DatePrecision.DAY
    )
    session.execute(
        sa_text(
            f"UPDATE report_key SET {change} WHERE report_id = :id "
            "AND recipient_kind = 'mailbox' AND purpose = :purpose"
        ),
        {"id": report.report_id.hex, "purpose": purpose},
    )
    session.expire_all()

    seen = read_mailbox(session, _keys(session, report), report.report_id)

    if purpose == "identity":
        assert seen.failed_fields == {"identity"} and seen.identity == ""
        assert seen.fields["what"]
    else:
        assert {"title", "what"} <= seen.failed_fields
        assert [m.intact for m in seen.messages] == [False]


def _keys(session, report) -> key_ring.HeldKeys:
    return key_ring.mailbox_keys(
        session, report.report_id, report.mailbox_id, report.mailbox_private
    )


def test_a_report_field_moved_to_another_epoch_fails_on_the_mailbox(session, recovery):
    """``update report_field set epoch=42 where name='title'``: the reporter's GET
    /mailbox was a 500 (``NoKey``)."""
    report = service_submit(session, recovery.public_key())
    session.execute(
        sa_text("UPDATE report_field SET epoch = 42 WHERE report_id = :id AND name = 'title'"),
        {"id": report.report_id.hex},
    )
    session.expire_all()

    seen = read_mailbox(session, _keys(session, report), report.report_id)

    assert seen.failed_fields == {"title"}


# --- changing the passphrase (issue 18) ---------------------------------------------------

NEW_PASSPHRASE = "layang layang merah di atas sawah"


def test_a_new_passphrase_opens_the_same_mailbox_key_and_the_old_one_nothing(session, recovery):
    report = service_submit(session, recovery.public_key())
    derive = Counting()

    change = mailbox.prepare_change(
        session, format_code(report.code), PASSPHRASE, NEW_PASSPHRASE, SETTINGS, derive=derive
    )
    # Checked as a sign-in checks (two derivations), then the new record (one more).
    assert derive.ran == ["lookup_id", "verify_secret", "hash_secret"]
    assert change.suggested is None and change.opened.mailbox_id == report.mailbox_id
    assert attempt_login(session, report.code, PASSPHRASE, SETTINGS).opened is not None
    mailbox.save_change(session, change)  # nothing was written before

    assert attempt_login(session, report.code, PASSPHRASE, SETTINGS).opened is None
    opened = attempt_login(session, report.code, NEW_PASSPHRASE, SETTINGS).opened
    assert opened.private_key.public_key() == report.mailbox_private.public_key()
    assert opened.stamp == change.opened.stamp
    keys = key_ring.mailbox_keys(session, report.report_id, opened.mailbox_id, opened.private_key)
    assert read_mailbox(session, keys, report.report_id).fields["title"] == "Pungutan liar"
    assert "layang" not in repr(change) and "layang" not in repr(opened)


def test_without_a_new_passphrase_one_is_suggested_and_opens_the_mailbox(session, recovery):
    report = service_submit(session, recovery.public_key())
    change = mailbox.prepare_change(session, report.code, PASSPHRASE, None, SETTINGS)
    assert len(change.suggested.split()) == 7
    mailbox.save_change(session, change)
    assert attempt_login(session, report.code, change.suggested, SETTINGS).opened is not None


def test_a_wrong_current_passphrase_or_unknown_code_changes_nothing_and_costs_a_sign_in(
    session, recovery
):
    report = service_submit(session, recovery.public_key())
    record = session.get(Mailbox, report.mailbox_id).secret_record
    unknown_code = f"{(int(report.code) + 1) % 10**16:016d}"
    outcomes = []
    for code, current in ((report.code, PASSPHRASE + "x"), (unknown_code, PASSPHRASE)):
        derive = Counting()
        change = mailbox.prepare_change(
            session, code, current, NEW_PASSPHRASE, SETTINGS, derive=derive
        )
        outcomes.append((change, derive.ran))
    assert outcomes == [(None, ["lookup_id", "verify_secret"])] * 2
    assert session.get(Mailbox, report.mailbox_id).secret_record == record
    derive = Counting()
    with refused(Reason.MALFORMED_CODE, "code"):
        mailbox.prepare_change(session, "1234", PASSPHRASE, NEW_PASSPHRASE, SETTINGS, derive=derive)
    assert derive.ran == []


def test_a_session_signed_in_before_the_change_is_no_longer_current(session, recovery):
    """Every other session of the mailbox must sign in again: each holds the stamp of
    the record it signed in with, and the change replaces the record."""
    report = service_submit(session, recovery.public_key())
    before = attempt_login(session, report.code, PASSPHRASE, SETTINGS).opened
    assert mailbox.is_current(session, before)

    change = mailbox.prepare_change(session, report.code, PASSPHRASE, NEW_PASSPHRASE, SETTINGS)
    mailbox.save_change(session, change)

    assert not mailbox.is_current(session, before)
    assert mailbox.is_current(session, change.opened)  # the changing browser's new session
    after = attempt_login(session, report.code, NEW_PASSPHRASE, SETTINGS).opened
    assert mailbox.is_current(session, after)


def test_of_two_changes_from_one_passphrase_the_second_is_refused(session, recovery):
    report = service_submit(session, recovery.public_key())
    first = mailbox.prepare_change(session, report.code, PASSPHRASE, NEW_PASSPHRASE, SETTINGS)
    second = mailbox.prepare_change(session, report.code, PASSPHRASE, None, SETTINGS)
    mailbox.save_change(session, first)
    with refused(Reason.PASSPHRASE_CHANGED_MEANWHILE, "passphrase"):
        mailbox.save_change(session, second)
    assert attempt_login(session, report.code, NEW_PASSPHRASE, SETTINGS).opened is not None
    assert attempt_login(session, report.code, second.suggested, SETTINGS).opened is None


def test_a_session_opened_with_a_rehash_is_current_once_the_rehash_is_saved(session, recovery):
    report = service_submit(session, recovery.public_key())
    stronger = replace(SETTINGS, argon2=STRONGER)
    attempt = attempt_login(session, report.code, PASSPHRASE, stronger)
    mailbox.save_rehashed(session, attempt.opened, attempt.rehashed)
    assert mailbox.is_current(session, attempt.opened)
    # A change checks without re-hashing first, even a record that predates today's
    # parameters: it replaces the record anyway (three derivations, not four).
    strongest = replace(SETTINGS, argon2=Argon2Params(time_cost=3, memory_kib=512, parallelism=1))
    derive = Counting()
    change = mailbox.prepare_change(
        session, report.code, PASSPHRASE, NEW_PASSPHRASE, strongest, derive=derive
    )
    assert derive.ran == ["lookup_id", "verify_secret", "hash_secret"]
    assert change is not None


# --- a new code at the first sign-in of a typed report (issue 18, review) ---------------


def slip_mailbox(session, recovery):
    """A typed report, signed in with the slip's code (the operator saw it)."""
    report = service_submit(session, recovery.public_key(), transcribed=True)
    opened = attempt_login(session, report.code, PASSPHRASE, SETTINGS).opened
    keys = key_ring.mailbox_keys(session, report.report_id, opened.mailbox_id, opened.private_key)
    return report, opened, keys


def test_only_a_typed_reports_mailbox_must_take_a_new_code_and_only_once(session, recovery):
    web = service_submit(session, recovery.public_key())
    web_keys = key_ring.mailbox_keys(session, web.report_id, web.mailbox_id, web.mailbox_private)
    assert not transcript.slip_code_live(session, web_keys, web.report_id)  # never asked
    report, opened, keys = slip_mailbox(session, recovery)
    assert transcript.slip_code_live(session, keys, report.report_id)
    # Derived from sealed fields only: no plaintext column of the mailbox or report
    # changes with it, and the mark is padded like a web report's.
    row = session.get(ReportField, (report.report_id, reports.CODE_RENEWED_FIELD))
    web_row = session.get(ReportField, (web.report_id, reports.CODE_RENEWED_FIELD))
    assert len(row.sealed) == len(web_row.sealed)

    change = mailbox.prepare_rekey(opened, None, SETTINGS)
    mailbox.save_change(session, change, keys)

    assert not transcript.slip_code_live(session, keys, report.report_id)


def test_a_new_code_replaces_lookup_id_record_and_sealed_key_in_one_transaction(session, recovery):
    report, opened, keys = slip_mailbox(session, recovery)
    before = session.get(Mailbox, report.mailbox_id)
    old = (before.lookup_id, before.secret_record, before.sealed_private_key)
    derive = Counting()

    change = mailbox.prepare_rekey(opened, NEW_PASSPHRASE, SETTINGS, derive=derive)

    # No current passphrase asked again (the session proves it): the new code's lookup id
    # and the new record, two derivations; nothing written yet.
    assert derive.ran == ["lookup_id", "hash_secret"]
    assert (before.lookup_id, before.secret_record, before.sealed_private_key) == old
    assert len(change.code) == 16 and change.code.isdigit() and change.code != report.code
    assert change.suggested is None
    assert change.code not in repr(change) and "layang" not in repr(change)
    session.commit()  # the report as stored; the rekey's own transaction follows
    mailbox.save_change(session, change, keys)
    session.rollback()  # the rekey's transaction fails before its commit: nothing changed
    after = session.get(Mailbox, report.mailbox_id)
    assert (after.lookup_id, after.secret_record, after.sealed_private_key) == old
    assert transcript.slip_code_live(session, keys, report.report_id)

    mailbox.save_change(session, change, keys)
    session.commit()
    after = session.get(Mailbox, report.mailbox_id)
    assert after.lookup_id != old[0] and after.secret_record != old[1]
    assert after.sealed_private_key != old[2]
    assert not transcript.slip_code_live(session, keys, report.report_id)


def test_after_a_new_code_the_slip_finds_no_mailbox_and_the_new_code_opens_the_same_key(
    session, recovery
):
    report, opened, keys = slip_mailbox(session, recovery)
    change = mailbox.prepare_rekey(opened, None, SETTINGS)
    assert len(change.suggested.split()) == 7
    mailbox.save_change(session, change, keys)

    # The slip's code: the same work and the same answer as a code nobody was given.
    unknown = f"{(int(report.code) + 1) % 10**16:016d}"
    for code in (report.code, unknown):
        derive = Counting()
        attempt = attempt_login(session, code, PASSPHRASE, SETTINGS, derive=derive)
        assert attempt == mailbox.LoginAttempt(None)
        assert derive.ran == ["lookup_id", "verify_secret"]
    assert attempt_login(session, report.code, change.suggested, SETTINGS).opened is None
    assert attempt_login(session, change.code, PASSPHRASE, SETTINGS).opened is None
    # The new code with the new passphrase: the same mailbox, the same key, the report.
    again = attempt_login(session, format_code(change.code), change.suggested, SETTINGS).opened
    assert again.mailbox_id == report.mailbox_id
    assert again.private_key.public_key() == report.mailbox_private.public_key()
    assert again.stamp == change.opened.stamp
    reread = key_ring.mailbox_keys(session, report.report_id, again.mailbox_id, again.private_key)
    assert read_mailbox(session, reread, report.report_id).fields["title"] == "Pungutan liar"
    # Its failure counter is another code's: the slip's failures are not the new code's.
    key = SETTINGS.failure_key
    assert mailbox.failure_bucket(change.code, key) != mailbox.failure_bucket(report.code, key)


def test_a_session_signed_in_with_the_slip_ends_and_a_second_rekey_is_refused(session, recovery):
    """The operator (or whoever saw the slip) signed in too: the reporter's new code
    ends that session, and a new code that session then asks for is refused."""
    report, opened, keys = slip_mailbox(session, recovery)
    operator = attempt_login(session, report.code, PASSPHRASE, SETTINGS).opened
    mine = mailbox.prepare_rekey(opened, NEW_PASSPHRASE, SETTINGS)
    theirs = mailbox.prepare_rekey(operator, None, SETTINGS)
    mailbox.save_change(session, mine, keys)

    assert not mailbox.is_current(session, operator) and not mailbox.is_current(session, opened)
    assert mailbox.is_current(session, mine.opened)
    with refused(Reason.PASSPHRASE_CHANGED_MEANWHILE, "passphrase"):
        mailbox.save_change(session, theirs, keys)
    assert attempt_login(session, theirs.code, theirs.suggested, SETTINGS).opened is None
    assert attempt_login(session, mine.code, NEW_PASSPHRASE, SETTINGS).opened is not None


def test_a_rekey_needs_the_mailboxs_keys_to_mark_the_report(session, recovery):
    _report, opened, _keys = slip_mailbox(session, recovery)
    with pytest.raises(TypeError):
        mailbox.save_change(session, mailbox.prepare_rekey(opened, None, SETTINGS))
