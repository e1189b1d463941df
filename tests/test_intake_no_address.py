"""An intake slip must say where the reporter follows the report (issue 18 item 1;
docs/intake.md, "Configuration"). With neither SIPADU_WEB_ADDRESS nor
SIPADU_ONION_ADDRESS (as under ``make run`` before), the report was stored and the slip
said "open the address below" with nothing below: now the operator's form says so from
the start and refuses every report before anything is stored, everything typed kept."""

import html
import io
import re

import pytest
from sqlalchemy import func, select

from sipadu.persistence.models import Report
from tests.helpers import config_env, database, form_tokens, signed_in, unlinked_blobs

OFFICE = "Kantor Inspektorat"
NOTICE = "portal's address is not configured"


@pytest.fixture(scope="module")
def env(instance_path, database_url, redis_url) -> dict:
    return config_env(instance_path, database_url, redis_url, SIPADU_INTAKE_OFFICES=OFFICE)


@pytest.fixture(scope="module")
def operator(staff_app, people):
    return signed_in(staff_app, people["petugas1"])


def count_reports(database_url) -> int:
    with database(database_url) as session:
        return session.scalar(select(func.count()).select_from(Report))


def test_the_form_says_at_once_that_no_report_can_be_taken_in(operator):
    page = html.unescape(operator.get("/intake/report?lang=en").get_data(as_text=True))
    assert page.count(NOTICE) == 1 and 'id="notice"' in page  # once: the layout's notice
    assert "SIPADU_WEB_ADDRESS" not in page


def test_a_report_is_refused_before_anything_is_stored_and_the_text_kept(operator, database_url):
    before, staged = count_reports(database_url), unlinked_blobs(database_url)
    body = {
        **form_tokens(operator, "/intake/report"),
        "channel": "phone",
        "office": OFFICE,
        "category": "kkn",
        "title": "Pungutan tanpa alamat",
        "what": "Petugas meminta uang.",
        "attachments": [(io.BytesIO(b"%PDF-1.4 bukti"), "bukti.pdf", "application/pdf")],
    }
    response = operator.post(
        "/intake/report?lang=en", data=body, content_type="multipart/form-data"
    )
    page = html.unescape(response.get_data(as_text=True))
    assert response.status_code == 503
    assert NOTICE in page and 'id="report-code"' not in page and 'id="intake-slip"' not in page
    assert "Pungutan tanpa alamat" in page and "Petugas meminta uang." in page
    assert re.search(r'<input[^>]*checked[^>]*value="phone"|value="phone"[^>]*checked', page)
    assert count_reports(database_url) == before
    assert unlinked_blobs(database_url) == staged
