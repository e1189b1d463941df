"""Sealed fields: padded to a bucket, bound to report and field name."""

import uuid

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sipadu.crypto import CryptoError, new_key, open_field, seal_field
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
