"""Casework basics on the staff portal (issue 17, item 3), end to end from the reporter
portal: a closed report reopened with a reason the reporter reads in the mailbox; labels
and a priority no table holds in plaintext, shown and filtered in one's own list; a lead
investigator; links shown only to whoever holds both reports; stepping down, confirmed,
with access gone at once. Forms carry CSRF tokens; refusals are worded, in Indonesian."""

import html
import json
import re
import uuid

from sqlalchemy import select

from sipadu.persistence.models import AuditEvent, Proposal, ReportGrant
from tests.helpers import (
    account_of,
    activate_by_link,
    create_account,
    csrf,
    database,
    every_database_value,
    post,
    report_id_of,
    sample_path,
    submit,
    without_summary,
)
from tests.helpers import login as mailbox_login


def _report(reporter_app, database_url, clients, marker: str) -> tuple[uuid.UUID, str, str]:
    code, passphrase, _ = submit(reporter_app.test_client(), title=marker)
    return report_id_of(database_url, marker, clients["pemeriksa1"]), code, passphrase


def _entries(database_url: str, report_id: uuid.UUID, action: str) -> list[dict]:
    with database(database_url) as session:
        return [
            json.loads(e.detail or "null")
            for e in session.scalars(
                select(AuditEvent).where(
                    AuditEvent.report_id == report_id, AuditEvent.action == action
                )
            )
        ]


def _page(client, report_id: uuid.UUID) -> str:
    return html.unescape(client.get(f"/reports/{report_id}").get_data(as_text=True))


def test_a_closed_report_is_reopened_and_the_reporter_reads_why(
    reporter_app, clients, database_url
):
    marker = f"Dibuka lagi {uuid.uuid4().hex[:8]}"
    report_id, code, passphrase = _report(reporter_app, database_url, clients, marker)
    investigator = clients["pemeriksa1"]
    page = f"/reports/{report_id}"
    post(investigator, f"{page}/status", page, status="in_review", reason="")
    closing = f"Tidak cukup bukti {uuid.uuid4().hex[:6]}"
    post(
        investigator,
        f"{page}/status",
        page,
        status="closed_unsubstantiated",
        reason=closing,
        confirm="y",
    )
    assert 'name="reopen_reason"' in _page(investigator, report_id)

    refused = post(investigator, f"{page}/reopen", page, reopen_reason="")
    assert refused.status_code == 400
    why = f"Pelapor mengirim bukti baru {uuid.uuid4().hex[:6]}"
    assert post(investigator, f"{page}/reopen", page, reopen_reason=why).status_code == 303

    mailbox = reporter_app.test_client()
    assert mailbox_login(mailbox, code, passphrase).status_code == 303
    box = html.unescape(mailbox.get("/mailbox").get_data(as_text=True))
    assert why in box and closing not in box
    status = re.search(r'id="report-status">([^<]*)<', box)
    assert status and status.group(1) == "Sedang ditelaah"  # in_review, in the reporter's words
    assert _entries(database_url, report_id, "report.reopen") == [
        {"from": "closed_unsubstantiated", "to": "in_review"}
    ]
    assert 'name="reopen_reason"' not in _page(investigator, report_id)  # open again
    assert all(why.encode() not in value for value in every_database_value(database_url))


def test_labels_priority_and_lead_are_shown_filtered_and_never_stored_in_plaintext(
    reporter_app, clients, database_url
):
    marker = f"Berlabel {uuid.uuid4().hex[:8]}"
    report_id, _code, _passphrase = _report(reporter_app, database_url, clients, marker)
    other_marker = f"Tanpa label {uuid.uuid4().hex[:8]}"
    other_id, _c, _p = _report(reporter_app, database_url, clients, other_marker)
    label = f"Pungli{uuid.uuid4().hex[:6]}"
    investigator, colleague = clients["pemeriksa1"], clients["pemeriksa2"]
    page = f"/reports/{report_id}"

    saved = post(investigator, f"{page}/labels", page, labels=f"{label}, Dinas PU", priority="high")
    assert saved.status_code == 303
    colleague_id = account_of(database_url, "pemeriksa2").id
    assert post(investigator, f"{page}/lead", page, lead=str(colleague_id)).status_code == 303

    shown = _page(colleague, report_id)
    assert label in shown and "Tinggi" in shown
    assert re.search(r'id="case-lead">[^<]*pemeriksa2', shown)
    listed = html.unescape(colleague.get(f"/reports?label={label.lower()}").get_data(as_text=True))
    assert str(report_id) in listed and str(other_id) not in listed and "pemeriksa2" in listed
    by_priority = colleague.get("/reports?priority=high").get_data(as_text=True)
    assert str(report_id) in by_priority and str(other_id) not in by_priority
    assert str(report_id) not in colleague.get("/reports?priority=low").get_data(as_text=True)
    # Only an investigator allowed to share chooses the lead: worded, nothing changed.
    refused = post(colleague, f"{page}/lead", page, lead="")
    assert refused.status_code == 400 and "berbagi laporan" in refused.get_data(as_text=True)
    assert re.search(r'id="case-lead">[^<]*pemeriksa2', _page(colleague, report_id))
    # A bad label is refused beside its field, keeping what was typed.
    long = "x" * 41
    refused = post(investigator, f"{page}/labels", page, labels=long, priority="low")
    assert refused.status_code == 400 and long in refused.get_data(as_text=True)

    assert all(label.encode() not in value for value in every_database_value(database_url))
    entries = _entries(database_url, report_id, "case.labels")
    assert entries == [{"labels": 2}]
    assert _entries(database_url, report_id, "case.lead") == [
        {"account": str(colleague_id), "username": "pemeriksa2"}
    ]


def test_links_show_only_to_who_holds_both_reports(reporter_app, clients, database_url):
    first_title = f"Laporan pertama {uuid.uuid4().hex[:8]}"
    second_title = f"Laporan kedua {uuid.uuid4().hex[:8]}"
    first, _c1, _p1 = _report(reporter_app, database_url, clients, first_title)
    second, _c2, _p2 = _report(reporter_app, database_url, clients, second_title)
    linker, colleague = clients["pemeriksa1"], clients["pemeriksa2"]
    page = f"/reports/{first}"

    pasted = f"http://10.0.0.5:5001/reports/{second}"
    linked = post(linker, f"{page}/links", page, other=pasted, kind="duplicate")
    assert linked.status_code == 303
    assert second_title in _page(linker, first) and first_title in _page(linker, second)
    assert second_title in _page(colleague, first)  # the demo routes both to both
    assert _entries(database_url, first, "case.link") == [
        {"other": str(second), "kind": "duplicate"}
    ]

    colleague_id = account_of(database_url, "pemeriksa2").id
    post(
        linker, f"/reports/{second}/grants/{colleague_id}/revoke", f"/reports/{second}", confirm="y"
    )
    theirs = _page(colleague, first)
    assert str(second) not in theirs and second_title not in theirs
    refused = post(colleague, f"{page}/links", page, other=str(second), kind="related")
    assert refused.status_code == 400 and "tidak memegang laporan" in refused.get_data(as_text=True)

    # Review 17b: a link went with one click (no tick asked); it now asks, beside its
    # own button, and nothing changes without the tick.
    unticked = post(linker, f"{page}/links/{second}/remove", page)
    assert unticked.status_code == 400
    said = html.unescape(without_summary(unticked.get_data(as_text=True)))
    assert said.count("centang kotak di samping tombol untuk memastikan") == 1
    assert re.search(rf'<p class="error-text" id="unlink-{second}-error" role="alert">', said)
    assert second_title in _page(linker, first) and first_title in _page(linker, second)
    assert _entries(database_url, first, "case.unlink") == []
    unlinked = post(linker, f"{page}/links/{second}/remove", page, confirm="y")
    assert unlinked.status_code == 303
    assert second_title not in _page(linker, first) and first_title not in _page(linker, second)
    assert _entries(database_url, first, "case.unlink") == [{"other": str(second)}]
    again = post(linker, f"{page}/links/{second}/remove", page, confirm="y")
    assert again.status_code == 400
    assert "Kedua laporan ini tidak ditautkan." in html.unescape(again.get_data(as_text=True))


def test_saving_an_empty_labels_field_asks_before_it_erases_every_label(
    reporter_app, clients, database_url
):
    """Review 17b: an emptied labels field, saved, erased every label without asking. It
    now asks for the tick (only then: a priority changed with no labels needs none)."""
    marker = f"Label hapus {uuid.uuid4().hex[:8]}"
    report_id, _code, _passphrase = _report(reporter_app, database_url, clients, marker)
    investigator = clients["pemeriksa1"]
    page = f"/reports/{report_id}"
    assert 'id="labels-confirm"' not in _page(investigator, report_id)  # nothing to erase
    for labels in ("", "Pungli"):
        saved = post(investigator, f"{page}/labels", page, labels=labels, priority="low")
        assert saved.status_code == 303
    assert 'id="labels-confirm"' in _page(investigator, report_id)

    refused = post(investigator, f"{page}/labels", page, labels="  ", priority="high")
    assert refused.status_code == 400
    said = html.unescape(refused.get_data(as_text=True))
    assert "kolom label kosong, sehingga semua label akan terhapus" in said
    assert 'aria-describedby="labels-confirm-error"' in said  # beside its box
    assert re.search(r'id="case-labels">.*Pungli', _page(investigator, report_id))
    assert len(_entries(database_url, report_id, "case.labels")) == 2

    erased = post(investigator, f"{page}/labels", page, labels="", priority="high", confirm="y")
    assert erased.status_code == 303
    assert re.search(r'id="case-labels">—<', _page(investigator, report_id))
    assert _entries(database_url, report_id, "case.labels")[-1] == {"labels": 0}


def test_a_refused_revoke_is_said_once_beside_the_button_used(
    reporter_app, staff_app, clients, database_url
):
    """Review 17b: with two colleagues holding a report, revoking one without the tick
    put the refusal beside every colleague's box. Once, beside the one used."""
    third = f"pemeriksa.inspektur.pembantu.{uuid.uuid4().hex[:6]}"
    link = create_account(clients["admin"], third, "investigator")
    activate_by_link(staff_app, link, "kata sandi panjang sekali 9")
    with database(database_url) as session:
        waiting = list(session.scalars(select(Proposal).where(Proposal.state == "pending")))
    for proposal in waiting:
        approve = f"/admin/proposals/{proposal.id}/approve"
        post(clients["admin2"], approve, "/admin/proposals", confirm="y")
    marker = f"Dua rekan {uuid.uuid4().hex[:8]}"
    report_id, _code, _passphrase = _report(reporter_app, database_url, clients, marker)
    page = f"/reports/{report_id}"
    third_id = account_of(database_url, third).id
    investigator = clients["pemeriksa1"]
    shared = post(investigator, f"{page}/grants", page, colleague=str(third_id), confirm="y")
    assert shared.status_code == 303
    assert len(re.findall(r'/grants/[0-9a-f-]{36}/revoke"', _page(investigator, report_id))) == 2

    refused = post(investigator, f"{page}/grants/{third_id}/revoke", page)
    assert refused.status_code == 400
    said = html.unescape(without_summary(refused.get_data(as_text=True)))
    assert said.count("centang kotak di samping tombol untuk memastikan") == 1
    assert f'id="revoke-{third_id}-error"' in said
    # "Cabut laporan" is what a reporter does to withdraw a complaint; this is access.
    assert f"Ya, cabut akses {third} ke laporan ini" in said and "cabut laporan ini" not in said
    assert third in html.unescape(clients["pemeriksa1"].get(page).get_data(as_text=True))


def test_stepping_down_needs_a_tick_ends_access_at_once_and_never_leaves_a_report_alone(
    reporter_app, clients, database_url
):
    marker = f"Mundur {uuid.uuid4().hex[:8]}"
    report_id, _code, _passphrase = _report(reporter_app, database_url, clients, marker)
    investigator, colleague = clients["pemeriksa1"], clients["pemeriksa2"]
    page = f"/reports/{report_id}"
    colleague_id = account_of(database_url, "pemeriksa2").id

    unticked = post(colleague, f"{page}/recuse", page)
    assert unticked.status_code == 400
    assert colleague.get(page).status_code == 200
    stepped = post(colleague, f"{page}/recuse", page, confirm="y")
    assert stepped.status_code == 303 and stepped.headers["Location"].endswith("/reports")
    assert colleague.get(page).status_code == 404
    with database(database_url) as session:
        assert session.get(ReportGrant, (report_id, colleague_id)) is None
    [entry] = _entries(database_url, report_id, "grant.recuse")
    assert entry["account"] == str(colleague_id) and entry["was_lead"] is False

    alone = post(investigator, f"{page}/recuse", page, confirm="y")
    assert alone.status_code == 400
    assert "satu-satunya" in alone.get_data(as_text=True)  # and it says to share first
    assert investigator.get(page).status_code == 200


def test_casework_forms_need_their_csrf_token(reporter_app, clients, database_url):
    marker = f"Tanpa token {uuid.uuid4().hex[:8]}"
    report_id, _code, _passphrase = _report(reporter_app, database_url, clients, marker)
    investigator = clients["pemeriksa1"]
    for path, data in (
        ("labels", {"labels": "x", "priority": "low"}),
        ("recuse", {"confirm": "y"}),
        ("reopen", {"reopen_reason": "x"}),
        ("links", {"other": str(uuid.uuid4()), "kind": "related"}),
        ("lead", {"lead": ""}),
    ):
        response = investigator.post(f"/reports/{report_id}/{path}", data=data)
        assert response.status_code == 400, path
    assert _entries(database_url, report_id, "case.labels") == []
    assert investigator.get(f"/reports/{report_id}").status_code == 200
    assert csrf(investigator, f"/reports/{report_id}")  # the page's forms carry one


def test_the_audit_log_says_each_casework_action_in_words(clients):
    log = html.unescape(clients["auditor"].get("/audit").get_data(as_text=True))
    for words in (
        "Laporan dibuka kembali",
        "Label atau prioritas diubah",
        "Pemeriksa utama diganti",
        "Laporan ditautkan",
        "Pemeriksa mengundurkan diri dari laporan",
    ):
        assert words in log


def test_a_refusal_of_a_form_the_page_no_longer_draws_is_still_shown(
    reporter_app, clients, database_url
):
    """Review of issue 17, finding 3: a reopen refused because the report is not closed
    (a colleague reopened it first) gave a 400 page without the reason: the reopen form,
    where its refusal goes, is drawn only for a closed report. The same for a status
    change refused because a colleague closed the report meanwhile."""
    marker = f"Sudah dibuka {uuid.uuid4().hex[:8]}"
    report_id, _code, _passphrase = _report(reporter_app, database_url, clients, marker)
    investigator = clients["pemeriksa1"]
    page = f"/reports/{report_id}"
    refused = post(investigator, f"{page}/reopen", page, reopen_reason="Bukti baru")
    assert refused.status_code == 400
    shown = html.unescape(refused.get_data(as_text=True))
    assert re.search(
        r'id="reopen-refused">Hanya laporan yang sudah ditutup atau ditolak yang dapat '
        r"dibuka kembali\.<",
        shown,
    )
    post(investigator, f"{page}/status", page, status="rejected", reason="Spam", confirm="y")
    late = post(investigator, f"{page}/status", page, status="in_review", reason="")
    assert late.status_code == 400
    assert 'id="status-refused">Laporan tidak dapat berpindah dari' in html.unescape(
        late.get_data(as_text=True)
    )


def test_every_answer_to_a_post_switches_language_by_posting_again(
    staff_app, reporter_app, clients, database_url
):
    """Review of issue 17, finding 1, the whole kind: on a page answering a POST at an
    address that takes no GET (every refusal of a case action, admin change...), the
    layout's ``?lang=en`` link was a GET there: 405, and what was typed lost. The switch
    now posts again what was posted (a fresh CSRF token, no secret), nothing is done,
    and the page comes back in English with the text typed."""
    marker = f"Ganti bahasa {uuid.uuid4().hex[:8]}"
    report_id, _code, _passphrase = _report(reporter_app, database_url, clients, marker)
    values = {"report_id": report_id}
    investigator = clients["pemeriksa1"]
    checked = 0
    for rule in staff_app.url_map.iter_rules():
        if "POST" not in rule.methods or "GET" in rule.methods:
            continue
        if set(rule.arguments) <= set(values):
            path = rule.build({k: values[k] for k in rule.arguments})[1]
        else:
            path = sample_path(rule)
        for name in ("pemeriksa1", "admin"):
            page = clients[name].post(path, data={"note_text": "x"}).get_data(as_text=True)
            if "<html" not in page:  # a redirect or no page at all
                continue
            assert 'href="?lang=' not in page, (name, path)
            if 'id="language-switch"' in page:
                checked += 1
                assert f'formaction="{path}?lang=en"' in page, (name, path)
    assert checked > 10
    # Followed: a note typed and switched is shown again in English, and not written.
    page = f"/reports/{report_id}"
    typed = f"Catatan setengah jadi {uuid.uuid4().hex[:6]}"
    before = len(_entries(database_url, report_id, "note.add"))
    switched = investigator.post(
        f"{page}/notes?lang=en",
        data={"csrf_token": csrf(investigator, page), "body": typed, "switch_language": "en"},
    )
    text = html.unescape(switched.get_data(as_text=True))
    assert switched.status_code == 200 and '<html lang="en">' in text
    assert f"{typed}</textarea>" in text
    assert len(_entries(database_url, report_id, "note.add")) == before
    assert typed not in _page(investigator, report_id)
    # A refusal page carries the typed text in its switch, never a secret.
    refused = post(investigator, f"{page}/reopen", page, reopen_reason=typed, totp="123456")
    shown = refused.get_data(as_text=True)
    switch = shown[
        shown.index('id="language-switch"') : shown.index(
            "</form>", shown.index('id="language-switch"')
        )
    ]
    assert f'name="reopen_reason" value="{typed}"' in html.unescape(switch)
    assert "123456" not in switch and switch.count('name="csrf_token"') == 1
