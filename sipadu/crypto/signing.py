"""Ed25519 signatures, for audit checkpoints.

The signing key is a 32-byte seed kept in the instance folder (or config); the public
half is what auditors pin. Messages are domain-separated by the caller's label.
"""

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from sipadu.crypto.binding import bind
from sipadu.crypto.errors import CryptoError


def signing_public_key(seed: bytes) -> bytes:
    """The raw 32-byte public key of a signing seed."""
    return _private(seed).public_key().public_bytes_raw()


def sign(seed: bytes, label: str, message: bytes) -> bytes:
    return _private(seed).sign(bind(label, message))


def verify_signature(public_key: bytes, label: str, message: bytes, signature: bytes) -> None:
    """Raise :class:`CryptoError` unless ``signature`` is valid."""
    try:
        Ed25519PublicKey.from_public_bytes(public_key).verify(signature, bind(label, message))
    except (InvalidSignature, ValueError):
        raise CryptoError("signature is not valid") from None


def _private(seed: bytes) -> Ed25519PrivateKey:
    if len(seed) != 32:
        raise CryptoError("signing seed must be 32 bytes")
    return Ed25519PrivateKey.from_private_bytes(seed)
