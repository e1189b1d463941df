"""The metadata each sealed row kind binds (services/row_metadata.py): every column a
database writer could change to relabel, reorder, re-date or move a row changes the
bound parts, and times bind the same instant whatever zone the database hands back."""

import uuid
from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from sipadu.persistence.models import Attachment, IdentityRequest, Message, Note
from sipadu.services import row_metadata

WHEN = datetime(2026, 11, 26, 9, 26, 53, 589793, tzinfo=UTC)


def _message(**changes: object) -> Message:
    values: dict[str, object] = dict(
        author="staff",
        author_account_id=uuid.UUID(int=1),
        sent_on=date(2026, 11, 26),
    )
    return Message(**(values | changes))


@pytest.mark.parametrize(
    "change",
    [
        {"author": "reporter"},
        {"author_account_id": None},
        {"author_account_id": uuid.UUID(int=2)},
        {"sent_on": date(2026, 11, 27)},
    ],
)
def test_every_message_column_a_writer_could_change_is_bound(change):
    assert row_metadata.message_bound(_message(**change), 0) != row_metadata.message_bound(
        _message(), 0
    )


def test_a_messages_epoch_is_bound_and_its_position_sealed_inside_it():
    """Neither is a column (G2): the epoch is bound, the position is in the plaintext."""
    assert row_metadata.message_bound(_message(), 1) != row_metadata.message_bound(_message(), 0)
    assert "position" not in dict(row_metadata.message_bound(_message(), 0))
    sealed = row_metadata.message_plaintext(3, "Kapan?")
    assert sealed == b"\x00\x00\x00\x03Kapan?"
    assert row_metadata.split_message(sealed) == (3, "Kapan?")


@pytest.mark.parametrize(
    "change",
    [
        {"message_id": None},
        {"message_id": uuid.UUID(int=9)},
        {"uploader": "staff"},
        {"blob_id": uuid.UUID(int=8)},
    ],
)
def test_every_attachment_column_a_writer_could_change_is_bound(change):
    values = dict(message_id=uuid.UUID(int=7), uploader="reporter", blob_id=uuid.UUID(int=5))
    assert row_metadata.attachment_bound(Attachment(**(values | change)), 0) != (
        row_metadata.attachment_bound(Attachment(**values), 0)
    )
    assert row_metadata.attachment_bound(Attachment(**values), 1) != (
        row_metadata.attachment_bound(Attachment(**values), 0)
    )


def test_notes_and_requests_bind_author_and_exact_time():
    note = Note(author_account_id=uuid.UUID(int=1), written_at=WHEN, epoch=0)
    moved = Note(author_account_id=uuid.UUID(int=2), written_at=WHEN, epoch=0)
    later = Note(
        author_account_id=uuid.UUID(int=1), written_at=WHEN + timedelta(microseconds=1), epoch=0
    )
    assert len({row_metadata.note_bound(n) for n in (note, moved, later)}) == 3
    request = IdentityRequest(account_id=uuid.UUID(int=1), requested_at=WHEN)
    other = IdentityRequest(account_id=uuid.UUID(int=3), requested_at=WHEN)
    assert row_metadata.request_bound(request) != row_metadata.request_bound(other)


def test_an_instant_binds_the_same_whatever_zone_the_database_returns():
    naive_utc = WHEN.replace(tzinfo=None)  # SQLite
    jakarta = WHEN.astimezone(timezone(timedelta(hours=7)))  # PostgreSQL in a session zone
    bounds = {
        row_metadata.request_bound(IdentityRequest(account_id=uuid.UUID(int=1), requested_at=t))
        for t in (WHEN, naive_utc, jakarta)
    }
    assert len(bounds) == 1
