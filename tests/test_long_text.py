"""A text field too long to receive loses nothing typed (G6, issue 13 item 9).

One field over the 500 KB a field may carry (or all the text of a request over 1 MiB)
was answered with a 413 page: everything typed in the form was gone. Now the field
arrives cut, the rest of it is read and dropped (memory stays bounded), and the form
comes back with every field kept, the cut one showing the part that arrived and saying,
in the reader's language, what to shorten. Nothing is stored."""

import re
import uuid

from tests.helpers import csrf, form_tokens, login, report_id_of, signed_in, submit

FIELD_BYTES = 500 * 1000  # Flask's MAX_FORM_MEMORY_SIZE: the most one field keeps
LONG = "Saya melihat sendiri pungutan itu. " * 20_000  # 700,000 characters


def _kept_start(page: str, text: str) -> bool:
    """The page shows the text's first part (as much as arrived), not all of it."""
    return text[: FIELD_BYTES - 100] in page and text not in page


def test_a_report_with_one_overlong_field_comes_back_whole(reporter_app, people):
    client = reporter_app.test_client()
    typed = {
        "category": "kkn",
        "title": "Pungutan liar di loket",
        "who": "Kepala loket",
        "where": "Kantor kecamatan",
        "identity": "Siti, 0812",
        "passphrase": "rahasia sekali untuk saya",
        "passphrase_confirm": "rahasia sekali untuk saya",
    }
    for lang, says in (("id", "terlalu panjang"), ("en", "too long to be received whole")):
        data = {**form_tokens(client, "/report"), **typed, "what": LONG}
        response = client.post(
            f"/report?lang={lang}", data=data, content_type="multipart/form-data"
        )
        page = response.get_data(as_text=True)
        assert response.status_code == 400, page[:300]
        for value in typed.values():
            if value != "kkn":
                assert value in page
        assert _kept_start(page, LONG)
        assert says in page.lower()
        assert "20000" in page or "20.000" in page  # how far to shorten it
        assert 'id="report-code"' not in page


def test_a_mailbox_message_too_long_to_receive_is_kept(reporter_app, people):
    code, passphrase, _ = submit(reporter_app.test_client())
    mailbox = reporter_app.test_client()
    assert login(mailbox, code, passphrase).status_code == 303
    response = mailbox.post(
        "/mailbox/messages?lang=en",
        data={**form_tokens(mailbox, "/mailbox"), "body": LONG},
        content_type="multipart/form-data",
    )
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert _kept_start(page, LONG) and "too long to be received whole" in page


def test_a_staff_reply_too_long_to_receive_is_kept(reporter_app, staff_app, people, database_url):
    """The staff forms are url-encoded: the whole body was refused past 1 MiB."""
    marker = f"Laporan panjang {uuid.uuid4().hex[:8]}"
    submit(reporter_app.test_client(), title=marker)
    investigator = signed_in(staff_app, people["pemeriksa1"])
    report_id = report_id_of(database_url, marker, investigator)
    reply = "Terima kasih atas laporannya, kami menelaah. " * 30_000  # 1.35 MB
    response = investigator.post(
        f"/reports/{report_id}/messages?lang=en",
        data={"csrf_token": csrf(investigator, f"/reports/{report_id}"), "body": reply},
    )
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert _kept_start(page, reply) and "too long to be received whole" in page
    assert reply[:200] not in investigator.get(f"/reports/{report_id}").get_data(as_text=True)


def test_a_body_over_the_request_limit_is_still_refused(reporter_app, people):
    """Only a field is cut: a body larger than the request limit is a 413, read no further."""
    client = reporter_app.test_client()
    reporter_app.config["MAX_CONTENT_LENGTH"] = 2 * FIELD_BYTES
    try:
        data = {**form_tokens(client, "/report"), "title": "x", "what": LONG * 2}
        response = client.post("/report", data=data, content_type="multipart/form-data")
    finally:
        reporter_app.config["MAX_CONTENT_LENGTH"] = reporter_app.extensions[
            "sipadu.config"
        ].max_request_bytes
    assert response.status_code == 413
    assert not re.search(r'name="title"', response.get_data(as_text=True))


def test_no_long_text_is_read_to_its_end_for_a_request_without_a_token(reporter_app, staff_app):
    """Before a valid token there is no form to give back: an over-long field is a 413
    at once, as before (multipart: the token comes first); a url-encoded body, whose
    token is checked only once it is read, is read to 8 MiB at most."""
    client = reporter_app.test_client()
    response = client.post(
        "/report", data={"what": LONG, "title": "x"}, content_type="multipart/form-data"
    )
    assert response.status_code == 413
    staff = staff_app.test_client()
    response = staff.post("/login", data={"username": "x" * (9 * 1024 * 1024)})
    assert response.status_code == 413
