"""The sealed case record's format (:mod:`sipadu.services.case_record`, docs/crypto.md
"Case record"): its plaintext exactly as documented, opened here with plain AES-256-GCM
over the documented associated data (not sipadu's code), and refused when it is not a
record. Labels as typed are cleaned and bounded."""

import struct
import uuid

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from sipadu.crypto import CryptoError, Purpose
from sipadu.persistence.models import CaseRecord as CaseRecordRow
from sipadu.persistence.models import Report, Role
from sipadu.services import Reason, case_record
from sipadu.services.case_record import CaseRecord, Link, LinkKind, Priority, clean_labels
from tests.services.helpers import held, person, refused, route, service_submit

LEAD = uuid.UUID("1a2b3c4d-5e6f-4708-89ab-cdef01234567")
OTHER = uuid.UUID("2b3c4d5e-6f70-4182-93a4-b5c6d7e8f901")
RECORD = CaseRecord(("Pungli", "Dinas PU"), Priority.HIGH, LEAD, (Link(OTHER, LinkKind.DUPLICATE),))
DOCUMENTED = (
    b'{"labels":["Pungli","Dinas PU"],"lead":"1a2b3c4d-5e6f-4708-89ab-cdef01234567",'
    b'"links":[{"kind":"duplicate","report":"2b3c4d5e-6f70-4182-93a4-b5c6d7e8f901"}],'
    b'"priority":"high","v":1}'
)


def test_the_plaintext_is_the_documented_json():
    assert case_record.encode(RECORD) == DOCUMENTED
    assert case_record.decode(DOCUMENTED) == RECORD
    assert case_record.encode(case_record.EMPTY) == (
        b'{"labels":[],"lead":null,"links":[],"priority":"normal","v":1}'
    )


@pytest.mark.parametrize(
    "bad",
    [
        b"",
        b"\xff",
        b"[]",
        b'{"v":2,"labels":[],"lead":null,"links":[],"priority":"normal"}',
        b'{"v":1,"labels":[1],"lead":null,"links":[],"priority":"normal"}',
        b'{"v":1,"labels":[],"lead":"x","links":[],"priority":"normal"}',
        b'{"v":1,"labels":[],"lead":null,"links":[{"report":"x"}],"priority":"normal"}',
        b'{"v":1,"labels":[],"lead":null,"links":[],"priority":"urgent"}',
        b'{"v":1,"labels":[],"lead":null,"links":[]}',
    ],
)
def test_anything_else_is_no_record(bad):
    with pytest.raises(CryptoError):
        case_record.decode(bad)


def _spec_aad(report: uuid.UUID, epoch: int) -> bytes:
    parts = [b"sipadu.field.v2", b"\x02", report.bytes, b"case/record", b"epoch"]
    parts.append(struct.pack(">I", epoch))
    return b"".join(struct.pack(">I", len(p)) + p for p in parts)


def test_the_record_is_sealed_under_the_internal_key_as_documented(session, recovery):
    someone = person(session, "pemeriksa.format", Role.INVESTIGATOR)
    route(session, someone)
    report = service_submit(session, recovery.public_key())
    keys = held(session, report, someone)
    row_report = session.get(Report, report.report_id)

    case_record.write(session, keys, row_report, RECORD)

    row = session.get(CaseRecordRow, report.report_id)
    blob = row.sealed
    assert row.epoch == 0 and blob[0] == 2 and len(blob) == 1 + 12 + 256 + 16
    padded = AESGCM(keys.key(Purpose.INTERNAL, 0)).decrypt(
        blob[1:13], blob[13:], _spec_aad(report.report_id, 0)
    )
    assert padded.startswith(DOCUMENTED + b"\x80")
    assert case_record.read(session, keys) == RECORD
    row.sealed = blob[:-1] + bytes([blob[-1] ^ 1])
    assert case_record.read(session, keys) is None


def test_labels_are_cleaned_and_bounded():
    assert clean_labels(" pungli ,Pungli,\n dinas   PU\t, ,") == ("pungli", "dinas PU")
    assert clean_labels("a\u200bb\x00c") == ("abc",)  # format and control characters dropped
    assert clean_labels("") == ()
    with refused(Reason.TOO_MANY_LABELS, "labels"):
        clean_labels(",".join(f"l{i}" for i in range(case_record.MAX_LABELS + 1)))
    with refused(Reason.LABEL_TOO_LONG, "labels"):
        clean_labels("x" * (case_record.MAX_LABEL_CHARS + 1))
