"""Evidence files (:mod:`sipadu.services.attachments`), called directly: a file's name
cleaned before it is sealed, its details and file key sealed under the case key and
bound to the attachment, its blob linked only in the transaction that names it, and
its plaintext read back only within its own report. Nothing here is recorded: the
download a person makes is (:func:`sipadu.services.cases.download_attachment`). Real
stream encryption, a real database, rolled back after each test."""

import os
import uuid

import pytest
from sqlalchemy import select, update

from sipadu.crypto import Purpose
from sipadu.crypto.fields import _seal_v1
from sipadu.persistence.models import Attachment, Blob, Message
from sipadu.services import Reason
from sipadu.services.attachments import (
    MAX_NAME,
    UploadedFile,
    attach,
    clean_name,
    list_attachments,
    read_attachment,
)
from sipadu.services.key_ring import recovery_keys
from tests.helpers import database
from tests.services.helpers import TODAY, Recorded, refused, service_submit, stored

LARGE = bytes(range(256)) * 3000  # 768 KB: many chunks of the stream format
SMALL = b"bukti singkat"


@pytest.fixture(scope="module")
def files(database_url) -> list:
    """Blobs staged once for the module (committed, unlinked)."""
    return stored(database_url, LARGE, SMALL, b"ketiga", b"keempat")


@pytest.mark.parametrize(
    ("typed", "kept"),
    [
        ("laporan.pdf", "laporan.pdf"),
        ("../../etc/passwd", "passwd"),
        ("C:\\Users\\saksi\\foto.jpg", "foto.jpg"),
        ("a\x00b\x1fc\u200bd.txt", "abcd.txt"),  # control and format characters dropped
        ("Cafe\u0301.txt", "Caf\u00e9.txt"),  # NFC
        ("  . rahasia.docx . ", "rahasia.docx"),
        ("dir/", "file"),
        ("...", "file"),
        ("", "file"),
        (None, "file"),
        ("x" * 300, "x" * (MAX_NAME - 1) + "\u2026"),
        ("laporan " * 40 + ".pdf", ("laporan " * 40)[: MAX_NAME - 5].rstrip() + "\u2026.pdf"),
        ("arsip-" + "a" * 300 + ".tar.gz", "arsip-" + "a" * (MAX_NAME - 14) + "\u2026.tar.gz"),
    ],
)
def test_a_name_keeps_its_last_segment_only_without_control_characters(typed, kept):
    assert clean_name(typed) == kept
    assert len(kept) <= MAX_NAME


@pytest.fixture
def report(session, recovery):
    """A report, and its case key as the recovery key opens it."""
    submitted = service_submit(session, recovery.public_key())
    keys = recovery_keys(session, submitted.report_id, recovery)
    return submitted.report_id, keys


def test_attached_files_are_listed_and_read_back_with_their_sealed_details(session, report, files):
    report_id, keys = report
    log = Recorded(session)

    ids = attach(
        session,
        report_id,
        keys.key(Purpose.CASE, 0),
        0,
        [
            UploadedFile(files[0], "../bukti/rekaman.wav", "audio/wav"),
            UploadedFile(files[1], "catatan.txt", "text/plain" + "x" * 300),
        ],
        uploader="reporter",
    )

    listed = {info.id: info for info in list_attachments(session, report_id, keys)}
    assert set(listed) == set(ids)
    first, second = listed[ids[0]], listed[ids[1]]
    assert (first.name, first.content_type, first.size, first.message_id) == (
        "rekaman.wav",
        "audio/wav",
        len(LARGE),
        None,
    )
    assert second.name == "catatan.txt" and len(second.content_type.encode()) == 200
    info, plaintext = read_attachment(session, report_id, ids[0], keys)
    assert info == first and b"".join(plaintext) == LARGE
    info, plaintext = read_attachment(session, report_id, ids[1], keys)
    assert b"".join(plaintext) == SMALL
    # Sealed: the stored row holds none of the details in the clear.
    row = session.get(Attachment, ids[0])
    assert b"rekaman" not in row.sealed_name and b"audio" not in row.sealed_type
    # No epoch stored: epochs begin at revocations, which the audit log dates (G2).
    assert (row.uploader, row.epoch, row.blob_id) == ("reporter", None, files[0].blob_id)
    assert log.actions() == []  # reading a file records nothing by itself


def test_a_file_is_read_only_within_its_own_report(session, recovery, report, files):
    report_id, keys = report
    [attachment_id] = attach(
        session,
        report_id,
        keys.key(Purpose.CASE, 0),
        0,
        [UploadedFile(files[2], "a.txt", "")],
        uploader="staff",
    )
    other = service_submit(session, recovery.public_key())
    other_keys = recovery_keys(session, other.report_id, recovery)

    with refused(Reason.NO_SUCH_FILE):
        read_attachment(session, other.report_id, attachment_id, other_keys)
    with refused(Reason.NO_SUCH_FILE):
        read_attachment(session, report_id, uuid.uuid4(), keys)
    with refused(Reason.INTEGRITY_FAILED):  # another report's key opens nothing
        read_attachment(session, report_id, attachment_id, other_keys)
    assert list_attachments(session, other.report_id, other_keys) == []


def test_sealed_details_are_bound_to_their_attachment(session, report, files):
    """Moving a sealed name (or file key) to another attachment row makes it unreadable."""
    report_id, keys = report
    first, second = attach(
        session,
        report_id,
        keys.key(Purpose.CASE, 0),
        0,
        [UploadedFile(files[0], "satu.txt", ""), UploadedFile(files[1], "dua.txt", "")],
        uploader="reporter",
    )
    one, two = session.get(Attachment, first), session.get(Attachment, second)
    one.sealed_name, two.sealed_name = two.sealed_name, one.sealed_name
    assert [i.intact for i in list_attachments(session, report_id, keys)] == [False, False]
    one.sealed_name, two.sealed_name = two.sealed_name, one.sealed_name
    one.sealed_key = two.sealed_key
    with refused(Reason.INTEGRITY_FAILED):
        read_attachment(session, report_id, first, keys)


def test_a_message_file_belongs_to_its_message(session, report, files):
    report_id, keys = report
    message = Message(
        id=uuid.uuid4(),
        report_id=report_id,
        position=1,
        author="staff",
        epoch=0,
        sent_on=TODAY,
        body=b"",
    )
    session.add(message)
    session.flush()
    [attachment_id] = attach(
        session,
        report_id,
        keys.key(Purpose.CASE, 0),
        0,
        [UploadedFile(files[3], "balasan.pdf", "application/pdf")],
        uploader="staff",
        message_id=message.id,
    )
    [info] = list_attachments(session, report_id, keys)
    assert (info.id, info.message_id) == (attachment_id, message.id)


def test_blobs_are_linked_only_if_the_transaction_that_names_them_commits(
    database_url, recovery, files
):
    with database(database_url) as session:
        report_id = service_submit(session, recovery.public_key()).report_id
        keys = recovery_keys(session, report_id, recovery)
        attach(
            session,
            report_id,
            keys.key(Purpose.CASE, 0),
            0,
            [UploadedFile(files[1], "x.txt", "")],
            uploader="reporter",
        )
        assert session.get(Blob, files[1].blob_id).linked
        session.rollback()
    with database(database_url) as session:
        assert not session.get(Blob, files[1].blob_id).linked
        assert session.scalar(select(Attachment).where(Attachment.report_id == report_id)) is None


# --- metadata bound (sealed field format version 2) -------------------------------------


def _message(session, report_id, position: int) -> Message:
    row = Message(
        id=uuid.uuid4(),
        report_id=report_id,
        position=position,
        author="reporter",
        epoch=0,
        sent_on=TODAY,
        body=b"\x02",  # not opened here: only its format version is looked at
    )
    session.add(row)
    session.flush()
    return row


def _tamper(session, attachment_id: uuid.UUID, **values) -> None:
    """Change the row's columns as a database writer would: SQL, then reload."""
    session.execute(update(Attachment).where(Attachment.id == attachment_id).values(**values))
    session.expire_all()


def _info(session, report_id, keys, attachment_id):
    return next(i for i in list_attachments(session, report_id, keys) if i.id == attachment_id)


def test_a_file_moved_onto_another_message_fails_its_integrity_check(session, report, files):
    report_id, keys = report
    first, second = _message(session, report_id, 1), _message(session, report_id, 2)
    [attachment_id] = attach(
        session,
        report_id,
        keys.key(Purpose.CASE, 0),
        0,
        [UploadedFile(files[0], "a.txt", "")],
        uploader="reporter",
        message_id=first.id,
    )
    assert _info(session, report_id, keys, attachment_id).intact

    _tamper(session, attachment_id, message_id=second.id)
    info = _info(session, report_id, keys, attachment_id)
    assert not info.intact and info.name == "" and info.size == 0
    with refused(Reason.INTEGRITY_FAILED):
        read_attachment(session, report_id, attachment_id, keys)

    _tamper(session, attachment_id, message_id=None)  # onto the report's own evidence
    assert not _info(session, report_id, keys, attachment_id).intact
    _tamper(session, attachment_id, message_id=first.id)  # back where it was sealed
    assert _info(session, report_id, keys, attachment_id).intact


@pytest.mark.parametrize("change", [{"uploader": "staff"}, {"epoch": 1}], ids=["uploader", "epoch"])
def test_a_file_relabelled_fails_its_integrity_check(session, report, files, change):
    report_id, keys = report
    [attachment_id] = attach(
        session,
        report_id,
        keys.key(Purpose.CASE, 0),
        0,
        [UploadedFile(files[1], "b.txt", "")],
        uploader="reporter",
    )
    _tamper(session, attachment_id, **change)  # an epoch: a new-format file stores none
    assert not _info(session, report_id, keys, attachment_id).intact


def test_a_file_pointed_at_another_blob_is_refused_before_any_byte(session, report, files):
    report_id, keys = report
    one, _two = attach(
        session,
        report_id,
        keys.key(Purpose.CASE, 0),
        0,
        [UploadedFile(files[0], "a.txt", ""), UploadedFile(files[1], "b.txt", "")],
        uploader="reporter",
    )
    _tamper(session, one, blob_id=files[3].blob_id)  # another file's bytes
    with refused(Reason.INTEGRITY_FAILED):
        read_attachment(session, report_id, one, keys)


def _legacy_attachment(session, report_id, keys, upload, message_id=None) -> uuid.UUID:
    """A file row as the code before format version 2 wrote it (report and field bound,
    nothing else)."""
    attachment_id = uuid.uuid4()

    def seal(what: str, value: bytes) -> bytes:
        field = f"attachment/{attachment_id}/{what}"
        return _seal_v1(
            keys.key(Purpose.CASE, 0), os.urandom(12), value, report_id=report_id, field=field
        )

    session.add(
        Attachment(
            id=attachment_id,
            report_id=report_id,
            message_id=message_id,
            blob_id=upload.stored.blob_id,
            uploader="reporter",
            epoch=0,
            sealed_name=seal("name", upload.name.encode()),
            sealed_type=seal("type", upload.content_type.encode()),
            sealed_size=seal("size", str(upload.stored.size).encode()),
            sealed_key=seal("key", upload.stored.key),
        )
    )
    session.flush()
    return attachment_id


def test_an_old_format_file_still_reads(session, report, files):
    report_id, keys = report
    old = _message(session, report_id, 1)
    old.body = b"\x01"  # an old-format message
    session.flush()
    attachment_id = _legacy_attachment(
        session, report_id, keys, UploadedFile(files[1], "lama.txt", "text/plain"), old.id
    )
    info, plaintext = read_attachment(session, report_id, attachment_id, keys)
    assert (info.name, info.content_type, info.intact) == ("lama.txt", "text/plain", True)
    assert b"".join(plaintext) == SMALL


def test_an_old_format_file_moved_onto_a_new_format_message_is_refused(session, report, files):
    """An old-format file binds no message, but no genuine one sits on a new-format
    message (a file is sealed with its message, by the same code)."""
    report_id, keys = report
    new = _message(session, report_id, 1)
    attachment_id = _legacy_attachment(
        session, report_id, keys, UploadedFile(files[2], "lama.txt", "text/plain")
    )
    assert _info(session, report_id, keys, attachment_id).intact
    _tamper(session, attachment_id, message_id=new.id)
    assert not _info(session, report_id, keys, attachment_id).intact
    with refused(Reason.INTEGRITY_FAILED):
        read_attachment(session, report_id, attachment_id, keys)
