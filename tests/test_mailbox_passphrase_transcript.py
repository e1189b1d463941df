"""The reporter's side of issue 18 item 1, through the reporter portal: the passphrase
is changed in the mailbox (the old one stops working at once, every other session must
sign in again, a suggested one is shown once, no page shows a typed passphrase again),
and the reporter of a report an operator typed is asked, above the thread, whether it
is what they said: confirmed, or corrected by a message marked as the correction
(EU 2019/1937 Art. 18(2)-(4)); investigators read the answer on the case page and in
the case file, in words. Nothing of it reaches a log."""

import html
import logging
import re
import time
import uuid

import pytest
from sqlalchemy import func, select

from sipadu.persistence.models import Message, ReporterDailyCount
from sipadu.services.passphrases import wordlist
from sipadu.web.reporter_forms import TEXT_LIMIT
from tests.helpers import (
    NEW_PASSPHRASE,
    TOKEN,
    answer_transcript,
    change_passphrase,
    csrf,
    database,
    every_database_value,
    every_slot_held,
    form_tokens,
    login,
    mailbox_client,
    report_id_of,
    submit,
    take_new_code,
    typed_report,
)

TITLE_SEPARATOR = " — "


def typed_box(reporter_app, code: str, passphrase: str):
    """Signed in to a typed report's mailbox with the slip, its new code taken (issue
    18): the client, the new code and its (suggested) passphrase."""
    client = mailbox_client(reporter_app, code, passphrase)
    return (client, *take_new_code(client))


def metric(database_url: str, name: str) -> int:
    with database(database_url) as session:
        return session.scalar(
            select(func.coalesce(func.sum(ReporterDailyCount.count), 0)).where(
                ReporterDailyCount.metric == name
            )
        )


def text_of(page: str) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", page)).split())


# --- changing the passphrase -------------------------------------------------------------


def test_the_mailbox_links_to_the_change_which_needs_a_session(people, reporter_app):
    code, passphrase, _ = submit(reporter_app.test_client())
    box = mailbox_client(reporter_app, code, passphrase)
    assert 'href="/mailbox/passphrase"' in box.get("/mailbox").get_data(as_text=True)
    form = box.get("/mailbox/passphrase")
    assert form.status_code == 200
    assert 'name="current_passphrase"' in form.get_data(as_text=True)
    assert len(form.get_data()) <= 100_000
    stranger = reporter_app.test_client()
    assert stranger.get("/mailbox/passphrase").headers["Location"].endswith("/mailbox/login")
    posted = stranger.post(
        "/mailbox/passphrase", data={"csrf_token": csrf(stranger, "/mailbox/login")}
    )
    assert posted.status_code == 303  # nothing read, nothing derived


def test_after_a_change_only_the_new_passphrase_opens_and_other_sessions_sign_in_again(
    people, reporter_app, database_url
):
    code, passphrase, _ = submit(reporter_app.test_client())
    here = mailbox_client(reporter_app, code, passphrase)
    elsewhere = mailbox_client(reporter_app, code, passphrase)  # e.g. whoever saw it
    assert elsewhere.get("/mailbox").status_code == 200
    changed_before = metric(database_url, "passphrase_changed")

    done = change_passphrase(here, code, passphrase)

    assert done.status_code == 200
    page = done.get_data(as_text=True)
    assert 'id="passphrase-changed"' in page
    assert "Tuliskan frasa sandi baru" in page  # the reminder, in the reader's language
    assert NEW_PASSPHRASE not in page and passphrase not in page  # a chosen one is never shown
    assert metric(database_url, "passphrase_changed") == changed_before + 1
    assert here.get("/mailbox").status_code == 200  # this browser stays signed in
    assert elsewhere.get("/mailbox").headers["Location"].endswith("/mailbox/login")
    # Signed out, not robbed: a reply sent from there comes back on the sign-in page.
    reply = elsewhere.post(
        "/mailbox/messages",
        data={"csrf_token": csrf(elsewhere, "/mailbox/login"), "body": "Balasan yang tertahan"},
    )
    assert reply.status_code == 200 and "Balasan yang tertahan" in reply.get_data(as_text=True)
    assert login(reporter_app.test_client(), code, passphrase).status_code == 400
    assert login(reporter_app.test_client(), code, NEW_PASSPHRASE).status_code == 303


def test_a_suggested_passphrase_is_shown_once_and_opens_the_mailbox(people, reporter_app):
    code, passphrase, _ = submit(reporter_app.test_client())
    box = mailbox_client(reporter_app, code, passphrase)
    page = change_passphrase(box, code, passphrase, new="").get_data(as_text=True)
    suggested = re.search(r'id="new-passphrase">([^<]+)<', page).group(1)
    assert len(suggested.split()) == 7 and set(suggested.split()) <= set(wordlist())
    assert "hanya ditampilkan sekali ini" in page
    assert login(reporter_app.test_client(), code, suggested).status_code == 303
    assert login(reporter_app.test_client(), code, passphrase).status_code == 400


def test_the_same_change_sent_again_shows_the_same_passphrase_and_changes_once(
    people, reporter_app
):
    """A double click (the second request carries the session the first one ends) and a
    reload of the page after it: the change is made once, and the suggested passphrase,
    its only copy, is shown again (G6)."""
    code, passphrase, _ = submit(reporter_app.test_client())
    box = mailbox_client(reporter_app, code, passphrase)
    cookie = reporter_app.config["SESSION_COOKIE_NAME"]
    form = {
        **form_tokens(box, "/mailbox/passphrase"),
        "code": code,
        "current_passphrase": passphrase,
        "passphrase": "",
        "passphrase_confirm": "",
    }
    second_click = reporter_app.test_client()
    second_click.set_cookie(cookie, box.get_cookie(cookie).value)

    first = box.post("/mailbox/passphrase", data=form).get_data(as_text=True)
    suggested = re.search(r'id="new-passphrase">([^<]+)<', first).group(1)
    for again in (second_click, box):  # the double click; then a reload of the page
        page = again.post("/mailbox/passphrase", data=form)
        assert page.status_code == 200
        text = page.get_data(as_text=True)
        assert 'id="changed-again"' in text
        assert re.search(r'id="new-passphrase">([^<]+)<', text).group(1) == suggested
    assert login(reporter_app.test_client(), code, suggested).status_code == 303
    # Not from another browser: the sealed copy opens only in the session that sent it.
    stranger = reporter_app.test_client()
    stranger.get("/mailbox/login")
    foreign = stranger.post(
        "/mailbox/passphrase",
        data={**form, **form_tokens(stranger, "/mailbox/login")}
        | {"submission_token": form["submission_token"]},
    )
    assert suggested not in foreign.get_data(as_text=True)


@pytest.mark.parametrize(
    ("wrong", "field_text"),
    [
        ({"current_passphrase": "bukan frasa yang benar"}, "frasa sandi saat ini tidak benar"),
        ({"passphrase_confirm": NEW_PASSPHRASE + "x"}, "Kedua frasa sandi tidak sama"),
        ({"passphrase": "123456789012", "passphrase_confirm": "123456789012"}, "mudah ditebak"),
        ({"current_passphrase": ""}, "Masukkan frasa sandi Anda saat ini"),
    ],
)
def test_a_refused_change_keeps_the_code_shows_no_passphrase_and_changes_nothing(
    people, reporter_app, wrong, field_text
):
    code, passphrase, _ = submit(reporter_app.test_client())
    box = mailbox_client(reporter_app, code, passphrase)
    typed = {
        "current_passphrase": passphrase,
        "passphrase": NEW_PASSPHRASE,
        "passphrase_confirm": NEW_PASSPHRASE,
    }
    typed.update(wrong)
    response = box.post(
        "/mailbox/passphrase",
        data={**form_tokens(box, "/mailbox/passphrase"), "code": code, **typed},
    )
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert f'value="{code}"' in page and field_text in page
    for secret in {passphrase, *typed.values()} - {""}:
        assert secret not in page
    assert login(reporter_app.test_client(), code, passphrase).status_code == 303


def test_the_code_of_another_mailbox_is_refused(people, reporter_app):
    mine, my_passphrase, _ = submit(reporter_app.test_client())
    other, other_passphrase, _ = submit(reporter_app.test_client())
    box = mailbox_client(reporter_app, mine, my_passphrase)
    response = change_passphrase(box, other, other_passphrase)
    assert response.status_code == 400
    assert "bukan kode kotak surat yang sedang Anda buka" in response.get_data(as_text=True)
    assert login(reporter_app.test_client(), other, other_passphrase).status_code == 303
    assert login(reporter_app.test_client(), mine, my_passphrase).status_code == 303


def test_a_busy_server_keeps_the_code_and_shows_no_passphrase(people, reporter_app, config):
    code, passphrase, _ = submit(reporter_app.test_client())
    box = mailbox_client(reporter_app, code, passphrase)
    with every_slot_held(config, "reporter"):
        started = time.monotonic()
        response = change_passphrase(box, code, passphrase)
        assert time.monotonic() - started < 5
    assert response.status_code == 503 and response.headers["Retry-After"]
    page = response.get_data(as_text=True)
    assert f'value="{code}"' in page and 'id="notice"' in page
    assert passphrase not in page and NEW_PASSPHRASE not in page
    assert login(reporter_app.test_client(), code, passphrase).status_code == 303  # unchanged
    assert change_passphrase(box, code, passphrase).status_code == 200  # with a slot free, it goes


# --- the typed report -----------------------------------------------------------------


def test_a_typed_report_is_shown_above_the_thread_with_the_question(
    env, people, reporter_app, database_url
):
    box, _code, _passphrase = typed_box(reporter_app, *typed_report(env, "Transkrip ditanya"))
    page = box.get("/mailbox").get_data(as_text=True)
    assert 'id="transcript"' in page
    assert page.index('id="transcript"') < page.index('class="thread"')
    question = page[page.index('id="transcript"') : page.index('class="thread"')]
    assert "Apakah ini yang Anda sampaikan kepada kami?" in question
    assert "Petugas loket meminta uang Rp 50.000" in question  # as the operator typed it
    assert 'value="confirm"' in question and 'name="correction"' in question
    assert len(page.encode()) <= 100_000
    web_code, web_passphrase, _ = submit(reporter_app.test_client())
    web = mailbox_client(reporter_app, web_code, web_passphrase).get("/mailbox")
    assert 'id="transcript"' not in web.get_data(as_text=True)


def test_confirming_is_recorded_once_and_investigators_read_it(
    env, people, reporter_app, database_url, clients
):
    title = f"Dikonfirmasi {uuid.uuid4().hex[:8]}"
    box, _code, _passphrase = typed_box(reporter_app, *typed_report(env, title))
    investigator = clients["pemeriksa1"]
    report_id = report_id_of(database_url, title, investigator)
    case_page = text_of(investigator.get(f"/reports/{report_id}").get_data(as_text=True))
    assert "Transkrip belum dikonfirmasi pelapor" in case_page

    first = answer_transcript(box, "confirm")
    assert first.headers["Location"].endswith("/mailbox?transcript=confirm")
    page = box.get(first.headers["Location"]).get_data(as_text=True)
    assert 'id="transcript-answered"' in page and 'id="transcript"' not in page
    assert 'id="transcript-state"' in page
    again = answer_transcript(box, "confirm")  # a double click
    assert again.headers["Location"].endswith("/mailbox?transcript=again")

    case_page = text_of(investigator.get(f"/reports/{report_id}").get_data(as_text=True))
    assert "Transkrip dikonfirmasi pelapor" in case_page
    printed = text_of(investigator.get(f"/reports/{report_id}/print").get_data(as_text=True))
    assert "Transkrip dikonfirmasi pelapor" in printed


def test_a_correction_is_a_marked_message_the_investigators_are_pointed_to(
    env, people, reporter_app, database_url, clients
):
    title = f"Dikoreksi {uuid.uuid4().hex[:8]}"
    box, _code, _passphrase = typed_box(reporter_app, *typed_report(env, title))
    correction = "Yang meminta uang bukan petugas loket 3, tetapi petugas loket 4."

    done = answer_transcript(box, "correct", correction)
    assert done.headers["Location"].endswith("/mailbox?transcript=correct")
    page = box.get("/mailbox").get_data(as_text=True)
    assert correction in page and "Koreksi Anda atas laporan yang diketik" in page
    resend = answer_transcript(box, "correct", correction)  # Back and resend
    assert resend.headers["Location"].endswith("/mailbox?transcript=again")
    assert box.get("/mailbox").get_data(as_text=True).count(correction) == 1
    # Answered: confirming now is refused, and says so.
    late = answer_transcript(box, "confirm")
    assert late.status_code == 303 and late.headers["Location"].endswith("/mailbox")

    investigator = clients["pemeriksa1"]
    report_id = report_id_of(database_url, title, investigator)
    case_html = investigator.get(f"/reports/{report_id}").get_data(as_text=True)
    message_id = re.search(r'<a href="#message-([0-9a-f-]{36})">', case_html).group(1)
    assert f'id="message-{message_id}"' in case_html
    case_page = text_of(case_html)
    assert "Transkrip dikoreksi pelapor ( lihat pesan ke-1 tanggal" in case_page
    assert "Koreksi atas laporan yang diketik" in case_page and correction in case_page
    printed = text_of(investigator.get(f"/reports/{report_id}/print").get_data(as_text=True))
    assert "Transkrip dikoreksi pelapor (lihat pesan ke-1 tanggal" in printed


def test_the_language_switch_keeps_a_correction_and_a_reply_typed_but_not_sent(
    env, people, reporter_app, database_url
):
    """The header's switch sends the message form: a correction typed in the transcript
    box was lost. It now belongs to that form, and comes back with the reply."""
    box, _code, _passphrase = typed_box(
        reporter_app, *typed_report(env, f"Bahasa {uuid.uuid4().hex[:8]}")
    )
    page = box.get("/mailbox").get_data(as_text=True)
    # What the browser sends for the switch: every field the message form owns.
    switch = re.search(r'<button[^>]*name="switch_language"[^>]*>', page).group(0)
    owner = re.search(r'form="([^"]+)"', switch).group(1)
    correction_box = re.search(r'<textarea[^>]*name="correction"[^>]*>', page).group(0)
    assert f'form="{owner}"' in correction_box
    correction = "Bukan loket 3, tetapi loket 4."
    reply = "Saya ingat satu hal lagi."
    data = {**form_tokens(box, "/mailbox"), "correction": correction, "body": reply}
    switched = box.post("/mailbox/messages?lang=en", data={**data, "switch_language": "en"})
    assert switched.status_code == 200
    shown = html.unescape(switched.get_data(as_text=True))
    assert "Is this what you told us?" in shown
    assert correction in shown and reply in shown
    # Sending the correction with the reply typed beside it: the reply stays, unsent.
    sent = box.post("/mailbox/transcript", data={**data, "answer": "correct"})
    kept = html.unescape(sent.get_data(as_text=True))
    assert sent.status_code == 200, kept[:500]
    assert 'id="kept-reply"' in kept and 'id="transcript-answered"' in kept
    assert kept.count(reply) == 1  # in the box, not in the thread
    assert correction in kept


def test_sending_a_reply_keeps_a_correction_typed_but_not_sent(env, people, reporter_app):
    """The reply's button sends the correction's box too (it belongs to the message
    form): the reply is sent, the correction comes back in its box, not sent."""
    box, _code, _passphrase = typed_box(
        reporter_app, *typed_report(env, f"Balasan {uuid.uuid4().hex[:8]}")
    )
    correction = "Bukan loket 3, tetapi loket 4."
    data = {**form_tokens(box, "/mailbox"), "correction": correction, "body": "Ada saksi."}
    sent = box.post("/mailbox/messages", data=data)
    page = html.unescape(sent.get_data(as_text=True))
    assert sent.status_code == 200
    assert "Ada saksi." in page and 'id="transcript"' in page
    assert re.search(r'<textarea[^>]*name="correction"[^>]*>\s*' + re.escape(correction), page)


def test_a_web_report_has_no_typed_report_to_answer(people, reporter_app):
    code, passphrase, _ = submit(reporter_app.test_client())
    box = mailbox_client(reporter_app, code, passphrase)
    refused = answer_transcript(box, "confirm")
    assert refused.status_code == 400
    assert "Tidak ada laporan yang diketik petugas" in refused.get_data(as_text=True)


def test_a_web_report_shows_investigators_nothing_about_a_transcript(
    people, reporter_app, database_url, clients
):
    title = f"Dari web {uuid.uuid4().hex[:8]}"
    submit(reporter_app.test_client(), title=title)
    investigator = clients["pemeriksa1"]
    report_id = report_id_of(database_url, title, investigator)
    for path in (f"/reports/{report_id}", f"/reports/{report_id}/print"):
        page = investigator.get(path).get_data(as_text=True)
        assert "Transkrip" not in page and 'id="transcript-state"' not in page


def test_a_refused_correction_keeps_what_was_typed(env, people, reporter_app, database_url):
    box, _code, _passphrase = typed_box(reporter_app, *typed_report(env, "Koreksi ditolak"))
    empty = answer_transcript(box, "correct", "   ")
    assert empty.status_code == 400
    assert "Tuliskan dulu apa yang perlu dikoreksi" in empty.get_data(as_text=True)
    too_long = "Panjang sekali. " * (TEXT_LIMIT // 16 + 1)
    refused = answer_transcript(box, "correct", too_long)
    assert refused.status_code == 400
    assert too_long.strip() in html.unescape(refused.get_data(as_text=True))
    # A form token from another session: the correction comes back in its box.
    other = reporter_app.test_client()
    foreign = box.post(
        "/mailbox/transcript",
        data={
            "csrf_token": csrf(other, "/mailbox/login"),
            "answer": "correct",
            "correction": "Simpan ini",
        },
    )
    assert foreign.status_code == 400
    assert re.search(
        r'<textarea[^>]*name="correction"[^>]*>\s*Simpan ini', foreign.get_data(as_text=True)
    )
    # Answered the other way meanwhile: the text waits in the message box.
    assert answer_transcript(box, "confirm").status_code == 303
    late = answer_transcript(box, "correct", "Masih ada yang salah")
    assert late.status_code == 409
    page = late.get_data(as_text=True)
    assert re.search(r'<textarea[^>]*name="body"[^>]*>\s*Masih ada yang salah', page)
    # ... and so does one whose form token was refused, the question gone meanwhile.
    foreign = box.post(
        "/mailbox/transcript",
        data={
            "csrf_token": csrf(other, "/mailbox/login"),
            "answer": "correct",
            "correction": "Tetap disimpan",
        },
    )
    assert foreign.status_code == 400
    page = foreign.get_data(as_text=True)
    assert re.search(r'<textarea[^>]*name="body"[^>]*>\s*Tetap disimpan', page)
    assert 'name="correction"' not in page


def test_a_correction_sent_after_the_session_ended_comes_back_on_the_sign_in_page(
    env, people, reporter_app, database_url
):
    box, code, passphrase = typed_box(reporter_app, *typed_report(env, "Sesi habis"))
    token = csrf(box, "/mailbox")
    other = mailbox_client(reporter_app, code, passphrase)
    assert change_passphrase(other, code, passphrase).status_code == 200  # ends box's session
    response = box.post(
        "/mailbox/transcript",
        data={"csrf_token": token, "answer": "correct", "correction": "Koreksi tertahan"},
    )
    assert response.status_code == 200
    assert "Koreksi tertahan" in response.get_data(as_text=True)
    assert 'id="login-form"' in response.get_data(as_text=True)


# --- the new code of a typed report (issue 18, review) -----------------------------------

SLIP_TEXT = "Petugas loket meminta uang Rp 50.000"  # what typed_report's operator typed
NEW_CODE_PAGE = "/mailbox/passphrase"


def take_code(client, passphrase: str = ""):
    return client.post(
        NEW_CODE_PAGE,
        data={
            **form_tokens(client, NEW_CODE_PAGE),
            "passphrase": passphrase,
            "passphrase_confirm": passphrase,
        },
    )


def test_the_first_sign_in_of_a_typed_report_shows_only_the_new_code_page(
    env, people, reporter_app, database_url
):
    """The slip's code and passphrase (which the operator saw) open nothing of the
    report, its identity or its thread: every mailbox page leads to the new-code page,
    and nothing can be sent or answered from the slip's session."""
    title = f"Slip {uuid.uuid4().hex[:8]}"
    box = mailbox_client(reporter_app, *typed_report(env, title))
    for path in ("/mailbox", f"/mailbox/attachments/{uuid.uuid4()}", "/mailbox?sent=1"):
        response = box.get(path)
        assert response.status_code == 303, path
        assert response.headers["Location"].endswith(NEW_CODE_PAGE)
    page = box.get(NEW_CODE_PAGE)
    shown = page.get_data(as_text=True)
    assert page.status_code == 200 and 'id="new-code-form"' in shown
    assert title not in shown and SLIP_TEXT not in shown and 'name="code"' not in shown
    assert 'name="current_passphrase"' not in shown and "<script" not in shown
    assert "Ambil kode laporan Anda sendiri" in text_of(shown)  # Bahasa Indonesia first
    assert len(shown.encode()) <= 100_000
    tokens = form_tokens(box, NEW_CODE_PAGE)
    with database(database_url) as session:
        before = session.scalar(select(func.count()).select_from(Message))
    # Neither the transcript's answer nor a message goes through before the new code.
    for path, data in (
        ("/mailbox/transcript", {"answer": "confirm"}),
        ("/mailbox/transcript", {"answer": "correct", "correction": "Bukan loket 3."}),
        ("/mailbox/messages", {"body": "Pesan dari slip"}),
    ):
        response = box.post(path, data={**tokens, **data})
        assert response.status_code == 303, path
        assert response.headers["Location"].endswith(NEW_CODE_PAGE)
    with database(database_url) as session:
        assert session.scalar(select(func.count()).select_from(Message)) == before


def test_taking_the_new_code_kills_the_slip_and_opens_the_mailbox_with_the_new_code(
    env, people, reporter_app, database_url
):
    title = f"Kode baru {uuid.uuid4().hex[:8]}"
    slip_code, slip_passphrase = typed_report(env, title)
    box = mailbox_client(reporter_app, slip_code, slip_passphrase)
    changed_before = metric(database_url, "passphrase_changed")

    taken = take_code(box)

    page = taken.get_data(as_text=True)
    assert taken.status_code == 200 and 'id="new-code-taken"' in page
    code = re.search(r'id="report-code">([^<]+)<', page).group(1)
    passphrase = html.unescape(re.search(r'id="report-passphrase">([^<]+)<', page).group(1))
    assert re.fullmatch(r"\d{4} \d{4} \d{4} \d{4}", code) and code != slip_code
    assert len(passphrase.split()) == 7 and passphrase != slip_passphrase
    words = text_of(page)
    assert "Tuliskan kode laporan baru Anda sekarang" in words  # write it down
    assert "Kode pada slip dari loket tidak berlaku lagi" in words  # the slip is dead
    assert 'id="print-passphrase"' in page and "no-print" in page  # print-friendly
    assert len(page.encode()) <= 100_000 and "<script" not in page
    assert metric(database_url, "passphrase_changed") == changed_before + 1
    # This browser goes on to the mailbox, the report shown and the question asked.
    mailbox = box.get("/mailbox").get_data(as_text=True)
    assert title in mailbox and 'id="transcript"' in mailbox
    # The slip: refused like any code nobody was given, with the same words.
    unknown = f"{(int(slip_code.replace(' ', '')) + 1) % 10**16:016d}"
    refused_slip = login(reporter_app.test_client(), slip_code, slip_passphrase)
    refused_unknown = login(reporter_app.test_client(), unknown, slip_passphrase)
    assert refused_slip.status_code == refused_unknown.status_code == 400
    assert text_of(refused_slip.get_data(as_text=True)) == text_of(
        refused_unknown.get_data(as_text=True)
    )
    assert login(reporter_app.test_client(), code, slip_passphrase).status_code == 400
    # The new code and passphrase open the same mailbox, and the typed report is
    # answered there.
    again = mailbox_client(reporter_app, code, passphrase)
    assert title in again.get("/mailbox").get_data(as_text=True)
    confirmed = answer_transcript(again, "confirm")
    assert confirmed.headers["Location"].endswith("/mailbox?transcript=confirm")


def test_a_chosen_passphrase_is_never_shown_and_opens_the_new_code(env, people, reporter_app):
    box = mailbox_client(reporter_app, *typed_report(env, "Frasa sendiri"))
    short = take_code(box, "pendek")  # refused: nothing changed, the slip still works
    assert short.status_code == 400 and 'id="new-code-form"' in short.get_data(as_text=True)
    assert box.get("/mailbox").headers["Location"].endswith(NEW_CODE_PAGE)
    taken = take_code(box, NEW_PASSPHRASE)
    page = taken.get_data(as_text=True)
    assert (
        taken.status_code == 200
        and NEW_PASSPHRASE not in page
        and 'id="report-passphrase"' not in page
    )
    code = re.search(r'id="report-code">([^<]+)<', page).group(1)
    assert login(reporter_app.test_client(), code, NEW_PASSPHRASE).status_code == 303


def test_a_reload_of_the_new_code_page_shows_the_same_code_and_changes_it_once(
    env, people, reporter_app
):
    box = mailbox_client(reporter_app, *typed_report(env, "Muat ulang"))
    data = {**form_tokens(box, NEW_CODE_PAGE), "passphrase": "", "passphrase_confirm": ""}
    first = box.post(NEW_CODE_PAGE, data=data).get_data(as_text=True)
    code = re.search(r'id="report-code">([^<]+)<', first).group(1)
    passphrase = html.unescape(re.search(r'id="report-passphrase">([^<]+)<', first).group(1))

    reloaded = box.post(NEW_CODE_PAGE, data=data)  # the browser's reload sends it again

    page = reloaded.get_data(as_text=True)
    assert reloaded.status_code == 200 and 'id="new-code-again"' in page
    assert re.search(r'id="report-code">([^<]+)<', page).group(1) == code
    assert passphrase in html.unescape(page)
    assert login(reporter_app.test_client(), code, passphrase).status_code == 303
    # Another browser sending the same form sees no code (sealed for this session only).
    other = reporter_app.test_client()
    stolen = other.post(NEW_CODE_PAGE, data=data).get_data(as_text=True)
    assert code not in stolen and passphrase not in html.unescape(stolen)


def test_every_other_session_is_signed_out_by_the_new_code(env, people, reporter_app):
    """The operator (or anyone who saw the slip) signed in first: the reporter's new
    code ends that session, and it can take no code of its own afterwards."""
    slip = typed_report(env, "Sesi petugas")
    operator = mailbox_client(reporter_app, *slip)
    operator_tokens = form_tokens(operator, NEW_CODE_PAGE)
    reporter = mailbox_client(reporter_app, *slip)

    assert take_code(reporter).status_code == 200

    assert operator.get("/mailbox").headers["Location"].endswith("/mailbox/login")
    late = operator.post(
        NEW_CODE_PAGE, data={**operator_tokens, "passphrase": "", "passphrase_confirm": ""}
    )
    assert late.status_code == 303 and late.headers["Location"].endswith("/mailbox/login")
    assert reporter.get("/mailbox").status_code == 200


def test_the_new_code_page_keeps_the_language_and_a_refused_form_token_changes_nothing(
    env, people, reporter_app
):
    box = mailbox_client(reporter_app, *typed_report(env, "Bahasa kode baru"))
    foreign = box.post(
        NEW_CODE_PAGE,
        data={
            "csrf_token": csrf(reporter_app.test_client(), "/mailbox/login"),
            "passphrase": "",
            "passphrase_confirm": "",
        },
    )
    assert foreign.status_code == 400
    assert 'id="new-code-form"' in foreign.get_data(as_text=True)
    assert box.get("/mailbox").headers["Location"].endswith(NEW_CODE_PAGE)  # nothing changed
    data = {**form_tokens(box, NEW_CODE_PAGE), "passphrase": "", "passphrase_confirm": ""}
    page = box.post(NEW_CODE_PAGE + "?lang=en", data=data).get_data(as_text=True)
    assert "Your new report code" in page
    # The way on to the mailbox is a GET form: the language goes with it as a field.
    assert '<input type="hidden" name="lang" value="en">' in page
    assert box.get("/mailbox?lang=en&written=yes").status_code == 200


def test_a_web_report_is_never_asked_for_a_new_code(people, reporter_app):
    code, passphrase, _ = submit(reporter_app.test_client())
    box = mailbox_client(reporter_app, code, passphrase)
    assert box.get("/mailbox").status_code == 200
    page = box.get(NEW_CODE_PAGE).get_data(as_text=True)
    assert 'id="passphrase-form"' in page and 'id="new-code-form"' not in page


def test_no_code_or_passphrase_of_a_new_code_reaches_a_log(
    env, people, reporter_app, database_url, caplog, capfd
):
    caplog.set_level(logging.DEBUG)
    slip_code, slip_passphrase = typed_report(env, "Tanpa jejak kode")
    box = mailbox_client(reporter_app, slip_code, slip_passphrase)
    chosen = f"frasa kanari pilihan {uuid.uuid4().hex[:8]}"
    page = take_code(box, chosen).get_data(as_text=True)
    code = re.search(r'id="report-code">([^<]+)<', page).group(1)
    assert login(reporter_app.test_client(), slip_code, slip_passphrase).status_code == 400
    assert login(reporter_app.test_client(), code, chosen).status_code == 303
    out, err = capfd.readouterr()
    logged = caplog.text + out + err
    secrets = (slip_code, slip_code.replace(" ", ""), slip_passphrase, code, chosen)
    for secret in (*secrets, code.replace(" ", "")):
        assert secret not in logged
    stored = b"".join(every_database_value(database_url))
    for secret in (slip_code.replace(" ", ""), code.replace(" ", ""), chosen, slip_passphrase):
        assert secret.encode() not in stored


# --- nothing logged ------------------------------------------------------------------


def test_no_code_passphrase_or_correction_reaches_a_log_or_the_database(
    env, people, reporter_app, database_url, caplog, capfd
):
    caplog.set_level(logging.DEBUG)
    slip_code, slip_passphrase = typed_report(env, "Tanpa jejak")
    box, code, passphrase = typed_box(reporter_app, slip_code, slip_passphrase)
    tag = uuid.uuid4().hex[:10]
    correction = f"koreksi-kanari-{tag}"
    new = f"frasa kanari baru {tag}"
    assert answer_transcript(box, "correct", correction).status_code == 303
    assert change_passphrase(box, code, passphrase, new="salah satu").status_code == 400
    assert change_passphrase(box, code, "bukan yang benar sama sekali", new=new).status_code == 400
    assert change_passphrase(box, code, passphrase, new=new).status_code == 200
    out, err = capfd.readouterr()
    logged = caplog.text + out + err
    digits = code.replace(" ", "")
    slip_digits = slip_code.replace(" ", "")
    for secret in (digits, code, passphrase, new, correction, tag, slip_code, slip_digits):
        assert secret not in logged
    assert slip_passphrase not in logged
    stored = b"".join(every_database_value(database_url))
    for secret in (digits, passphrase, new, correction, tag, slip_digits, slip_passphrase):
        assert secret.encode() not in stored


def test_a_refused_form_token_before_the_new_code_leads_to_the_new_code_page(
    env, people, reporter_app
):
    """Second review of issue 18: a mailbox still opened by the slip's code, sending a
    message or a correction with another session's (or an altered) form token, was
    answered 500: the page that keeps the text asked for the mailbox, which leads to
    the new-code page by raising a redirect inside the token error's handler."""
    box = mailbox_client(reporter_app, *typed_report(env, "Token ditolak"))
    other = reporter_app.test_client()
    foreign = TOKEN.search(other.get("/mailbox/login").get_data(as_text=True)).group(1)
    altered = "x" + TOKEN.search(box.get(NEW_CODE_PAGE).get_data(as_text=True)).group(1)[1:]
    for path, typed in (
        ("/mailbox/messages", {"body": "Pesan sebelum kode baru"}),
        ("/mailbox/transcript", {"answer": "correct", "correction": "Koreksi sebelum kode baru"}),
    ):
        for token in (foreign, altered):
            answer = box.post(
                path, data={"csrf_token": token, **typed}, headers={"Sec-Fetch-Site": "same-origin"}
            )
            assert answer.status_code == 303, (path, answer.status_code)
            assert answer.headers["Location"].endswith(NEW_CODE_PAGE)
