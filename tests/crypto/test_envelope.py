"""HPKE key wrapping: a wrapped key opens only for its recipient, report, purpose, epoch."""

import uuid

import pytest

from sipadu.crypto import (
    CryptoError,
    KeyContext,
    PublicKey,
    Purpose,
    Suite,
    new_key,
    new_keypair,
    unwrap_key,
    wrap_key,
)

REPORT = uuid.UUID("6f1c1f34-58b4-4c55-9d3a-0c2b1b8c7a10")
CONTEXT = KeyContext(REPORT, Purpose.CASE, 0)


@pytest.mark.parametrize("suite", list(Suite))
def test_wrap_unwrap_round_trip(suite):
    private = new_keypair(suite)
    key = new_key()
    blob = wrap_key(key, private.public_key(), CONTEXT)
    assert blob[:2] == bytes([1, suite])
    assert unwrap_key(blob, private, CONTEXT) == key


def test_wrapping_is_randomized():
    public = new_keypair().public_key()
    key = new_key()
    assert wrap_key(key, public, CONTEXT) != wrap_key(key, public, CONTEXT)


@pytest.mark.parametrize(
    "other",
    [
        KeyContext(uuid.uuid4(), Purpose.CASE, 0),
        KeyContext(REPORT, Purpose.IDENTITY, 0),
        KeyContext(REPORT, Purpose.INTERNAL, 0),
        KeyContext(REPORT, Purpose.CASE, 1),
    ],
    ids=["other-report", "identity-purpose", "internal-purpose", "next-epoch"],
)
@pytest.mark.parametrize("suite", list(Suite))
def test_wrapped_key_cannot_move_to_another_context(suite, other):
    private = new_keypair(suite)
    blob = wrap_key(new_key(), private.public_key(), CONTEXT)
    with pytest.raises(CryptoError):
        unwrap_key(blob, private, other)


@pytest.mark.parametrize("suite", list(Suite))
def test_wrong_private_key_fails(suite):
    blob = wrap_key(new_key(), new_keypair(suite).public_key(), CONTEXT)
    with pytest.raises(CryptoError):
        unwrap_key(blob, new_keypair(suite), CONTEXT)


def test_wrong_suite_fails_cleanly():
    blob = wrap_key(new_key(), new_keypair(Suite.X25519).public_key(), CONTEXT)
    with pytest.raises(CryptoError):
        unwrap_key(blob, new_keypair(Suite.MLKEM768_X25519), CONTEXT)


def test_relabelled_suite_byte_fails():
    private = new_keypair(Suite.MLKEM768_X25519)
    blob = bytearray(wrap_key(new_key(), private.public_key(), CONTEXT))
    blob[1] = Suite.X25519
    with pytest.raises(CryptoError):
        unwrap_key(bytes(blob), new_keypair(Suite.X25519), CONTEXT)


@pytest.mark.parametrize("suite", list(Suite))
@pytest.mark.parametrize("where", ["version", "enc", "ciphertext", "tag", "truncated"])
def test_altered_wrapped_key_fails(suite, where):
    private = new_keypair(suite)
    blob = bytearray(wrap_key(new_key(), private.public_key(), CONTEXT))
    if where == "truncated":
        blob = blob[:-1]
    else:
        index = {"version": 0, "enc": 2, "ciphertext": -20, "tag": -1}[where]
        blob[index] ^= 0x80
    with pytest.raises(CryptoError):
        unwrap_key(bytes(blob), private, CONTEXT)


def test_only_256_bit_keys_are_wrapped():
    with pytest.raises(CryptoError):
        wrap_key(b"short", new_keypair().public_key(), CONTEXT)


def test_low_order_x25519_recipient_is_refused_cleanly():
    with pytest.raises(CryptoError):
        wrap_key(new_key(), PublicKey(Suite.X25519, bytes(32)), CONTEXT)


@pytest.mark.parametrize("epoch", [-1, 2**32])
def test_epoch_out_of_range_is_refused(epoch):
    with pytest.raises(CryptoError):
        KeyContext(REPORT, Purpose.CASE, epoch)
