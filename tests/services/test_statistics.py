"""Compliance statistics (:mod:`sipadu.services.statistics`, issue 19 item 2): every
figure of a known history (tests/stats_history.py, worked out by hand), the facts a
report written through the real use cases gives, and the definitions' edge cases. Real
database, rolled back after each test."""

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from itertools import pairwise

import pytest
from sqlalchemy import select, update

from sipadu.accountability.audit import Action
from sipadu.persistence.models import Report, Role
from sipadu.services import cases, grants
from sipadu.services.intake import Channel
from sipadu.services.statistics import (
    CaseFacts,
    IdentityCounts,
    PeriodKind,
    case_facts,
    indicators,
    periods,
    year_statistics,
)
from sipadu.settings.config import DatePrecision
from tests import stats_history as history
from tests.services.helpers import TODAY, held, person, route, service_submit
from tests.stats_history import AS_OF, NO_DUE

D = date


@pytest.fixture
def seeded(session):
    return history.seed(session)


def test_the_facts_of_a_year_are_the_history_sorted_without_ids(session, seeded):
    assert case_facts(session, D(2023, 1, 1), D(2024, 1, 1)) == [
        CaseFacts("abuse_of_authority", D(2023, 2, 6), D(2023, 2, 13), None, D(2023, 5, 7),
                  None, None, "received", False),
        CaseFacts("abuse_of_authority", D(2023, 2, 20), NO_DUE, None, NO_DUE, None, None,
                  "received", False),
        CaseFacts("administrative_violation", D(2023, 4, 3), D(2023, 4, 10), D(2023, 4, 10),
                  D(2023, 7, 2), D(2023, 4, 24), None, "investigating", False),
        CaseFacts("administrative_violation", D(2023, 4, 17), D(2023, 4, 24), D(2023, 4, 18),
                  D(2023, 7, 16), D(2023, 8, 7), None, "referred", False),
        CaseFacts("kkn", D(2023, 1, 2), D(2023, 1, 9), D(2023, 1, 5), D(2023, 4, 2),
                  D(2023, 1, 16), D(2023, 3, 1), "closed_substantiated", False),
        CaseFacts("kkn", D(2023, 1, 16), D(2023, 1, 23), D(2023, 1, 30), D(2023, 4, 16),
                  D(2023, 5, 1), D(2023, 5, 1), "closed_unsubstantiated", True),
        CaseFacts("kkn", D(2023, 12, 25), None, D(2023, 12, 27), None, None, None,
                  "in_review", False),
        CaseFacts("staff_discipline", D(2023, 7, 3), D(2023, 7, 10), D(2023, 7, 4),
                  D(2023, 10, 2), D(2023, 7, 4), D(2023, 7, 4), "rejected", True),
    ]  # fmt: skip
    # the bounds: start included, end excluded
    assert [f.received_on for f in case_facts(session, D(2022, 12, 26), D(2023, 1, 2))] == [
        D(2022, 12, 26)
    ]


@pytest.mark.parametrize("kind", list(PeriodKind))
def test_every_figure_of_the_year_by_period_and_category(session, seeded, kind):
    found = year_statistics(session, kind, history.YEAR, AS_OF, DatePrecision.DAY)
    expected = {
        PeriodKind.MONTH: history.MONTHS,
        PeriodKind.QUARTER: history.QUARTERS,
        PeriodKind.YEAR: {1: history.YEAR_TOTAL},
    }[kind]
    assert [p.number for p in found.periods] == list(range(1, len(found.periods) + 1))
    assert len(found.periods) == {"month": 12, "quarter": 4, "year": 1}[kind]
    for span, row in zip(found.periods, found.by_period, strict=True):
        assert row.indicators == expected.get(span.number, history.NONE), span
    assert found.total.indicators == history.YEAR_TOTAL
    assert found.total.identity == history.ASKED_YEAR
    assert found.total.channels == history.CHANNELS_YEAR

    # by category, for the year: the sub-category counts as its parent
    assert {s: f.indicators for s, f in found.by_category[0].items()} == history.BY_CATEGORY
    assert {s: f.identity for s, f in found.by_category[0].items()} == (history.ASKED_BY_CATEGORY)
    assert all(f.channels is None for f in found.by_category[0].values())
    # by category and period: each period's categories add up to the period
    for span, row in zip(found.periods, found.by_period, strict=True):
        parts = found.by_category[span.number]
        assert sum(f.indicators.received for f in parts.values()) == row.indicators.received
        assert sum(f.identity.requested for f in parts.values()) == row.identity.requested


def test_identity_requests_and_channels_by_month(session, seeded):
    found = year_statistics(session, PeriodKind.MONTH, history.YEAR, AS_OF, DatePrecision.DAY)
    for span, row in zip(found.periods, found.by_period, strict=True):
        assert row.identity == history.ASKED_MONTHS.get(span.number, IdentityCounts()), span
        assert row.channels == history.channels_of(span.number), span
    january = found.by_category[1]
    assert january["kkn"].indicators == history.JAN
    assert january["kkn"].identity == history.ASKED_JAN
    assert january["abuse_of_authority"].indicators == history.NONE


def test_an_intake_counts_in_the_period_its_reports_coarsened_day_falls_in(session, seeded):
    """Saturday 1 April 2023: with week precision its report's day is Monday 27 March."""
    history._entry(
        session,
        Action.REPORT_INTAKE,
        datetime(2023, 4, 1, 10, tzinfo=UTC),
        detail={"channel": "email", "office": ""},
    )
    by_day = year_statistics(session, PeriodKind.MONTH, 2023, AS_OF, DatePrecision.DAY)
    by_week = year_statistics(session, PeriodKind.MONTH, 2023, AS_OF, DatePrecision.WEEK)
    assert by_day.by_period[3].channels["email"] == 1
    assert by_week.by_period[3].channels["email"] == 0
    assert by_week.by_period[2].channels["email"] == 1
    # more intakes than reports (the reports purged): web is not known
    assert by_week.by_period[2].channels["web"] is None


def test_facts_of_a_report_worked_through_the_use_cases(session, recovery):
    """Acknowledged, answered, rejected, reopened, its identity asked for: the facts are
    what the real writes store (dated TODAY, the services' day)."""
    investigator = person(session, "statistik_inv", Role.INVESTIGATOR)
    route(session, investigator)
    report = service_submit(session, recovery.public_key())
    keys = held(session, report, investigator)
    later = TODAY + timedelta(days=3)
    cases.change_status(session, keys, investigator.id, "in_review", "", later)
    cases.reply(session, keys, investigator.id, "Sedang kami periksa", later, DatePrecision.DAY)
    cases.change_status(session, keys, investigator.id, "rejected", "Bukan wewenang", later)
    cases.reopen(session, keys, investigator.id, "Ada bukti baru")
    grants.request_identity(
        session, report.report_id, investigator.account, "Perlu konfirmasi", recovery.public_key()
    )
    session.flush()
    stored = session.get(Report, report.report_id)
    assert stored is not None
    (facts,) = [f for f in case_facts(session, TODAY, TODAY + timedelta(days=1)) if f.reopened]
    assert facts == CaseFacts(
        "kkn", TODAY, stored.ack_due_on, later, stored.feedback_due_on, later, None,
        "in_review", True,
    )  # fmt: skip
    assert facts.ack_due_on is not None and facts.feedback_due_on is not None
    # an identity request counts by the (real) day it was made
    now = datetime.now(UTC)
    found = year_statistics(session, PeriodKind.YEAR, now.year, now.date(), DatePrecision.DAY)
    assert found.by_category[0]["kkn"].identity == IdentityCounts(1, 0, 0, 1)


def fact(**values) -> CaseFacts:
    base = CaseFacts("kkn", D(2025, 1, 1), None, None, None, None, None, "received", False)
    return replace(base, **values)


def test_the_definitions_at_their_edges():
    due = D(2025, 1, 8)
    on_the_day = fact(ack_due_on=due, acknowledged_on=due)
    a_day_late = fact(ack_due_on=due, acknowledged_on=due + timedelta(days=1))
    due_today = fact(ack_due_on=due)
    due_yesterday = fact(ack_due_on=due - timedelta(days=1))
    no_due_done = fact(acknowledged_on=due)
    no_due_open = fact()
    found = indicators(
        [on_the_day, a_day_late, due_today, due_yesterday, no_due_done, no_due_open], due
    )
    assert (found.ack_on_time, found.ack_late, found.ack_pending) == (2, 2, 2)
    assert (found.feedback_on_time, found.feedback_late, found.feedback_pending) == (0, 0, 6)
    assert found.received == 6
    assert found.median_days_to_ack == 7.0  # 7, 8, 7
    assert found.median_days_to_close is None
    assert indicators([], due) == history.NONE
    # feedback: the same rule with the first feedback
    late = fact(feedback_due_on=due, first_feedback_on=due + timedelta(days=2))
    assert indicators([late], due).feedback_late == 1


def test_periods_cover_the_year_without_gap():
    for kind in PeriodKind:
        spans = periods(kind, 2024)
        assert spans[0].start == D(2024, 1, 1) and spans[-1].end == D(2025, 1, 1)
        assert all(a.end == b.start for a, b in pairwise(spans))
    assert periods(PeriodKind.QUARTER, 2024)[1].start == D(2024, 4, 1)


def test_an_intake_channel_outside_the_list_is_not_counted(session, seeded):
    history._entry(
        session,
        Action.REPORT_INTAKE,
        datetime(2023, 1, 3, 10, tzinfo=UTC),
        detail={"channel": "pigeon", "office": ""},
    )
    found = year_statistics(session, PeriodKind.YEAR, 2023, AS_OF, DatePrecision.DAY)
    assert found.total.channels == history.CHANNELS_YEAR
    assert set(found.total.channels) == {"web", *(c.value for c in Channel if c != "web")}


def test_a_malformed_message_day_is_no_feedback(session, seeded):
    """A database writer's text in a staff message's day (SQLite stores anything):
    read as no day, never a 500 (sipadu.persistence.checked)."""
    if session.get_bind().dialect.name != "sqlite":
        pytest.skip("PostgreSQL enforces the column type")
    from sqlalchemy import text

    session.execute(
        text("UPDATE message SET sent_on = 'nonsense' WHERE report_id = :r"),
        {"r": seeded["R10"].hex},
    )
    session.execute(update(Report).where(Report.id == seeded["R10"]).values(status="referred"))
    (r10,) = [f for f in case_facts(session, D(2023, 4, 17), D(2023, 4, 18))]
    assert r10.first_feedback_on is None


def test_the_pages_counting_agrees_with_the_contract_on_a_random_history(session):
    """The page's figures (classified and counted by the database) are those of
    :func:`indicators` over :func:`case_facts`, grouped by period and category: the
    auditors' page and the public report agree by construction."""
    import random

    from sipadu.persistence.models import Category

    history.seed(session)  # categories, a sub-category, and the 2023 history
    rng = random.Random(1937)
    ids = {c.slug: c.id for c in session.scalars(select(Category))}
    statuses = ["received", "in_review", "investigating", "closed_substantiated",
                "closed_unsubstantiated", "rejected", "referred"]  # fmt: skip

    def maybe(day: date, spread: int) -> date | None:
        return None if rng.random() < 0.25 else day + timedelta(days=rng.randrange(spread))

    for _ in range(300):
        received = D(2022, 1, 1) + timedelta(days=rng.randrange(365))
        report = history._report(
            session, ids, category=rng.choice(list(ids)), received_on=received,
            ack_due_on=maybe(received, 14), acknowledged_on=maybe(received, 20),
            feedback_due_on=maybe(received, 120), closed_on=maybe(received, 200),
            # the first closing (0028): kept by a reopening, else empty (rows before it)
            first_closed_on=maybe(received, 200) if rng.random() < 0.5 else None,
            status=rng.choice(statuses),
        )  # fmt: skip
        for _m in range(rng.choice([0, 0, 1, 2])):
            author = rng.choice(["staff", "reporter"])
            history._message(session, report, author, received + timedelta(rng.randrange(150)))
        if rng.random() < 0.1:
            history._entry(
                session, Action.REPORT_REOPEN, datetime(2022, 6, 1, tzinfo=UTC), report_id=report
            )
    as_of = D(2022, 9, 1)
    facts = case_facts(session, D(2022, 1, 1), D(2023, 1, 1))
    assert len(facts) == 301  # the random reports and the history's one of 2022
    for kind in PeriodKind:
        found = year_statistics(session, kind, 2022, as_of, DatePrecision.DAY)
        assert found.total.indicators == indicators(facts, as_of)
        for span, row in zip(found.periods, found.by_period, strict=True):
            cohort = [f for f in facts if span.start <= f.received_on < span.end]
            assert row.indicators == indicators(cohort, as_of), span
            for slug, part in found.by_category[span.number].items():
                assert part.indicators == indicators(
                    [f for f in cohort if f.category == slug], as_of
                ), (span, slug)
