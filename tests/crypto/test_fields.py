"""Sealed fields: padded to a bucket, bound to report and field name, and (version 2)
to the row's metadata; version 1 still opens, and a version 2 blob does not open as 1."""

import os
import uuid

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sipadu.crypto import CryptoError, field_version, new_key, open_field, seal_field
from sipadu.crypto.fields import _seal_v1
from sipadu.crypto.padding import field_bucket, pad, padme, unpad

REPORT = uuid.UUID("0b6f9c52-3c0e-4d7e-8f39-0f6b0e6c2a11")
OVERHEAD = 1 + 12 + 16  # version, nonce, tag


@given(st.binary(max_size=5000))
def test_round_trip(plaintext):
    key = new_key()
    blob = seal_field(key, plaintext, report_id=REPORT, field="what")
    assert open_field(key, blob, report_id=REPORT, field="what") == plaintext


@given(st.binary(max_size=5000))
def test_ciphertext_length_reveals_only_the_bucket(plaintext):
    blob = seal_field(new_key(), plaintext, report_id=REPORT, field="what")
    size = len(blob) - OVERHEAD
    assert size == field_bucket(len(plaintext))
    assert size >= 256 and size & (size - 1) == 0


def test_empty_and_short_values_look_alike():
    key = new_key()
    sizes = {
        len(seal_field(key, v, report_id=REPORT, field="identity"))
        for v in (b"", b"x", b"Budi, 0812" * 10)
    }
    assert sizes == {256 + OVERHEAD}


@pytest.mark.parametrize(
    "report_id, field", [(uuid.uuid4(), "what"), (REPORT, "title"), (REPORT, "what ")]
)
def test_field_cannot_move_to_another_report_or_column(report_id, field):
    key = new_key()
    blob = seal_field(key, b"the mayor's cousin", report_id=REPORT, field="what")
    with pytest.raises(CryptoError):
        open_field(key, blob, report_id=report_id, field=field)


def test_wrong_key_fails():
    blob = seal_field(new_key(), b"x", report_id=REPORT, field="what")
    with pytest.raises(CryptoError):
        open_field(new_key(), blob, report_id=REPORT, field="what")


@given(st.data())
def test_any_flipped_bit_fails(data):
    key = new_key()
    blob = bytearray(seal_field(key, b"evidence", report_id=REPORT, field="what"))
    index = data.draw(st.integers(0, len(blob) - 1))
    blob[index] ^= 1 << data.draw(st.integers(0, 7))
    with pytest.raises(CryptoError):
        open_field(key, bytes(blob), report_id=REPORT, field="what")


@pytest.mark.parametrize("blob", [b"", b"\x01", b"\x02" + bytes(60)])
def test_malformed_blobs_fail(blob):
    with pytest.raises(CryptoError):
        open_field(new_key(), blob, report_id=REPORT, field="what")


def test_seal_refuses_a_wrong_size_key():
    with pytest.raises(CryptoError):
        seal_field(b"k" * 16, b"x", report_id=REPORT, field="what")


@given(st.binary(max_size=600), st.integers(0, 64))
def test_pad_unpad_round_trip(data, extra):
    assert unpad(pad(data, len(data) + 1 + extra)) == data


@pytest.mark.parametrize("padded", [b"", b"\x00\x00", b"abc", b"ab\x81\x00"])
def test_unpad_refuses_missing_marker(padded):
    with pytest.raises(CryptoError):
        unpad(padded)


def test_pad_refuses_too_small_a_size():
    with pytest.raises(CryptoError):
        pad(b"abc", 3)


@given(st.integers(0, 2**40))
def test_padme_bounds(length):
    padded = padme(length)
    assert length <= padded <= length + max(length // 8, 1)


def test_padme_known_values():
    # From the PURBs paper's definition: keep floor(log2 E)+1 significant bits of L.
    assert [padme(n) for n in (0, 1, 2, 3, 9, 100, 1000, 10**6)] == [
        0,
        1,
        2,
        3,
        10,
        104,
        1024,
        1015808,
    ]


# --- format version 2: the row's metadata bound ----------------------------------------

BOUND = (("author", b"staff"), ("position", b"\x00\x00\x00\x02"), ("sent_on", b"2025-03-14"))


@pytest.mark.parametrize(
    "other",
    [
        (("author", b"reporter"), BOUND[1], BOUND[2]),  # relabelled
        (BOUND[0], ("position", b"\x00\x00\x00\x01"), BOUND[2]),  # moved
        (BOUND[0], BOUND[1], ("sent_on", b"2025-03-13")),  # re-dated
        BOUND[:2],  # a part dropped
        (BOUND[1], BOUND[0], BOUND[2]),  # reordered parts
        (("autho", b"rstaff"), BOUND[1], BOUND[2]),  # same bytes, other split
    ],
)
def test_a_new_field_opens_only_with_the_metadata_it_was_sealed_with(other):
    key = new_key()
    blob = seal_field(key, b"pesan", report_id=REPORT, field="message/x/body", bound=BOUND)
    assert blob[0] == 2 and field_version(blob) == 2
    assert open_field(key, blob, report_id=REPORT, field="message/x/body", bound=BOUND) == b"pesan"
    with pytest.raises(CryptoError):
        open_field(key, blob, report_id=REPORT, field="message/x/body", bound=other)


def test_a_new_field_turned_back_to_the_old_version_does_not_open():
    """Downgrade: version 1 binds no metadata, but the version byte and the label are in
    version 2's associated data, so the same ciphertext under a version 1 header fails."""
    key = new_key()
    blob = seal_field(key, b"pesan", report_id=REPORT, field="f", bound=BOUND)
    downgraded = b"\x01" + blob[1:]
    for bound in (BOUND, ()):
        with pytest.raises(CryptoError):
            open_field(key, downgraded, report_id=REPORT, field="f", bound=bound)


def test_an_old_field_still_opens_and_can_be_refused_where_old_is_impossible():
    key = new_key()
    old = _seal_v1(key, os.urandom(12), b"lama", report_id=REPORT, field="f")
    assert field_version(old) == 1
    assert open_field(key, old, report_id=REPORT, field="f", bound=BOUND) == b"lama"
    with pytest.raises(CryptoError):
        open_field(key, old, report_id=REPORT, field="f", legacy=False)
    with pytest.raises(CryptoError):
        field_version(b"\x03" + old[1:])
