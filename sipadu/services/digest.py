"""The daily digest (issue 19, item 1): what waits for one staff member, as counts only,
in Bahasa Indonesia and English, padded to a constant size.

Counts come from the home page's queries (:mod:`sipadu.services.dashboard`): no title,
id, category, unit or time enters a digest, and none is sent because a report arrived:
only the ``sipadu notify`` timer sends it, at a fixed hour (docs/staff.md, "Daily
digest"). One digest per person combines the roles they hold.

The mail's body is a fixed-size UTF-8 text (:data:`BODY_BYTES`, padded with line
breaks, sent base64-encoded so no mail server re-wraps it): its size says nothing of the
counts or roles. Encrypted (RFC 3156 PGP/MIME), the inner part is the same fixed-size
text, so the ciphertext's size is constant for a given key.
"""

import secrets
import uuid
from dataclasses import dataclass, fields
from datetime import date, datetime
from email.message import EmailMessage
from email.utils import format_datetime

from sqlalchemy.orm import Session

from sipadu.persistence.models import Role
from sipadu.services import openpgp
from sipadu.services.dashboard import (
    action_counts,
    identity_requests_waiting,
    institution_overdue,
    proposals_waiting,
)

BODY_BYTES = 2048  # the plain text of every digest, padded (UTF-8 bytes)
SUBJECT = "SIPADU: ringkasan harian / daily digest"


@dataclass(frozen=True)
class Digest:
    """What one person's digest tells, by role (None: a role they do not hold).

    Investigator: ``need_action``, reports of theirs whose acknowledgement, feedback or
    referral follow-up (the agency's answer to record, issue 20) is due soon or overdue,
    and ``overdue``, those overdue (counted once each;
    :func:`sipadu.services.dashboard.action_counts`). Custodian: ``pending_requests``,
    identity requests waiting for their decision, and across the whole institution
    ``late_acknowledgements`` and ``late_feedback``
    (:func:`sipadu.services.dashboard.institution_overdue`).
    Admin: ``proposals`` waiting for a second admin."""

    need_action: int | None = None
    overdue: int | None = None
    pending_requests: int | None = None
    late_acknowledgements: int | None = None
    late_feedback: int | None = None
    proposals: int | None = None

    @property
    def nothing_waits(self) -> bool:
        """Every count is zero (or not theirs): a digest is then sent only if the person
        chose to receive it anyway."""
        return not any(getattr(self, f.name) for f in fields(self))

    def counts(self) -> dict[str, int]:
        """The counts it holds, by name (for the audit entry of a sent digest)."""
        return {f.name: value for f in fields(self) if (value := getattr(self, f.name)) is not None}


def digest_for(
    session: Session, account_id: uuid.UUID, roles: frozenset[Role], today: date
) -> Digest:
    """The :class:`Digest` of ``account_id`` holding ``roles`` on ``today``. Reads only."""
    need = late = requests = late_ack = late_feedback = proposals = None
    if Role.INVESTIGATOR in roles:
        need, late = action_counts(session, account_id, today)
    if Role.CUSTODIAN in roles:
        requests = identity_requests_waiting(session, account_id)
        late_ack, late_feedback = institution_overdue(session, today)
    if Role.ADMIN in roles:
        proposals = proposals_waiting(session)
    return Digest(need, late, requests, late_ack, late_feedback, proposals)


def _lines(digest: Digest) -> tuple[list[str], list[str]]:
    """The digest's sentences in Bahasa Indonesia and in English."""
    indonesian, english = [], []
    if digest.need_action is not None:
        indonesian.append(
            f"Laporan yang perlu tindakan Anda: {digest.need_action}; "
            f"yang terlambat: {digest.overdue}."
        )
        english.append(
            f"Reports that need your action: {digest.need_action}; overdue: {digest.overdue}."
        )
    if digest.pending_requests is not None:
        indonesian += [
            f"Permintaan identitas yang menunggu keputusan Anda: {digest.pending_requests}.",
            f"Di seluruh instansi, laporan yang terlambat dikonfirmasi penerimaannya: "
            f"{digest.late_acknowledgements}; yang terlambat diberi tanggapan: "
            f"{digest.late_feedback}.",
        ]
        english += [
            f"Identity requests waiting for your decision: {digest.pending_requests}.",
            f"Across the institution, reports overdue for acknowledgement: "
            f"{digest.late_acknowledgements}; overdue for feedback: {digest.late_feedback}.",
        ]
    if digest.proposals is not None:
        indonesian.append(f"Usulan yang menunggu admin kedua: {digest.proposals}.")
        english.append(f"Proposals waiting for a second admin: {digest.proposals}.")
    if not indonesian:
        indonesian.append("Tidak ada yang menunggu Anda.")
        english.append("Nothing waits for you.")
    return indonesian, english


def digest_text(digest: Digest) -> str:
    """The digest as plain text, both languages, unpadded."""
    indonesian, english = _lines(digest)
    return "\n".join(
        [
            "Ringkasan harian SIPADU",
            "",
            *indonesian,
            "",
            "Buka portal staf untuk melihatnya. Surel ini hanya berisi jumlah, "
            "tanpa isi, nomor atau waktu laporan mana pun.",
            "",
            "-- ",
            "SIPADU daily digest",
            "",
            *english,
            "",
            "Open the staff portal to see them. This e-mail holds counts only: nothing of "
            "any report, no number, no time.",
            "",
        ]
    )


def padded_body(digest: Digest) -> bytes:
    """:func:`digest_text` in UTF-8, padded with line breaks to exactly
    :data:`BODY_BYTES` bytes. Raises ``ValueError`` if it does not fit (a programming
    error: the text has a bounded number of bounded counts)."""
    return padded(digest_text(digest), BODY_BYTES)


def padded(text: str, size: int) -> bytes:
    """``text`` in UTF-8, padded with line breaks to exactly ``size`` bytes. Raises
    ``ValueError`` if it is longer."""
    body = text.encode("utf-8")
    if len(body) > size:
        raise ValueError("text longer than its padded size")
    return body + b"\n" * (size - len(body))


def _text_part(body: bytes) -> EmailMessage:
    part = EmailMessage()
    part.set_content(body, maintype="text", subtype="plain", cte="base64")
    part.set_param("charset", "utf-8")
    del part["MIME-Version"]  # a part's; the message as a whole gets its own below
    return part


def digest_message(
    digest: Digest, *, sender: str, recipient: str, openpgp_key: str | None, moment: datetime
) -> EmailMessage:
    """The mail of ``digest`` for ``recipient``: :func:`padded_message` of
    :func:`padded_body` under :data:`SUBJECT`."""
    return padded_message(
        padded_body(digest),
        SUBJECT,
        sender=sender,
        recipient=recipient,
        openpgp_key=openpgp_key,
        moment=moment,
    )


def padded_message(
    body: bytes,
    subject: str,
    *,
    sender: str,
    recipient: str,
    openpgp_key: str | None,
    moment: datetime,
) -> EmailMessage:
    """The mail of a padded ``body`` for ``recipient`` (RFC 5322): a constant
    ``subject``, a ``Date`` of ``moment`` (aware; the timer's hour), a random
    ``Message-ID`` of fixed length on the sender's domain, and the body: as is (base64,
    UTF-8), or, with ``openpgp_key``, encrypted to it as RFC 3156 PGP/MIME
    (``multipart/encrypted``, the inner part being that same base64 text part). Raises
    :class:`ServiceError` ``OPENPGP_KEY_UNUSABLE`` if the key can no longer be
    encrypted to."""
    inner = _text_part(body)
    if openpgp_key is None:
        message = inner
    else:
        message = EmailMessage()
        message.set_type("multipart/encrypted")
        message.set_param("protocol", "application/pgp-encrypted")
        message.set_boundary(f"sipadu-{secrets.token_hex(16)}")
        control = EmailMessage()
        control.set_content(
            b"Version: 1\n", maintype="application", subtype="pgp-encrypted", cte="7bit"
        )
        encrypted = EmailMessage()
        encrypted.set_content(
            openpgp.encrypt(openpgp_key, inner.as_bytes()),
            maintype="application",
            subtype="octet-stream",
            disposition="inline",
            filename="encrypted.asc",
            cte="7bit",
        )
        for part in (control, encrypted):
            del part["MIME-Version"]
            message.attach(part)
    domain = sender.rpartition("@")[2]
    if "MIME-Version" not in message:
        message["MIME-Version"] = "1.0"
    message["Subject"] = subject
    message["From"] = sender
    message["To"] = recipient
    message["Date"] = format_datetime(moment)
    message["Message-ID"] = f"<{secrets.token_hex(16)}@{domain}>"
    message["Auto-Submitted"] = "auto-generated"  # RFC 3834: no vacation replies
    return message
