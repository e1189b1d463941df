"""Sealing small values (report fields, messages, file names) with mandatory padding.

A sealed field is ``version ‖ nonce ‖ AES-256-GCM(pad(plaintext))``. The plaintext is
always padded to a size bucket first (see :mod:`sipadu.crypto.padding`), so the stored
length reveals only the bucket. Associated data binds the format version, the report
and the field name, so a ciphertext moved to another report or column (say, the
identity pasted into the title) does not open.
"""

import os
import uuid

from cryptography.exceptions import InvalidTag

from sipadu.crypto.binding import bind, text
from sipadu.crypto.errors import CryptoError
from sipadu.crypto.padding import field_bucket, pad, unpad
from sipadu.crypto.symmetric import NONCE_LEN, aesgcm

FIELD_VERSION = 1


def _aad(report_id: uuid.UUID, field: str) -> bytes:
    return bind("sipadu.field.v1", bytes([FIELD_VERSION]), report_id.bytes, text(field))


def seal_field(key: bytes, plaintext: bytes, *, report_id: uuid.UUID, field: str) -> bytes:
    """Pad and encrypt ``plaintext`` under a report key.

    ``field`` names the column, and the row too where a report has many (e.g.
    ``message/<uuid>/body``), so ciphertexts cannot be swapped between rows.
    """
    return _seal(key, os.urandom(NONCE_LEN), plaintext, report_id=report_id, field=field)


def _seal(key: bytes, nonce: bytes, plaintext: bytes, *, report_id: uuid.UUID, field: str) -> bytes:
    padded = pad(plaintext, field_bucket(len(plaintext)))
    sealed = aesgcm(key).encrypt(nonce, padded, _aad(report_id, field))
    return bytes([FIELD_VERSION]) + nonce + sealed


def open_field(key: bytes, blob: bytes, *, report_id: uuid.UUID, field: str) -> bytes:
    """Inverse of :func:`seal_field`."""
    if len(blob) < 1 + NONCE_LEN or blob[0] != FIELD_VERSION:
        raise CryptoError("unknown sealed field format")
    nonce, sealed = blob[1 : 1 + NONCE_LEN], blob[1 + NONCE_LEN :]
    try:
        padded = aesgcm(key).decrypt(nonce, sealed, _aad(report_id, field))
    except InvalidTag:
        raise CryptoError("field did not authenticate") from None
    return unpad(padded)
