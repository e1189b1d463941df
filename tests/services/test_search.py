"""Search within one's own reports (:mod:`sipadu.services.search`), called directly.
(Started by the review of issue 17; HTTP-level tests are in tests/test_search.py.)"""

import tracemalloc

from sipadu.persistence.models import Role
from sipadu.services import cases, search
from tests.services.helpers import held, person, route, service_submit

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
