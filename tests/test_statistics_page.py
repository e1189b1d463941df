"""The compliance statistics page and its CSV (issue 19, item 2), on the staff portal:
every figure of the known history of 2023 (tests/stats_history.py) in the tables and
the CSV, for auditors and custodians only; each view and export an audit entry with the
period and a count; no content of a report and no date finer than the configured
precision on either; the charts are inline SVG that the CSP lets through."""

import csv
import html
import io
import json
import re
import uuid

import pytest
from sqlalchemy import select

from sipadu.persistence.models import AuditEvent
from sipadu.services.dates import today
from tests import stats_history as history
from tests.helpers import config_env, database, submit

EN = "lang=en"
MONTHS = [
    "January", "February", "March", "April", "May", "June", "July", "August", "September",
    "October", "November", "December",
]  # fmt: skip


@pytest.fixture(scope="module")
def env(instance_path, database_url, redis_url) -> dict:
    """Dates kept per month: nothing finer may appear."""
    return config_env(instance_path, database_url, redis_url, SIPADU_DATE_PRECISION="month")


@pytest.fixture(scope="module")
def seeded(database_url, people, reporter_app) -> dict:
    with database(database_url) as session:
        history.seed(session)
        session.commit()
    titles = [f"Judul rahasia statistik {uuid.uuid4().hex[:8]}" for _ in range(2)]
    for title in titles:
        submit(reporter_app.test_client(), title=title, what="Isi laporan yang rahasia")
    return {"titles": titles}


def number(value) -> str:
    if value is None:
        return "\u2013"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def table(page: str, table_id: str) -> list[tuple[str, list[str]]]:
    body = re.search(rf'<table id="{table_id}">(.*?)</table>', page, re.S)
    assert body, table_id
    rows = []
    for row in re.findall(r"<tr><th scope=\"row\"[^>]*>(.*?)</th>(.*?)</tr>", body.group(1), re.S):
        cells = [html.unescape(c) for c in re.findall(r"<td[^>]*>(.*?)</td>", row[1])]
        rows.append((html.unescape(row[0]), cells))
    return rows


def ack_cells(i) -> list[str]:
    return [number(v) for v in (
        i.received, i.ack_on_time, i.ack_late, i.ack_pending, i.median_days_to_ack
    )]  # fmt: skip


def feedback_cells(i) -> list[str]:
    return [number(v) for v in (
        i.feedback_on_time, i.feedback_late, i.feedback_pending, i.median_days_to_feedback
    )]  # fmt: skip


def outcome_cells(i) -> list[str]:
    return [number(v) for v in (
        i.closed_substantiated, i.closed_unsubstantiated, i.referred, i.rejected, i.reopened,
        i.median_days_to_close,
    )]  # fmt: skip


def identity_cells(c) -> list[str]:
    return [str(c.requested), str(c.approved), str(c.refused), str(c.pending)]


CHANNEL_ORDER = ("web", "walk_in", "phone", "letter", "email", "other")


def entries(database_url, action: str) -> list[AuditEvent]:
    with database(database_url) as session:
        found = list(session.scalars(select(AuditEvent).where(AuditEvent.action == action)))
        session.expunge_all()
    return found


def test_every_figure_by_month_on_the_page(clients, seeded, database_url):
    response = clients["auditor"].get(f"/statistics?kind=month&year=2023&{EN}")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    labels = [f"{m} 2023" for m in MONTHS] + ["Whole year"]
    expected = [history.MONTHS.get(n, history.NONE) for n in range(1, 13)] + [history.YEAR_TOTAL]
    assert table(page, "period-ack") == [
        (label, ack_cells(i)) for label, i in zip(labels, expected, strict=True)
    ]
    assert table(page, "period-feedback") == [
        (label, feedback_cells(i)) for label, i in zip(labels, expected, strict=True)
    ]
    assert table(page, "period-outcome") == [
        (label, outcome_cells(i)) for label, i in zip(labels, expected, strict=True)
    ]
    asked = [history.ASKED_MONTHS.get(n, history.IdentityCounts()) for n in range(1, 13)]
    assert table(page, "period-identity") == [
        (label, identity_cells(c))
        for label, c in zip(labels, [*asked, history.ASKED_YEAR], strict=True)
    ]
    channels = [history.channels_of(n) for n in range(1, 13)] + [history.CHANNELS_YEAR]
    assert table(page, "period-channel") == [
        (label, [str(c[k]) for k in CHANNEL_ORDER])
        for label, c in zip(labels, channels, strict=True)
    ]
    # by category for the whole year, in words, sorted by them, the sub-category in kkn
    names = {
        "Abuse of authority": "abuse_of_authority",
        "Administrative violation": "administrative_violation",
        "Corruption, collusion or nepotism (KKN)": "kkn",
        "Staff discipline violation": "staff_discipline",
    }
    rows = table(page, "category-ack")
    assert [label for label, _cells in rows] == [*sorted(names), "All categories"]
    for label, cells in rows[:-1]:
        assert cells == ack_cells(history.BY_CATEGORY[names[label]]), label
    assert rows[-1][1] == ack_cells(history.YEAR_TOTAL)
    for label, cells in table(page, "category-outcome")[:-1]:
        assert cells == outcome_cells(history.BY_CATEGORY[names[label]]), label
    for label, cells in table(page, "category-feedback")[:-1]:
        assert cells == feedback_cells(history.BY_CATEGORY[names[label]]), label
    for label, cells in table(page, "category-identity")[:-1]:
        assert cells == identity_cells(history.ASKED_BY_CATEGORY[names[label]]), label
    # the charts: inline SVG, a bar segment per non-zero count, colours by class only
    assert page.count("<svg") == 2
    assert 'class="bar-ok"' in page and "style=" not in page and "<script" not in page
    assert "<title>Jan: on time 1</title>" in page
    assert "<title>Feb: late or overdue 1</title>" in page
    assert "script-src" not in response.headers["Content-Security-Policy"]


def test_quarters_and_one_quarters_categories(clients, seeded):
    page = clients["auditor"].get(f"/statistics?kind=quarter&year=2023&part=2&{EN}")
    text = page.get_data(as_text=True)
    assert page.status_code == 200
    labels = [f"Quarter {n} of 2023" for n in range(1, 5)] + ["Whole year"]
    expected = [history.QUARTERS[n] for n in range(1, 5)] + [history.YEAR_TOTAL]
    assert table(text, "period-ack") == [
        (label, ack_cells(i)) for label, i in zip(labels, expected, strict=True)
    ]
    rows = dict(table(text, "category-ack"))
    assert rows["Administrative violation"] == ack_cells(history.APR)
    assert rows["Corruption, collusion or nepotism (KKN)"] == ack_cells(history.NONE)
    assert rows["All categories"] == ack_cells(history.APR)
    year = clients["auditor"].get(f"/statistics?kind=year&year=2023&{EN}").get_data(as_text=True)
    assert table(year, "period-ack") == [
        ("2023", ack_cells(history.YEAR_TOTAL)),
        ("Whole year", ack_cells(history.YEAR_TOTAL)),
    ]


def test_every_figure_in_the_csv_and_each_download_recorded(clients, seeded, database_url):
    before = len(entries(database_url, "statistics.export"))
    response = clients["inspektur"].get(f"/statistics.csv?kind=month&year=2023&{EN}")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True))))
    head = rows[0]
    assert head[:3] == ["Period", "Category", "Received"]
    assert len(rows) == 1 + 13 * 5  # 12 months and the year, each: all, then 4 categories
    by = {(r[0], r[1]): dict(zip(head[2:], r[2:], strict=True)) for r in rows[1:]}

    def plain(value) -> str:
        return "" if value is None else f"{value:g}" if isinstance(value, float) else str(value)

    def check(cells: dict, i, asked, channels=None) -> None:
        assert [cells[h] for h in head[2:7]] == [plain(v) for v in (
            i.received, i.ack_on_time, i.ack_late, i.ack_pending, i.median_days_to_ack
        )]  # fmt: skip
        assert [cells[h] for h in head[7:11]] == [plain(v) for v in (
            i.feedback_on_time, i.feedback_late, i.feedback_pending, i.median_days_to_feedback
        )]  # fmt: skip
        assert [cells[h] for h in head[11:17]] == [plain(v) for v in (
            i.closed_substantiated, i.closed_unsubstantiated, i.referred, i.rejected,
            i.reopened, i.median_days_to_close,
        )]  # fmt: skip
        assert [cells[h] for h in head[17:21]] == identity_cells(asked)
        assert [cells[h] for h in head[21:]] == (
            [str(channels[k]) for k in CHANNEL_ORDER] if channels else [""] * 6
        )

    for n, month in enumerate(MONTHS, start=1):
        check(
            by[(f"{month} 2023", "All categories")],
            history.MONTHS.get(n, history.NONE),
            history.ASKED_MONTHS.get(n, history.IdentityCounts()),
            history.channels_of(n),
        )
    check(
        by[("Whole year", "All categories")],
        history.YEAR_TOTAL,
        history.ASKED_YEAR,
        history.CHANNELS_YEAR,
    )
    check(
        by[("Whole year", "Corruption, collusion or nepotism (KKN)")],
        history.BY_CATEGORY["kkn"],
        history.ASKED_BY_CATEGORY["kkn"],
    )
    check(by[("January 2023", "Corruption, collusion or nepotism (KKN)")], history.JAN,
          history.ASKED_JAN)  # fmt: skip
    check(by[("January 2023", "Abuse of authority")], history.NONE, history.IdentityCounts())
    # no cell a spreadsheet would run
    assert not any(cell[:1] in "=+-@\t\r" for row in rows for cell in row if cell)
    recorded = entries(database_url, "statistics.export")
    assert len(recorded) == before + 1
    assert recorded[-1].role == "custodian" and recorded[-1].report_id is None
    assert json.loads(recorded[-1].detail) == {"kind": "month", "year": 2023, "reports": 8}


def test_a_view_is_recorded_with_the_period_and_a_count_only(clients, seeded, database_url):
    clients["auditor"].get("/statistics?kind=quarter&year=2023")
    last = entries(database_url, "statistics.view")[-1]
    assert last.role == "auditor" and last.report_id is None
    assert json.loads(last.detail) == {"kind": "quarter", "year": 2023, "reports": 8}
    log = clients["auditor"].get(f"/audit?action=statistics.view&{EN}").get_data(as_text=True)
    assert "Compliance statistics viewed" in log and "The year 2023, by quarter: 8 reports." in log


@pytest.mark.parametrize("who", ["pemeriksa1", "admin", "petugas1"])
def test_others_are_refused(clients, seeded, who):
    for path in ("/statistics", "/statistics.csv?year=2023"):
        assert clients[who].get(path).status_code == 403, (who, path)
    assert 'id="statistics-link"' not in clients[who].get("/").get_data(as_text=True)


def test_auditors_and_custodians_find_it_from_their_home_page(clients, seeded):
    for who in ("auditor", "inspektur"):
        home = clients[who].get("/").get_data(as_text=True)
        assert 'id="statistics-link" ' in home or 'id="statistics-link">' in home, who
        assert 'href="/statistics"' in home


def test_no_content_no_slug_and_no_date_finer_than_the_precision(clients, seeded):
    """The reports of this year were submitted with a title and text: neither appears,
    nor any day (dates are kept per month here), nor an internal value."""
    year = today().year
    shown = []
    for lang in ("en", "id"):
        for path in (
            f"/statistics?kind=month&year={year}&lang={lang}",
            f"/statistics.csv?kind=month&year={year}&lang={lang}",
            f"/statistics?kind=month&year=2023&lang={lang}",
            f"/statistics.csv?kind=quarter&year=2023&lang={lang}",
        ):
            response = clients["auditor"].get(path)
            assert response.status_code == 200, path
            shown.append(response.get_data(as_text=True))
    this_year = clients["auditor"].get(f"/statistics?kind=year&year={year}&{EN}")
    assert dict(table(this_year.get_data(as_text=True), "period-ack"))[str(year)][0] == "2"
    for text in shown:
        for title in seeded["titles"]:
            assert title not in text
        assert "Isi laporan" not in text
        assert not re.search(r"\d{4}-\d{2}-\d{2}|\d{1,2}/\d{1,2}/\d{2,4}", text)
        assert not re.search(r"\b\d{1,2} (Jan|Feb|Mar|Apr|Mei|May|Jun|Jul)", text)
        for slug in (history.SUB, "abuse_of_authority", "closed_substantiated", "walk_in"):
            assert slug not in text
    # the Indonesian page is worded in Indonesian
    assert "Statistik kepatuhan" in shown[6]


def test_a_bad_choice_keeps_what_was_typed(clients, seeded):
    response = clients["auditor"].get(f"/statistics?kind=month&year=20x3&{EN}")
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert 'value="20x3"' in page and 'class="error"' in page
    assert clients["auditor"].get("/statistics?kind=decade&year=2023").status_code == 400
    # the last year whose periods all end within the calendar (9999's would end in 10000)
    for path in ("/statistics", "/statistics.csv"):
        for kind in ("month", "quarter", "year"):
            late = clients["auditor"].get(f"{path}?kind={kind}&year=9999&{EN}")
            assert late.status_code == 400, (path, kind)
            assert 'value="9999"' in late.get_data(as_text=True)
    assert clients["auditor"].get(f"/statistics?kind=year&year=9998&{EN}").status_code == 200


def test_a_label_a_spreadsheet_would_run_is_defused_in_the_csv(clients, seeded, database_url):
    """Admins cannot type such a label (sipadu.services.plain_text), but a row may hold
    one: its cell begins with an apostrophe, and the page shows it as text."""
    from sipadu.persistence.models import Category

    with database(database_url) as session:
        row = Category(id=uuid.uuid4(), slug="formula_test", label_en="=HYPERLINK(1)")
        session.add(row)
        session.commit()
    try:
        body = clients["auditor"].get(f"/statistics.csv?kind=year&year=2023&{EN}")
        cells = [c for r in csv.reader(io.StringIO(body.get_data(as_text=True))) for c in r]
        assert "'=HYPERLINK(1)" in cells and "=HYPERLINK(1)" not in cells
        page = clients["auditor"].get(f"/statistics?kind=year&year=2023&{EN}")
        assert "=HYPERLINK(1)" in page.get_data(as_text=True)
    finally:
        with database(database_url) as session:
            session.delete(session.get(Category, row.id))
            session.commit()
