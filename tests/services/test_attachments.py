"""Evidence files (:mod:`sipadu.services.attachments`), called directly: a file's name
cleaned before it is sealed, its details and file key sealed under the case key and
bound to the attachment, its blob linked only in the transaction that names it, and
its plaintext read back only within its own report. Nothing here is recorded: the
download a person makes is (:func:`sipadu.services.cases.download_attachment`). Real
stream encryption, a real database, rolled back after each test."""

import uuid

import pytest
from sqlalchemy import select

from sipadu.crypto import CryptoError, Purpose
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
    return submitted.report_id, lambda epoch: keys.key(Purpose.CASE, epoch)


def test_attached_files_are_listed_and_read_back_with_their_sealed_details(session, report, files):
    report_id, key = report
    log = Recorded(session)

    ids = attach(
        session,
        report_id,
        key(0),
        0,
        [
            UploadedFile(files[0], "../bukti/rekaman.wav", "audio/wav"),
            UploadedFile(files[1], "catatan.txt", "text/plain" + "x" * 300),
        ],
        uploader="reporter",
    )

    listed = {info.id: info for info in list_attachments(session, report_id, key)}
    assert set(listed) == set(ids)
    first, second = listed[ids[0]], listed[ids[1]]
    assert (first.name, first.content_type, first.size, first.message_id) == (
        "rekaman.wav",
        "audio/wav",
        len(LARGE),
        None,
    )
    assert second.name == "catatan.txt" and len(second.content_type.encode()) == 200
    info, plaintext = read_attachment(session, report_id, ids[0], key)
    assert info == first and b"".join(plaintext) == LARGE
    info, plaintext = read_attachment(session, report_id, ids[1], key)
    assert b"".join(plaintext) == SMALL
    # Sealed: the stored row holds none of the details in the clear.
    row = session.get(Attachment, ids[0])
    assert b"rekaman" not in row.sealed_name and b"audio" not in row.sealed_type
    assert (row.uploader, row.epoch, row.blob_id) == ("reporter", 0, files[0].blob_id)
    assert log.actions() == []  # reading a file records nothing by itself


def test_a_file_is_read_only_within_its_own_report(session, recovery, report, files):
    report_id, key = report
    [attachment_id] = attach(
        session, report_id, key(0), 0, [UploadedFile(files[2], "a.txt", "")], uploader="staff"
    )
    other = service_submit(session, recovery.public_key())
    other_keys = recovery_keys(session, other.report_id, recovery)

    def other_key(epoch: int) -> bytes:
        return other_keys.key(Purpose.CASE, epoch)

    with refused(Reason.NO_SUCH_FILE):
        read_attachment(session, other.report_id, attachment_id, other_key)
    with refused(Reason.NO_SUCH_FILE):
        read_attachment(session, report_id, uuid.uuid4(), key)
    with pytest.raises(CryptoError):  # another report's key opens nothing
        read_attachment(session, report_id, attachment_id, other_key)
    assert list_attachments(session, other.report_id, other_key) == []


def test_sealed_details_are_bound_to_their_attachment(session, report, files):
    """Moving a sealed name (or file key) to another attachment row makes it unreadable."""
    report_id, key = report
    first, second = attach(
        session,
        report_id,
        key(0),
        0,
        [UploadedFile(files[0], "satu.txt", ""), UploadedFile(files[1], "dua.txt", "")],
        uploader="reporter",
    )
    one, two = session.get(Attachment, first), session.get(Attachment, second)
    one.sealed_name, two.sealed_name = two.sealed_name, one.sealed_name
    with pytest.raises(CryptoError):
        list_attachments(session, report_id, key)
    one.sealed_name, two.sealed_name = two.sealed_name, one.sealed_name
    one.sealed_key = two.sealed_key
    with pytest.raises(CryptoError):
        read_attachment(session, report_id, first, key)


def test_a_message_file_belongs_to_its_message(session, report, files):
    report_id, key = report
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
        key(0),
        0,
        [UploadedFile(files[3], "balasan.pdf", "application/pdf")],
        uploader="staff",
        message_id=message.id,
    )
    [info] = list_attachments(session, report_id, key)
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
