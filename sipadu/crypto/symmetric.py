"""Symmetric keys: 256-bit, random, used only with AES-256-GCM."""

import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from sipadu.crypto.binding import bind, text
from sipadu.crypto.errors import CryptoError

SECRET_FORMAT = 0x01
KEY_LEN = 32
NONCE_LEN = 12
TAG_LEN = 16


def new_key() -> bytes:
    """A fresh random 256-bit key (case, internal, identity, file or session key)."""
    return os.urandom(KEY_LEN)


def aesgcm(key: bytes) -> AESGCM:
    """AES-256-GCM for ``key``; any other key length is a programming error we refuse."""
    if len(key) != KEY_LEN:
        raise CryptoError("key must be 32 bytes")
    return AESGCM(key)


def seal_secret(key: bytes, secret: bytes, *, owner: str, purpose: str) -> bytes:
    """Seal a small secret (a TOTP seed) under ``key``: ``0x01 ‖ nonce ‖ AES-256-GCM``,
    bound to ``owner`` and ``purpose`` so it opens nowhere else. Not padded: use it only
    for secrets of fixed length."""
    nonce = os.urandom(NONCE_LEN)
    aad = bind("sipadu.secret.v1", bytes([SECRET_FORMAT]), text(owner), text(purpose))
    return bytes([SECRET_FORMAT]) + nonce + aesgcm(key).encrypt(nonce, secret, aad)


def open_secret(key: bytes, blob: bytes, *, owner: str, purpose: str) -> bytes:
    """Inverse of :func:`seal_secret`; :class:`CryptoError` on any mismatch."""
    if len(blob) < 1 + NONCE_LEN + TAG_LEN or blob[0] != SECRET_FORMAT:
        raise CryptoError("unknown sealed secret format")
    aad = bind("sipadu.secret.v1", blob[:1], text(owner), text(purpose))
    try:
        return aesgcm(key).decrypt(blob[1 : 1 + NONCE_LEN], blob[1 + NONCE_LEN :], aad)
    except InvalidTag:
        raise CryptoError("sealed secret did not authenticate") from None
