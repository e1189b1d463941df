"""Wrapping per-report keys to recipients with HPKE (RFC 9180, Base mode).

A wrapped key is ``version ‖ suite ‖ enc ‖ ciphertext``. HPKE ``info`` binds the
header and the :class:`KeyContext` (report id, purpose, epoch), so a wrapped key
copied onto another report, relabelled as another purpose (say, an identity key
presented as a case key) or replayed into another epoch does not unwrap.
"""

import uuid
from dataclasses import dataclass
from enum import StrEnum

from cryptography.exceptions import InvalidTag

from sipadu.crypto.binding import bind, text, u32
from sipadu.crypto.errors import CryptoError
from sipadu.crypto.keys import FORMAT_VERSION, PrivateKey, PublicKey, hpke_suite, suite_of
from sipadu.crypto.symmetric import KEY_LEN


class Purpose(StrEnum):
    """What a wrapped key opens."""

    CASE = "case"  # report body, reporter<->investigator messages, file keys
    INTERNAL = "internal"  # investigators' notes; never wrapped to the mailbox
    IDENTITY = "identity"  # the reporter's optional identity; custodian-gated
    MAILBOX = "mailbox"  # the mailbox private key itself (e.g. to the recovery key)
    REQUEST = "request"  # an identity request's reason; the epoch numbers the requests
    # The random nonce of a report's receipt commitment (docs/receipt.md): a 256-bit
    # value wrapped to the mailbox only (epoch 0), so that only the reporter can open
    # the commitment, which is stored apart from the report.
    RECEIPT = "receipt"


@dataclass(frozen=True)
class KeyContext:
    """Where a wrapped key belongs."""

    report_id: uuid.UUID
    purpose: Purpose
    epoch: int

    def __post_init__(self) -> None:
        if not 0 <= self.epoch < 2**32:
            raise CryptoError("key epoch out of range")

    def info(self, header: bytes) -> bytes:
        return bind(
            "sipadu.wrap.v1",
            header,
            self.report_id.bytes,
            text(Purpose(self.purpose).value),
            u32(self.epoch),
        )


def wrap_key(key: bytes, recipient: PublicKey, context: KeyContext) -> bytes:
    """Encrypt a 256-bit key to ``recipient`` (a fresh HPKE encapsulation each call)."""
    if len(key) != KEY_LEN:
        raise CryptoError("only 256-bit keys are wrapped")
    header = bytes([FORMAT_VERSION, recipient.suite])
    try:
        sealed = hpke_suite(recipient.suite).encrypt(
            key,
            recipient.hpke_key(),  # type: ignore[arg-type]
            info=context.info(header),
        )
    except ValueError:  # e.g. a low-order X25519 point: no shared secret
        raise CryptoError("cannot wrap to this public key") from None
    return header + sealed


def unwrap_key(blob: bytes, private: PrivateKey, context: KeyContext) -> bytes:
    """Inverse of :func:`wrap_key`; :class:`CryptoError` for a wrong key, context,
    epoch, suite or any altered byte."""
    if len(blob) < 2 or blob[0] != FORMAT_VERSION:
        raise CryptoError("unknown wrapped key format")
    suite = suite_of(blob[1])
    if suite is not private.suite:
        raise CryptoError("wrapped key is for another suite")
    try:
        key = hpke_suite(
            suite
        ).decrypt(
            blob[2:],
            private.hpke_key(),  # type: ignore[arg-type]
            info=context.info(blob[:2]),
        )
    except (InvalidTag, ValueError):
        raise CryptoError("wrapped key did not authenticate") from None
    if len(key) != KEY_LEN:
        raise CryptoError("wrapped key has the wrong length")
    return key
