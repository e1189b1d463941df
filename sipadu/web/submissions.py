"""One-time submission tokens: one report or message per form, whatever the browser does
(issue 16 item 3).

Every report form and mailbox reply form carries a ``submission_token``: version ‖
issue time ‖ 24 random bytes ‖ a MAC under an instance key that also covers what the
form is for, so a token of the reply form is refused on the report form. The server
keeps nothing when it issues one.

When a submission is stored, its token is *claimed* in the volatile store
(:mod:`sipadu.persistence.volatile`, Redis or tmpfs, shared by every worker): an atomic
"pending" mark (:data:`PENDING_SECONDS`) while the report is written, then a "used" mark
for as long as the token is accepted at all (:data:`MAX_AGE_SECONDS`). The same body
sent again (a reload of the code page, Back and resend, a double click) finds the mark
and creates nothing. Every key is a hash of the token: the store says only that some
token was used, never which report or mailbox it belongs to, and nothing goes to the
database. A report's code (and its passphrase if it was the suggested one) is kept for
:data:`RECEIPT_SECONDS` sealed under a key derived from the token and the browser
session's own secret (HKDF), which only the reporter's browser holds, so the same code
can be shown again to whoever sends the same form again from the same browser session.

The staff portal's intake form (issue 18, :mod:`sipadu.investigator.intake_form`)
uses the same machinery with its own token key and stores: an operator's report is
stored once per form, and its slip is sealed for the operator's browser session like a
reporter's code page (docs/intake.md, "Sent twice").

What an attacker who reads the store learns: how many submissions were made in the last
day, and when each was made (the entries' expiry times), which the server already knows
while it receives them; no code, passphrase or report id.
"""

import base64
import hashlib
import hmac
import secrets
import struct
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from enum import StrEnum

from flask import request, session

from sipadu.accountability import recovery
from sipadu.crypto import CryptoError, derive_subkey, open_secret, seal_secret
from sipadu.persistence.volatile import VolatileStore
from sipadu.services.dates import Deadlines
from sipadu.services.reports import SubmissionSettings
from sipadu.settings.config import Config

FIELD = "submission_token"
_VERSION = 0x01
_NONCE = 24
_TAG = 16
_LENGTH = 1 + 8 + _NONCE + _TAG
_MAC_LABEL = b"sipadu.submission-token.v1\x00"
_RECEIPT_LABEL = "sipadu.submission-receipt.v2"
_SESSION_SECRET_FIELD = "csrf_token"  # noqa: S105 — a session key name: Flask-WTF's secret
# A form may stay open this long (a reporter writing for hours, the page left open
# overnight); an older token is refused like a missing one, the text kept.
MAX_AGE_SECONDS = 48 * 3600
PENDING_SECONDS = 300  # longer than any write of a report once its files have arrived
RECEIPT_SECONDS = 15 * 60  # from when it was sealed; looking at it does not extend it
WAIT_SECONDS = 20.0  # how long a repeated request waits for the first to finish
_POLL_SECONDS = 0.2
_PASSPHRASE_BYTES = 96  # a suggested passphrase (7 words of ≤ 8 letters: 62) fits easily


class FormKind(StrEnum):
    REPORT = "report"
    MESSAGE = "message"
    NEW_PASSPHRASE = "new-passphrase"  # noqa: S105 — a form kind; a passphrase change (issue 18)
    NEW_CODE = "new-code"  # a typed report's reporter takes their own code (issue 18)
    INTAKE = "intake"  # an operator's intake form, on the staff portal (issue 18)


@dataclass(frozen=True)
class Receipt:
    """What a repeated report (or passphrase change, or new code) shows again: the code
    (16 digits) and the suggested passphrase, or None when the reporter chose their own
    (never kept)."""

    code: str
    passphrase: str | None


@dataclass(frozen=True)
class Used:
    """The token was used: the submission exists. ``receipt`` is None for a message, or
    once :data:`RECEIPT_SECONDS` have passed."""

    receipt: Receipt | None


class StillPending(Exception):
    """Another request with this token is still being stored after :data:`WAIT_SECONDS`."""


@dataclass(frozen=True)
class Submissions:
    """The token key (derived from the reporter session key) and three volatile stores:
    pending marks, used marks, sealed receipts."""

    key: bytes
    pending: VolatileStore
    used: VolatileStore
    receipts: VolatileStore

    # --- tokens -----------------------------------------------------------------------

    def issue(self, purpose: FormKind) -> str:
        body = bytes([_VERSION]) + struct.pack(">Q", int(time.time())) + secrets.token_bytes(_NONCE)
        return base64.urlsafe_b64encode(body + self._mac(purpose, body)).decode()

    def valid(self, purpose: FormKind, token: str | None) -> bytes | None:
        """The token's bytes if it was issued by this instance for ``purpose`` within
        :data:`MAX_AGE_SECONDS`; None if missing, forged, of another form or too old."""
        if not token or len(token) > 2 * _LENGTH:
            return None
        try:
            raw = base64.urlsafe_b64decode(token.encode("ascii"))
        except (ValueError, UnicodeEncodeError):
            return None
        if len(raw) != _LENGTH or raw[0] != _VERSION:
            return None
        body, tag = raw[:-_TAG], raw[-_TAG:]
        if not hmac.compare_digest(tag, self._mac(purpose, body)):
            return None
        (issued,) = struct.unpack(">Q", body[1:9])
        if not -60 <= time.time() - issued <= MAX_AGE_SECONDS:
            return None
        return raw

    def posted(self, purpose: FormKind) -> bytes | None:
        """This request's token for ``purpose``, if valid (:meth:`valid`)."""
        return self.valid(purpose, request.form.get(FIELD))

    def for_form(self, purpose: FormKind) -> str:
        """The token a form page carries: the one posted, if still valid and unused (a
        form sent back keeps its token), else a new one."""
        posted = request.form.get(FIELD) if request.method == "POST" else None
        raw = self.valid(purpose, posted)
        if posted and raw is not None and self.used.get(_store_key(raw), MAX_AGE_SECONDS) is None:
            return posted
        return self.issue(purpose)

    def _mac(self, purpose: FormKind, body: bytes) -> bytes:
        message = _MAC_LABEL + purpose.value.encode() + b"\x00" + body
        return hmac.new(self.key, message, "sha256").digest()[:_TAG]

    # --- claims -----------------------------------------------------------------------

    def seen(self, raw: bytes) -> Used | None:
        """Whether this token was used already (and its receipt, while it is kept)."""
        key = _store_key(raw)
        if self.used.get(key, MAX_AGE_SECONDS) is None:
            return None
        return Used(self._receipt(raw, key))

    def claim(self, raw: bytes) -> Used | None:
        """Take the token for this request: None if taken (store, then :meth:`finish`
        or :meth:`release`); :class:`Used` if another request already stored with it
        (waiting up to :data:`WAIT_SECONDS` for one still storing). Raises
        :class:`StillPending` if it is still storing then."""
        key = _store_key(raw)
        deadline = time.monotonic() + WAIT_SECONDS
        while True:
            if self.pending.claim(key, b"1", PENDING_SECONDS):
                # Finished between the look and the claim: the used mark is set first.
                if self.used.get(key, MAX_AGE_SECONDS) is not None:
                    self.pending.delete(key)
                    return Used(self._receipt(raw, key))
                return None
            if self.used.get(key, MAX_AGE_SECONDS) is not None:
                return Used(self._receipt(raw, key))
            if time.monotonic() > deadline:
                raise StillPending
            time.sleep(_POLL_SECONDS)

    def finish(self, raw: bytes, receipt: Receipt | None = None) -> None:
        """The submission is stored (committed): mark the token used, keep the receipt
        sealed, then drop the pending mark."""
        key = _store_key(raw)
        self.used.put(key, b"1", MAX_AGE_SECONDS)
        if receipt is not None:
            self.receipts.put(key, self._seal(raw, key, receipt), RECEIPT_SECONDS)
        self.pending.delete(key)

    def release(self, raw: bytes) -> None:
        """Nothing was stored: the same form may be sent again."""
        self.pending.delete(_store_key(raw))

    @contextmanager
    def releasing(self, raw: bytes) -> Iterator[None]:
        """Release the claim if the block raises (nothing was stored: a busy answer,
        the ceiling, a lost database connection); the caller :meth:`finish`-es after."""
        try:
            yield
        except BaseException:
            self.release(raw)
            raise

    # --- sealed receipts ----------------------------------------------------------------

    def _seal(self, raw: bytes, key: str, receipt: Receipt) -> bytes:
        passphrase = (receipt.passphrase or "").encode()
        if len(receipt.code) != 16 or len(passphrase) > _PASSPHRASE_BYTES:
            raise ValueError("a receipt holds a 16-digit code and a suggested passphrase")
        # Fixed length: the blob's size says nothing of the passphrase.
        plain = (
            struct.pack(">Q", int(time.time()))
            + receipt.code.encode()
            + bytes([1 if receipt.passphrase is not None else 0, len(passphrase)])
            + passphrase.ljust(_PASSPHRASE_BYTES, b"\x00")
        )
        return seal_secret(_receipt_key(raw), plain, owner=_owner(key), purpose="receipt")

    def _receipt(self, raw: bytes, key: str) -> Receipt | None:
        """The sealed receipt, if this browser session sealed it less than
        :data:`RECEIPT_SECONDS` ago (a look does not make it last longer)."""
        blob = self.receipts.get(key, RECEIPT_SECONDS)
        if blob is None:
            return None
        try:
            plain = open_secret(_receipt_key(raw), blob, owner=_owner(key), purpose="receipt")
        except CryptoError:
            return None  # another browser session's (or none): the code is not shown
        (sealed_at,) = struct.unpack(">Q", plain[:8])
        if not 0 <= time.time() - sealed_at <= RECEIPT_SECONDS:
            return None
        code, has_passphrase, length = plain[8:24].decode(), plain[24], plain[25]
        passphrase = plain[26 : 26 + length].decode() if has_passphrase else None
        return Receipt(code, passphrase)


def _receipt_key(raw: bytes) -> bytes:
    """The key a receipt is sealed under: from the form's token *and* this browser
    session's own secret (Flask-WTF's CSRF secret, in the session cookie only), so the
    code is shown again only "within the same browser session" (issue 16 item 3). A
    token alone, replayed without the cookie (after the browser was closed, or Tor
    Browser's New Identity), opens nothing: found in review."""
    secret = str(session.get(_SESSION_SECRET_FIELD, "")).encode()
    return derive_subkey(raw + b"\x00" + secret, _RECEIPT_LABEL)


def _store_key(raw: bytes) -> str:
    # A hash: whoever reads the store cannot present it as a token, nor open a receipt.
    return hashlib.sha256(b"sipadu.submission\x00" + raw).hexdigest()


def _owner(store_key: str) -> str:
    return f"submission/{store_key}"


def submission_settings(config: Config, lookup_salt: bytes) -> SubmissionSettings:
    """What storing a new report needs, from configuration and the instance's lookup
    salt: the reporter portal's report form and the staff portal's intake form alike.
    Raises :class:`~sipadu.settings.config.ConfigError` without a recovery public key."""
    return SubmissionSettings(
        lookup_salt=lookup_salt,
        lookup_argon2=config.lookup_argon2,
        argon2=config.argon2,
        recovery=recovery.public_key(config),
        date_precision=config.date_precision,
        deadlines=Deadlines(config.ack_days, config.feedback_days, config.day_count),
    )
