"""An investigator's casework (:mod:`sipadu.services.cases`), called directly: the list of
granted reports, a report opened, a file downloaded, replies, notes, the status workflow
and the spam mark. Every plaintext read writes exactly its own audit entry in the
caller's transaction (none when refused, none when the caller rolls back); every
refusal by its reason. Real HPKE, a real database, rolled back after each test."""

import io
import json
import uuid
import zipfile
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update
from sqlalchemy import text as sa_text

from sipadu.accountability import audit
from sipadu.accountability.audit import Action
from sipadu.crypto import Purpose
from sipadu.persistence.models import (
    Attachment,
    Message,
    Note,
    Report,
    ReportField,
    ReportStatus,
    Role,
)
from sipadu.services import Reason, cases, export, grants, key_ring, reports
from sipadu.services.attachments import UploadedFile
from sipadu.services.cases import CaseFilter, NotGranted
from sipadu.services.key_ring import NoKey
from sipadu.settings.config import DatePrecision
from tests.helpers import database
from tests.services.helpers import (
    TODAY,
    Recorded,
    ServicePerson,
    Submitted,
    approve_identity,
    held,
    person,
    read_mark,
    refused,
    route,
    service_submit,
    stored,
)

EVIDENCE = b"foto kuitansi " * 5000  # several chunks of the stream format
REPLY_FILE = b"surat balasan"


@pytest.fixture(scope="module")
def evidence(database_url) -> list[UploadedFile]:
    """Files staged once for the module; each test links them in its own transaction."""
    first, second, third = stored(database_url, EVIDENCE, REPLY_FILE, b"lain")
    return [
        UploadedFile(first, "kuitansi.jpg", "image/jpeg"),
        UploadedFile(second, "balasan.pdf", "application/pdf"),
        UploadedFile(third, "lain.txt", "text/plain"),
    ]


@pytest.fixture
def investigator(session) -> ServicePerson:
    """An investigator new reports in the default category are routed to."""
    someone = person(session, "penyidik", Role.INVESTIGATOR)
    route(session, someone)
    return someone


@pytest.fixture
def outsider(session) -> ServicePerson:
    return person(session, "orang.lain", Role.INVESTIGATOR)


def mailbox(session, report: Submitted) -> key_ring.HeldKeys:
    return key_ring.mailbox_keys(
        session, report.report_id, report.mailbox_id, report.mailbox_private
    )


EVERY = CaseFilter()  # no filter: the default list


def listed(session, who: ServicePerson, criteria: CaseFilter = EVERY, **kwargs) -> list:
    page = cases.list_cases(session, who.id, who.private, criteria, TODAY, **kwargs)
    return [row.id for row in page.rows]


# --- the list ------------------------------------------------------------------------


def test_the_list_shows_granted_reports_only_and_records_the_view(
    session, recovery, investigator, outsider
):
    mine = service_submit(session, recovery.public_key())
    not_mine = service_submit(session, recovery.public_key(), category="staff_discipline")
    log = Recorded(session)

    page = cases.list_cases(session, investigator.id, investigator.private, CaseFilter(), TODAY)

    [row] = [row for row in page.rows if row.id == mine.report_id]
    assert (row.title, row.category, row.status) == ("Pungutan liar", "kkn", "received")
    assert (row.received_on, row.ack_due_on, row.feedback_due_on) == (
        TODAY,
        TODAY + timedelta(days=7),
        TODAY + timedelta(days=90),
    )
    assert not (row.ack_overdue or row.feedback_overdue) and row.unread == 0
    assert not_mine.report_id not in {r.id for r in page.rows} and page.next_cursor is None
    assert listed(session, outsider) == []
    entries = log.entries()
    assert [(e["action"], e["actor"], e["role"], e["report_id"]) for e in entries] == [
        ("report.list", str(investigator.id), "investigator", None),
        ("report.list", str(outsider.id), "investigator", None),
    ]
    assert entries[0]["detail"] == {"filters": [], "page_after": None}


def test_the_list_filters_by_status_category_deadline_unread_and_spam(
    session, recovery, investigator
):
    report = service_submit(session, recovery.public_key())
    rid = report.report_id
    log = Recorded(session)

    assert listed(session, investigator, CaseFilter(status="received")) == [rid]
    assert listed(session, investigator, CaseFilter(status="in_review")) == []
    assert listed(session, investigator, CaseFilter(category="kkn")) == [rid]
    assert listed(session, investigator, CaseFilter(category="staff_discipline")) == []
    assert listed(session, investigator, CaseFilter(deadline="on_time")) == [rid]
    assert listed(session, investigator, CaseFilter(deadline="ack_overdue")) == []
    late = TODAY + timedelta(days=8)
    overdue = cases.list_cases(
        session, investigator.id, investigator.private, CaseFilter(deadline="ack_overdue"), late
    )
    assert [(r.id, r.ack_overdue, r.feedback_overdue) for r in overdue.rows] == [(rid, True, False)]
    assert listed(session, investigator, CaseFilter(unread=True)) == []
    reports.add_reporter_message(
        session, mailbox(session, report), rid, "Tambahan", TODAY, DatePrecision.DAY
    )
    [row] = cases.list_cases(
        session, investigator.id, investigator.private, CaseFilter(unread=True), TODAY
    ).rows
    assert (row.id, row.unread) == (rid, 1)
    cases.mark_spam(session, rid, investigator.id, True)
    assert listed(session, investigator) == []
    assert listed(session, investigator, CaseFilter(spam=True)) == [rid]

    views = [e for e in log.entries() if e["action"] == "report.list"]
    assert [e["detail"]["filters"] for e in views] == [
        ["status"],
        ["status"],
        ["category"],
        ["category"],
        ["deadline"],
        ["deadline"],
        ["deadline"],
        ["unread"],
        ["unread"],
        [],
        ["spam"],
    ]


def test_the_list_pages_by_keyset_and_records_each_page(
    session, recovery, investigator, monkeypatch
):
    monkeypatch.setattr(cases, "PAGE_SIZE", 2)
    ids = {service_submit(session, recovery.public_key()).report_id for _ in range(5)}
    log = Recorded(session)

    seen, cursors, cursor = [], [], None
    while True:
        page = cases.list_cases(
            session, investigator.id, investigator.private, CaseFilter(), TODAY, cursor
        )
        assert len(page.rows) <= 2
        seen += [row.id for row in page.rows]
        cursors.append(cursor)
        if page.next_cursor is None:
            break
        cursor = page.next_cursor

    assert len(seen) == 5 and set(seen) == ids
    assert seen == sorted(seen, reverse=True)  # one day: newest id first
    assert [e["detail"]["page_after"] for e in log.entries()] == cursors
    assert len(cursors) == 3


@pytest.mark.parametrize("cursor", ["nonsense", "2025-13-01_x", f"2025-03-14_{'z' * 32}"])
def test_a_bad_page_cursor_is_refused_and_records_nothing(session, investigator, cursor):
    log = Recorded(session)
    with refused(Reason.BAD_PAGE_CURSOR):
        listed(session, investigator, cursor=cursor)
    assert log.actions() == []


# --- one report --------------------------------------------------------------------------


def test_opening_a_case_decrypts_it_records_the_read_and_marks_messages_read(
    session, recovery, investigator, evidence
):
    report = service_submit(
        session, recovery.public_key(), identity="Siti, 0812", files=evidence[:1]
    )
    reports.add_reporter_message(
        session, mailbox(session, report), report.report_id, "Ada lagi", TODAY, DatePrecision.DAY
    )
    keys = held(session, report, investigator)
    cases.add_note(session, keys, investigator.id, "Cek ke lokasi")
    log = Recorded(session)

    view = cases.open_case(session, keys, investigator.id)

    assert view.report.id == report.report_id and view.category == "kkn"
    assert view.fields["title"] == "Pungutan liar" and view.fields["what"] == "Di loket"
    assert set(view.fields) == set(reports.CASE_FIELDS)
    assert view.identity is None and view.status_reason is None  # not approved
    assert [(m.author, m.body) for m in view.messages] == [("reporter", "Ada lagi")]
    assert [(n.author, n.body) for n in view.notes] == [("penyidik", "Cek ke lokasi")]
    [file] = view.attachments
    assert (file.name, file.content_type, file.size, file.message_id) == (
        "kuitansi.jpg",
        "image/jpeg",
        len(EVIDENCE),
        None,
    )
    assert view.files_of(None) == [file] and view.identity_requests == []
    entry = log.only(Action.REPORT_READ)
    assert (entry["actor"], entry["role"], entry["report_id"], entry["detail"]) == (
        str(investigator.id),
        "investigator",
        str(report.report_id),
        None,
    )
    assert log.actions() == ["report.read"]  # no identity.read without the identity
    assert read_mark(session, report, investigator) == 1
    assert "Siti" not in str(log.entries()) and "Pungutan" not in str(log.entries())


def test_an_approved_identity_is_shown_and_its_read_recorded_too(session, recovery):
    custodian = person(session, "penjaga", Role.CUSTODIAN)
    investigator = person(session, "penanya", Role.INVESTIGATOR)
    route(session, investigator)
    report = service_submit(session, recovery.public_key(), identity="Siti, 0812")
    approve_identity(session, report, investigator, custodian, recovery.public_key())
    log = Recorded(session)

    view = cases.open_case(session, held(session, report, investigator), investigator.id)

    assert view.identity == "Siti, 0812"
    assert log.actions() == ["report.read", "identity.read"]
    assert log.only(Action.IDENTITY_READ)["report_id"] == str(report.report_id)


def test_opening_without_recording_records_nothing_and_leaves_messages_unread(
    session, recovery, investigator
):
    report = service_submit(session, recovery.public_key())
    reports.add_reporter_message(
        session, mailbox(session, report), report.report_id, "Halo", TODAY, DatePrecision.DAY
    )
    log = Recorded(session)

    view = cases.open_case(
        session, held(session, report, investigator), investigator.id, record=False
    )

    assert [m.body for m in view.messages] == ["Halo"]
    assert log.actions() == []
    assert read_mark(session, report, investigator) is None


def test_a_report_not_granted_is_not_found_and_its_refused_read_records_nothing(
    session, recovery, investigator, outsider
):
    report = service_submit(session, recovery.public_key())
    theirs = held(session, report, outsider)
    log = Recorded(session)

    with refused(Reason.REPORT_NOT_FOUND) as info:
        cases.open_case(session, theirs, outsider.id)
    assert isinstance(info.value, NotGranted)
    with refused(Reason.REPORT_NOT_FOUND):
        cases.granted(session, uuid.uuid4(), investigator.id)
    # The grant row alone opens nothing: the keys must be the account's own.
    with refused(Reason.NO_KEY) as info:
        cases.open_case(session, theirs, investigator.id)
    assert isinstance(info.value, NoKey)
    assert log.actions() == []


def test_a_revoked_colleague_no_longer_finds_the_report(session, recovery, investigator, outsider):
    report = service_submit(session, recovery.public_key())
    investigator.account.may_grant = True
    grants.grant(session, held(session, report, investigator), investigator.account, outsider.id)
    cases.open_case(session, held(session, report, outsider), outsider.id)
    grants.revoke(
        session, report.report_id, investigator.account, outsider.id, recovery.public_key()
    )
    log = Recorded(session)

    with refused(Reason.REPORT_NOT_FOUND):
        cases.open_case(session, held(session, report, outsider), outsider.id)
    assert listed(session, outsider) == []
    assert log.actions() == ["report.list"]


# --- files -------------------------------------------------------------------------------


def test_a_download_records_its_file_and_size_and_nothing_else(
    session, recovery, investigator, evidence
):
    report = service_submit(session, recovery.public_key(), files=evidence[:1])
    keys = held(session, report, investigator)
    [file] = cases.open_case(session, keys, investigator.id, record=False).attachments
    log = Recorded(session)

    info = cases.download_attachment(session, keys, investigator.id, file.id)

    assert info == file
    entry = log.only(Action.ATTACHMENT_DOWNLOAD)
    assert (entry["actor"], entry["report_id"], entry["detail"]) == (
        str(investigator.id),
        str(report.report_id),
        {"attachment": str(file.id), "size": len(EVIDENCE)},
    )
    assert log.actions() == ["attachment.download"]


def test_a_refused_download_records_nothing(session, recovery, investigator, outsider, evidence):
    report = service_submit(session, recovery.public_key(), files=evidence[:1])
    other = service_submit(session, recovery.public_key(), files=evidence[2:])
    keys = held(session, report, investigator)
    [file] = cases.open_case(session, keys, investigator.id, record=False).attachments
    [elsewhere] = cases.open_case(
        session, held(session, other, investigator), investigator.id, record=False
    ).attachments
    log = Recorded(session)

    with refused(Reason.NO_SUCH_FILE):
        cases.download_attachment(session, keys, investigator.id, uuid.uuid4())
    with refused(Reason.NO_SUCH_FILE):  # another report's file, even one they hold
        cases.download_attachment(session, keys, investigator.id, elsewhere.id)
    with refused(Reason.REPORT_NOT_FOUND):
        cases.download_attachment(session, held(session, report, outsider), outsider.id, file.id)
    assert log.actions() == []


# --- replies, notes, the workflow --------------------------------------------------------


def test_a_reply_is_sealed_for_the_mailbox_with_a_coarsened_date_and_its_files(
    session, recovery, investigator, evidence
):
    report = service_submit(session, recovery.public_key())
    log = Recorded(session)

    message = cases.reply(
        session,
        held(session, report, investigator),
        investigator.id,
        "  Mohon kirim bukti  ",
        TODAY,
        DatePrecision.MONTH,
        files=evidence[1:2],
    )

    # Neither position nor epoch in plaintext: both inside the sealed body (G2).
    assert (message.position, message.author, message.epoch) == (None, "staff", None)
    assert reports.open_message(mailbox(session, report), message)[::2] == (1, 0)
    assert message.sent_on == TODAY.replace(day=1)
    assert b"bukti" not in message.body
    view = reports.read_mailbox(session, mailbox(session, report), report.report_id)
    assert [(m.author, m.body) for m in view.messages] == [("staff", "Mohon kirim bukti")]
    [file] = view.files_of(message.id)
    assert (file.name, file.size) == ("balasan.pdf", len(REPLY_FILE))
    entry = log.only(Action.MESSAGE_SEND)
    assert entry["detail"] == {"files": 1}  # no position: it would count the reporter's
    assert log.actions() == ["message.send"]
    second = cases.reply(
        session,
        held(session, report, investigator),
        investigator.id,
        "Lagi",
        TODAY,
        DatePrecision.DAY,
    )
    assert second.sent_on == TODAY
    assert reports.open_message(mailbox(session, report), second)[0] == 2


def test_an_internal_note_is_sealed_under_the_internal_key_never_the_mailboxs(
    session, recovery, investigator
):
    report = service_submit(session, recovery.public_key())
    log = Recorded(session)

    note = cases.add_note(
        session, held(session, report, investigator), investigator.id, " Catatan "
    )

    assert b"Catatan" not in note.body and note.epoch == 0
    assert not mailbox(session, report).holds(Purpose.INTERNAL, 0)
    assert log.only(Action.NOTE_ADD)["detail"] == {"note": str(note.id)}
    assert [
        n.body
        for n in cases.open_case(
            session, held(session, report, investigator), investigator.id, record=False
        ).notes
    ] == ["Catatan"]


def test_empty_replies_and_notes_and_strangers_are_refused_and_store_nothing(
    session, recovery, investigator, outsider
):
    report = service_submit(session, recovery.public_key())
    keys = held(session, report, investigator)
    log = Recorded(session)

    with refused(Reason.EMPTY_TEXT, "body"):
        cases.reply(session, keys, investigator.id, " \n\t ", TODAY, DatePrecision.DAY)
    with refused(Reason.EMPTY_TEXT, "body"):
        cases.add_note(session, keys, investigator.id, "   ")
    theirs = held(session, report, outsider)
    with refused(Reason.REPORT_NOT_FOUND):
        cases.reply(session, theirs, outsider.id, "Halo", TODAY, DatePrecision.DAY)
    with refused(Reason.REPORT_NOT_FOUND):
        cases.add_note(session, theirs, outsider.id, "Halo")

    assert session.scalars(select(Message).where(Message.report_id == report.report_id)).all() == []
    assert session.scalars(select(Note).where(Note.report_id == report.report_id)).all() == []
    assert log.actions() == []


def test_the_workflow_acknowledges_closes_with_a_reason_the_reporter_reads(
    session, recovery, investigator
):
    report = service_submit(session, recovery.public_key())
    keys = held(session, report, investigator)
    later = TODAY + timedelta(days=3)
    log = Recorded(session)

    cases.change_status(session, keys, investigator.id, "in_review", "", later)
    row = session.get(Report, report.report_id)
    assert (row.status, row.acknowledged_on, row.closed_on) == ("in_review", later, None)
    cases.change_status(session, keys, investigator.id, "investigating", "", later)
    cases.change_status(session, keys, investigator.id, "closed_substantiated", " Terbukti ", later)

    assert (row.status, row.acknowledged_on, row.closed_on) == (
        "closed_substantiated",
        later,
        later,
    )
    view = reports.read_mailbox(session, mailbox(session, report), report.report_id)
    assert view.status_reason == "Terbukti"
    assert cases.open_case(session, keys, investigator.id, record=False).status_reason == "Terbukti"
    assert [e["detail"] for e in log.entries()] == [
        {"from": "received", "to": "in_review", "acknowledged": True, "with_reason": False},
        {"from": "in_review", "to": "investigating", "acknowledged": False, "with_reason": False},
        {
            "from": "investigating",
            "to": "closed_substantiated",
            "acknowledged": False,
            "with_reason": True,
        },
    ]
    assert "Terbukti" not in str(log.entries())


def test_a_new_reason_replaces_the_old_one(session, recovery, investigator):
    report = service_submit(session, recovery.public_key())
    keys = held(session, report, investigator)
    cases.change_status(session, keys, investigator.id, "in_review", "Dibaca", TODAY)
    cases.change_status(session, keys, investigator.id, "rejected", "Bukan wewenang", TODAY)
    view = reports.read_mailbox(session, mailbox(session, report), report.report_id)
    assert (view.status, view.status_reason) == ("rejected", "Bukan wewenang")


def test_the_workflow_refuses_unknown_statuses_wrong_moves_and_closing_without_reason(
    session, recovery, investigator, outsider
):
    report = service_submit(session, recovery.public_key())
    keys = held(session, report, investigator)
    log = Recorded(session)

    with refused(Reason.UNKNOWN_STATUS, "status"):
        cases.change_status(session, keys, investigator.id, "done", "", TODAY)
    with refused(Reason.BAD_TRANSITION, "status") as info:
        cases.change_status(session, keys, investigator.id, "investigating", "", TODAY)
    assert info.value.params == {"old": "received", "new": "investigating"}
    with refused(Reason.CLOSING_NEEDS_REASON, "reason"):
        cases.change_status(session, keys, investigator.id, "rejected", "  ", TODAY)
    with refused(Reason.REPORT_NOT_FOUND):
        cases.change_status(
            session, held(session, report, outsider), outsider.id, "in_review", "", TODAY
        )
    assert session.get(Report, report.report_id).status == "received"
    assert log.actions() == []
    cases.change_status(session, keys, investigator.id, "rejected", "Spam", TODAY)
    for target in ReportStatus:  # closing is final: a case reopened is a new report
        with refused(Reason.BAD_TRANSITION, "status"):
            cases.change_status(session, keys, investigator.id, target.value, "x", TODAY)


def test_the_spam_mark_hides_a_report_and_is_recorded_only_when_it_changes(
    session, recovery, investigator, outsider
):
    report = service_submit(session, recovery.public_key())
    log = Recorded(session)

    cases.mark_spam(session, report.report_id, investigator.id, True)
    cases.mark_spam(session, report.report_id, investigator.id, True)
    assert session.get(Report, report.report_id).spam
    cases.mark_spam(session, report.report_id, investigator.id, False)
    cases.mark_spam(session, report.report_id, investigator.id, False)
    with refused(Reason.REPORT_NOT_FOUND):
        cases.mark_spam(session, report.report_id, outsider.id, True)

    assert log.actions() == ["report.spam", "report.not_spam"]
    assert {e["report_id"] for e in log.entries()} == {str(report.report_id)}
    assert session.get(Report, report.report_id).status == "received"


# --- the caller's transaction ----------------------------------------------------------


def test_nothing_is_recorded_if_the_caller_rolls_back(database_url, recovery, evidence):
    """The reads record in the caller's transaction: rolled back, no entry stays."""
    with database(database_url) as session:
        before = audit.head(session)
        investigator = person(session, "tanpa.jejak", Role.INVESTIGATOR)
        route(session, investigator)
        report = service_submit(session, recovery.public_key(), files=evidence[:1])
        keys = held(session, report, investigator)
        cases.list_cases(session, investigator.id, investigator.private, CaseFilter(), TODAY)
        view = cases.open_case(session, keys, investigator.id)
        cases.download_attachment(session, keys, investigator.id, view.attachments[0].id)
        cases.reply(session, keys, investigator.id, "Halo", TODAY, DatePrecision.DAY)
        session.flush()
        assert audit.head(session)[0] > before[0]
        session.rollback()
    with database(database_url) as session:
        assert audit.head(session) == before


def test_an_investigator_who_is_also_a_custodian_sees_no_identity_without_approval(
    session, recovery
):
    """Issue 15: the identity key such a person holds as a custodian showed every
    reporter's identity on the case page, logged as ``identity.read``, with nobody
    deciding (G3)."""
    both = person(session, "dua.peran.kasus", Role.INVESTIGATOR, Role.CUSTODIAN)
    route(session, both)
    report = service_submit(session, recovery.public_key(), identity="Siti, 0812")
    log = Recorded(session)

    view = cases.open_case(session, held(session, report, both), both.id)

    assert view.identity is None
    assert log.actions() == ["report.read"]
    assert "Siti" not in str(log.entries())


# --- tampering in the database: failed, shown as such, recorded --------------------------


def _tamper(session, model, row_id: uuid.UUID, **values) -> None:
    """Change a row's columns as a database writer would: SQL, then reload."""
    session.execute(update(model).where(model.id == row_id).values(**values))
    session.expire_all()


def test_a_tampered_message_is_shown_as_failed_and_recorded_for_the_reader(
    session, recovery, investigator
):
    report = service_submit(session, recovery.public_key())
    keys = held(session, report, investigator)
    reply = cases.reply(
        session, keys, investigator.id, "Mohon kirim foto.", TODAY, DatePrecision.DAY
    )
    _tamper(session, Message, reply.id, author="reporter", author_account_id=None)
    log = Recorded(session)

    view = cases.open_case(session, held(session, report, investigator), investigator.id)

    [shown] = view.messages
    assert (shown.intact, shown.body) == (False, "")
    entry = log.only(Action.INTEGRITY_FAILURE)
    assert (entry["actor"], entry["role"], entry["report_id"], entry["detail"]) == (
        str(investigator.id),
        "investigator",
        str(report.report_id),
        {"kind": "message", "id": str(reply.id)},
    )
    assert log.actions() == ["record.integrity_failure", "report.read"]


@pytest.mark.parametrize(
    "change",
    [
        {"written_at": datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)},
        {"author_account_id": None},
    ],
    ids=["re-dated", "author-removed"],
)
def test_a_tampered_note_is_shown_as_failed_and_recorded(session, recovery, investigator, change):
    report = service_submit(session, recovery.public_key())
    keys = held(session, report, investigator)
    first = cases.add_note(session, keys, investigator.id, "Catatan pertama")
    cases.add_note(session, keys, investigator.id, "Catatan kedua")
    _tamper(session, Note, first.id, **change)
    log = Recorded(session)

    view = cases.open_case(session, held(session, report, investigator), investigator.id)

    assert sorted((n.intact, n.body) for n in view.notes) == [(False, ""), (True, "Catatan kedua")]
    assert log.only(Action.INTEGRITY_FAILURE)["detail"] == {"kind": "note", "id": str(first.id)}


def test_a_note_re_attributed_to_a_colleague_fails(session, recovery, investigator, outsider):
    report = service_submit(session, recovery.public_key())
    note = cases.add_note(
        session, held(session, report, investigator), investigator.id, "Milik saya"
    )
    _tamper(session, Note, note.id, author_account_id=outsider.id)
    view = cases.open_case(session, held(session, report, investigator), investigator.id)
    assert [(n.author, n.intact, n.body) for n in view.notes] == [("orang.lain", False, "")]


def test_a_file_moved_onto_a_reply_is_refused_for_download_and_recorded(
    session, recovery, investigator, evidence
):
    report = service_submit(session, recovery.public_key(), files=evidence[:1])
    keys = held(session, report, investigator)
    reply = cases.reply(session, keys, investigator.id, "Terima kasih.", TODAY, DatePrecision.DAY)
    [file] = cases.open_case(session, keys, investigator.id, record=False).attachments
    _tamper(session, Attachment, file.id, message_id=reply.id)
    log = Recorded(session)

    info = cases.download_attachment(session, keys, investigator.id, file.id)

    assert (info.intact, info.name, info.size) == (False, "", 0)
    assert log.actions() == ["record.integrity_failure"]  # no download recorded: none made
    assert log.only(Action.INTEGRITY_FAILURE)["detail"] == {
        "kind": "attachment",
        "id": str(file.id),
    }


def test_report_fields_swapped_in_the_database_are_shown_as_failed_and_recorded(
    session, recovery, investigator
):
    """A database writer swaps two fields of a report (what ↔ who): each fails its
    integrity check, the case page shows neither, names them, and records each; the
    report list shows a dash for a title that fails. Before: a CryptoError, a 500."""
    report = service_submit(session, recovery.public_key(), identity="Budi, 0812")
    rows = {
        row.name: row
        for row in session.scalars(
            select(ReportField).where(ReportField.report_id == report.report_id)
        )
    }
    rows["what"].sealed, rows["title"].sealed = rows["title"].sealed, rows["what"].sealed
    session.flush()
    session.expire_all()
    log = Recorded(session)

    view = cases.open_case(session, held(session, report, investigator), investigator.id)

    assert view.failed_fields == {"what", "title"}
    assert (view.fields["what"], view.fields["title"]) == ("", "")
    assert view.identity is None  # not approved: the identity field is not even opened
    failures = [e for e in log.entries() if e["action"] == Action.INTEGRITY_FAILURE.value]
    assert sorted(e["detail"]["id"] for e in failures) == ["title", "what"]
    page = cases.list_cases(session, investigator.id, investigator.private, CaseFilter(), TODAY)
    assert [row.title for row in page.rows] == ["—"]


# --- a value of the wrong type in a sealed row: a failed row, never a 500 (item 9) ------
#
# SQLite stores whatever it is given. Text that is not UTF-8 in a ciphertext column made
# the driver raise while loading ("Could not decode to UTF-8"); 'abc' in an epoch, a
# malformed date or a non-UUID made SQLAlchemy raise, before any integrity check: the
# case page, the mailbox and the export were a 500. PostgreSQL refuses such values.

WRONG_TYPES = [
    # (table, column, SQL value): each as a database writer would store it
    ("message", "body", "X'02' || substr(body, 2)"),  # TEXT, not UTF-8 (the review's)
    ("message", "body", "12345"),
    ("message", "body", "1.5"),
    ("message", "body", "'plain text'"),
    ("message", "epoch", "'abc'"),
    ("message", "epoch", "2.5"),
    ("message", "position", "'abc'"),
    ("message", "sent_on", "'2025-13-45'"),
    ("message", "sent_on", "20250314"),
    ("message", "sent_on", "X'ff'"),
    ("message", "author", "CAST(X'ff' AS TEXT)"),
    ("message", "author", "42"),
    ("message", "author_account_id", "'not-a-uuid'"),
    ("message", "author_account_id", "7"),
    ("note", "body", "X'02' || substr(body, 2)"),
    ("note", "epoch", "'abc'"),
    ("note", "written_at", "'yesterday'"),
    ("note", "written_at", "3.25"),
    ("note", "author_account_id", "CAST(X'fe' AS TEXT)"),
    ("attachment", "sealed_name", "X'02' || substr(sealed_name, 2)"),
    ("attachment", "sealed_type", "42"),
    ("attachment", "sealed_size", "'1024'"),
    ("attachment", "uploader", "CAST(X'c3' AS TEXT)"),
    ("attachment", "message_id", "'zz'"),
    ("attachment", "epoch", "'abc'"),
    ("report_field", "sealed", "X'02' || substr(sealed, 2)"),
    ("report_field", "sealed", "7"),
    ("report_field", "epoch", "'abc'"),
    ("report_field", "epoch", "42"),  # an integer, but no key of that epoch: NoKey was a 500
    ("attachment", "sealed_key", "X'00'"),  # the file key: the export broke off mid-stream
    ("attachment", "sealed_key", "CAST(sealed_key AS TEXT)"),
    ("attachment", "sealed_key", "42"),
]


def _sqlite_only(session) -> None:
    if session.get_bind().dialect.name != "sqlite":
        pytest.skip("PostgreSQL refuses a value of the wrong type in a column")


def _store_wrong_type(session, table: str, column: str, value: str, row_id) -> None:
    """Raw SQL, as a database writer would: no ORM type stands in the way."""
    where = "report_id = :id AND name = 'what'" if table == "report_field" else "id = :id"
    session.execute(sa_text("PRAGMA defer_foreign_keys = ON"))  # a writer turns them off
    session.execute(
        sa_text(f"UPDATE {table} SET {column} = {value} WHERE {where}"),
        {"id": row_id.hex},
    )
    session.expire_all()


def _tampered_case(session, recovery, investigator, evidence, table: str):
    """A report with a file, a reporter message, a reply and a note; the id of the row
    of ``table`` to change (for a report field: the report's)."""
    report = service_submit(session, recovery.public_key(), files=evidence[:1])
    mailbox_keys = mailbox(session, report)
    reports.add_reporter_message(
        session, mailbox_keys, report.report_id, "Ada kabar?", TODAY, DatePrecision.DAY
    )
    keys = held(session, report, investigator)
    reply = cases.reply(
        session, keys, investigator.id, "Sedang diperiksa.", TODAY, DatePrecision.DAY
    )
    note = cases.add_note(session, keys, investigator.id, "Catatan internal")
    [file] = cases.open_case(session, keys, investigator.id, record=False).attachments
    target = {
        "message": reply.id,
        "note": note.id,
        "attachment": file.id,
        "report_field": report.report_id,
    }[table]
    return report, target


@pytest.mark.parametrize(
    ("table", "column", "value"), WRONG_TYPES, ids=[f"{t}.{c}={v}" for t, c, v in WRONG_TYPES]
)
def test_a_value_of_the_wrong_type_is_an_integrity_failure_never_a_500(
    session, recovery, investigator, evidence, table, column, value
):
    _sqlite_only(session)
    report, target = _tampered_case(session, recovery, investigator, evidence, table)
    _store_wrong_type(session, table, column, value, target)
    log = Recorded(session)

    view = cases.open_case(session, held(session, report, investigator), investigator.id)

    failed = (
        [("message", m.id) for m in view.messages if not m.intact]
        + [("note", n.id) for n in view.notes if not n.intact]
        + [("attachment", a.id) for a in view.attachments if not a.intact]
        + [("report_field", name) for name in view.failed_fields]
    )
    expected = ("report_field", "what") if table == "report_field" else (table, target)
    assert failed == [expected]
    assert [e["detail"] for e in log.entries() if e["action"] == "record.integrity_failure"] == [
        {"kind": expected[0], "id": str(expected[1])}
    ]
    # the reporter's mailbox (no notes there) and the export say the same, never raise
    seen = reports.read_mailbox(session, mailbox(session, report), report.report_id)
    reporter_failed = (
        [("message", m.id) for m in seen.messages if not m.intact]
        + [("attachment", a.id) for a in seen.attachments if not a.intact]
        + [("report_field", name) for name in seen.failed_fields]
    )
    assert reporter_failed == ([] if table == "note" else [expected])
    exported = export.open_for_export(
        session, held(session, report, investigator), investigator.id, recipient=None
    )
    keys = held(session, report, investigator)
    archive = zipfile.ZipFile(io.BytesIO(b"".join(export.report_zip(exported, keys, b"\x01" * 32))))
    summary = json.loads(archive.read("report.json"))
    assert summary["failed_attachments"] == ([str(target)] if table == "attachment" else [])
    assert len([n for n in archive.namelist() if n.startswith("attachments/")]) == (
        0 if table == "attachment" else 1
    )


def test_a_wrap_of_the_wrong_type_fails_the_rows_it_opens_never_a_500(
    session, recovery, investigator, evidence
):
    """The investigator's wrap of the case key stored as text that is not UTF-8: every
    row sealed under it fails and is recorded; the list shows a dash for the title."""
    _sqlite_only(session)
    report, _target = _tampered_case(session, recovery, investigator, evidence, "message")
    session.execute(
        sa_text(
            "UPDATE report_key SET wrapped = X'02' || substr(wrapped, 2) "
            "WHERE report_id = :id AND recipient_id = :who AND purpose = 'case'"
        ),
        {"id": report.report_id.hex, "who": investigator.id.hex},
    )
    session.expire_all()
    log = Recorded(session)

    view = cases.open_case(session, held(session, report, investigator), investigator.id)

    assert not any(m.intact for m in view.messages) and not any(a.intact for a in view.attachments)
    assert {"title", "what"} <= view.failed_fields
    assert all(n.intact for n in view.notes)  # the internal key's wrap is untouched
    assert "record.integrity_failure" in log.actions()
    page = cases.list_cases(session, investigator.id, investigator.private, CaseFilter(), TODAY)
    assert [row.title for row in page.rows] == ["—"]


# --- a grant's read mark of the wrong type: "nothing read", never a 500 (item 9) -------

READ_MARKS = ["CAST(read_mark AS TEXT)", "42", "X'00'", "'abc'"]


@pytest.mark.parametrize("value", READ_MARKS)
def test_a_read_mark_of_the_wrong_type_counts_as_nothing_read(
    session, recovery, investigator, evidence, value
):
    """The review's ``read_mark=CAST(read_mark AS TEXT)`` made the list, the case page,
    the export and the downloads a 500 (``TypeError`` in ``field_version``)."""
    _sqlite_only(session)
    report, target = _tampered_case(session, recovery, investigator, evidence, "attachment")
    keys = held(session, report, investigator)
    cases.open_case(session, keys, investigator.id)  # sets the read mark: one message seen
    session.execute(
        sa_text(f"UPDATE report_grant SET read_mark = {value} WHERE report_id = :id"),
        {"id": report.report_id.hex},
    )
    session.expire_all()

    page = cases.list_cases(session, investigator.id, investigator.private, CaseFilter(), TODAY)
    assert [row.unread for row in page.rows] == [1]  # unknown: counted as unread
    unread = cases.list_cases(
        session, investigator.id, investigator.private, CaseFilter(unread=True), TODAY
    )
    assert [row.unread for row in unread.rows] == [1]
    view = cases.open_case(session, held(session, report, investigator), investigator.id)
    assert not view.failed_fields and all(m.intact for m in view.messages)
    exported = export.open_for_export(
        session, held(session, report, investigator), investigator.id, recipient=None
    )
    assert b"".join(export.report_zip(exported, held(session, report, investigator), b"\x01" * 32))
    info = cases.download_attachment(
        session, held(session, report, investigator), investigator.id, target
    )
    assert info.intact
    # the page view sealed a good mark again
    page = cases.list_cases(session, investigator.id, investigator.private, CaseFilter(), TODAY)
    assert [row.unread for row in page.rows] == [0]


def test_unread_counts_reach_the_read_marks_without_opening_titles(
    session, recovery, investigator, monkeypatch
):
    """Review of issue 17, finding 4: the home page's unread count (and the list's unread
    filter, for every report it walks) decrypted titles, unrecorded, just to reach the
    case key that opens the read mark. The key is reached through the title's epoch; only
    the titles of the rows shown are opened (the list records that view)."""
    report = service_submit(session, recovery.public_key())
    rid = report.report_id
    box = mailbox(session, report)
    reports.add_reporter_message(session, box, rid, "Satu", TODAY, DatePrecision.DAY)
    cases.open_case(session, held(session, report, investigator), investigator.id)
    reports.add_reporter_message(session, box, rid, "Dua", TODAY, DatePrecision.DAY)
    opened: list[str] = []
    real = cases.open_field

    def spy(key, sealed, *, report_id, field):
        opened.append(field)
        return real(key, sealed, report_id=report_id, field=field)

    monkeypatch.setattr(cases, "open_field", spy)

    assert cases.count_unread(session, investigator.id, investigator.private, 10) == (1, True)
    assert "report/title" not in opened
    opened.clear()
    page = cases.list_cases(
        session, investigator.id, investigator.private, CaseFilter(unread=True), TODAY
    )
    assert [(row.id, row.unread) for row in page.rows] == [(rid, 1)]
    assert opened.count("report/title") == 1  # the row shown, not the walk as well
