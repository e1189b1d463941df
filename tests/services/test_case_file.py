"""The printable case file (:mod:`sipadu.services.case_file`), called directly: opening it
is one ``report.print`` entry (and ``identity.read`` when the identity is in it), never a
``report.read``, none when refused; the identity is in it exactly when the same person's
export holds it; the notes are opened either way, so the manifest hash computed from the
view is the SHA-256 of the export's ``manifest.json``; the status history is the log's
status changes and reopenings, oldest first, an unreadable entry left out. Real keys, a
real database, rolled back after each test."""

import hashlib
import io
import json
import os
import uuid
import zipfile

import pytest
from sqlalchemy import select

from sipadu.accountability.audit import Action
from sipadu.persistence.models import AuditEvent, Role
from sipadu.services import Reason, cases, key_ring, reports
from sipadu.services.attachments import UploadedFile
from sipadu.services.case_file import StatusStep, open_for_print, status_history
from sipadu.services.cases import NotGranted
from sipadu.services.export import hash_files, manifest_sha256, open_for_export, report_zip
from sipadu.settings.config import DatePrecision
from tests.services.helpers import (
    TODAY,
    Recorded,
    ServicePerson,
    Submitted,
    approve_identity,
    held,
    person,
    refused,
    route,
    service_submit,
    stored,
)

SEED = os.urandom(32)  # the instance's audit signing key
EVIDENCE = os.urandom(70_000)  # more than one chunk of the stream format
REPLY_FILE = b"surat balasan " * 100
IDENTITY = "Sri Wahyuni, 0812"


@pytest.fixture(scope="module")
def evidence(database_url) -> list[UploadedFile]:
    first, second = stored(database_url, EVIDENCE, REPLY_FILE)
    return [
        UploadedFile(first, "kuitansi.jpg", "image/jpeg"),
        UploadedFile(second, "balasan.pdf", "application/pdf"),
    ]


@pytest.fixture
def investigator(session) -> ServicePerson:
    someone = person(session, "pemberkas", Role.INVESTIGATOR)
    route(session, someone)
    return someone


@pytest.fixture
def case(session, recovery, investigator, evidence) -> Submitted:
    """A report with a file, a reporter's message, a reply with a file and a note."""
    report = service_submit(session, recovery.public_key(), files=evidence[:1])
    reporter_writes(session, report, "Ada tambahan")
    keys = held(session, report, investigator)
    cases.reply(
        session, keys, investigator.id, "Terima kasih", TODAY, DatePrecision.DAY, files=evidence[1:]
    )
    cases.add_note(session, keys, investigator.id, "Periksa loket 3")
    return report


def reporter_writes(session, report: Submitted, body: str) -> None:
    mailbox = key_ring.mailbox_keys(
        session, report.report_id, report.mailbox_id, report.mailbox_private
    )
    reports.add_reporter_message(session, mailbox, report.report_id, body, TODAY, DatePrecision.DAY)


def printed_hash(session, report: Submitted, who: ServicePerson, *, notes: bool) -> str:
    """The manifest hash the case file prints, as the staff portal computes it."""
    keys = held(session, report, who)
    view = open_for_print(session, keys, who.id, notes=notes)
    digests: dict[uuid.UUID, str] = {}
    for _piece in hash_files(view, keys, digests):
        pass
    return manifest_sha256(view, digests)


def exported(session, report: Submitted, who: ServicePerson) -> zipfile.ZipFile:
    keys = held(session, report, who)
    view = open_for_export(session, keys, who.id, recipient=None)
    return zipfile.ZipFile(io.BytesIO(b"".join(report_zip(view, keys, SEED))))


# --- what is recorded --------------------------------------------------------------------


@pytest.mark.parametrize("notes", [False, True])
def test_the_case_file_is_one_print_entry_never_a_read(session, case, investigator, notes):
    log = Recorded(session)

    view = open_for_print(session, held(session, case, investigator), investigator.id, notes=notes)

    assert (view.fields["title"], view.fields["what"]) == ("Pungutan liar", "Di loket")
    assert [m.body for m in view.messages] == ["Ada tambahan", "Terima kasih"]
    # Opened whether printed or not: notes.json is part of the manifest whose hash is printed.
    assert [n.body for n in view.notes] == ["Periksa loket 3"]
    entry = log.only(Action.REPORT_PRINT)
    assert (entry["actor"], entry["role"], entry["report_id"], entry["detail"]) == (
        str(investigator.id),
        "investigator",
        str(case.report_id),
        {"notes_included": notes, "identity_included": False},
    )
    assert log.actions() == ["report.print"]
    # Printing is not reading the mailbox: the reporter's message stays unread.
    assert cases.granted(session, case.report_id, investigator.id).read_mark is None


def test_without_a_grant_or_its_keys_nothing_is_opened_or_recorded(session, case, investigator):
    outsider = person(session, "bukan.pemberkas", Role.INVESTIGATOR)
    log = Recorded(session)
    with pytest.raises(NotGranted):
        open_for_print(session, held(session, case, outsider), outsider.id, notes=True)
    with refused(Reason.NO_KEY):  # a grant is not enough without the keys
        open_for_print(session, held(session, case, outsider), investigator.id, notes=True)
    assert log.actions() == []


# --- tied to the export ------------------------------------------------------------------


def test_the_printed_manifest_hash_is_the_sha256_of_the_exports_manifest(
    session, case, investigator
):
    with_notes = printed_hash(session, case, investigator, notes=True)
    without = printed_hash(session, case, investigator, notes=False)
    archive = exported(session, case, investigator)

    assert with_notes == without == hashlib.sha256(archive.read("manifest.json")).hexdigest()
    manifest = json.loads(archive.read("manifest.json"))["sha256"]
    files = {name: digest for name, digest in manifest.items() if name.startswith("attachments/")}
    assert sorted(files.values()) == sorted(
        hashlib.sha256(content).hexdigest() for content in (EVIDENCE, REPLY_FILE)
    )

    # The case changes (a new message): so does the hash, and paper made before no
    # longer matches the new export.
    reporter_writes(session, case, "Satu lagi")
    later = printed_hash(session, case, investigator, notes=False)
    assert later != without
    assert (
        later
        == hashlib.sha256(exported(session, case, investigator).read("manifest.json")).hexdigest()
    )


def test_the_identity_is_in_the_case_file_exactly_when_the_export_holds_it(session, recovery):
    custodian = person(session, "penjaga.berkas", Role.CUSTODIAN)
    investigator = person(session, "penyidik.berkas", Role.INVESTIGATOR)
    both = person(session, "dua.peran.berkas", Role.INVESTIGATOR, Role.CUSTODIAN)
    route(session, investigator)
    route(session, both)
    report = service_submit(session, recovery.public_key(), identity=IDENTITY)

    # Not approved (a custodian's own wrap is no approval): neither paper nor export.
    for who in (investigator, both):
        log = Recorded(session)
        view = open_for_print(session, held(session, report, who), who.id, notes=False)
        assert view.identity is None
        assert log.actions() == ["report.print"]
        assert log.only(Action.REPORT_PRINT)["detail"]["identity_included"] is False
        assert json.loads(exported(session, report, who).read("report.json"))["identity"] is None

    approve_identity(session, report, investigator, custodian, recovery.public_key())
    log = Recorded(session)

    view = open_for_print(
        session, held(session, report, investigator), investigator.id, notes=False
    )

    assert view.identity == IDENTITY
    assert log.actions() == ["report.print", "identity.read"]
    printed, read = log.entries()
    assert printed["detail"] == {"notes_included": False, "identity_included": True}
    assert (read["actor"], read["report_id"], read["detail"]) == (
        str(investigator.id),
        str(report.report_id),
        {"via": "print"},
    )
    assert "Wahyuni" not in json.dumps(log.entries())
    archive = exported(session, report, investigator)
    assert json.loads(archive.read("report.json"))["identity"] == IDENTITY
    assert printed_hash(session, report, investigator, notes=True) == (
        hashlib.sha256(archive.read("manifest.json")).hexdigest()
    )


# --- the status history ------------------------------------------------------------------


def steps(session, report: Submitted) -> list[tuple]:
    return [
        (s.actor, s.old, s.new, s.acknowledged) for s in status_history(session, report.report_id)
    ]


def test_the_history_holds_each_change_and_reopening_oldest_first(
    session, recovery, case, investigator
):
    other = service_submit(session, recovery.public_key())
    assert status_history(session, case.report_id) == []
    keys = held(session, case, investigator)
    me = str(investigator.id)

    cases.change_status(session, keys, investigator.id, "in_review", "", TODAY)
    cases.change_status(
        session,
        held(session, other, investigator),
        investigator.id,
        "rejected",
        "Bukan wewenang",
        TODAY,
    )
    cases.change_status(session, keys, investigator.id, "rejected", "Bukan wewenang", TODAY)
    cases.reopen(session, keys, investigator.id, "Ada bukti baru")
    cases.change_status(session, keys, investigator.id, "investigating", "", TODAY)
    session.flush()

    assert steps(session, case) == [
        (me, "received", "in_review", True),  # the acknowledgement
        (me, "in_review", "rejected", False),
        (me, "rejected", "in_review", False),  # reopened
        (me, "in_review", "investigating", False),
    ]
    assert steps(session, other) == [(me, "received", "rejected", True)]
    history = status_history(session, case.report_id)
    assert all(isinstance(s, StatusStep) and s.at.tzinfo is not None for s in history)
    assert [s.at for s in history] == sorted(s.at for s in history)


@pytest.mark.parametrize(
    ("column", "value"),
    [("detail", "{not json"), ("detail", "[1, 2]"), ("detail", "null"), ("at", "gestern")],
)
def test_an_entry_that_does_not_read_is_left_out(session, case, investigator, column, value):
    """The auditor's verification names it; the case file shows the rest."""
    keys = held(session, case, investigator)
    cases.change_status(session, keys, investigator.id, "in_review", "", TODAY)
    cases.change_status(session, keys, investigator.id, "investigating", "", TODAY)
    session.flush()
    first = session.scalars(
        select(AuditEvent)
        .where(
            AuditEvent.report_id == case.report_id,
            AuditEvent.action == Action.STATUS_CHANGE.value,
        )
        .order_by(AuditEvent.seq)
    ).first()
    setattr(first, column, value)
    session.flush()

    assert steps(session, case) == [(str(investigator.id), "in_review", "investigating", False)]
