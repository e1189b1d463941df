"""Search within one's own reports (issue 17, item 4): titles, fields, messages and
notes of the reports granted to the investigator, decrypted in the request that asks.

There is no index: an index of words, even hashed, would be plaintext metadata at rest
(G1), and a cache kept between requests would be plaintext in memory that outlives the
request. So every search opens the reports it looks at, newest first, and stops after
``scan_limit`` reports or ``time_budget`` seconds, whichever comes first; the page says
how far it got and offers to continue from there (a keyset cursor, as the list's). The
reports whose plaintext a request opened are recorded in one ``report.search`` entry (G4,
committed by the caller before the results leave); the query itself is recorded nowhere.

Memory is bounded whatever the reports hold: fields and keys are fetched for
:data:`BATCH` reports at once (a report has a fixed set of fields of bounded size);
messages and notes for groups of those reports whose stored size, summed first, stays
under :data:`GROUP_BYTES`; a report larger than that alone, its notes as a stream of
:data:`NOTE_ROWS` rows. Each text is dropped once looked through (review of issue 17: a
batch of 100 reports' notes was loaded whole, +51 MiB per search for one report with
12 MB of notes). The remaining bound is one report's messages, which the thread's order
needs together.
"""

import time
import unicodedata
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date
from typing import TypeVar

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from sipadu.accountability import audit
from sipadu.accountability.audit import Action
from sipadu.crypto import PrivateKey
from sipadu.persistence.models import Message, Note, Report, ReportField, ReportGrant
from sipadu.services import Reason, ServiceError
from sipadu.services.cases import open_note, page_cursor, parse_page_cursor
from sipadu.services.key_ring import HeldKeys, staff_keys_of_batch
from sipadu.services.reports import (
    CODE_RENEWED_FIELD,
    CONCERNS_INSPECTORATE_FIELD,
    IDENTITY_FIELD,
    open_report_field,
    thread_of,
)

SCAN_LIMIT = 200  # reports opened per request at most
TIME_BUDGET_S = 2.0  # and seconds spent opening them at most (checked after each report)
MAX_QUERY = 200  # characters
MAX_TERMS = 8
BATCH = 100  # reports whose fields and keys are fetched in one query each
GROUP_BYTES = 2 << 20  # stored bytes of messages and notes fetched at once, at most
NOTE_ROWS = 16  # notes (20,000 characters at most each) streamed at a time

SOURCES = ("title", "fields", "messages", "notes")


def fold(text: str) -> str:
    """``text`` for case- and accent-insensitive comparison: compatibility decomposition
    (NFKD), case folding, NFKD again (folding can compose), combining marks dropped. After
    Unicode's compatibility caseless matching (The Unicode Standard, §3.13, D146), minus
    the marks: "Pengadaan" ~ "PENGADAAN", "Müller" ~ "muller", "ﬁnal" ~ "final"."""
    if text.isascii():  # NFKD leaves ASCII alone, and its case folding is lower()
        return text.lower()
    folded = unicodedata.normalize("NFKD", unicodedata.normalize("NFKD", text).casefold())
    return "".join(c for c in folded if not unicodedata.combining(c))


def terms_of(query: str) -> list[str]:
    """The distinct words of ``query`` (its first ``MAX_QUERY`` characters: the form
    refuses longer ones), folded, in order, ``MAX_TERMS`` at most. Raises
    ``ServiceError`` (``EMPTY_TEXT``, field ``q``) when there is none."""
    terms = list(dict.fromkeys(fold(query[:MAX_QUERY]).split()))[:MAX_TERMS]
    if not terms:
        raise ServiceError(Reason.EMPTY_TEXT, "q")
    return terms


@dataclass(frozen=True)
class SearchHit:
    """A report where every term was found; ``sources``: where any term was (of
    :data:`SOURCES`, in that order)."""

    report_id: uuid.UUID
    title: str
    status: str
    received_on: date
    sources: tuple[str, ...]


@dataclass(frozen=True)
class SearchPage:
    """``searched``: the held reports searched so far (by earlier pages of this search
    and this one), of ``total`` held; ``next_cursor``: where to continue, None when
    every held report was searched."""

    hits: list[SearchHit]
    scanned: int
    searched: int
    total: int
    next_cursor: str | None


def _found(
    terms: Sequence[str],
    keys: HeldKeys,
    fields: Sequence[ReportField],
    messages: Sequence[Message],
    notes: Iterable[Note],
) -> tuple[str, dict[str, set[str]]]:
    """The report's title and, by source, which of ``terms`` its plaintext holds. Each
    text is opened, folded, looked through and dropped before the next: notes arrive as
    a stream (:data:`NOTE_ROWS` at a time), so their number does not grow the memory. A
    field, message or note that fails its integrity check is left out (the case page
    shows and records it)."""
    found: dict[str, set[str]] = {source: set() for source in SOURCES}
    title = ""

    def look(source: str, text: str) -> None:
        folded = fold(text)
        found[source].update(term for term in terms if term in folded)

    for row in fields:
        value = open_report_field(keys, row)
        if value is None:
            continue
        if row.name == "title":
            title = value
        look("title" if row.name == "title" else "fields", value)
    for message in thread_of(keys, messages):
        if message.intact:
            look("messages", message.body)
    for note_row in notes:
        note = open_note(keys, note_row, "")
        if note.intact:
            look("notes", note.body)
    return title, found


Row = TypeVar("Row", ReportField, Message, Note)


def _by_report(ids: Sequence[uuid.UUID], rows: Iterable[Row]) -> dict[uuid.UUID, list[Row]]:
    grouped: dict[uuid.UUID, list[Row]] = {i: [] for i in ids}
    for row in rows:
        grouped[row.report_id].append(row)
    return grouped


def _stored_sizes(session: Session, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, int]:
    """Bytes stored in each report's messages and notes (two aggregate queries)."""
    sizes = dict.fromkeys(ids, 0)
    for table in (Message, Note):
        for report_id, size in session.execute(
            select(table.report_id, func.sum(func.length(table.body)))
            .where(table.report_id.in_(ids))
            .group_by(table.report_id)
        ):
            sizes[report_id] += int(size or 0)
    return sizes


def _groups(batch: Sequence[Report], sizes: dict[uuid.UUID, int]) -> Iterator[list[Report]]:
    """``batch`` in order, in groups whose messages and notes together stay under
    :data:`GROUP_BYTES` stored (fetched one query per table); a report past it comes
    alone (its notes then stream)."""
    group: list[Report] = []
    total = 0
    for report in batch:
        size = sizes[report.id]
        if group and total + size > GROUP_BYTES:
            yield group
            group, total = [], 0
        group.append(report)
        total += size
    if group:
        yield group


def _texts_of(
    session: Session, group: Sequence[Report]
) -> Iterator[tuple[Report, list[Message], Iterable[Note]]]:
    """Each report of ``group`` with its messages and notes: fetched for the whole group
    at once, or, for a report alone in its group (it may be larger than
    :data:`GROUP_BYTES`), its notes as a stream of :data:`NOTE_ROWS` rows."""
    if len(group) == 1:
        (report,) = group
        messages = list(session.scalars(select(Message).where(Message.report_id == report.id)))
        notes = session.scalars(
            select(Note).where(Note.report_id == report.id),
            execution_options={"yield_per": NOTE_ROWS},
        )
        yield report, messages, notes
        return
    ids = [r.id for r in group]
    messages_of = _by_report(
        ids, session.scalars(select(Message).where(Message.report_id.in_(ids)))
    )
    notes_of = _by_report(ids, session.scalars(select(Note).where(Note.report_id.in_(ids))))
    for report in group:
        yield report, messages_of.pop(report.id), notes_of.pop(report.id)


def search_cases(
    session: Session,
    account_id: uuid.UUID,
    private: PrivateKey,
    query: str,
    cursor: str | None = None,
    *,
    scan_limit: int | None = None,
    time_budget: float | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> SearchPage:
    """Search the reports granted to ``account_id`` (spam included), newest first, after
    ``cursor``, for ``query``: a report matches when each of its words (:func:`terms_of`)
    is in its title, fields (never the identity), messages or notes, compared
    :func:`fold`-ed. At most ``scan_limit`` reports are opened, and no more once
    ``time_budget`` seconds have passed (at least one is). Appends ``report.search`` with
    the ids of the reports opened; the caller commits before showing anything. Raises
    ``ServiceError``: ``EMPTY_TEXT`` (no word to look for), ``BAD_PAGE_CURSOR``. The
    bounds default to :data:`SCAN_LIMIT` and :data:`TIME_BUDGET_S`."""
    scan_limit = SCAN_LIMIT if scan_limit is None else max(1, scan_limit)
    time_budget = TIME_BUDGET_S if time_budget is None else time_budget
    terms = terms_of(query)
    after = parse_page_cursor(cursor)
    started = clock()
    mine = and_(ReportGrant.report_id == Report.id, ReportGrant.account_id == account_id)
    counted = select(func.count()).select_from(Report).join(ReportGrant, mine)
    total = session.scalar(counted) or 0
    query_rows = (
        select(Report)
        .join(ReportGrant, mine)
        .order_by(Report.received_on.desc(), Report.id.desc())
        .limit(scan_limit + 1)
    )
    before = 0
    if after is not None:
        day, last_id = after
        newer = or_(Report.received_on < day, and_(Report.received_on == day, Report.id < last_id))
        query_rows = query_rows.where(newer)
        before = total - (session.scalar(counted.where(newer)) or 0)
    candidates = list(session.scalars(query_rows))
    hits: list[SearchHit] = []
    opened: list[Report] = []
    stopped = False
    for start in range(0, min(len(candidates), scan_limit), BATCH):
        batch = candidates[start : min(start + BATCH, scan_limit)]
        ids = [r.id for r in batch]
        fields = _by_report(
            ids,
            session.scalars(
                select(ReportField).where(
                    ReportField.report_id.in_(ids),
                    ReportField.name.not_in(
                        [IDENTITY_FIELD, CONCERNS_INSPECTORATE_FIELD, CODE_RENEWED_FIELD]
                    ),
                )
            ),
        )
        held = staff_keys_of_batch(session, account_id, private, ids)
        for group in _groups(batch, _stored_sizes(session, ids)):
            for report, messages, notes in _texts_of(session, group):
                title, found = _found(terms, held[report.id], fields[report.id], messages, notes)
                opened.append(report)
                if set().union(*found.values()) >= set(terms):
                    hits.append(
                        SearchHit(
                            report.id,
                            title,
                            report.status,
                            report.received_on,
                            tuple(source for source in SOURCES if found[source]),
                        )
                    )
                if clock() - started > time_budget:
                    stopped = True
                    break
            if stopped:
                break
        if stopped:
            break
    more = (stopped and len(opened) < len(candidates)) or len(candidates) > scan_limit
    next_cursor = page_cursor(opened[-1]) if more and opened else None
    audit.append(
        session,
        str(account_id),
        "investigator",
        Action.REPORT_SEARCH,
        detail={
            "reports": [str(r.id) for r in opened],
            "found": len(hits),
            "page_after": cursor,
        },
    )
    return SearchPage(hits, len(opened), before + len(opened), total, next_cursor)
