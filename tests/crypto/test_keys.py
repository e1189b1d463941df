"""Recipient key pairs: wire format, fingerprints, sealing private keys at rest."""

import pytest

from sipadu.crypto import (
    CryptoError,
    PrivateKey,
    PublicKey,
    Suite,
    fingerprint,
    new_key,
    new_keypair,
    open_private_key,
    seal_private_key,
)
from sipadu.crypto.keys import DEFAULT_SUITE

SUITES = list(Suite)


def test_default_suite_is_post_quantum_hybrid():
    assert DEFAULT_SUITE is Suite.MLKEM768_X25519
    assert new_keypair().suite is Suite.MLKEM768_X25519


@pytest.mark.parametrize("suite", SUITES)
def test_public_key_round_trips(suite):
    public = new_keypair(suite).public_key()
    assert PublicKey.from_bytes(public.to_bytes()) == public


def test_public_key_sizes_match_the_suites():
    assert len(new_keypair(Suite.X25519).public_key().to_bytes()) == 2 + 32
    assert len(new_keypair(Suite.MLKEM768_X25519).public_key().to_bytes()) == 2 + 1184 + 32


@pytest.mark.parametrize("suite", SUITES)
def test_sealed_private_key_round_trips(suite):
    private = new_keypair(suite)
    kek = new_key()
    blob = seal_private_key(private, kek, owner="staff/1", purpose="password")
    opened = open_private_key(blob, kek, owner="staff/1", purpose="password")
    assert opened.public_key() == private.public_key()


def test_hybrid_private_key_is_seed_plus_x25519():
    private = new_keypair(Suite.MLKEM768_X25519)
    blob = seal_private_key(private, new_key(), owner="o", purpose="p")
    assert len(blob) == 2 + 12 + 64 + 32 + 16


@pytest.mark.parametrize(
    "change",
    [
        {"kek": new_key()},
        {"owner": "staff/2"},
        {"purpose": "session"},
    ],
    ids=["kek", "owner", "purpose"],
)
def test_sealed_private_key_is_bound_to_kek_owner_and_purpose(change):
    kek = new_key()
    blob = seal_private_key(new_keypair(), kek, owner="staff/1", purpose="password")
    args = {"kek": kek, "owner": "staff/1", "purpose": "password", **change}
    with pytest.raises(CryptoError):
        open_private_key(blob, args["kek"], owner=args["owner"], purpose=args["purpose"])


@pytest.mark.parametrize("index", [0, 1, 2, 13, 14, -1])
def test_any_altered_byte_of_a_sealed_private_key_fails(index):
    kek = new_key()
    blob = bytearray(seal_private_key(new_keypair(Suite.X25519), kek, owner="o", purpose="p"))
    blob[index] ^= 0x01
    with pytest.raises(CryptoError):
        open_private_key(bytes(blob), kek, owner="o", purpose="p")


def test_fingerprint_is_grouped_sha256_and_distinct():
    a, b = new_keypair().public_key(), new_keypair().public_key()
    fp = fingerprint(a)
    assert len(fp.split(" ")) == 16 and all(len(g) == 4 for g in fp.split(" "))
    assert fp != fingerprint(b)
    assert fingerprint(PublicKey.from_bytes(a.to_bytes())) == fp


@pytest.mark.parametrize(
    "data",
    [b"", b"\x01", b"\x02\x01" + bytes(32), b"\x01\x09" + bytes(32), b"\x01\x01" + bytes(31)],
    ids=["empty", "short", "version", "suite", "length"],
)
def test_malformed_public_keys_are_refused(data):
    with pytest.raises(CryptoError):
        PublicKey.from_bytes(data)


def test_wrong_length_private_key_is_refused():
    with pytest.raises(CryptoError):
        PrivateKey(Suite.MLKEM768_X25519, bytes(95))


def test_private_key_repr_hides_key():
    assert "secret" in repr(new_keypair())
