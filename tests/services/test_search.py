"""Search within one's own reports (:mod:`sipadu.services.search`), called directly: every
word must be somewhere in a report's title, fields, messages or notes (never its
identity), compared folded; only the viewer's grants, spam included; at most
``scan_limit`` reports or ``time_budget`` seconds a request, at least one, continued by
a cursor that reads each report once; one ``report.search`` entry naming the reports
opened and never the words; refusals by reason, recording nothing. Real keys, a real
database, rolled back after each test."""

import json
import string
import tracemalloc
import uuid
from itertools import count

import pytest

from sipadu.accountability.audit import Action
from sipadu.persistence.models import Role
from sipadu.services import Reason, cases, key_ring, reports, search
from sipadu.services.reports import ReportForm, submit_report
from sipadu.services.search import MAX_QUERY, MAX_TERMS, fold, search_cases, terms_of
from sipadu.settings.config import DatePrecision
from tests.services.helpers import (
    PASSPHRASE,
    TODAY,
    Recorded,
    ServicePerson,
    Submitted,
    approve_identity,
    held,
    person,
    refused,
    route,
    service_submit,
    submission_settings,
)


@pytest.fixture
def investigator(session) -> ServicePerson:
    someone = person(session, "pencari", Role.INVESTIGATOR, may_grant=True)
    route(session, someone)
    return someone


def filed(session, recovery, title: str, what: str = "Di loket", **fields) -> uuid.UUID:
    """A report with these fields, submitted through the service."""
    form = ReportForm(category="kkn", title=title, what=what, **fields)
    receipt = submit_report(
        session, form, PASSPHRASE, submission_settings(recovery.public_key()), TODAY
    )
    return receipt.report_id


def found(session, who: ServicePerson, query: str, **bounds) -> dict[uuid.UUID, tuple]:
    page = search_cases(session, who.id, who.private, query, **bounds)
    return {hit.report_id: hit.sources for hit in page.hits}


def mailbox(session, report: Submitted) -> key_ring.HeldKeys:
    return key_ring.mailbox_keys(
        session, report.report_id, report.mailbox_id, report.mailbox_private
    )


# --- what is found -----------------------------------------------------------------------


def test_every_word_is_looked_for_in_titles_fields_messages_and_notes_folded(
    session, recovery, investigator
):
    titled = filed(session, recovery, "Pengadaan ALAT Négeri")
    fielded = filed(session, recovery, "Laporan dua", who="Kepala Seksi", how="Uang PELICIN")
    messaged = service_submit(session, recovery.public_key())
    reports.add_reporter_message(
        session,
        mailbox(session, messaged),
        messaged.report_id,
        "Kuitansi palsu",
        TODAY,
        DatePrecision.DAY,
    )
    noted = filed(session, recovery, "Laporan empat")
    cases.add_note(
        session,
        key_ring.staff_keys(session, noted, investigator.id, investigator.private),
        investigator.id,
        "Cek ke Straße Müller",
    )

    assert found(session, investigator, "negeri PENGADAAN") == {titled: ("title",)}
    assert found(session, investigator, "pelicin seksi") == {fielded: ("fields",)}
    assert found(session, investigator, "KUITANSI") == {messaged.report_id: ("messages",)}
    assert found(session, investigator, "strasse MÜLLER") == {noted: ("notes",)}
    # Words from two sources of one report: found, and both named, in SOURCES order.
    assert found(session, investigator, "muller laporan") == {noted: ("title", "notes")}
    # Every word must be in the report: two reports' words find neither.
    assert found(session, investigator, "pelicin kuitansi") == {}
    page = search_cases(session, investigator.id, investigator.private, "alat")
    [hit] = page.hits
    assert (hit.title, hit.status, hit.received_on) == ("Pengadaan ALAT Négeri", "received", TODAY)


def test_the_identity_is_never_searched_even_when_the_viewer_may_read_it(session, recovery):
    custodian = person(session, "penjaga.cari", Role.CUSTODIAN)
    investigator = person(session, "penyidik.cari", Role.INVESTIGATOR)
    route(session, investigator)
    report = service_submit(session, recovery.public_key(), identity="Wahyuningsih 0812")
    approve_identity(session, report, investigator, custodian, recovery.public_key())
    view = cases.open_case(session, held(session, report, investigator), investigator.id)
    assert view.identity == "Wahyuningsih 0812"  # approved: the case page shows it

    assert found(session, investigator, "wahyuningsih") == {}
    assert found(session, investigator, "pungutan") == {report.report_id: ("title",)}


def test_only_the_viewers_reports_are_searched_spam_included(session, recovery, investigator):
    outsider = person(session, "bukan.pencari", Role.INVESTIGATOR)
    report = filed(session, recovery, "Proyek jembatan")
    cases.mark_spam(session, report, investigator.id, True)
    log = Recorded(session)

    mine = search_cases(session, investigator.id, investigator.private, "jembatan")
    theirs = search_cases(session, outsider.id, outsider.private, "jembatan")

    assert [h.report_id for h in mine.hits] == [report] and mine.total == 1
    assert (theirs.hits, theirs.scanned, theirs.total, theirs.next_cursor) == ([], 0, 0, None)
    outsider_entry = log.entries()[-1]
    assert (outsider_entry["actor"], outsider_entry["detail"]["reports"]) == (str(outsider.id), [])


def test_a_search_is_recorded_once_with_the_reports_opened_and_never_the_words(
    session, recovery, investigator
):
    ids = [filed(session, recovery, f"Laporan {n}") for n in range(3)]
    log = Recorded(session)

    page = search_cases(session, investigator.id, investigator.private, "Rahasiakata laporan")

    assert page.hits == [] and page.scanned == 3
    entry = log.only(Action.REPORT_SEARCH)
    assert (entry["actor"], entry["role"], entry["report_id"]) == (
        str(investigator.id),
        "investigator",
        None,
    )
    assert entry["detail"] == {
        "reports": [str(i) for i in sorted(ids, reverse=True)],  # newest first: one day
        "found": 0,
        "page_after": None,
    }
    assert "rahasiakata" not in json.dumps(log.entries()).lower()
    assert log.actions() == ["report.search"]  # no report.read, whatever was opened


@pytest.mark.parametrize("query", ["", "   \n\t", "\u0301\u0308"])
def test_a_query_without_a_word_is_refused_and_records_nothing(session, investigator, query):
    log = Recorded(session)
    with refused(Reason.EMPTY_TEXT, "q"):
        search_cases(session, investigator.id, investigator.private, query)
    assert log.actions() == []


@pytest.mark.parametrize("cursor", ["nonsense", "2025-13-01_x", f"2025-03-14_{'z' * 32}"])
def test_a_bad_cursor_is_refused_and_records_nothing(session, investigator, cursor):
    log = Recorded(session)
    with refused(Reason.BAD_PAGE_CURSOR):
        search_cases(session, investigator.id, investigator.private, "kata", cursor)
    assert log.actions() == []


# --- the words ---------------------------------------------------------------------------


def test_folding_ignores_case_accents_and_compatibility_forms():
    assert fold("PENGADAAN Négeri ﬁnal Straße Müller") == "pengadaan negeri final strasse muller"
    assert fold("\u212a\u00c5") == "ka"  # the Kelvin and Ångström signs
    assert fold("\uff12\uff10\uff12\uff15") == "2025"  # full-width digits
    assert fold("e\u0301") == fold("\u00e9") == "e"  # composed or not
    # The ASCII shortcut gives what the full fold gives.
    assert fold(string.printable) == string.printable.casefold()


def test_the_terms_are_distinct_folded_and_bounded():
    assert terms_of("  Dinas  dinas DÍNAS pu ") == ["dinas", "pu"]
    words = [f"kata{n}" for n in range(MAX_TERMS + 3)]
    assert terms_of(" ".join(words)) == words[:MAX_TERMS]
    cut = "a" * (MAX_QUERY - 1) + " terlewat"  # past MAX_QUERY characters: not read
    assert terms_of(cut) == ["a" * (MAX_QUERY - 1)]


def test_words_past_max_terms_do_not_narrow_the_search(session, recovery, investigator):
    words = [f"kata{chr(ord('a') + n)}" for n in range(MAX_TERMS)]
    report = filed(session, recovery, "Laporan", what=" ".join(words))
    assert found(session, investigator, " ".join(words)) == {report: ("fields",)}
    assert found(session, investigator, " ".join([*words, "tidakada"])) == {report: ("fields",)}
    assert found(session, investigator, " ".join(["tidakada", *words])) == {}


# --- the bounds --------------------------------------------------------------------------


def pages(session, who: ServicePerson, query: str, **bounds) -> list[search.SearchPage]:
    """Every page of a search, each continuing from the last one's cursor."""
    result, cursor = [], None
    while True:
        page = search_cases(session, who.id, who.private, query, cursor, **bounds)
        result.append(page)
        if page.next_cursor is None:
            return result
        cursor = page.next_cursor


def test_a_search_stops_at_scan_limit_and_continues_reading_each_report_once(
    session, recovery, investigator
):
    ids = sorted((filed(session, recovery, "Laporan pungli") for _ in range(5)), reverse=True)
    log = Recorded(session)

    walked = pages(session, investigator, "pungli", scan_limit=2)

    assert [(p.scanned, p.searched, p.total) for p in walked] == [(2, 2, 5), (2, 4, 5), (1, 5, 5)]
    assert [h.report_id for p in walked for h in p.hits] == ids  # newest first, each once
    entries = log.entries()
    assert [e["detail"]["reports"] for e in entries] == [
        [str(i) for i in ids[:2]],
        [str(i) for i in ids[2:4]],
        [str(i) for i in ids[4:]],
    ]
    assert [e["detail"]["page_after"] for e in entries] == [None] + [
        p.next_cursor for p in walked[:-1]
    ]


def test_the_scan_limit_defaults_and_at_least_one_report_is_opened(
    session, recovery, investigator, monkeypatch
):
    for _ in range(3):
        filed(session, recovery, "Laporan")
    monkeypatch.setattr(search, "SCAN_LIMIT", 2)
    assert search_cases(session, investigator.id, investigator.private, "laporan").scanned == 2
    for limit in (0, -5, 1):
        page = search_cases(
            session, investigator.id, investigator.private, "laporan", scan_limit=limit
        )
        assert (page.scanned, page.next_cursor is not None) == (1, True)


def ticking(step: float = 1.0):
    """A clock that moves ``step`` seconds each time it is read."""
    ticks = count()
    return lambda: next(ticks) * step


def test_a_search_stops_once_its_time_budget_is_spent(session, recovery, investigator):
    ids = sorted((filed(session, recovery, "Laporan") for _ in range(4)), reverse=True)

    # Started at 0; after the first report 1 s has passed, not more than the budget;
    # after the second, 2 s: stop there.
    first = search_cases(
        session,
        investigator.id,
        investigator.private,
        "laporan",
        time_budget=1.0,
        clock=ticking(),
    )
    assert (first.scanned, first.searched, first.total) == (2, 2, 4)
    assert [h.report_id for h in first.hits] == ids[:2] and first.next_cursor is not None

    # No budget at all still opens one report a request, and gets through them all.
    walked = pages(session, investigator, "laporan", time_budget=0.0, clock=ticking())
    assert [p.scanned for p in walked] == [1, 1, 1, 1]
    assert [h.report_id for p in walked for h in p.hits] == ids


def test_a_budget_spent_on_the_last_report_leaves_nothing_to_continue(
    session, recovery, investigator
):
    for _ in range(2):
        filed(session, recovery, "Laporan")
    page = search_cases(
        session,
        investigator.id,
        investigator.private,
        "laporan",
        time_budget=1.0,
        clock=ticking(),
    )
    assert (page.scanned, page.searched, page.total, page.next_cursor) == (2, 2, 2, None)


# --- from the review of issue 17 ----------------------------------------


NOTE = "catatan pemeriksaan lapangan " * 690  # about 20,000 characters: the form's limit
NOTES = 150  # about 3 MB of notes in one report


def test_a_report_full_of_notes_does_not_grow_a_search_s_memory(session, recovery):
    """Review of issue 17 (risk 1): a search loaded every field, message and note of a
    batch of 100 reports before its time budget applied, so one report with 12 MB of
    notes added 51 MiB to a search. Notes now stream: the search's peak stays near one
    handful of notes, far below the report's size, and the notes are still searched."""
    investigator = person(session, "penyidik.cari", Role.INVESTIGATOR)
    route(session, investigator)
    report = service_submit(session, recovery.public_key())
    keys = held(session, report, investigator)
    for _ in range(NOTES - 1):
        cases.add_note(session, keys, investigator.id, NOTE)
    cases.add_note(session, keys, investigator.id, NOTE + " katapalingakhir")
    session.flush()
    session.expunge_all()  # nothing of the notes held before the search

    tracemalloc.start()
    try:
        page = search.search_cases(
            session, investigator.id, investigator.private, "katapalingakhir", time_budget=60
        )
        _now, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert [hit.report_id for hit in page.hits] == [report.report_id]
    assert page.hits[0].sources == ("notes",)
    # Loaded whole it was about 5 times the notes (14.5 MB here); streamed, about half.
    assert peak < NOTES * len(NOTE), peak
