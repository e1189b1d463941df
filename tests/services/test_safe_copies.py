"""sipadu.services.safe_copies without HTTP: made once and stored sealed, a refusal
remembered until an explicit retry, nothing for someone without a grant, and a copy's
row moved onto another file fails its integrity check."""

import io
import uuid

import pytest
from PIL import Image
from sqlalchemy import select

from sipadu.evidence.confinement import Confinement
from sipadu.evidence.safe_copy import CannotConvert, Limits, Refused
from sipadu.persistence.db import make_engine, make_sessionmaker
from sipadu.persistence.models import AuditEvent, Role, SafeCopy
from sipadu.persistence.slots import SlotPool
from sipadu.services import IntegrityFailed, safe_copies
from sipadu.services.attachments import UploadedFile
from sipadu.services.cases import NotGranted
from sipadu.services.key_ring import staff_keys
from tests.services.helpers import person, route, service_submit, stored

MIB = 1024 * 1024
LIMITS = Limits(
    max_pages=50,
    dpi=72,
    max_page_pixels=4_000_000,
    max_total_pixels=100_000_000,
    max_input_bytes=10 * MIB,
    render=Confinement(768 * MIB, 10),
    office=Confinement(1024 * MIB, 10, 100 * MIB),
    build=Confinement(768 * MIB, 10),
)


def _png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (200, 100), (0, 90, 60)).save(out, "PNG")
    return out.getvalue()


@pytest.fixture(scope="module")
def world(database_url, recovery, tmp_path_factory):
    engine = make_engine(database_url)
    writes, reads = make_sessionmaker(engine, write=True), make_sessionmaker(engine)
    picture, broken = stored(database_url, _png(), b"%PDF-1.7\n garbage")
    with writes.begin() as session:
        investigator = person(session, f"sc{uuid.uuid4().hex[:6]}", Role.INVESTIGATOR)
        outsider = person(session, f"sl{uuid.uuid4().hex[:6]}", Role.INVESTIGATOR)
        route(session, investigator)
        report = service_submit(
            session,
            recovery.public_key(),
            files=[
                UploadedFile(picture, "foto.png", "image/png"),
                UploadedFile(broken, "rusak.pdf", "application/pdf"),
            ],
        )
    pool = SlotPool(tmp_path_factory.mktemp("slots"), 1, 2)
    yield writes, reads, investigator, outsider, report, pool
    engine.dispose()


def _files(reads, report, who):
    from sipadu.services.attachments import list_attachments

    with reads() as session:
        keys = staff_keys(session, report.report_id, who.id, who.private)
        return {a.name: a.id for a in list_attachments(session, report.report_id, keys)}


def _make(world, who, attachment_id, retry=False):
    writes, reads, _i, _o, report, pool = world
    return safe_copies.make_safe_copy(
        writes,
        reads,
        lambda s: staff_keys(s, report.report_id, who.id, who.private),
        who.id,
        attachment_id,
        LIMITS,
        pool,
        retry=retry,
    )


def _made(writes, attachment_id) -> list[str]:
    with writes() as session:
        return [
            e.detail
            for e in session.scalars(
                select(AuditEvent).where(AuditEvent.action == "attachment.safe_copy_make")
            )
            if str(attachment_id) in e.detail
        ]


def test_a_copy_is_made_once_and_read_back(world):
    writes, reads, investigator, _o, report, _pool = world
    picture = _files(reads, report, investigator)["foto.png"]
    first = _make(world, investigator, picture)
    again = _make(world, investigator, picture)
    assert first == again and first.pages == 1 and first.size > 0
    assert len(_made(writes, picture)) == 1
    with writes.begin() as session:
        keys = staff_keys(session, report.report_id, investigator.id, investigator.private)
        assert safe_copies.download_safe_copy(session, keys, investigator.id, picture) == first
        (info, copy), body = safe_copies.read_safe_copy(session, keys, picture)
        pdf = b"".join(body)
    assert info.name == "foto.png" and copy == first and pdf.startswith(b"%PDF-")
    assert len(pdf) == first.size


def test_a_refusal_is_remembered_until_a_retry(world):
    writes, reads, investigator, _o, report, _pool = world
    broken = _files(reads, report, investigator)["rusak.pdf"]
    for retry in (False, False, True):
        with pytest.raises(Refused) as refused:
            _make(world, investigator, broken, retry=retry)
        assert refused.value.reason == CannotConvert.UNREADABLE
    assert len(_made(writes, broken)) == 2  # the first, and the retry
    with writes() as session:
        [row] = session.scalars(select(SafeCopy).where(SafeCopy.attachment_id == broken))
        assert row.blob_id is None


def test_no_grant_no_copy(world):
    _w, reads, investigator, outsider, report, _pool = world
    picture = _files(reads, report, investigator)["foto.png"]
    with pytest.raises(NotGranted):
        _make(world, outsider, picture)


def test_a_copy_moved_onto_another_file_does_not_open(world):
    writes, reads, investigator, _o, report, _pool = world
    files = _files(reads, report, investigator)
    _make(world, investigator, files["foto.png"])
    with pytest.raises(Refused):
        _make(world, investigator, files["rusak.pdf"])
    with writes.begin() as session:  # the picture's sealed copy put on the broken file's row
        good = session.get_one(SafeCopy, files["foto.png"])
        bad = session.get_one(SafeCopy, files["rusak.pdf"])
        sealed, blob = good.sealed, good.blob_id
        session.delete(good)
        session.flush()
        bad.sealed, bad.blob_id = sealed, blob
    with pytest.raises(IntegrityFailed):
        _make(world, investigator, files["rusak.pdf"])
