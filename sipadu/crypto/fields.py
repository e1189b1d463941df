"""Sealing small values (report fields, messages, file names) with mandatory padding.

A sealed field is ``version ‖ nonce ‖ AES-256-GCM(pad(plaintext))``. The plaintext is
always padded to a size bucket first (see :mod:`sipadu.crypto.padding`), so the stored
length reveals only the bucket. Associated data binds the format version, the report
and the field name, so a ciphertext moved to another report or column (say, the
identity pasted into the title) does not open.

Version 2 (what :func:`seal_field` writes) also binds the row's metadata: named
``bound`` parts the caller gives (a message's author, position and date, an
attachment's message), so a database writer who relabels, reorders, re-dates or moves a
row makes it fail to open. Version 1 (written before) is still read: its metadata is not
authenticated, which :func:`field_version` lets the caller take into account. The
version byte is itself in the associated data, so a version 2 blob whose first byte is
changed to 1 does not open as version 1.
"""

import os
import uuid
from collections.abc import Sequence

from cryptography.exceptions import InvalidTag

from sipadu.crypto.binding import bind, text
from sipadu.crypto.errors import CryptoError
from sipadu.crypto.padding import field_bucket, pad, unpad
from sipadu.crypto.symmetric import NONCE_LEN, aesgcm

LEGACY_FIELD_VERSION = 1  # read only: report, field (docs/crypto.md "Sealed fields")
FIELD_VERSION = 2  # written: report, field and the row's metadata
_LABELS = {LEGACY_FIELD_VERSION: "sipadu.field.v1", FIELD_VERSION: "sipadu.field.v2"}

# A row's metadata as (name, value) pairs, in the order the row kind's spec gives
# (docs/crypto.md "Sealed fields, version 2"). Names are ASCII; values raw bytes.
Bound = Sequence[tuple[str, bytes]]


def _aad(version: int, report_id: uuid.UUID, field: str, bound: Bound) -> bytes:
    parts = [bytes([version]), report_id.bytes, text(field)]
    if version == FIELD_VERSION:
        for name, value in bound:
            parts += [name.encode("ascii"), value]
    return bind(_LABELS[version], *parts)


def seal_field(
    key: bytes, plaintext: bytes, *, report_id: uuid.UUID, field: str, bound: Bound = ()
) -> bytes:
    """Pad and encrypt ``plaintext`` under a report key, in format version 2.

    ``field`` names the column, and the row too where a report has many (e.g.
    ``message/<uuid>/body``), so ciphertexts cannot be swapped between rows; ``bound``
    are the row's metadata (author, position, date, parent), authenticated with it.
    """
    return _seal_v2(
        key, os.urandom(NONCE_LEN), plaintext, report_id=report_id, field=field, bound=bound
    )


def _seal_v2(
    key: bytes,
    nonce: bytes,
    plaintext: bytes,
    *,
    report_id: uuid.UUID,
    field: str,
    bound: Bound = (),
) -> bytes:
    return _seal(FIELD_VERSION, key, nonce, plaintext, _aad(FIELD_VERSION, report_id, field, bound))


def _seal_v1(
    key: bytes, nonce: bytes, plaintext: bytes, *, report_id: uuid.UUID, field: str
) -> bytes:
    """The version 1 writer, kept only for the known-answer vectors and the tests that
    show old rows still open: SIPADU never writes version 1."""
    return _seal(
        LEGACY_FIELD_VERSION,
        key,
        nonce,
        plaintext,
        _aad(LEGACY_FIELD_VERSION, report_id, field, ()),
    )


def _seal(version: int, key: bytes, nonce: bytes, plaintext: bytes, aad: bytes) -> bytes:
    padded = pad(plaintext, field_bucket(len(plaintext)))
    return bytes([version]) + nonce + aesgcm(key).encrypt(nonce, padded, aad)


def field_version(blob: bytes) -> int:
    """The format version of a sealed field (1 or 2); raises :class:`CryptoError` for
    anything else. Says nothing about whether the blob authenticates."""
    if len(blob) < 1 + NONCE_LEN or blob[0] not in _LABELS:
        raise CryptoError("unknown sealed field format")
    return blob[0]


def open_field(
    key: bytes,
    blob: bytes,
    *,
    report_id: uuid.UUID,
    field: str,
    bound: Bound = (),
    legacy: bool = True,
) -> bytes:
    """Inverse of :func:`seal_field`. A version 2 blob opens only with the same
    ``bound`` metadata it was sealed with; a version 1 blob (``legacy`` allowed) opens
    whatever ``bound`` says, since it never bound any. Raises :class:`CryptoError` on
    any mismatch, altered byte, unknown version, or a version 1 blob when ``legacy`` is
    false."""
    version = field_version(blob)
    if version == LEGACY_FIELD_VERSION and not legacy:
        raise CryptoError("old sealed field format not accepted here")
    nonce, sealed = blob[1 : 1 + NONCE_LEN], blob[1 + NONCE_LEN :]
    try:
        padded = aesgcm(key).decrypt(nonce, sealed, _aad(version, report_id, field, bound))
    except InvalidTag:
        raise CryptoError("field did not authenticate") from None
    return unpad(padded)
