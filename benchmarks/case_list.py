"""The investigator's report list with 100,000 reports: first-page latency.

    .venv/bin/python benchmarks/case_list.py [--reports 100000] [--postgres URL]

Builds a fresh instance (SQLite in a temporary folder, or a throw-away database on the
PostgreSQL server given), with ``--reports`` reports granted to one investigator: each
with a sealed title and its case key wrapped (ML-KEM-768+X25519) to that investigator,
statuses, deadlines and unread counts spread as a real inspectorate's would be, 1% marked
as spam, 10% with a sealed case record (labels and priority under an internal key also
wrapped to the investigator, issue 17). Then it signs in through the staff portal
(in-process test client) and times ``GET /reports``: the first page (50 rows, titles and
case records decrypted, the view audited and committed, the page rendered), and the
first page under each filter (the label and priority filters open the case records of
the reports walked, at most ``SCAN_LIMIT`` per request). Baseline in the same run: the
bare SQL of the same keyset page (no decryption, no audit, no template). Target (issue
8): p95 of the first page ≤ 150 ms on SQLite and on PostgreSQL. Last line:
key=value figures.
"""

import random
import statistics
import sys
import time
import uuid
from datetime import date, timedelta
from pathlib import Path

from sqlalchemy import create_engine, insert, select, text
from sqlalchemy.engine import make_url

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from measure import demo_instance, percentile, run_reports_benchmark, timed

from sipadu import create_app
from sipadu.crypto import KeyContext, PublicKey, Purpose, new_key, seal_field, wrap_key
from sipadu.persistence.db import make_engine
from sipadu.persistence.models import (
    CaseRecord,
    Category,
    Report,
    ReportField,
    ReportGrant,
    ReportKey,
    StaffAccount,
)
from sipadu.services import case_record
from sipadu.services.key_ring import key_fingerprint
from sipadu.services.row_metadata import CASE_RECORD_FIELD
from sipadu.settings.config import load_config
from tests.helpers import sign_in

STATUSES = (
    ["received"] * 2
    + ["in_review"] * 3
    + ["investigating"] * 3
    + [
        "closed_substantiated",
        "closed_unsubstantiated",
        "rejected",
    ]
)
BATCH = 2000


def fill(database_url: str, count: int, username: str) -> None:
    engine = make_engine(database_url)
    rng = random.Random(7)
    with engine.begin() as connection:
        account_id, public = connection.execute(
            select(StaffAccount.id, StaffAccount.public_key).where(
                StaffAccount.username == username
            )
        ).one()
        account = StaffAccount(id=account_id, public_key=public)
        fingerprint = key_fingerprint(account)
        recipient = PublicKey.from_bytes(public)
        categories = list(connection.scalars(select(Category.id)))
    today = date.today()
    for start in range(0, count, BATCH):
        reports, fields, keys, grants, records = [], [], [], [], []
        for number in range(start, min(start + BATCH, count)):
            report_id = uuid.uuid4()
            received = today - timedelta(days=rng.randrange(0, 3 * 365))
            status = rng.choice(STATUSES)
            messages = rng.choice([0, 0, 0, 1, 2, 3])
            reports.append(
                {
                    "id": report_id,
                    "category_id": rng.choice(categories),
                    "status": status,
                    "received_on": received,
                    "key_epoch": 0,
                    "ack_due_on": received + timedelta(days=7),
                    "feedback_due_on": received + timedelta(days=90),
                    "reporter_messages": messages,
                    "spam": number % 100 == 0,  # 1% junk marked as spam
                }
            )
            case_key = new_key()
            title = f"Laporan {rng.randrange(10**6)} tentang pengadaan".encode()
            fields.append(
                {
                    "report_id": report_id,
                    "name": "title",
                    "epoch": 0,
                    "sealed": seal_field(
                        case_key, title, report_id=report_id, field="report/title"
                    ),
                }
            )
            keys.append(
                {
                    "id": uuid.uuid4(),
                    "report_id": report_id,
                    "purpose": "case",
                    "epoch": 0,
                    "recipient_kind": "staff",
                    "recipient_id": account_id,
                    "recipient_fingerprint": fingerprint,
                    "wrapped": wrap_key(
                        case_key, recipient, KeyContext(report_id, Purpose.CASE, 0)
                    ),
                }
            )
            grants.append({"report_id": report_id, "account_id": account_id, "read_mark": None})
            if number % 10 == 0:  # a case record: labels and a priority, sealed
                internal = new_key()
                keys.append(
                    {
                        "id": uuid.uuid4(),
                        "report_id": report_id,
                        "purpose": "internal",
                        "epoch": 0,
                        "recipient_kind": "staff",
                        "recipient_id": account_id,
                        "recipient_fingerprint": fingerprint,
                        "wrapped": wrap_key(
                            internal, recipient, KeyContext(report_id, Purpose.INTERNAL, 0)
                        ),
                    }
                )
                record = case_record.CaseRecord(
                    (rng.choice(["pengadaan", "perizinan", "kepegawaian"]),),
                    rng.choice(list(case_record.Priority)),
                )
                records.append(
                    {
                        "report_id": report_id,
                        "epoch": 0,
                        "sealed": seal_field(
                            internal,
                            case_record.encode(record),
                            report_id=report_id,
                            field=CASE_RECORD_FIELD,
                            bound=[("epoch", (0).to_bytes(4, "big"))],
                        ),
                    }
                )
        with engine.begin() as connection:
            connection.execute(insert(Report), reports)
            connection.execute(insert(ReportField), fields)
            connection.execute(insert(ReportKey), keys)
            connection.execute(insert(ReportGrant), grants)
            connection.execute(insert(CaseRecord), records)
    if engine.dialect.name == "postgresql":
        with engine.connect() as connection:
            connection.execution_options(isolation_level="AUTOCOMMIT").execute(text("ANALYZE"))
    else:
        with engine.begin() as connection:
            connection.execute(text("ANALYZE"))
    engine.dispose()


def bench(database_url: str, count: int, runs: int, root: Path) -> dict[str, float]:
    env, people = demo_instance(database_url, root)
    start = time.perf_counter()
    fill(database_url, count, "pemeriksa1")
    fill_s = time.perf_counter() - start
    app = create_app("staff", load_config(env))
    client = app.test_client()
    assert sign_in(client, people["pemeriksa1"]).status_code == 303

    def page(query: str):
        def run():
            response = client.get("/reports" + query)
            assert (
                response.status_code == 200 and response.get_data().count(b'href="/reports/') >= 1
            )

        return run

    engine = create_engine(make_url(database_url))
    account_id = (
        engine.connect()
        .execute(select(StaffAccount.id).where(StaffAccount.username == "pemeriksa1"))
        .scalar_one()
    )

    def bare():
        with engine.connect() as connection:
            connection.execute(
                select(Report.id, Report.status, Report.received_on)
                .join(ReportGrant, ReportGrant.report_id == Report.id)
                .where(ReportGrant.account_id == account_id)
                .order_by(Report.received_on.desc(), Report.id.desc())
                .limit(50)
            ).all()

    figures = {"reports": count, "fill_s": fill_s}
    baseline = timed(bare, runs)
    figures["bare_sql_p95_ms"] = percentile(baseline, 0.95)
    for name, query in (
        ("first_page", ""),
        ("status", "?status=in_review"),
        ("unread", "?unread=y"),
        ("spam_only", "?spam=y"),
        ("feedback_overdue", "?deadline=feedback_overdue"),
        ("ack_overdue", "?deadline=ack_overdue"),
        ("label", "?label=pengadaan"),  # about 3% of the reports
        ("priority_high", "?priority=high"),  # about 3% of the reports
    ):
        samples = timed(page(query), runs)
        figures[f"{name}_p50_ms"] = statistics.median(samples)
        figures[f"{name}_p95_ms"] = percentile(samples, 0.95)
    figures["ratio_first_page_vs_bare_sql"] = (
        figures["first_page_p95_ms"] / figures["bare_sql_p95_ms"]
    )
    engine.dispose()
    return figures


def main() -> None:
    run_reports_benchmark(bench, __doc__, reports=100_000, runs=50)


if __name__ == "__main__":
    main()
