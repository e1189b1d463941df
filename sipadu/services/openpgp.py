"""OpenPGP public keys a staff member gives for their daily digest, and encryption to them
(issue 19), through pysequoia: Python bindings of Sequoia-PGP (RFC 4880 and RFC 9580),
maintained by the Sequoia project, in process (no keyring, no temporary file, no gpg
agent). PGPy was not used: it is poorly maintained; python-gnupg would run gpg with a
temporary keyring for every message.

A key is read once, when it is registered: it must be one public certificate (never a
secret key) with a valid encryption-capable subkey now. The digest is encrypted without
compression (Sequoia compresses nothing unless asked), so a constant plaintext size
gives a constant ciphertext size for a given key (docs/staff.md "Daily digest").

Sequoia reports bad input as ``RuntimeError`` or ``ValueError``; a Rust panic on input it
did not foresee reaches Python as pyo3's ``PanicException``, which derives from
``BaseException`` (pyo3's documentation: so that ``except Exception`` does not swallow
it). Every call here that parses or uses a key refuses that too (:func:`_refusing`),
so a crafted key gets the refusal, never a server error.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import pysequoia
from pysequoia.packet import PacketPile, Tag

from sipadu.services.refusals import Reason, ServiceError

# An armored certificate with a few subkeys and self-signatures is 2 to 10 KB; one
# exported with every third-party signature it collected can be far larger.
MAX_KEY_BYTES = 64 * 1024
_PROBE = b"sipadu openpgp probe"
_SECRET = (Tag.SecretKey, Tag.SecretSubkey)  # RFC 9580 §5.5.1.3, §5.5.1.4


@dataclass(frozen=True)
class OpenPgpKey:
    """A checked public key: ``armored`` (the certificate as Sequoia writes it back,
    ASCII armor) and its ``fingerprint`` (40 or 64 lower-case hex digits)."""

    armored: str
    fingerprint: str


def is_panic(exc: BaseException) -> bool:
    """Whether ``exc`` is pyo3's ``pyo3_runtime.PanicException`` (a Rust panic). Its
    class is made by pyo3 at the first panic and cannot be imported, so it is known by
    its module and name."""
    kind = type(exc)
    return kind.__module__ == "pyo3_runtime" and kind.__name__ == "PanicException"


@contextmanager
def _refusing(reason: Reason) -> Iterator[None]:
    """Turn any failure of Sequoia in the block, a panic included, into
    :class:`ServiceError` ``reason`` on field ``openpgp_key``; anything else
    ``BaseException`` (``KeyboardInterrupt``, ``SystemExit``) goes on."""
    try:
        yield
    except Exception:  # noqa: BLE001 — Sequoia raises RuntimeError or ValueError on bad input
        raise ServiceError(reason, "openpgp_key") from None
    except BaseException as exc:
        if not is_panic(exc):
            raise
        raise ServiceError(reason, "openpgp_key") from None


def is_private_key(text: str) -> bool:
    """Whether ``text`` holds an ASCII-armored OpenPGP private key (RFC 9580 §6.2's
    "PRIVATE KEY BLOCK" header line), so a page never renders it back."""
    return "-----BEGIN PGP PRIVATE KEY BLOCK-----" in text


def read_public_key(text: str) -> OpenPgpKey:
    """The public key in ``text`` (ASCII-armored or binary-as-text), checked. Raises
    :class:`ServiceError` with ``OPENPGP_KEY_TOO_LARGE`` (max, in KB),
    ``OPENPGP_KEY_UNREADABLE`` (not exactly one certificate), ``OPENPGP_KEY_SECRET`` (a
    secret key: refused whole, never stored) or ``OPENPGP_KEY_UNUSABLE`` (no key that
    can be encrypted to now: expired, revoked, signing-only), each on field
    ``openpgp_key``."""
    data = text.strip().encode("utf-8")
    if len(data) > MAX_KEY_BYTES:
        raise ServiceError(Reason.OPENPGP_KEY_TOO_LARGE, "openpgp_key", max=MAX_KEY_BYTES // 1024)
    with _refusing(Reason.OPENPGP_KEY_UNREADABLE):
        certs = pysequoia.Cert.split_bytes(data)
        secret = any(packet.tag in _SECRET for packet in PacketPile.from_bytes(data))
    if secret:
        raise ServiceError(Reason.OPENPGP_KEY_SECRET, "openpgp_key")
    if len(certs) != 1:
        raise ServiceError(Reason.OPENPGP_KEY_UNREADABLE, "openpgp_key")
    with _refusing(Reason.OPENPGP_KEY_UNREADABLE):
        armored, hex_fingerprint = str(certs[0]), str(certs[0].fingerprint).lower()
    encrypt(armored, _PROBE)  # OPENPGP_KEY_UNUSABLE
    return OpenPgpKey(armored, hex_fingerprint)


def encrypt(armored_key: str, plaintext: bytes) -> bytes:
    """``plaintext`` encrypted to the key (an OpenPGP message, ASCII-armored, not
    compressed, not signed). Raises :class:`ServiceError` ``OPENPGP_KEY_UNUSABLE`` when
    the key no longer can be encrypted to (it expired or was revoked since)."""
    with _refusing(Reason.OPENPGP_KEY_UNUSABLE):
        cert = pysequoia.Cert.from_bytes(armored_key.encode("ascii"))
        return bytes(pysequoia.encrypt(plaintext, recipients=[cert]))


def fingerprint(armored_key: str) -> str:
    """The stored key's fingerprint (lower-case hex), or "" if it no longer reads."""
    try:
        with _refusing(Reason.OPENPGP_KEY_UNREADABLE):
            return str(pysequoia.Cert.from_bytes(armored_key.encode("ascii")).fingerprint).lower()
    except ServiceError:
        return ""
