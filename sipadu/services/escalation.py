"""Escalation by the reporter (issue 20, item 3; docs/escalation.md): when a deadline of
their report passed unmet, the reporter takes the report to an outside agency (KPK,
Ombudsman RI...) themselves.

In the reporter's own mailbox session, the report's fields, the reporter's OWN messages
and files, the missed deadline(s) and (once sealed) the proof-of-report receipt are put
in a ZIP, encrypted with age to the chosen agency's registered public key, whose offer
two admins approved and the instance signed (checked with the audit public key the
reporter portal knows: :func:`sipadu.services.export_recipients.offer_checks`)
(:func:`bundle_zip`, then :func:`sipadu.services.export.age_encrypted`), and handed to
the reporter as a download to upload on the agency's own site. The server sends nothing
to the agency. Never in the file: an investigator's message or file, an internal note,
the reason staff gave for a status (written by staff), and the reporter's identity
unless they ticked to include it.

What the server keeps: the period the reporter first did so (``report.escalated_on``,
coarsened to SIPADU_DATE_PRECISION as every reporter-side date, G2), shown to the
report's holders without the agency; and one more ``escalation`` in the reporter daily
counts (:func:`sipadu.accountability.audit.count_reporter_event`), never an audit entry
(G2: reporter events are not individual entries). A bundle made again (a broken
download, an expired session, another agency) changes neither.

"Missed" is what the statistics and the transparency report count as late (ISO
37002:2021 §9.1.2; EU 2019/1937 Art. 9(1)(b), (f)): :func:`sipadu.services.statistics.
is_late` of the acknowledgement (the report's first move out of "received") and of the
feedback (the earlier of the first staff message and the closing). A deadline met late
stays missed: the report was not answered in time.

The manifest is not signed: the reporter portal holds no signing key on purpose (a
compromised reporter host could then sign anything). The file's integrity is age's
(authenticated encryption to the agency's key); that the report existed on its day is
the receipt's to prove (docs/receipt.md).
"""

import json
import re
import unicodedata
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from sipadu.accountability import audit
from sipadu.accountability.audit import ReporterMetric
from sipadu.persistence.db import scope_to_report
from sipadu.persistence.models import Attachment, ExportRecipient, Message, Report
from sipadu.services import Reason, ServiceError
from sipadu.services.attachments import AttachmentInfo, read_attachment
from sipadu.services.dates import coarsen
from sipadu.services.export import archive_path
from sipadu.services.export_recipients import (
    offered_agencies,
    offered_agency,
    recipient_fingerprint,
)
from sipadu.services.key_ring import HeldKeys
from sipadu.services.reports import (
    CASE_FIELDS,
    MailboxView,
    ThreadMessage,
    locked_report,
    read_mailbox,
)
from sipadu.services.statistics import feedback_closing, first_feedback, is_late
from sipadu.services.transcript import transcript_of
from sipadu.services.units import unit_path
from sipadu.services.zip_stream import Entry, hashed, zip_stream
from sipadu.settings.config import DatePrecision

FORMAT = "sipadu-escalation-v1"


class Deadline(StrEnum):
    """The deadlines a report is promised (SIPADU_ACK_DAYS, SIPADU_FEEDBACK_DAYS)."""

    ACKNOWLEDGEMENT = "acknowledgement"
    FEEDBACK = "feedback"


@dataclass(frozen=True)
class Missed:
    """A deadline that passed unmet: its day, and the day it was met late (None: still
    not met). Days as stored (no finer than the report's own date)."""

    deadline: Deadline
    due_on: date
    met_on: date | None


@dataclass(frozen=True)
class Agency:
    """An agency offered to reporters, as the mailbox shows it and the bundle names it:
    its registry id, name, canonical ``age1…`` key, SHA-256 fingerprint (64 hex) and
    the address where reporters upload on its own site."""

    id: uuid.UUID
    name: str
    recipient: str
    fingerprint: str
    channel: str

    @property
    def file_name(self) -> str:
        """The download's name: the agency's name in ASCII letters, digits and ``-``,
        and ``.age`` (``KPK.age``, ``Ombudsman-RI.age``): found in the downloads folder
        by the agency it is for; nothing in it says "report"."""
        ascii_name = unicodedata.normalize("NFKD", self.name).encode("ascii", "ignore").decode()
        stem = re.sub(r"[^A-Za-z0-9]+", "-", ascii_name).strip("-")[:60] or "agency"
        return f"{stem}.age"


def _agency(row: ExportRecipient) -> Agency:
    assert row.reporter_channel is not None  # offered_agencies / offered_agency check it
    return Agency(
        row.id, row.name, row.recipient, recipient_fingerprint(row.recipient), row.reporter_channel
    )


@dataclass(frozen=True)
class Offer:
    """What the mailbox offers: the missed deadlines, the agencies, and the period the
    reporter first forwarded the report (None: never). ``open``: whether to offer it."""

    missed: list[Missed]
    agencies: list[Agency]
    escalated_on: date | None

    @property
    def open(self) -> bool:
        return bool(self.missed) and bool(self.agencies)


def missed_deadlines(session: Session, report: Report, today: date) -> list[Missed]:
    """The deadlines of ``report`` missed as of ``today`` (:func:`is_late`), the
    acknowledgement's first. Reads the report's row and its staff messages' days (plain
    metadata, as the statistics do; nothing sealed)."""
    first_staff = session.scalar(
        select(func.min(Message.sent_on)).where(
            Message.report_id == report.id, Message.author == "staff"
        )
    )
    if not isinstance(first_staff, date) or first_staff == date.min:  # malformed: none
        first_staff = None
    closing = feedback_closing(report.first_closed_on, report.closed_on)
    feedback_on = first_feedback(first_staff, closing)
    found = []
    for deadline, due, done in (
        (Deadline.ACKNOWLEDGEMENT, report.ack_due_on, report.acknowledged_on),
        (Deadline.FEEDBACK, report.feedback_due_on, feedback_on),
    ):
        if due is not None and is_late(done, due, today):
            found.append(Missed(deadline, due, done))
    return found


def escalation_offer(
    session: Session, report_id: uuid.UUID, today: date, audit_key: bytes | None
) -> Offer:
    """What the mailbox of ``report_id`` offers on ``today``: the agencies whose offer
    checks with ``audit_key``, the instance's audit public key (32 bytes) as this host's
    configuration knows it (:func:`~sipadu.services.export_recipients.offered_agencies`;
    none without one). Raises ``ServiceError(REPORT_NOT_FOUND)``."""
    scope_to_report(session, report_id)
    report = session.get(Report, report_id)
    if report is None:
        raise ServiceError(Reason.REPORT_NOT_FOUND)
    missed = missed_deadlines(session, report, today)
    agencies = [_agency(row) for row in offered_agencies(session, audit_key)] if missed else []
    return Offer(missed, agencies, report.escalated_on)


@dataclass(frozen=True)
class Escalation:
    """One bundle to make: the report as its mailbox opened it, the agency, the missed
    deadlines, the period it is made in (coarsened) and whether the identity goes in."""

    view: MailboxView
    agency: Agency
    missed: list[Missed]
    made_on: date
    include_identity: bool
    unit: str | None
    reporter_files: frozenset[uuid.UUID]


def escalate(
    session: Session,
    keys: HeldKeys,
    report_id: uuid.UUID,
    agency_id: str,
    *,
    include_identity: bool,
    today: date,
    precision: DatePrecision,
    audit_key: bytes | None,
) -> Escalation:
    """Check that the reporter may forward ``report_id`` to ``agency_id`` now, record it
    (the first time only: ``report.escalated_on`` = ``today`` coarsened to
    ``precision``, and one ``escalation`` in today's reporter counts; never an audit
    entry) and open what the bundle holds. In the caller's (write) transaction, which
    commits before the bundle's first byte. Raises :class:`ServiceError`:
    ``ESCALATION_NOT_DUE`` (no deadline missed: a forged post), ``AGENCY_NOT_OFFERED``
    (field ``agency``: a tampered id, or the agency removed, no longer offered or
    changed in the database since the page was shown; its offer is checked with
    ``audit_key`` as :func:`escalation_offer` does), ``REPORT_NOT_FOUND``; nothing is
    written then."""
    scope_to_report(session, report_id)
    report = locked_report(session, report_id)
    if report is None:
        raise ServiceError(Reason.REPORT_NOT_FOUND)
    missed = missed_deadlines(session, report, today)
    if not missed:
        raise ServiceError(Reason.ESCALATION_NOT_DUE)
    agency = _agency(offered_agency(session, agency_id, audit_key))
    view = read_mailbox(session, keys, report_id)
    day = coarsen(today, precision)
    if report.escalated_on is None:
        report.escalated_on = day
        audit.count_reporter_event(session, ReporterMetric.ESCALATION, today, precision)
    return Escalation(
        view=view,
        agency=agency,
        missed=missed,
        made_on=day,
        include_identity=include_identity and bool(view.identity),
        unit=unit_path(session, view.unit),
        reporter_files=_uploaded_by_reporter(session, report_id),
    )


def _uploaded_by_reporter(session: Session, report_id: uuid.UUID) -> frozenset[uuid.UUID]:
    """The report's files the reporter uploaded (``uploader`` is bound into each file's
    sealed details: a row relabelled in the database no longer opens)."""
    return frozenset(
        session.scalars(
            select(Attachment.id).where(
                Attachment.report_id == report_id, Attachment.uploader == "reporter"
            )
        )
    )


def own_messages(view: MailboxView) -> list[ThreadMessage]:
    """The reporter's own messages that opened, in thread order (never staff's)."""
    return [m for m in view.messages if m.author == "reporter" and m.intact]


def own_files(escalation: Escalation) -> list[tuple[str, AttachmentInfo]]:
    """The reporter's own files that opened, by their path in the archive: the report's
    evidence and the files of the reporter's messages, never a file staff sent."""
    view = escalation.view
    mine = {None} | {m.id for m in own_messages(view)}
    chosen = [
        info
        for info in view.attachments
        if info.intact and info.message_id in mine and info.id in escalation.reporter_files
    ]
    return [(archive_path(index, info.name), info) for index, info in enumerate(chosen, start=1)]


def _json(content: object) -> bytes:
    return json.dumps(content, ensure_ascii=False, indent=2, default=str).encode("utf-8")


def documents(escalation: Escalation, institution: str) -> list[tuple[str, bytes]]:
    """``README.txt``, ``report.json`` and ``messages.json``, as the archive holds them.
    ``institution``: the name of the office whose deadline was missed."""
    view = escalation.view
    files = own_files(escalation)
    path_of = {info.id: path for path, info in files}
    transcript = transcript_of(view.fields)
    report = {
        "format": FORMAT,
        "institution": institution,
        "report_id": str(view.report_id),
        "made_on": escalation.made_on,  # coarsened, as every reporter-side date
        "agency": escalation.agency.name,
        "category": view.category,
        "unit": escalation.unit,
        "received_on": view.received_on,
        "status": view.status,
        "missed_deadlines": [
            {"deadline": m.deadline.value, "due_on": m.due_on, "met_on": m.met_on}
            for m in escalation.missed
        ],
        "fields": {name: view.fields[name] for name in CASE_FIELDS if view.fields.get(name)},
        "failed_fields": sorted(view.failed_fields),  # failed their integrity check
        "typed_by_officer": transcript.state.value if transcript.asked else None,
        "identity": view.identity if escalation.include_identity else None,
        "evidence": [path_of[info.id] for info in view.files_of(None) if info.id in path_of],
    }
    messages = [
        {
            "number": number,
            "sent_on": m.sent_on,
            "body": m.body,
            "files": [path_of[info.id] for info in view.files_of(m.id) if info.id in path_of],
        }
        for number, m in enumerate(own_messages(view), start=1)
    ]
    readme = README.format(institution=institution, agency=escalation.agency.name).encode()
    return [
        ("README.txt", readme),
        ("report.json", _json(report)),
        ("messages.json", _json(messages)),
    ]


def manifest_json(escalation: Escalation, digests: dict[str, str], receipt: bool) -> bytes:
    """``manifest.json``: the format, the report, the agency (name and fingerprint), the
    period it was made in, whether the identity and a receipt are in it, and the
    SHA-256 (hex) of every other file; keys sorted."""
    return json.dumps(
        {
            "format": FORMAT,
            "report_id": str(escalation.view.report_id),
            "agency": {
                "name": escalation.agency.name,
                "fingerprint": escalation.agency.fingerprint,
            },
            "made_on": escalation.made_on.isoformat(),
            "identity_included": escalation.include_identity,
            "receipt_included": receipt,
            "signed": False,  # the reporter portal holds no signing key (module docstring)
            "sha256": digests,
        },
        indent=2,
        sort_keys=True,
    ).encode("utf-8")


def bundle_zip(
    escalation: Escalation,
    keys: HeldKeys,
    receipt: bytes | None,
    institution: str,
) -> Iterator[bytes]:
    """The ZIP's bytes, produced as they are read: ``README.txt``, ``report.json``,
    ``messages.json``, the reporter's files (``attachments/NNN-name``, decrypted chunk
    by chunk from ``keys.session`` while the ZIP is written: constant memory whatever
    their size), ``receipt.json`` if ``receipt`` (Part B's proof-of-report receipt,
    docs/receipt.md) and, last, ``manifest.json``; every entry dated ``made_on`` at
    00:00, never the clock (:mod:`sipadu.services.zip_stream`, G2). Nothing is written
    to a file. Raises
    what :func:`read_attachment` raises mid-stream (``IntegrityFailed``: the download
    breaks off rather than deliver changed bytes)."""
    digests: dict[str, str] = {}

    entries = [
        Entry(name, hashed(digests, name, iter([data])))
        for name, data in documents(escalation, institution)
    ]
    report_id = escalation.view.report_id
    for name, info in own_files(escalation):

        def content(attachment_id: uuid.UUID = info.id, name: str = name) -> Iterator[bytes]:
            _info, plaintext = read_attachment(keys.session, report_id, attachment_id, keys)
            yield from hashed(digests, name, plaintext)

        entries.append(Entry(name, content(), compress=False))
    if receipt is not None:
        entries.append(Entry("receipt.json", hashed(digests, "receipt.json", iter([receipt]))))

    def manifest() -> Iterator[bytes]:  # a generator: runs when the archive reaches it
        yield manifest_json(escalation, digests, receipt is not None)

    entries.append(Entry("manifest.json", manifest()))
    # Every entry dated the period it was made in, at 00:00 (G2): never the clock.
    yield from zip_stream(entries, escalation.made_on)


README = """\
SIPADU - laporan yang diteruskan sendiri oleh pelapor / a report forwarded by its reporter

[Bahasa Indonesia]
Berkas ini dibuat oleh pelapor sendiri, di kotak surat SIPADU milik {institution},
karena batas waktu yang dijanjikan kepadanya terlewati (lihat report.json,
"missed_deadlines"). Berkas ini dienkripsi hanya untuk {agency}. Server SIPADU tidak
mengirim apa pun kepada {agency}; pelapor mengunggahnya sendiri.

Isi: report.json (laporan dan batas waktu yang terlewati), messages.json (pesan pelapor
sendiri), attachments/ (berkas bukti pelapor), receipt.json (bukti laporan, bila ada),
manifest.json (SHA-256 setiap berkas lain). Pesan pemeriksa dan catatan internal tidak
termasuk. Nama atau kontak pelapor hanya ada bila pelapor memilih menyertakannya
("identity" di report.json).

Memeriksa bukti laporan: manifest.json tidak ditandatangani; hanya receipt.json yang
membuktikan sesuatu, yaitu bahwa laporan ini sudah sampai di {institution} pada periode
yang disebutnya. Periksa receipt.json secara luring dengan kunci publik {institution}
yang Anda sematkan lebih dulu, dari bahan yang diterbitkan {institution} atau dari
seorang auditor (sipadu audit public-key), jangan dari receipt.json sendiri, dengan
resep di docs/receipt.md ("Checking a receipt offline"): python3 verify_receipt.py
receipt.json KUNCI_PUBLIK mencetak OK atau FAIL.

[English]
This file was made by the reporter themselves, in their SIPADU mailbox at {institution},
because a deadline they were promised passed (see report.json, "missed_deadlines"). It is
encrypted to {agency} only. The SIPADU server sent nothing to {agency}; the reporter
uploads it themselves.

Contents: report.json (the report and the missed deadlines), messages.json (the
reporter's own messages), attachments/ (the reporter's evidence files), receipt.json
(the proof-of-report receipt, when there is one), manifest.json (SHA-256 of every other
file). Investigators' messages and internal notes are not included. The reporter's name
or contact is included only if they chose so ("identity" in report.json).

Checking the receipt: manifest.json is not signed; only receipt.json proves anything,
namely that this report had reached {institution} in the period it states. Check
receipt.json offline with {institution}'s public key, pinned beforehand from the material
{institution} publishes or from an auditor (sipadu audit public-key), never from
receipt.json itself, with the recipe in docs/receipt.md ("Checking a receipt offline"):
python3 verify_receipt.py receipt.json PUBLIC_KEY prints OK or FAIL.
"""
