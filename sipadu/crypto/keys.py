"""Recipient key pairs for HPKE, their wire format, fingerprints and sealing at rest.

Two suites, both HKDF-SHA256 + AES-256-GCM in HPKE Base mode:

- ``MLKEM768_X25519`` (default): post-quantum hybrid. A report encrypted today must stay
  secret for decades, so an adversary who records ciphertext now and gets a quantum
  computer later ("harvest now, decrypt later") must still break X25519 *and* ML-KEM.
- ``X25519``: the classical suite, kept readable for data wrapped with it.

A private key is only ever serialized sealed under a key-encryption key; there is no
function that returns it in the clear.
"""

import hashlib
import os
from enum import IntEnum

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hpke
from cryptography.hazmat.primitives.asymmetric import mlkem, x25519

from sipadu.crypto.binding import bind, text
from sipadu.crypto.errors import CryptoError
from sipadu.crypto.symmetric import NONCE_LEN, aesgcm

FORMAT_VERSION = 1
_MLKEM_SEED_LEN = 64
_MLKEM_PUBLIC_LEN = 1184
_X25519_LEN = 32


class Suite(IntEnum):
    """Our one-byte suite ids, written into every public key and wrapped blob."""

    X25519 = 1
    MLKEM768_X25519 = 2


DEFAULT_SUITE = Suite.MLKEM768_X25519

_HPKE_SUITES = {
    Suite.X25519: hpke.Suite(hpke.KEM.X25519, hpke.KDF.HKDF_SHA256, hpke.AEAD.AES_256_GCM),
    Suite.MLKEM768_X25519: hpke.Suite(
        hpke.KEM.MLKEM768_X25519, hpke.KDF.HKDF_SHA256, hpke.AEAD.AES_256_GCM
    ),
}
_PUBLIC_LEN = {Suite.X25519: _X25519_LEN, Suite.MLKEM768_X25519: _MLKEM_PUBLIC_LEN + _X25519_LEN}
_PRIVATE_LEN = {Suite.X25519: _X25519_LEN, Suite.MLKEM768_X25519: _MLKEM_SEED_LEN + _X25519_LEN}


def suite_of(byte: int) -> Suite:
    """Parse a suite id, refusing unknown ones."""
    try:
        return Suite(byte)
    except ValueError:
        raise CryptoError(f"unknown key suite {byte}") from None


def hpke_suite(suite: Suite) -> hpke.Suite:
    return _HPKE_SUITES[suite]


class PublicKey:
    """A recipient's public key: ``version ‖ suite ‖ raw`` on the wire."""

    __slots__ = ("_hpke", "raw", "suite")

    def __init__(self, suite: Suite, raw: bytes) -> None:
        suite = suite_of(suite)
        if len(raw) != _PUBLIC_LEN[suite]:
            raise CryptoError("public key has the wrong length for its suite")
        try:
            if suite is Suite.X25519:
                key: object = x25519.X25519PublicKey.from_public_bytes(raw)
            else:
                key = hpke.MLKEM768X25519PublicKey(
                    mlkem.MLKEM768PublicKey.from_public_bytes(raw[:_MLKEM_PUBLIC_LEN]),
                    x25519.X25519PublicKey.from_public_bytes(raw[_MLKEM_PUBLIC_LEN:]),
                )
        except ValueError as exc:
            raise CryptoError("malformed public key") from exc
        self.suite = suite
        self.raw = raw
        self._hpke = key

    def to_bytes(self) -> bytes:
        return bytes([FORMAT_VERSION, self.suite]) + self.raw

    @classmethod
    def from_bytes(cls, data: bytes) -> "PublicKey":
        if len(data) < 2 or data[0] != FORMAT_VERSION:
            raise CryptoError("unknown public key format")
        return cls(suite_of(data[1]), bytes(data[2:]))

    def hpke_key(self) -> object:
        return self._hpke

    def __eq__(self, other: object) -> bool:
        return isinstance(other, PublicKey) and self.to_bytes() == other.to_bytes()

    def __hash__(self) -> int:
        return hash(self.to_bytes())

    def __repr__(self) -> str:
        return f"PublicKey({self.suite.name}, {fingerprint(self)})"


class PrivateKey:
    """A recipient's private key. Its raw bytes leave this class only sealed."""

    __slots__ = ("_hpke", "_parts", "suite")

    def __init__(self, suite: Suite, raw: bytes) -> None:
        suite = suite_of(suite)
        if len(raw) != _PRIVATE_LEN[suite]:
            raise CryptoError("private key has the wrong length for its suite")
        try:
            if suite is Suite.X25519:
                key: object = x25519.X25519PrivateKey.from_private_bytes(raw)
                parts: tuple[object, ...] = (key,)
            else:
                parts = (
                    mlkem.MLKEM768PrivateKey.from_seed_bytes(raw[:_MLKEM_SEED_LEN]),
                    x25519.X25519PrivateKey.from_private_bytes(raw[_MLKEM_SEED_LEN:]),
                )
                key = hpke.MLKEM768X25519PrivateKey(*parts)
        except ValueError as exc:
            raise CryptoError("malformed private key") from exc
        self.suite = suite
        self._parts = parts
        self._hpke = key

    def _raw(self) -> bytes:
        # ML-KEM private keys are stored as their 64-byte seed (FIPS 203 "d ‖ z"), the
        # compact form every implementation can expand; X25519 as its raw 32 bytes.
        return b"".join(part.private_bytes_raw() for part in self._parts)  # type: ignore[attr-defined]

    def public_key(self) -> PublicKey:
        if self.suite is Suite.X25519:
            raw = self._parts[0].public_key().public_bytes_raw()  # type: ignore[attr-defined]
        else:
            raw = b"".join(p.public_key().public_bytes_raw() for p in self._parts)  # type: ignore[attr-defined]
        return PublicKey(self.suite, raw)

    def hpke_key(self) -> object:
        return self._hpke

    def __repr__(self) -> str:
        return f"PrivateKey({self.suite.name}, <secret>)"


def new_keypair(suite: Suite = DEFAULT_SUITE) -> PrivateKey:
    """A fresh key pair; ``.public_key()`` gives the half to publish."""
    return PrivateKey(suite, os.urandom(_PRIVATE_LEN[suite]))


def fingerprint(public: PublicKey) -> str:
    """SHA-256 of the serialized public key, as 16 groups of 4 hex digits.

    Shown to admins, investigators and auditors so they can compare, out of band, that
    the key a report is wrapped to is the person's real key.
    """
    digest = hashlib.sha256(public.to_bytes()).hexdigest().upper()
    return " ".join(digest[i : i + 4] for i in range(0, len(digest), 4))


def _private_key_aad(header: bytes, owner: str, purpose: str) -> bytes:
    return bind("sipadu.private-key.v1", header, text(owner), text(purpose))


def seal_private_key(private: PrivateKey, kek: bytes, *, owner: str, purpose: str) -> bytes:
    """Seal ``private`` under ``kek``: ``version ‖ suite ‖ nonce ‖ AES-256-GCM``.

    ``owner`` (e.g. a staff account or mailbox id) and ``purpose`` (e.g. ``password``,
    ``session``) are bound as associated data, so a sealed key copied onto another
    account or into another slot does not open.
    """
    return _seal_private_key(private, kek, os.urandom(NONCE_LEN), owner=owner, purpose=purpose)


def _seal_private_key(
    private: PrivateKey, kek: bytes, nonce: bytes, *, owner: str, purpose: str
) -> bytes:
    header = bytes([FORMAT_VERSION, private.suite])
    sealed = aesgcm(kek).encrypt(nonce, private._raw(), _private_key_aad(header, owner, purpose))
    return header + nonce + sealed


def open_private_key(blob: bytes, kek: bytes, *, owner: str, purpose: str) -> PrivateKey:
    """Inverse of :func:`seal_private_key`; :class:`CryptoError` on any mismatch."""
    if len(blob) < 2 + NONCE_LEN or blob[0] != FORMAT_VERSION:
        raise CryptoError("unknown sealed private key format")
    suite = suite_of(blob[1])
    header, nonce, sealed = blob[:2], blob[2 : 2 + NONCE_LEN], blob[2 + NONCE_LEN :]
    try:
        raw = aesgcm(kek).decrypt(nonce, sealed, _private_key_aad(header, owner, purpose))
    except InvalidTag:
        raise CryptoError("private key did not authenticate") from None
    return PrivateKey(suite, raw)
