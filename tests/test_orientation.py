"""Trust and orientation on every reporter page (issue 16 item 8): each page names the
office that runs the portal (configured), its walk-in contact and legal basis, and the
other routes (KPK, Ombudsman RI, LPSK) in the page's language; the landing page and the
form say what happens next and when; the mailbox gives the report's own due dates."""

import re
from dataclasses import replace
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from sipadu.persistence.models import Report
from sipadu.services.dates import today
from sipadu.settings.config import Bilingual, Institution, load_config
from tests.helpers import csrf, database, init_demo, login, submit

OFFICE = Institution(
    name="Inspektorat Kota Contohan",
    description=Bilingual("Pengawas internal Kota Contohan.", "Internal oversight of Contohan."),
    address="Jl. Merdeka No. 5, Contohan",
    hours=Bilingual("Senin-Jumat 08.00-16.00 WIB", "Monday to Friday 08:00-16:00 WIB"),
    phone="(0274) 123456",
    legal_basis=Bilingual("Peraturan Wali Kota Nomor 12 Tahun 2023", "Mayor Regulation 12/2023"),
)
# What each language must say on every page, besides the office's language-free details.
WORDS = {
    "id": ["Pengawas internal Kota Contohan.", "Senin-Jumat 08.00-16.00 WIB", "Melapor langsung",
           "Dasar hukum", "Peraturan Wali Kota Nomor 12 Tahun 2023", "Jalur lain",
           "perlindungan saksi"],
    "en": ["Internal oversight of Contohan.", "Monday to Friday 08:00-16:00 WIB",
           "To report in person", "Legal basis", "Mayor Regulation 12/2023", "Other routes",
           "witness protection"],
}  # fmt: skip
EVERYWHERE = ["Inspektorat Kota Contohan", "Jl. Merdeka No. 5, Contohan", "(0274) 123456",
              "kpk.go.id", "ombudsman.go.id", "lpsk.go.id"]  # fmt: skip
NEXT = {
    "id": ["Apa yang terjadi selanjutnya", "Paling lambat 7 hari", "Paling lambat 90 hari"],
    "en": ["What happens next", "Within 7 days", "Within 90 days"],
}
MONTHS = {
    "id": "Januari Februari Maret April Mei Juni Juli Agustus September Oktober November "
    "Desember".split(),
    "en": "January February March April May June July August September October November "
    "December".split(),
}
PAGE_LIMIT = 100_000  # bytes: every reporter page stays small over Tor


@pytest.fixture(scope="module")
def config(env):
    init_demo(env)
    return replace(load_config(env), institution=OFFICE)


def written(day, lang: str) -> str:
    """A date as a reader of ``lang`` writes it, spelled out here, not by Babel."""
    month = MONTHS[lang][day.month - 1]
    return f"{day.day} {month} {day.year}" if lang == "id" else f"{month} {day.day}, {day.year}"


def says_who_and_where_else(page: str, lang: str, name: str) -> None:
    for text in EVERYWHERE + WORDS[lang]:
        assert text in page, f"{name} ({lang}) does not say {text!r}"
    # the other offices' sites are text, never links: nothing leads away from the portal
    assert not re.search(r'href="(https?:)?//', page), name
    assert len(page.encode()) <= PAGE_LIMIT, name
    print(f"{name} ({lang}): {len(page.encode())} bytes")


@pytest.mark.parametrize("lang", ["id", "en"])
def test_every_reporter_page_names_the_office_and_the_other_routes(reporter_app, lang):
    client = reporter_app.test_client()
    q = f"?lang={lang}"
    pages = {}
    for path in ("/", "/report", "/mailbox/login"):
        response = client.get(path + q)
        assert response.status_code == 200
        pages[path] = response.get_data(as_text=True)
    for name in ("/", "/report"):  # the landing page and the form say what happens next
        for text in NEXT[lang]:
            assert text in pages[name], f"{name} ({lang}) does not say {text!r}"
    code, passphrase, pages["code page"] = submit(client)
    if lang == "en":  # the code page in English: its own language switch
        switched = client.post(
            "/report/receipt?lang=en",
            data={
                "csrf_token": csrf(client, "/mailbox/login"),
                "code": code,
                "passphrase": passphrase,
            },
        )
        pages["code page"] = switched.get_data(as_text=True)
    assert login(client, code, passphrase).status_code == 303
    pages["/mailbox"] = client.get("/mailbox" + q).get_data(as_text=True)
    assert code.replace(" ", "") not in pages["/mailbox"].replace(" ", "")
    for name, page in pages.items():
        says_who_and_where_else(page, lang, name)


@pytest.mark.parametrize("lang", ["id", "en"])
def test_the_mailbox_says_by_which_dates_the_reporter_hears_back(reporter_app, database_url, lang):
    client = reporter_app.test_client()
    code, passphrase, _ = submit(client, title=f"Tenggat {lang}")
    assert login(client, code, passphrase).status_code == 303
    received = today()  # day precision, calendar days: the defaults
    ack, feedback = received + timedelta(days=7), received + timedelta(days=90)
    page = client.get(f"/mailbox?lang={lang}").get_data(as_text=True)
    assert written(ack, lang) in page and written(feedback, lang) in page
    assert 'id="ack-due"' in page and 'id="feedback-due"' in page
    if lang == "id":
        assert f"paling lambat {written(ack, 'id')}" in page

    with database(database_url) as session:  # the stored dates are what is shown
        ids = list(session.scalars(select(Report.id).where(Report.ack_due_on == ack)))
        assert ids
        session.execute(update(Report).where(Report.id.in_(ids)).values(status="in_review"))
        session.commit()
    page = client.get(f"/mailbox?lang={lang}").get_data(as_text=True)
    assert 'id="ack-due"' not in page  # acknowledged: that date no longer binds
    assert written(feedback, lang) in page

    with database(database_url) as session:
        session.execute(
            update(Report).where(Report.id.in_(ids)).values(status="closed_unsubstantiated")
        )
        session.commit()
    page = client.get(f"/mailbox?lang={lang}").get_data(as_text=True)
    assert 'id="ack-due"' not in page and 'id="feedback-due"' not in page
