"""One report as a ZIP, streamed: no temporary file, constant memory, whatever the size of
its attachments; by default encrypted to an age recipient the investigator gives.

The archive holds ``report.json`` (fields, status, dates, how it came in and the
reporter's check of a typed report; the identity only if the exporter may see it),
``messages.json``, ``notes.json``, ``attachments/…`` and, last,
``manifest.json`` (the SHA-256 of every other file) with ``manifest.sig``: an Ed25519
signature by the instance's audit signing key over
``bind("sipadu.export.manifest.v1", manifest.json)``, so the export's integrity can be
checked years later against the public key auditors pinned (docs/casework.md).

The same case state always gives the same ``manifest.json``, byte for byte: the printed
case file (:mod:`sipadu.services.case_file`) prints its SHA-256, so paper and export can
be tied (:func:`manifest_sha256`).

A referral's bundle (:mod:`sipadu.services.referral`, issue 20) is this archive made of a
redacted view, without the documents its profile leaves out, and with a ``referral``
key in the signed ``manifest.json`` naming the agency, the day and the profile; a plain
export's manifest has no such key and is unchanged.
"""

import hashlib
import io
import json
import queue
import threading
import uuid
from collections.abc import Callable, Collection, Iterator, Mapping
from dataclasses import asdict
from typing import TYPE_CHECKING

import pyrage
from sqlalchemy.orm import Session

from sipadu.accountability import audit
from sipadu.accountability.audit import Action, DetailValue
from sipadu.crypto import sign, signing_public_key
from sipadu.crypto.stream import pieces_reader
from sipadu.services.attachments import AttachmentInfo, read_attachment
from sipadu.services.cases import CaseView, open_case
from sipadu.services.export_recipients import recipient_fingerprint
from sipadu.services.key_ring import HeldKeys
from sipadu.services.zip_stream import ZIP_EPOCH, Entry, hashed, zip_stream

if TYPE_CHECKING:
    from _typeshed import ReadableBuffer

MANIFEST_LABEL = "sipadu.export.manifest.v1"
FORMAT = "sipadu-report-export-v1"


def open_for_export(
    session: Session,
    keys: HeldKeys,
    account_id: uuid.UUID,
    *,
    recipient: str | None,
    recipient_name: str | None = None,
) -> CaseView:
    """Everything of a granted report, for :func:`report_zip`, with the export recorded:
    ``report.export`` to ``recipient`` (a canonical ``age1…``: its fingerprint, and its
    registered name, ``None`` for one typed in), or ``report.export_plaintext`` without
    one, with whether the reporter's identity is in it and no count of anything (a count of files,
    the reporter's among them, would date a reporter's upload between two exports; G2)
    (the read is in it; no
    ``report.read``). An export holding the identity is also an ``identity.read``, as the
    case page showing it is. The caller commits before the archive's first byte. Raises
    ``NotGranted`` or ``NoKey``."""
    view = open_case(session, keys, account_id, record=False)
    included = view.identity is not None
    encrypted = recipient is not None
    detail: dict[str, DetailValue] = {"encrypted": encrypted, "identity_included": included}
    if recipient is not None:
        detail |= {
            "recipient": recipient_name,
            "recipient_fingerprint": recipient_fingerprint(recipient),
        }
    audit.append(
        session,
        str(account_id),
        "investigator",
        Action.REPORT_EXPORT if encrypted else Action.REPORT_EXPORT_PLAINTEXT,
        report_id=keys.report_id,
        detail=detail,
    )
    if included:
        audit.append(
            session,
            str(account_id),
            "investigator",
            Action.IDENTITY_READ,
            report_id=keys.report_id,
            detail={"via": "export", "encrypted": encrypted},
        )
    return view


def archive_path(index: int, name: str) -> str:
    """``attachments/NNN-name``: the ``index``-th file's path inside an archive (an
    export, or a reporter's bundle), its name kept to letters, digits and ``._- ``, at
    most 100 characters: no unzip tool can turn it into a traversal."""
    cleaned = "".join(ch if ch.isalnum() or ch in "._- " else "_" for ch in name).strip(". ")
    return f"attachments/{index:03d}-{cleaned[:100] or 'file'}"


def _json(content: object) -> bytes:
    return json.dumps(content, ensure_ascii=False, indent=2, default=str).encode("utf-8")


def documents(view: CaseView, omit: Collection[str] = ()) -> list[tuple[str, bytes]]:
    """``report.json``, ``messages.json`` and ``notes.json`` of ``view``, as the archive
    holds them, but those named in ``omit`` (a referral's bundle leaves out the messages
    or notes its profile drops): the same view gives the same bytes."""
    report = view.report
    report_json = _json(
        {
            "format": FORMAT,
            "report_id": str(report.id),
            "category": view.category,
            "status": report.status,
            "status_reason": view.status_reason,
            "received_on": report.received_on,
            "acknowledged_on": report.acknowledged_on,
            "closed_on": report.closed_on,
            "fields": view.fields,
            "failed_fields": sorted(view.failed_fields),  # failed their integrity check
            # files left out: their details or file key failed their integrity check,
            # found before the archive's first byte (:func:`list_attachments`)
            "failed_attachments": [str(a.id) for a in view.attachments if not a.intact],
            "identity": view.identity,
            "unit": view.unit,  # the unit concerned, its names from the city down (issue 18)
            # How it came in (issue 18): channel "web", or an operator's channel, office
            # and username; null if the sealed field did not read.
            "intake": None if view.intake is None else asdict(view.intake),
            "transcript": _transcript(view),
        }
    )
    messages_json = _json(
        [
            {
                "position": m.position,  # the sealed one, as opened (None: failed)
                "author": m.author,
                "sent_on": m.sent_on,
                "body": m.body,
                "intact": m.intact,  # false: failed its integrity check, no body
            }
            for m in view.messages
        ]
    )
    notes_json = _json(
        [
            {"author": n.author, "written_at": n.written_at, "body": n.body, "intact": n.intact}
            for n in view.notes
        ]
    )
    return [
        (name, data)
        for name, data in (
            ("report.json", report_json),
            ("messages.json", messages_json),
            ("notes.json", notes_json),
        )
        if name not in omit
    ]


def _transcript(view: CaseView) -> dict[str, object] | None:
    """The reporter's check of a typed report: its state ("pending", "confirmed",
    "corrected") and the position of the message holding the correction (null if none,
    or it does not read); null for a report the reporter wrote."""
    if not view.transcript.asked:
        return None
    found = view.transcript_correction()
    return {
        "state": view.transcript.state.value,
        "correction_position": found[1].position if found else None,
    }


def archived_files(view: CaseView) -> list[tuple[str, AttachmentInfo]]:
    """Each file the archive holds, by its path in it. A file that failed its integrity
    check (recorded when the view opened) is left out, its number kept."""
    return [
        (archive_path(index, info.name), info)
        for index, info in enumerate(view.attachments, start=1)
        if info.intact
    ]


def manifest_json(
    report_id: uuid.UUID, digests: dict[str, str], referral: Mapping[str, object] | None = None
) -> bytes:
    """``manifest.json``: the format, the report and the SHA-256 (hex) of every other
    file of the archive, keys sorted, so equal digests give equal bytes. With
    ``referral`` (a referral's bundle): that object under the key ``referral`` too, so
    the agency, the day and the redaction profile are covered by the signature."""
    content: dict[str, object] = {"format": FORMAT, "report_id": str(report_id), "sha256": digests}
    if referral is not None:
        content["referral"] = dict(referral)
    return json.dumps(content, indent=2, sort_keys=True).encode("utf-8")


def hash_files(view: CaseView, keys: HeldKeys, into: dict[uuid.UUID, str]) -> Iterator[bytes]:
    """Decrypt every archived file of ``view`` on ``keys.session``, chunk by chunk, and
    put the SHA-256 (hex) of its plaintext in ``into`` by attachment id. Yields each
    plaintext piece as it is hashed, so a caller can end its read transaction between
    pieces (:func:`sipadu.web.context.stream`) and drop them: constant memory. Raises
    what :func:`read_attachment` raises (``IntegrityFailed`` on an altered chunk)."""
    for _name, info in archived_files(view):
        digest = hashlib.sha256()
        _info, plaintext = read_attachment(keys.session, view.report.id, info.id, keys)
        for piece in plaintext:
            digest.update(piece)
            yield piece
        into[info.id] = digest.hexdigest()


def manifest_sha256(view: CaseView, file_digests: dict[uuid.UUID, str]) -> str:
    """SHA-256 (hex) of the ``manifest.json`` an export of ``view`` holds, given the
    SHA-256 of each archived file's plaintext by attachment id (:func:`hash_files`):
    what ``sha256sum`` prints for the export's ``manifest.json``."""
    digests = {name: hashlib.sha256(data).hexdigest() for name, data in documents(view)}
    digests |= {name: file_digests[info.id] for name, info in archived_files(view)}
    return hashlib.sha256(manifest_json(view.report.id, digests)).hexdigest()


def report_zip(
    view: CaseView,
    keys: HeldKeys,
    signing_seed: bytes,
    *,
    omit: Collection[str] = (),
    referral: Mapping[str, object] | None = None,
) -> Iterator[bytes]:
    """The archive's bytes, produced as they are read. Attachment plaintext is decrypted
    chunk by chunk from the database while the ZIP is written; every entry is dated
    1980-01-01 00:00 (:data:`~sipadu.services.zip_stream.ZIP_EPOCH`). Every file's
    sealed parts (its file key too) were opened with ``view``, before the first byte: a
    file that failed is left out and named in ``report.json``'s ``failed_attachments``.
    ``omit`` and ``referral``: a referral's bundle (:func:`documents`,
    :func:`manifest_json`); only what is in the archive is in the manifest's digests."""
    digests: dict[str, str] = {}

    report = view.report
    entries = [
        Entry(name, hashed(digests, name, iter([data]))) for name, data in documents(view, omit)
    ]
    for name, info in archived_files(view):

        def content(attachment_id: uuid.UUID = info.id, name: str = name) -> Iterator[bytes]:
            _info, plaintext = read_attachment(
                keys.session,
                report.id,
                attachment_id,
                keys,
            )
            yield from hashed(digests, name, plaintext)

        entries.append(Entry(name, _lazy(content), compress=False))

    def manifest() -> Iterator[bytes]:
        data = manifest_json(report.id, digests, referral)
        signature = {
            "label": MANIFEST_LABEL,
            "public_key": signing_public_key(signing_seed).hex(),
            "signature": sign(signing_seed, MANIFEST_LABEL, data).hex(),
        }
        yield data
        holder["sig"] = json.dumps(signature, indent=2).encode("utf-8")

    holder: dict[str, bytes] = {}
    entries.append(Entry("manifest.json", _lazy(manifest)))
    entries.append(Entry("manifest.sig", _lazy(lambda: iter([holder["sig"]]))))
    # Every entry dated ZIP_EPOCH, never the clock: the export's moment is its audit
    # entry's (report.export), not the file's.
    yield from zip_stream(entries, ZIP_EPOCH)


def _lazy(make: Callable[[], Iterator[bytes]]) -> Iterator[bytes]:
    """An iterable that runs ``make`` only when the archive reaches it."""
    yield from make()


class _Abandoned(Exception):
    """The reader went away (the download was cancelled): age stops writing."""


class _QueueWriter(io.RawIOBase):
    """Where age writes ciphertext: a bounded queue the HTTP response drains."""

    def __init__(self, put: Callable[[bytes], None]) -> None:
        self._put = put

    def writable(self) -> bool:
        return True

    def write(self, data: "ReadableBuffer") -> int:
        chunk = bytes(data)
        self._put(chunk)
        return len(chunk)


def age_encrypted(pieces: Iterator[bytes], recipient: object) -> Iterator[bytes]:
    """Encrypt a stream to ``recipient`` with age (pyrage) as it is produced: age runs
    in a thread reading ``pieces`` and writing into a queue of at most 16 chunks. If the
    download is abandoned, the thread stops at its next write."""
    out: queue.Queue[bytes | BaseException | None] = queue.Queue(maxsize=16)
    stopped = threading.Event()

    def put(item: bytes | BaseException | None) -> None:
        while not stopped.is_set():
            try:
                out.put(item, timeout=0.5)
                return
            except queue.Full:
                continue
        raise _Abandoned()

    def run() -> None:
        try:
            pyrage.encrypt_io(pieces_reader(pieces), _QueueWriter(put), [recipient])
        except _Abandoned:
            return
        except BaseException as exc:  # noqa: BLE001 — handed to the consumer, re-raised there
            try:
                put(exc)
            except _Abandoned:
                return
        else:
            try:
                put(None)
            except _Abandoned:
                return

    worker = threading.Thread(target=run, name="sipadu-export-age", daemon=True)
    worker.start()
    try:
        while True:
            item = out.get()
            if item is None:
                break
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stopped.set()
        worker.join(timeout=5)
