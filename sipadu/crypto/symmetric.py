"""Symmetric keys: 256-bit, random, used only with AES-256-GCM."""

import os

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from sipadu.crypto.errors import CryptoError

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
