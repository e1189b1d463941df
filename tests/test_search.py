"""Search within one's own reports (issue 17, item 4): decrypted in the request, found in
each source, never beyond one's grants, nothing kept, bounded, recorded once."""

import json
import logging
import re
import uuid

import pytest
from sqlalchemy import delete, select

from sipadu.persistence.models import AuditEvent, ReportGrant, ReportKey, StaffAccount
from sipadu.services import search
from tests.helpers import (
    csrf,
    database,
    every_database_value,
    files_under,
    form_tokens,
    made_up_word,
    post,
    redis_contents,
    report_id_of,
    submit,
)
from tests.helpers import login as mailbox_login

FOUND = re.compile(r'<a href="/reports/([0-9a-f-]{36})" target="_blank" rel="noopener">')


def word() -> str:
    """A made-up word no other report holds (letters only: searched as one term)."""
    return "kata" + made_up_word()


def search_page(client, q: str, after: str = "") -> tuple[int, str]:
    response = client.post(
        "/reports/search",
        data={"csrf_token": csrf(client, "/reports"), "q": q, "after": after},
    )
    return response.status_code, response.get_data(as_text=True)


def found(client, q: str) -> set[uuid.UUID]:
    status, page = search_page(client, q)
    assert status == 200, page[:500]
    return {uuid.UUID(m) for m in FOUND.findall(page)}


def searches(database_url: str, account: str) -> list[dict]:
    with database(database_url) as session:
        account_id = session.scalar(select(StaffAccount.id).where(StaffAccount.username == account))
        return [
            json.loads(e.detail or "{}")
            for e in session.scalars(
                select(AuditEvent)
                .where(AuditEvent.action == "report.search", AuditEvent.actor == str(account_id))
                .order_by(AuditEvent.seq)
            )
        ]


@pytest.fixture(scope="module")
def sources(reporter_app, clients, database_url):
    """A report per source, each holding its own word there and nowhere else."""
    investigator = clients["pemeriksa1"]
    words = {source: word() for source in ("title", "fields", "messages", "notes")}
    ids = {}
    markers = {}
    for source in words:
        markers[source] = f"Cari {source} {uuid.uuid4().hex[:6]}"
    # The title's word with capitals and accents: search folds both.
    title_word = words["title"]
    accented = title_word[:4].upper() + "é" + title_word[5:]
    words["title"] = title_word[:4] + "e" + title_word[5:]
    submit(reporter_app.test_client(), title=f"{markers['title']} {accented}")
    submit(
        reporter_app.test_client(),
        title=markers["fields"],
        what=f"Terjadi di kantor {words['fields']} kemarin",
    )
    code, passphrase, _ = submit(reporter_app.test_client(), title=markers["messages"])
    submit(reporter_app.test_client(), title=markers["notes"])
    for source, marker in markers.items():
        ids[source] = report_id_of(database_url, marker, investigator)
    mailbox = reporter_app.test_client()
    assert mailbox_login(mailbox, code, passphrase).status_code == 303
    body = f"Tambahan: {words['messages']}"
    response = mailbox.post(
        "/mailbox/messages", data={**form_tokens(mailbox, "/mailbox"), "body": body}
    )
    assert response.status_code == 303
    page = f"/reports/{ids['notes']}"
    assert (
        post(investigator, f"{page}/notes", page, body=f"Cek {words['notes']}").status_code == 303
    )
    return ids, words


def test_a_search_finds_words_in_titles_fields_messages_and_notes(clients, sources):
    ids, words = sources
    investigator = clients["pemeriksa1"]
    for source, term in words.items():
        assert found(investigator, term.upper()) == {ids[source]}, source
    # Accents and capitals in the query do not matter either.
    title = words["title"]
    assert found(investigator, title[:4] + "É" + title[5:]) == {ids["title"]}
    # Every word must be there; sources say where.
    status, page = search_page(investigator, f"{words['notes']} Cari")
    assert status == 200 and {uuid.UUID(m) for m in FOUND.findall(page)} == {ids["notes"]}
    assert found(investigator, f"{words['notes']} {words['title']}") == set()


def test_a_search_never_returns_reports_the_viewer_does_not_hold(clients, sources, database_url):
    ids, words = sources
    colleague = clients["pemeriksa2"]
    assert found(colleague, words["fields"]) == {ids["fields"]}
    with database(database_url) as session:
        colleague_id = session.scalar(
            select(StaffAccount.id).where(StaffAccount.username == "pemeriksa2")
        )
        session.execute(
            delete(ReportGrant).where(
                ReportGrant.report_id == ids["fields"], ReportGrant.account_id == colleague_id
            )
        )
        session.execute(
            delete(ReportKey).where(
                ReportKey.report_id == ids["fields"], ReportKey.recipient_id == colleague_id
            )
        )
        session.commit()
    assert found(colleague, words["fields"]) == set()
    assert str(ids["fields"]) not in searches(database_url, "pemeriksa2")[-1]["reports"]
    assert found(clients["pemeriksa1"], words["fields"]) == {ids["fields"]}
    # Other roles have no search at all.
    for name in ("inspektur", "admin", "auditor"):
        response = post(clients[name], "/reports/search", "/account", q=words["fields"])
        assert response.status_code == 403, name


def test_a_search_is_recorded_once_with_the_reports_read_and_never_the_words(
    clients, sources, database_url
):
    ids, words = sources
    before = len(searches(database_url, "pemeriksa1"))
    found(clients["pemeriksa1"], words["notes"])
    entries = searches(database_url, "pemeriksa1")[before:]
    assert len(entries) == 1
    assert set(entries[0]["reports"]) >= {str(i) for i in ids.values()}
    assert entries[0]["found"] == 1
    assert words["notes"] not in json.dumps(entries)


def test_nothing_of_a_search_is_written_at_rest(
    clients, sources, database_url, instance_path, redis_url, caplog
):
    """The words typed and what they found reach no table, store, file or log (G1)."""
    ids, words = sources
    caplog.set_level(logging.DEBUG)
    term = words["messages"]
    assert found(clients["pemeriksa1"], term) == {ids["messages"]}
    for value in every_database_value(database_url):
        assert term.encode() not in value
    for value in redis_contents(redis_url):
        assert term.encode() not in value
    for content in files_under(instance_path):
        assert term.encode() not in content
    assert term not in caplog.text


def test_the_words_travel_in_a_posted_form_never_in_an_address(clients, sources):
    investigator = clients["pemeriksa1"]
    page = investigator.get("/reports").get_data(as_text=True)
    form = re.search(r'<form method="post" action="/reports/search"[^>]*>', page)
    assert form is not None
    # An address never searches: GET shows the empty box (where Back or a reload lands).
    box = investigator.get("/reports/search?q=katadialamat")
    assert box.status_code == 200 and 'id="search-box"' in box.get_data(as_text=True)
    assert "katadialamat" not in box.get_data(as_text=True)
    missing_token = investigator.post("/reports/search", data={"q": "kata"})
    assert missing_token.status_code == 400
    status, page = search_page(investigator, "   ")
    assert status == 400 and 'value="   "' in page  # refused, and what was typed kept


def test_a_search_stops_at_its_bound_says_so_and_continues(
    clients, sources, database_url, monkeypatch
):
    ids, _words = sources
    investigator = clients["pemeriksa1"]
    monkeypatch.setattr(search, "SCAN_LIMIT", 2)
    before = len(searches(database_url, "pemeriksa1"))
    hits: set[uuid.UUID] = set()
    status, page = search_page(investigator, "Cari")
    pages = 1
    while True:
        assert status == 200
        hits |= {uuid.UUID(m) for m in FOUND.findall(page)}
        after = re.search(r'name="after" value="([^"]+)"', page)
        if after is None:
            break
        assert f"Dicari {2 * pages} dari 4 laporan Anda" in page
        status, page = search_page(investigator, "Cari", after.group(1))
        pages += 1
    assert hits == set(ids.values())
    entries = searches(database_url, "pemeriksa1")[before:]
    assert len(entries) == pages > 1
    assert all(len(e["reports"]) <= 2 for e in entries)
    read = [r for e in entries for r in e["reports"]]
    assert len(read) == len(set(read))  # each report read once across the pages

    # The time budget: none left after the first report, so one report a request.
    monkeypatch.setattr(search, "SCAN_LIMIT", 200)
    monkeypatch.setattr(search, "TIME_BUDGET_S", 0.0)
    search_page(investigator, "Cari")
    assert len(searches(database_url, "pemeriksa1")[-1]["reports"]) == 1


def test_folding_ignores_case_accents_and_compatibility_forms():
    assert search.fold("PENGADAAN Négeri ﬁnal Straße") == "pengadaan negeri final strasse"
    assert search.terms_of("  Dinas  dinas DINAS ") == ["dinas"]


SWITCH_BUTTON = re.compile(
    r'<button type="submit" class="link" form="([^"]+)" formaction="([^"]+)" formnovalidate '
    r'name="switch_language" value="en"'
)


def test_switching_language_on_the_results_keeps_the_words(clients, sources, database_url):
    """Review of issue 17, finding 1: the results are the answer to a POST, and the
    layout's ``?lang=en`` link was a GET of /reports/search: 405, the words lost. The
    switch posts the search box again: the words come back in English, and nothing is
    searched (nor recorded) by the switch."""
    investigator = clients["pemeriksa1"]
    words = "Pengadaan " + word()
    status, page = search_page(investigator, words)
    assert status == 200
    assert 'href="?lang=' not in page
    button = SWITCH_BUTTON.search(page)
    assert button and button.group(1) == "search-box"
    assert 'id="search-box"' in page and button.group(2) == "/reports/search?lang=en"
    before = len(searches(database_url, "pemeriksa1"))
    switched = investigator.post(
        button.group(2),
        data={"csrf_token": csrf(investigator, "/reports"), "q": words, "switch_language": "en"},
    )
    text = switched.get_data(as_text=True)
    assert switched.status_code == 200 and '<html lang="en">' in text
    assert f'value="{words}"' in text and "Search your reports" in text
    assert len(searches(database_url, "pemeriksa1")) == before


def test_found_reports_open_in_a_new_tab_so_the_results_survive(clients, sources):
    """Finding 2: Back from a report to the results was Chrome's "Confirm Form
    Resubmission", and a reload searched (and recorded) again. Found reports open in a
    new tab, saying so; the address of the results, met again, shows the box."""
    investigator = clients["pemeriksa1"]
    _ids, words = sources
    status, page = search_page(investigator, words["title"])
    assert status == 200 and FOUND.findall(page)
    assert not re.search(r'<a href="/reports/[0-9a-f-]{36}">', page)  # none opens in place
    assert 'id="search-new-tab"' in page and "tab baru" in page
    assert investigator.get("/reports/search").status_code == 200
