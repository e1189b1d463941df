"""Key derivation: Argon2id turns passwords, passphrases and mailbox codes into keys;
HKDF (:func:`derive_subkey`) gives each use of a uniformly random secret a key of its own.

One Argon2id derivation per secret is the expensive part; HKDF-Expand then splits its
output into a *verifier* (stored, compared in constant time) and a *key-encryption key*
(never stored; it unwraps the owner's private key). Knowing the verifier does not give
the KEK: they come from distinct HKDF ``info`` labels.

Parameters and salt are stored beside the verifier in a :class:`SecretRecord`, so the
cost can be raised later and old records still verify (see ``needs_upgrade``).
"""

import hmac
import os
import struct
from dataclasses import dataclass

from argon2.exceptions import HashingError
from argon2.low_level import ARGON2_VERSION, Type, hash_secret_raw
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF, HKDFExpand

from sipadu.crypto.errors import CryptoError

SALT_LEN = 16
OUTPUT_LEN = 32
RECORD_VERSION = 1
_RECORD = struct.Struct(">BIIB16s32s")  # version, t, m (KiB), p, salt, verifier
_HEAD = struct.Struct(">BIIB")  # a record's first bytes: version, t, m (KiB), p
RECORD_HEAD_LEN = _HEAD.size  # 10: what says a record's cost and nothing else

# A stored record is attacker-controlled if the database is: refuse parameters that
# would let a forged record pin a worker (RFC 9106 first profile uses 2 GiB).
_MAX_TIME_COST = 64
_MAX_MEMORY_KIB = 4 * 1024 * 1024
_MAX_PARALLELISM = 64


@dataclass(frozen=True)
class Argon2Params:
    """Argon2id cost. The default is RFC 9106's second recommended profile."""

    time_cost: int = 3
    memory_kib: int = 64 * 1024
    parallelism: int = 4

    def __post_init__(self) -> None:
        if not 1 <= self.time_cost <= _MAX_TIME_COST:
            raise CryptoError("Argon2 time cost out of range")
        if not 1 <= self.parallelism <= _MAX_PARALLELISM:
            raise CryptoError("Argon2 parallelism out of range")
        if not 8 * self.parallelism <= self.memory_kib <= _MAX_MEMORY_KIB:
            raise CryptoError("Argon2 memory out of range")

    def is_weaker_than(self, other: "Argon2Params") -> bool:
        """True if any cost of ours is below ``other``'s."""
        return (
            self.time_cost < other.time_cost
            or self.memory_kib < other.memory_kib
            or self.parallelism < other.parallelism
        )


DEFAULT_PARAMS = Argon2Params()


@dataclass(frozen=True)
class DerivedKeys:
    """What one Argon2id derivation yields."""

    verifier: bytes
    kek: bytes

    def __repr__(self) -> str:
        return "DerivedKeys(<secret>)"


def argon2id(secret: bytes, salt: bytes, params: Argon2Params) -> bytes:
    """Raw 32-byte Argon2id (version 0x13) output."""
    if len(salt) < 8:
        raise CryptoError("Argon2 salt must be at least 8 bytes")
    try:
        return hash_secret_raw(
            secret=secret,
            salt=salt,
            time_cost=params.time_cost,
            memory_cost=params.memory_kib,
            parallelism=params.parallelism,
            hash_len=OUTPUT_LEN,
            type=Type.ID,
            version=ARGON2_VERSION,
        )
    except HashingError as exc:
        raise CryptoError("Argon2 derivation failed") from exc


def _expand(master: bytes, label: bytes) -> bytes:
    return HKDFExpand(algorithm=hashes.SHA256(), length=32, info=label).derive(master)


def derive_keys(secret: bytes, salt: bytes, params: Argon2Params) -> DerivedKeys:
    """Argon2id once, then split into verifier and key-encryption key."""
    master = argon2id(secret, salt, params)
    return DerivedKeys(
        verifier=_expand(master, b"sipadu.kdf.v1.verifier"),
        kek=_expand(master, b"sipadu.kdf.v1.kek"),
    )


@dataclass(frozen=True)
class SecretRecord:
    """What is stored for a password or passphrase: parameters, salt and verifier."""

    params: Argon2Params
    salt: bytes
    verifier: bytes

    def to_bytes(self) -> bytes:
        return _RECORD.pack(
            RECORD_VERSION,
            self.params.time_cost,
            self.params.memory_kib,
            self.params.parallelism,
            self.salt,
            self.verifier,
        )

    @classmethod
    def from_bytes(cls, data: bytes) -> "SecretRecord":
        if len(data) != _RECORD.size or data[0] != RECORD_VERSION:
            raise CryptoError("unknown secret record format")
        _, time_cost, memory_kib, parallelism, salt, verifier = _RECORD.unpack(data)
        return cls(Argon2Params(time_cost, memory_kib, parallelism), salt, verifier)

    @staticmethod
    def params_of_head(head: bytes) -> Argon2Params:
        """The parameters stored in a record's first :data:`RECORD_HEAD_LEN` bytes (the
        cost a check of it takes, nothing secret); :class:`CryptoError` if unknown."""
        if len(head) != _HEAD.size or head[0] != RECORD_VERSION:
            raise CryptoError("unknown secret record format")
        _, time_cost, memory_kib, parallelism = _HEAD.unpack(head)
        return Argon2Params(time_cost, memory_kib, parallelism)

    @classmethod
    def decoy(cls, params: Argon2Params) -> "SecretRecord":
        """A record no secret matches (random salt and verifier) that costs a real
        derivation at ``params`` to check: used when no account or mailbox matched, so
        that a miss does the same work as a wrong secret. Choose ``params`` as a live
        record would have them (see ``sipadu.services.mailbox.decoy_params``)."""
        return cls(params, os.urandom(SALT_LEN), os.urandom(32))

    def needs_upgrade(self, current: Argon2Params) -> bool:
        """True if this record was made with weaker parameters than ``current``; re-hash
        it (and re-wrap what its KEK protects) at the next successful login."""
        return self.params.is_weaker_than(current)

    def __repr__(self) -> str:
        return f"SecretRecord(params={self.params!r}, <salt>, <verifier>)"


def hash_secret(secret: bytes, params: Argon2Params = DEFAULT_PARAMS) -> tuple[SecretRecord, bytes]:
    """New random salt; returns the record to store and the KEK to wrap keys with."""
    salt = os.urandom(SALT_LEN)
    keys = derive_keys(secret, salt, params)
    return SecretRecord(params, salt, keys.verifier), keys.kek


def verify_secret(secret: bytes, record: SecretRecord) -> bytes:
    """Return the KEK if ``secret`` matches ``record``; raise :class:`CryptoError` if not."""
    keys = derive_keys(secret, record.salt, record.params)
    if not hmac.compare_digest(keys.verifier, record.verifier):
        raise CryptoError("secret does not match")
    return keys.kek


def lookup_id(secret: bytes, instance_salt: bytes, params: Argon2Params) -> bytes:
    """Deterministic Argon2id(secret, instance-wide salt): the index a mailbox is found by.

    Storing this instead of a fast hash means a thief holding the database and config
    pays a full Argon2id per guessed code. The parameters must stay fixed for an
    instance (changing them changes every lookup id); they are configuration, not data.
    """
    return argon2id(secret, instance_salt, params)


def derive_subkey(secret: bytes, label: str) -> bytes:
    """A 32-byte key for one use of ``secret``: HKDF-SHA256 (RFC 5869, extract then
    expand) with no salt, ``secret`` being uniformly random already (RFC 5869 section
    3.1), and the ASCII ``label`` as its info. Distinct labels give independent keys: one
    that leaks or is misused for one purpose says nothing of another's."""
    info = label.encode("ascii")
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(secret)
