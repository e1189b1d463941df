"""The auditors' compliance statistics for a year of 100,000 reports: page latency.

    .venv/bin/python benchmarks/stats.py [--reports 100000] [--runs 20] [--postgres URL]

Builds a fresh instance (SQLite in a temporary folder, or a throw-away database on the
PostgreSQL server given) with ``--reports`` reports received last year, spread over its
months and the four categories (a tenth in sub-categories), with statuses, deadlines,
acknowledgement and closing days as a real inspectorate's would be; a staff message on
60% of them (plus reporter messages), a reopening entry on 2%, an identity request on 1%
and an operator's intake entry on 10%. Nothing sealed is needed: the statistics read
none. Then it signs in as the demo auditor through the staff portal (in-process test
client) and times ``GET /statistics`` for that year by month (every table and chart,
the view audited and committed, the page rendered) and the CSV export. Baseline in the
same run: the bare aggregate SQL of the same counts (received, acknowledged on time /
late / pending per month and category, GROUP BY in the database, no medians, no audit,
no template). Target (issue 19): p95 of the page ≤ 500 ms on SQLite and on PostgreSQL.
Besides wall times: the page's CPU time in this process (on SQLite all of the work, the
database included; on PostgreSQL the server's share is not in it) and the machine's load
average before and after, since wall times on a shared machine rise with its load.
Last line: key=value figures.
"""

import os
import random
import statistics
import sys
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from sqlalchemy import case, create_engine, extract, func, insert, select, text
from sqlalchemy.engine import make_url

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from measure import demo_instance, percentile, run_reports_benchmark, timed

from sipadu import create_app
from sipadu.accountability import audit
from sipadu.accountability.audit import Action
from sipadu.persistence.db import make_engine, make_sessionmaker
from sipadu.persistence.models import (
    Category,
    IdentityRequest,
    Message,
    Report,
    StaffAccount,
)
from sipadu.services.statistics import PeriodKind, case_facts, indicators, year_statistics
from sipadu.settings.config import DatePrecision, load_config
from tests.helpers import sign_in

BATCH = 5000
CLOSED = ("closed_substantiated", "closed_unsubstantiated", "rejected")


def fill(database_url: str, count: int, year: int) -> None:
    engine = make_engine(database_url)
    rng = random.Random(19)
    with engine.begin() as connection:
        top = list(connection.scalars(select(Category.id).where(Category.parent_id.is_(None))))
        subs = []
        for n, parent in enumerate(top):
            sub = uuid.uuid4()
            connection.execute(
                insert(Category).values(
                    id=sub, slug=f"bench_sub_{n}", parent_id=parent, label_id="Sub", label_en="Sub"
                )
            )
            subs.append(sub)
        asker = connection.scalar(
            select(StaffAccount.id).where(StaffAccount.username == "pemeriksa1")
        )
    first = date(year, 1, 1)
    days = (date(year + 1, 1, 1) - first).days
    for start in range(0, count, BATCH):
        reports, messages, requests = [], [], []
        reopened = []
        for _ in range(start, min(start + BATCH, count)):
            report_id = uuid.uuid4()
            received = first + timedelta(days=rng.randrange(days))
            acked = (
                received + timedelta(days=rng.choice([1, 2, 3, 5, 7, 9, 14]))
                if rng.random() < 0.9
                else None
            )
            status = (
                "received" if acked is None else rng.choice(["in_review", "investigating", *CLOSED])
            )
            closed = (
                acked + timedelta(days=rng.randrange(1, 150))
                if acked and status in CLOSED
                else None
            )
            reports.append(
                {
                    "id": report_id,
                    "category_id": rng.choice(subs if rng.random() < 0.1 else top),
                    "status": status,
                    "received_on": received,
                    "key_epoch": 0,
                    "ack_due_on": received + timedelta(days=7),
                    "feedback_due_on": received + timedelta(days=90),
                    "acknowledged_on": acked,
                    "closed_on": closed,
                    "reporter_messages": 0,
                }
            )
            if acked is not None and rng.random() < 0.66:
                for _m in range(rng.choice([1, 1, 2, 3])):
                    messages.append(
                        {
                            "id": uuid.uuid4(),
                            "report_id": report_id,
                            "author": "staff",
                            "sent_on": acked + timedelta(days=rng.randrange(0, 120)),
                            "body": b"\x02" + rng.randbytes(40),
                        }
                    )
            if rng.random() < 0.3:
                messages.append(
                    {
                        "id": uuid.uuid4(),
                        "report_id": report_id,
                        "author": "reporter",
                        "sent_on": received,
                        "body": b"\x02" + rng.randbytes(40),
                    }
                )
            if rng.random() < 0.01:
                requests.append(
                    {
                        "id": uuid.uuid4(),
                        "report_id": report_id,
                        "account_id": asker,
                        "reason": b"\x02" + rng.randbytes(40),
                        "state": rng.choice(["pending", "approved", "refused"]),
                        "requested_at": datetime.combine(received, datetime.min.time(), UTC)
                        + timedelta(days=3, hours=rng.randrange(24)),
                    }
                )
            if rng.random() < 0.02:
                reopened.append(report_id)
        with engine.begin() as connection:
            connection.execute(insert(Report), reports)
            if messages:
                connection.execute(insert(Message), messages)
            if requests:
                connection.execute(insert(IdentityRequest), requests)
    # audit entries through the chain's own append (reopenings name their report;
    # intakes name none), a batch per transaction
    sessions = make_sessionmaker(engine)
    rng_days = random.Random(20)
    with sessions() as session:
        ids = list(session.scalars(select(Report.id)))
    chosen = rng_days.sample(ids, count // 50)
    for at in range(0, len(chosen), BATCH):
        with sessions() as session, session.begin():
            for report_id in chosen[at : at + BATCH]:
                audit.append(
                    session, "operator", "operator", Action.REPORT_REOPEN, report_id=report_id,
                    detail={"from": "rejected", "to": "in_review"},
                )  # fmt: skip
    for at in range(0, count // 10, BATCH):
        with sessions() as session, session.begin():
            for _ in range(min(BATCH, count // 10 - at)):
                channel = rng_days.choice(["walk_in", "phone", "letter", "email"])
                event = audit.append(
                    session, "operator", "operator", Action.REPORT_INTAKE,
                    detail={"channel": channel, "office": ""},
                )  # fmt: skip
                day = first + timedelta(days=rng_days.randrange(days))
                event.at = f"{day.isoformat()}T10:00:00.000000Z"
    if engine.dialect.name == "postgresql":
        with engine.connect() as connection:
            connection.execution_options(isolation_level="AUTOCOMMIT").execute(text("ANALYZE"))
    else:
        with engine.begin() as connection:
            connection.execute(text("ANALYZE"))
    engine.dispose()


def bare_query(connection, year: int) -> list:
    """The counts the page shows most of, aggregated by the database alone."""
    month = extract("month", Report.received_on)
    on_time = Report.acknowledged_on <= Report.ack_due_on
    return connection.execute(
        select(
            month,
            Report.category_id,
            func.count(),
            func.sum(case((on_time, 1), else_=0)),
            func.sum(case((Report.acknowledged_on > Report.ack_due_on, 1), else_=0)),
            func.sum(case((Report.acknowledged_on.is_(None), 1), else_=0)),
        )
        .where(Report.received_on >= date(year, 1, 1), Report.received_on < date(year + 1, 1, 1))
        .group_by(month, Report.category_id)
    ).all()


def bench(database_url: str, count: int, runs: int, root: Path) -> dict[str, float]:
    env, people = demo_instance(database_url, root)
    year = date.today().year - 1
    start = time.perf_counter()
    fill(database_url, count, year)
    fill_s = time.perf_counter() - start
    app = create_app("staff", load_config(env))
    client = app.test_client()
    assert sign_in(client, people["auditor"]).status_code == 303

    cpu: list[float] = []  # this process's CPU time per request, ms

    def page(path: str, marker: bytes):
        def run():
            start = time.process_time()
            response = client.get(path)
            cpu.append((time.process_time() - start) * 1000)
            assert response.status_code == 200 and marker in response.get_data(), path

        return run

    engine = create_engine(make_url(database_url))

    def bare():
        with engine.connect() as connection:
            assert len(bare_query(connection, year)) >= 12

    # the database's counting agrees with the contract's (case_facts + indicators) here too
    with make_sessionmaker(make_engine(database_url))() as session:
        found = year_statistics(session, PeriodKind.MONTH, year, date.today(), DatePrecision.DAY)
        facts = case_facts(session, date(year, 1, 1), date(year + 1, 1, 1))
        assert found.total.indicators == indicators(facts, date.today()), "disagree"
    figures: dict[str, float] = {"reports": count, "fill_s": fill_s}
    figures["load_1min_before"] = os.getloadavg()[0]
    baseline = timed(bare, runs)
    figures["bare_sql_p50_ms"] = statistics.median(baseline)
    figures["bare_sql_p95_ms"] = percentile(baseline, 0.95)
    for name, path, marker in (
        ("page_month", f"/statistics?kind=month&year={year}", b"<svg"),
        ("page_quarter", f"/statistics?kind=quarter&year={year}", b"<svg"),
        ("csv_month", f"/statistics.csv?kind=month&year={year}", str(count).encode()),
    ):
        cpu.clear()
        samples = timed(page(path, marker), runs)
        figures[f"{name}_p50_ms"] = statistics.median(samples)
        figures[f"{name}_p95_ms"] = percentile(samples, 0.95)
        if name == "page_month":
            figures["page_month_cpu_p95_ms"] = percentile(cpu[1:], 0.95)  # not the warm-up
    figures["ratio_page_vs_bare_sql"] = figures["page_month_p95_ms"] / figures["bare_sql_p95_ms"]
    figures["load_1min_after"] = os.getloadavg()[0]
    engine.dispose()
    return figures


def main() -> None:
    run_reports_benchmark(bench, __doc__, reports=100_000, runs=20)


if __name__ == "__main__":
    main()
