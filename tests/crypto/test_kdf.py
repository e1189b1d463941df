"""Argon2id: one derivation, verifier and KEK split, upgradeable records, lookup ids;
HKDF subkeys, one per use of a secret."""

import pytest

from sipadu.crypto import (
    DEFAULT_PARAMS,
    Argon2Params,
    CryptoError,
    SecretRecord,
    derive_keys,
    derive_subkey,
    hash_secret,
    lookup_id,
    verify_secret,
)


def test_default_parameters_are_rfc9106_second_profile():
    assert DEFAULT_PARAMS == Argon2Params(time_cost=3, memory_kib=65536, parallelism=4)


def test_real_parameters_round_trip_and_are_recorded():
    record, kek = hash_secret(b"correct horse battery staple")
    assert record.params == DEFAULT_PARAMS
    assert len(record.salt) == 16
    assert (
        verify_secret(b"correct horse battery staple", SecretRecord.from_bytes(record.to_bytes()))
        == kek
    )


def test_verifier_and_kek_are_distinct_and_kek_not_stored(cheap_argon2):
    record, kek = hash_secret(b"secret", cheap_argon2)
    assert kek != record.verifier
    assert kek not in record.to_bytes()
    assert len(kek) == 32


def test_wrong_secret_is_refused(cheap_argon2):
    record, _ = hash_secret(b"secret", cheap_argon2)
    with pytest.raises(CryptoError):
        verify_secret(b"secreT", record)


def test_each_hash_has_a_fresh_salt(cheap_argon2):
    first, kek1 = hash_secret(b"same", cheap_argon2)
    second, kek2 = hash_secret(b"same", cheap_argon2)
    assert first.salt != second.salt and kek1 != kek2


def test_record_verifies_with_its_own_parameters_and_reports_upgrade(cheap_argon2):
    record, kek = hash_secret(b"pw", cheap_argon2)
    stronger = Argon2Params(time_cost=2, memory_kib=512, parallelism=1)
    assert record.needs_upgrade(stronger)
    assert not record.needs_upgrade(cheap_argon2)
    assert verify_secret(b"pw", record) == kek


@pytest.mark.parametrize(
    "mutate",
    [
        lambda b: b[:-1],
        lambda b: bytes([2]) + b[1:],
        lambda b: b + b"\x00",
        lambda b: b"",
    ],
    ids=["short", "version", "long", "empty"],
)
def test_malformed_records_are_refused(cheap_argon2, mutate):
    record, _ = hash_secret(b"pw", cheap_argon2)
    with pytest.raises(CryptoError):
        SecretRecord.from_bytes(mutate(record.to_bytes()))


def test_forged_record_cannot_demand_absurd_memory(cheap_argon2):
    record, _ = hash_secret(b"pw", cheap_argon2)
    raw = bytearray(record.to_bytes())
    raw[5:9] = (0xFFFFFFFF).to_bytes(4, "big")  # memory_kib
    with pytest.raises(CryptoError):
        SecretRecord.from_bytes(bytes(raw))


@pytest.mark.parametrize("params", [(0, 256, 1), (1, 7, 1), (1, 256, 0), (65, 256, 1), (1, 31, 4)])
def test_invalid_parameters_are_refused(params):
    with pytest.raises(CryptoError):
        Argon2Params(*params)


def test_lookup_id_is_deterministic_and_salt_bound(cheap_argon2):
    salt = b"instance-salt-16"
    code = b"1234567890123456"
    assert lookup_id(code, salt, cheap_argon2) == lookup_id(code, salt, cheap_argon2)
    assert lookup_id(code, b"another-salt-016", cheap_argon2) != lookup_id(code, salt, cheap_argon2)
    assert lookup_id(b"1234567890123457", salt, cheap_argon2) != lookup_id(code, salt, cheap_argon2)


def test_lookup_id_differs_from_derived_keys(cheap_argon2):
    salt = b"instance-salt-16"
    keys = derive_keys(b"code", salt, cheap_argon2)
    assert lookup_id(b"code", salt, cheap_argon2) not in (keys.verifier, keys.kek)


def test_short_salt_is_refused(cheap_argon2):
    with pytest.raises(CryptoError):
        lookup_id(b"code", b"short", cheap_argon2)


def test_repr_shows_no_secret(cheap_argon2):
    record, kek = hash_secret(b"pw", cheap_argon2)
    keys = derive_keys(b"pw", record.salt, cheap_argon2)
    for text in (repr(record), repr(keys)):
        assert record.verifier.hex() not in text and kek.hex() not in text


def test_subkeys_are_rfc5869_hkdf_sha256_without_salt():
    # RFC 5869 appendix A.3 (SHA-256, no salt, empty info): the first 32 bytes of its OKM.
    okm = bytes.fromhex("8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d")
    assert derive_subkey(b"\x0b" * 22, "") == okm


def test_each_label_gives_an_independent_subkey():
    secret = bytes(range(32))
    keys = {derive_subkey(secret, label) for label in ("a.cookie.v1", "a.failures.v1", "b")}
    assert len(keys) == 3 and all(len(key) == 32 for key in keys)
    assert derive_subkey(secret, "b") == derive_subkey(secret, "b")
    assert derive_subkey(bytes(32), "b") != derive_subkey(secret, "b")
