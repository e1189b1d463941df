"""A report's casework record (issue 17, item 3): its labels, priority, lead
investigator and links to related reports, sealed as one value under the report's
internal key (docs/crypto.md "Case record"; the format is this module's).

The internal key is wrapped to the granted investigators and the recovery key, never to
the mailbox: the reporter never reads a label. Nothing of the record is a plaintext
column (G1, G2): the database shows only that a report has a record, and its padded size
bucket. The case list filters on labels and priority by opening the records of the
reports the viewer holds, in the request (:func:`records_of`).

Reads and writes run in the caller's transaction; writers lock the report's row first
(``locked_report``) so two changes never overwrite each other.
"""

import enum
import json
import unicodedata
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from sipadu.crypto import CryptoError, PrivateKey, Purpose, open_field, seal_field
from sipadu.persistence.models import CaseRecord as CaseRecordRow
from sipadu.persistence.models import Report, ReportGrant, StaffAccount
from sipadu.services import Reason, ServiceError
from sipadu.services.key_ring import HeldKeys, NoKey, staff_keys_of_reports
from sipadu.services.row_metadata import CASE_RECORD_FIELD, MalformedRow, case_record_bound

FORMAT = 1  # the "v" of the sealed JSON; a change of shape is a new number
MAX_LABELS = 8
MAX_LABEL_CHARS = 40
MAX_LINKS = 50  # a sealed record of 50 links and 8 long labels stays under 8 KiB


class Priority(enum.StrEnum):
    HIGH = "high"
    NORMAL = "normal"
    LOW = "low"


class LinkKind(enum.StrEnum):
    RELATED = "related"
    DUPLICATE = "duplicate"  # this report and the other tell of the same matter


@dataclass(frozen=True)
class Link:
    report_id: uuid.UUID
    kind: LinkKind


@dataclass(frozen=True)
class CaseRecord:
    """What the record says. The empty record (no row): no label, normal priority, no
    lead, no link."""

    labels: tuple[str, ...] = ()
    priority: Priority = Priority.NORMAL
    lead: uuid.UUID | None = None
    links: tuple[Link, ...] = field(default=())

    def link_to(self, report_id: uuid.UUID) -> Link | None:
        return next((link for link in self.links if link.report_id == report_id), None)

    def has_label(self, label: str) -> bool:
        wanted = label.casefold()
        return any(own.casefold() == wanted for own in self.labels)


EMPTY = CaseRecord()


# --- labels as typed -----------------------------------------------------------------------


def clean_labels(typed: str) -> tuple[str, ...]:
    """Labels from what an investigator typed: separated by commas or new lines; each
    stripped, inner white space made one space, control and format characters dropped;
    repeats (ignoring case) dropped, the first spelling kept; order kept. Raises
    ``ServiceError`` ``LABEL_TOO_LONG`` (``max``) or ``TOO_MANY_LABELS`` (``max``) on
    field ``labels``."""
    labels: list[str] = []
    seen: set[str] = set()
    for part in typed.replace("\n", ",").split(","):
        label = " ".join(
            "".join(ch for ch in part if not unicodedata.category(ch).startswith("C")).split()
        )
        if not label or label.casefold() in seen:
            continue
        if len(label) > MAX_LABEL_CHARS:
            raise ServiceError(Reason.LABEL_TOO_LONG, "labels", max=MAX_LABEL_CHARS)
        seen.add(label.casefold())
        labels.append(label)
    if len(labels) > MAX_LABELS:
        raise ServiceError(Reason.TOO_MANY_LABELS, "labels", max=MAX_LABELS)
    return tuple(labels)


# --- the sealed value ------------------------------------------------------------------------


def encode(record: CaseRecord) -> bytes:
    """The plaintext sealed: UTF-8 JSON, keys sorted, no spaces::

    {"labels":["…"],"lead":"<uuid>"|null,"links":[{"kind":"related"|"duplicate",
     "report":"<uuid>"}],"priority":"high"|"normal"|"low","v":1}
    """
    value = {
        "v": FORMAT,
        "labels": list(record.labels),
        "priority": record.priority.value,
        "lead": None if record.lead is None else str(record.lead),
        "links": [{"report": str(ln.report_id), "kind": ln.kind.value} for ln in record.links],
    }
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def decode(plaintext: bytes) -> CaseRecord:
    """Inverse of :func:`encode`; raises :class:`MalformedRow` (a ``CryptoError``) for
    anything else, which only a holder of the internal key could have sealed."""
    try:
        value = json.loads(plaintext.decode("utf-8"))
        if not isinstance(value, dict) or value.get("v") != FORMAT:
            raise ValueError("not a case record")
        labels = value["labels"]
        if not isinstance(labels, list) or not all(isinstance(label, str) for label in labels):
            raise ValueError("labels")
        lead = value["lead"]
        links = tuple(
            Link(uuid.UUID(str(link["report"])), LinkKind(link["kind"])) for link in value["links"]
        )
        return CaseRecord(
            tuple(labels)[:MAX_LABELS],
            Priority(value["priority"]),
            None if lead is None else uuid.UUID(str(lead)),
            links,
        )
    except (ValueError, KeyError, TypeError, AttributeError):
        raise MalformedRow("a case record that is not one") from None


def _open(key: bytes, row: CaseRecordRow) -> CaseRecord:
    return decode(
        open_field(
            key,
            row.sealed,
            report_id=row.report_id,
            field=CASE_RECORD_FIELD,
            bound=case_record_bound(row),
            legacy=False,
        )
    )


def read(session: Session, keys: HeldKeys) -> CaseRecord | None:
    """The record of ``keys``' report (the empty one if it has none), opened with the
    internal key of its epoch. ``None``: it failed its integrity check (altered, moved
    to another epoch or report, or its key's wrap changed); the caller records that."""
    row = session.get(CaseRecordRow, keys.report_id)
    if row is None:
        return EMPTY
    try:
        return _open(keys.key(Purpose.INTERNAL, row.epoch), row)
    except (CryptoError, NoKey):
        return None


def write(session: Session, keys: HeldKeys, report: Report, record: CaseRecord) -> None:
    """Seal ``record`` under the report's current internal key (``report`` locked by the
    caller) and store it in place of the old one. Raises ``NoKey`` when ``keys`` lack
    that key."""
    sealed_epoch = report.key_epoch
    row = session.get(CaseRecordRow, report.id)
    if row is None:
        row = CaseRecordRow(report_id=report.id, epoch=sealed_epoch, sealed=b"")
        session.add(row)
    row.epoch = sealed_epoch
    row.sealed = seal_field(
        keys.key(Purpose.INTERNAL, sealed_epoch),
        encode(record),
        report_id=report.id,
        field=CASE_RECORD_FIELD,
        bound=case_record_bound(row),
    )


def records_of(
    session: Session, account_id: uuid.UUID, private: PrivateKey, report_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, CaseRecord | None]:
    """The records of several reports ``account_id`` holds (a page of the case list):
    one query for the sealed rows, one for the wraps, one unwrap per report with a
    record. Reports without a record get the empty one; ``None``: failed to open."""
    ids = list(report_ids)
    found: dict[uuid.UUID, CaseRecord | None] = dict.fromkeys(ids, EMPTY)
    if not ids:
        return found
    rows = list(session.scalars(select(CaseRecordRow).where(CaseRecordRow.report_id.in_(ids))))
    keys = staff_keys_of_reports(session, account_id, private, Purpose.INTERNAL, _wanted(rows))
    for row in rows:
        key = keys.get((row.report_id, row.epoch))
        try:
            found[row.report_id] = None if key is None else _open(key, row)
        except CryptoError:
            found[row.report_id] = None
    return found


def _wanted(rows: Iterable[CaseRecordRow]) -> list[tuple[uuid.UUID, int]]:
    return [(row.report_id, row.epoch) for row in rows if row.epoch >= 0]


def lead_names(
    session: Session, records: Mapping[uuid.UUID, CaseRecord | None]
) -> dict[uuid.UUID, str]:
    """The username of each record's lead investigator, for the reports whose lead still
    holds them (one query): a lead whose grant was revoked, or who recused themselves or
    was deactivated, is no lead any more, whatever the record still says."""
    wanted = {rid: r.lead for rid, r in records.items() if r is not None and r.lead is not None}
    if not wanted:
        return {}
    rows = session.execute(
        select(ReportGrant.report_id, StaffAccount.id, StaffAccount.username)
        .join(StaffAccount, StaffAccount.id == ReportGrant.account_id)
        .where(
            ReportGrant.report_id.in_(list(wanted)),
            ReportGrant.account_id.in_(set(wanted.values())),
        )
    )
    return {rid: name for rid, account_id, name in rows if wanted[rid] == account_id}
