"""The public transparency report (issue 19, item 3; docs/transparency.md).

Once a month is over, the operator publishes its report (``sipadu transparency
publish --month 2026-11``): the indicators of ISO 37002:2021 §9.1.2 for the reports
*received* in that month, as of the day of publication, per top-level category and for
all categories, computed by :func:`sipadu.services.statistics.indicators` from
:func:`sipadu.services.statistics.case_facts` (so the auditors' statistics and the
public report agree by construction), counts only (:data:`COLUMNS`), every small
figure hidden (:mod:`sipadu.services.suppression`). No median is published: whether one
could be shown depends on how many reports have its day, so showing or hiding it would
give hidden counts away, and a median of a few reports is an individual's delay; the
auditors' statistics keep them.

What is published is one JSON document (:data:`FORMAT`), RFC 8785 canonical, signed
with the audit signing key (Ed25519 over :func:`sipadu.crypto.binding.bind` of
:data:`SIGNATURE_LABEL` and the canonical document without its signature: never valid
as a checkpoint signature, whose label differs) and bound to an audit checkpoint made
in the same transaction. It commits to the *facts file* (the auditors': one CSV row per
report of the month, :data:`FACT_FIELDS`) by ``SHA-256(salt ‖ CSV)`` with 32 random
bytes of salt kept beside it: a plain hash of so few, so guessable rows would let
anyone confirm a guess of them, the very rows the suppression hides. The publication
appends ``transparency.publish`` (the month, the document's SHA-256, the one it
replaces) in the same transaction.
"""

import csv
import hashlib
import io
import json
import re
import secrets
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta

import rfc8785
from sqlalchemy import select
from sqlalchemy.orm import Session

from sipadu.accountability import audit
from sipadu.accountability.audit import Action, Actor
from sipadu.crypto import sign, signing_public_key, verify_signature
from sipadu.persistence.models import TransparencyReport
from sipadu.services.categories import in_order
from sipadu.services.refusals import Reason, ServiceError
from sipadu.services.statistics import CaseFacts, case_facts, indicators
from sipadu.services.suppression import COUNT_COLUMNS, suppress
from sipadu.settings.config import DatePrecision

FORMAT = "sipadu-transparency-report-v1"
FACTS_FORMAT = "sipadu-case-facts-csv-v1"
SIGNATURE_LABEL = "sipadu.transparency.report.v1"
# Exactly the published columns, in order: counts, never a median (module docstring).
COLUMNS = COUNT_COLUMNS
# The contract's CaseFacts fields, in order: the facts file's header.
FACT_FIELDS = (
    "category",
    "received_on",
    "ack_due_on",
    "acknowledged_on",
    "feedback_due_on",
    "first_feedback_on",
    "closed_on",
    "status",
    "reopened",
)
MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")
SALT_BYTES = 32


def month_bounds(month: str) -> tuple[date, date]:
    """``"2026-11"`` → (1 November 2026, 1 December 2026): ``start <= received_on < end``.
    Raises ValueError for anything but ``YYYY-MM``."""
    match = MONTH.fullmatch(month)  # not match: "$" lets a trailing newline through
    if match is None:
        raise ValueError("a month is written YYYY-MM")
    year, number = int(match.group(1)), int(match.group(2))
    # date() raises ValueError for the year 0, and for a month ending past 9999
    return date(year, number, 1), date(year + number // 12, number % 12 + 1, 1)


def month_over(month: str, today: date, precision: DatePrecision) -> bool:
    """Whether no report can still be dated in ``month``: a report's stored day is the
    start of its period (SIPADU_DATE_PRECISION), so with weeks the week holding the
    month's last day must be over too (a report of 2 January dated 29 December)."""
    _start, end = month_bounds(month)
    return precision.period_end(end - timedelta(days=1)) < today


# --- the facts file -----------------------------------------------------------------------


def facts_csv(facts: Iterable[CaseFacts]) -> bytes:
    """The facts file: UTF-8 CSV (RFC 4180, CRLF), header :data:`FACT_FIELDS`, dates ISO
    8601, empty for None, ``reopened`` 0/1, rows in the order given (case_facts sorts
    them by every field: nothing says which report is which)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(FACT_FIELDS)
    for fact in facts:
        row = []
        for name in FACT_FIELDS:
            value = getattr(fact, name)
            if isinstance(value, bool):
                row.append("1" if value else "0")
            elif isinstance(value, date):
                row.append(value.isoformat())
            else:
                row.append("" if value is None else str(value))
        writer.writerow(row)
    return buffer.getvalue().encode()


def facts_commitment(salt: bytes, facts: bytes) -> str:
    """Hex ``SHA-256(salt ‖ facts)``: what the document says of its facts file."""
    return hashlib.sha256(salt + facts).hexdigest()


# --- figures ------------------------------------------------------------------------------


def settled(facts: Sequence[CaseFacts], today: date) -> set[str]:
    """The count columns that are 0 in every row and that everyone can tell are, from
    the public deadlines and the day of publication: "not yet due" once every deadline
    of its kind has passed before ``today``, "late or overdue" while none has (a
    deadline's day itself is not yet late: :func:`sipadu.services.statistics.indicators`)."""
    found = set()
    for kind, due in (("ack", "ack_due_on"), ("feedback", "feedback_due_on")):
        days = [getattr(f, due) for f in facts]
        if all(d is not None and d < today for d in days):
            found.add(f"{kind}_pending")
        if all(d is None or d >= today for d in days):
            found.add(f"{kind}_late")
    return found


def figures(
    facts: Sequence[CaseFacts], categories: Sequence[str], today: date, threshold: int
) -> list[dict]:
    """The published table: one ``{"figures": {column: count or None}, "suppressed":
    [column, ...]}`` per category of ``categories`` (top-level slugs, in order), then
    one for all categories; the columns are :data:`COLUMNS`, counts only. A hidden
    figure is None and named in ``suppressed`` (:func:`sipadu.services.suppression.suppress`).
    Raises ValueError for facts of a category not in ``categories``."""
    groups: list[list[CaseFacts]] = [[] for _ in categories]
    position = {slug: i for i, slug in enumerate(categories)}
    for fact in facts:
        if fact.category not in position:
            raise ValueError("facts of a category the report does not list")
        groups[position[fact.category]].append(fact)
    groups.append(list(facts))
    counts = []
    for group in groups:
        found = indicators(group, today)
        counts.append({column: getattr(found, column) for column in COUNT_COLUMNS})
    hidden = suppress(counts, threshold, settled(facts, today))
    return [
        {
            "figures": {c: None if (index, c) in hidden else row[c] for c in COLUMNS},
            "suppressed": [c for c in COLUMNS if (index, c) in hidden],
        }
        for index, row in enumerate(counts)
    ]


# --- publishing ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Published:
    month: str
    document: bytes  # as served
    sha256: str  # of ``document``
    replaced: str | None  # the SHA-256 of the document it replaced


def _labels(session: Session, words: Mapping[str, tuple[str, str]]) -> list[tuple[str, str, str]]:
    """(slug, Indonesian, English) of every top-level category in the form's order: its
    stored words, else ``words`` (the statutory categories' translated words)."""
    found = []
    for category in in_order(session):
        if category.parent_id is not None:
            continue
        fallback_id, fallback_en = words.get(category.slug, (category.slug, category.slug))
        indonesian = category.label_id or category.label_en or fallback_id
        english = category.label_en or category.label_id or fallback_en
        found.append((category.slug, indonesian, english))
    return found


def signed_message(body: Mapping) -> bytes:
    """What the signature covers: the label and the RFC 8785 document without its
    ``signature`` (:func:`sipadu.crypto.binding.bind` framing, as checkpoints)."""
    return rfc8785.dumps({k: v for k, v in body.items() if k != "signature"})


def publish(
    session: Session,
    month: str,
    *,
    signing_seed: bytes,
    threshold: int,
    precision: DatePrecision,
    words: Mapping[str, tuple[str, str]],
    today: date,
    actor: Actor,
    replace: bool = False,
) -> Published:
    """Compute, sign, store and record the report of ``month`` (``YYYY-MM``) as of
    ``today``, in the caller's transaction. ``words``: slug → (Indonesian, English) of
    the categories whose stored labels are empty (the statutory ones).

    Raises ValueError for a malformed month; ServiceError ``MONTH_NOT_OVER`` while a
    report may still be dated in it, ``MONTH_PUBLISHED`` when it is published and
    ``replace`` is false."""
    start, end = month_bounds(month)
    if not month_over(month, today, precision):
        raise ServiceError(Reason.MONTH_NOT_OVER, month=month)
    existing = session.scalar(select(TransparencyReport).where(TransparencyReport.month == month))
    if existing is not None and not replace:
        raise ServiceError(Reason.MONTH_PUBLISHED, month=month)
    facts = case_facts(session, start, end)
    categories = _labels(session, words)
    present = {slug for slug, _id, _en in categories}
    if any(f.category not in present for f in facts):  # a category's parent missing
        raise ValueError("a report's category is not a top-level category")
    rows = figures(facts, [slug for slug, _id, _en in categories], today, threshold)
    facts_file = facts_csv(facts)
    salt = secrets.token_bytes(SALT_BYTES)
    checkpoint = audit.make_checkpoint(session, signing_seed)
    body: dict[str, object] = {
        "format": FORMAT,
        "month": month,
        "generated_on": today.isoformat(),
        "threshold": threshold,
        "columns": list(COLUMNS),
        "categories": [
            {"category": slug, "label": {"id": indonesian, "en": english}, **row}
            for (slug, indonesian, english), row in zip(categories, rows[:-1], strict=True)
        ],
        "total": rows[-1],
        "facts": {"format": FACTS_FORMAT, "salted_sha256": facts_commitment(salt, facts_file)},
        "checkpoint": {k: v for k, v in checkpoint.to_json().items() if k != "format"},
    }
    signature = sign(signing_seed, SIGNATURE_LABEL, signed_message(body)).hex()
    document = rfc8785.dumps({**body, "signature": signature})  # type: ignore[dict-item]
    digest = hashlib.sha256(document).hexdigest()
    replaced = hashlib.sha256(existing.document).hexdigest() if existing else None
    if existing is None:
        session.add(
            TransparencyReport(
                month=month,
                document=document,
                facts=facts_file,
                facts_salt=salt,
                published_on=today,
            )
        )
    else:
        existing.document, existing.facts = document, facts_file
        existing.facts_salt, existing.published_on = salt, today
    audit.append(
        session,
        actor.id,
        actor.role,
        Action.TRANSPARENCY_PUBLISH,
        detail={"month": month, "sha256": digest, "replaces": replaced},
    )
    session.flush()
    return Published(month, document, digest, replaced)


def check_signature(document: bytes, public_key: str) -> dict:
    """The document, parsed, if its signature is ``public_key``'s (hex Ed25519); raises
    :class:`sipadu.crypto.CryptoError` otherwise, ValueError if it is not a report."""
    body = json.loads(document)
    if not isinstance(body, dict) or body.get("format") != FORMAT:
        raise ValueError("not a SIPADU transparency report")
    verify_signature(
        bytes.fromhex(public_key),
        SIGNATURE_LABEL,
        signed_message(body),
        bytes.fromhex(body["signature"]),
    )
    return body


def signer_of(seed: bytes) -> str:
    """The hex public key a document signed with ``seed`` is checked against."""
    return signing_public_key(seed).hex()


# --- reading ------------------------------------------------------------------------------


def published_months(session: Session) -> list[str]:
    """Every published month, the latest first."""
    return list(
        session.scalars(select(TransparencyReport.month).order_by(TransparencyReport.month.desc()))
    )


def published_document(session: Session, month: str) -> bytes | None:
    """The signed document of ``month`` exactly as published, or None."""
    return session.scalar(
        select(TransparencyReport.document).where(TransparencyReport.month == month)
    )


@dataclass(frozen=True)
class FactsFile:
    month: str
    facts: bytes  # the CSV
    salt: str  # hex
    document: bytes


def facts_of(session: Session, month: str, actor: Actor) -> FactsFile:
    """The facts file of a published month, with its salt and document, for an auditor;
    recorded (``transparency.facts``) in the caller's transaction. Raises ServiceError
    ``MONTH_NOT_PUBLISHED``."""
    row = session.scalar(select(TransparencyReport).where(TransparencyReport.month == month))
    if row is None:
        raise ServiceError(Reason.MONTH_NOT_PUBLISHED, month=month)
    audit.append(session, actor.id, actor.role, Action.TRANSPARENCY_FACTS, detail={"month": month})
    return FactsFile(month, row.facts, row.facts_salt.hex(), row.document)
