"""Search within one's own reports, 2,000 held: cost of a search against a bare decrypt.

    .venv/bin/python benchmarks/search.py [--reports 2000] [--runs 20] [--postgres URL]

Builds a fresh instance (SQLite in a temporary folder, or a throw-away database on the
PostgreSQL server given) with ``--reports`` reports granted to one investigator, each
with its seven sealed fields, two messages (one each way) and an internal note, its case
and internal keys wrapped (ML-KEM-768+X25519) to that investigator. Then, signed in
through the staff portal (in-process test client), it times ``POST /reports/search``:
one page of the search (``SCAN_LIMIT`` reports opened, the ``report.search`` entry
appended and committed, the page rendered), the whole search paged to the end, and the
home page (the dashboard's counts; every report has a message, so the unread count opens
its 200 read marks at most).

Baseline in the same run: a bare loop that decrypts the same rows of the same reports
(one query each for their wraps, fields, messages and notes; one unwrap per key; one
AES-GCM open per row) with no matching, audit, HTTP or template. ``ratio`` = baseline /
search, per page through HTTP (target of issue 17: ≥ 0.5, i.e. a search costs at most
twice the bare decrypt); ``ratio_service`` the same for the search service alone (the
same page of reports opened and matched, its audit entry committed; no HTTP, session
check or template). Each ratio's two sides are timed interleaved, so that other load on
the machine weighs on both alike. Last line: key=value figures.
"""

import random
import re
import statistics
import sys
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from sqlalchemy import create_engine, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from measure import demo_instance, percentile, run_reports_benchmark, timed

from sipadu import create_app
from sipadu.crypto import (
    KeyContext,
    PublicKey,
    Purpose,
    SecretRecord,
    new_key,
    open_field,
    seal_field,
    unwrap_key,
    verify_secret,
    wrap_key,
)
from sipadu.persistence.db import make_engine
from sipadu.persistence.models import (
    Category,
    Message,
    Note,
    Report,
    ReportField,
    ReportGrant,
    ReportKey,
    StaffAccount,
)
from sipadu.services.key_ring import key_fingerprint
from sipadu.services.reports import CASE_FIELDS, seal_message
from sipadu.services.row_metadata import message_bound, message_field, note_bound, note_field
from sipadu.services.search import SCAN_LIMIT, search_cases
from sipadu.services.staff import password_bytes, unlock
from sipadu.settings.config import load_config
from tests.helpers import csrf, sign_in

WORDS = (
    "pengadaan jalan sekolah dinas kepala bidang anggaran proyek kontraktor pungutan izin "
    "bangunan pasar retribusi honor kegiatan perjalanan dinas fiktif kwitansi"
).split()
BATCH = 200


def sentence(rng: random.Random, words: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(words))


def fill(database_url: str, count: int, username: str) -> None:
    engine = make_engine(database_url)
    rng = random.Random(17)
    today = date.today()
    with Session(engine) as session:
        account = session.scalar(select(StaffAccount).where(StaffAccount.username == username))
        assert account is not None
        account_id = account.id
        fingerprint = key_fingerprint(account)
        recipient = PublicKey.from_bytes(account.public_key)
        categories = list(session.scalars(select(Category.id)))
    for start in range(0, count, BATCH):
        with Session(engine) as session:
            for _ in range(start, min(start + BATCH, count)):
                report_id = uuid.uuid4()
                received = today - timedelta(days=rng.randrange(0, 3 * 365))
                session.add(
                    Report(
                        id=report_id,
                        category_id=rng.choice(categories),
                        status="in_review",
                        received_on=received,
                        key_epoch=0,
                        ack_due_on=received + timedelta(days=7),
                        feedback_due_on=received + timedelta(days=90),
                        reporter_messages=1,
                    )
                )
                session.flush()
                keys = {Purpose.CASE: new_key(), Purpose.INTERNAL: new_key()}
                for purpose, key in keys.items():
                    session.add(
                        ReportKey(
                            id=uuid.uuid4(),
                            report_id=report_id,
                            purpose=purpose.value,
                            epoch=0,
                            recipient_kind="staff",
                            recipient_id=account_id,
                            recipient_fingerprint=fingerprint,
                            wrapped=wrap_key(key, recipient, KeyContext(report_id, purpose, 0)),
                        )
                    )
                session.add(ReportGrant(report_id=report_id, account_id=account_id))
                for name in CASE_FIELDS:
                    value = sentence(rng, 4 if name == "title" else 40)
                    session.add(
                        ReportField(
                            report_id=report_id,
                            name=name,
                            epoch=0,
                            sealed=seal_field(
                                keys[Purpose.CASE],
                                value.encode(),
                                report_id=report_id,
                                field=f"report/{name}",
                            ),
                        )
                    )
                for author in ("reporter", "staff"):
                    message = Message(
                        id=uuid.uuid4(),
                        report_id=report_id,
                        author=author,
                        author_account_id=account_id if author == "staff" else None,
                        sent_on=received,
                    )
                    seal_message(session, keys[Purpose.CASE], 0, message, sentence(rng, 60))
                    session.add(message)
                    session.flush()
                note = Note(
                    id=uuid.uuid4(),
                    report_id=report_id,
                    author_account_id=account_id,
                    epoch=0,
                    written_at=datetime.now(UTC),
                    body=b"",
                )
                note.body = seal_field(
                    keys[Purpose.INTERNAL],
                    sentence(rng, 30).encode(),
                    report_id=report_id,
                    field=note_field(note.id),
                    bound=note_bound(note),
                )
                session.add(note)
            session.commit()
    with engine.connect() as connection:
        if engine.dialect.name == "postgresql":
            connection.execution_options(isolation_level="AUTOCOMMIT").execute(text("ANALYZE"))
        else:
            connection.execute(text("ANALYZE"))
            connection.commit()
    engine.dispose()


def interleaved(first, second, times: int) -> tuple[list[float], list[float]]:
    first(), second()  # warm
    a, b = [], []
    for _ in range(times):
        for run, samples in ((first, a), (second, b)):
            start = time.perf_counter()
            run()
            samples.append((time.perf_counter() - start) * 1000)
    return a, b


def bare_decrypt(engine, account_id: uuid.UUID, private, report_ids: list[uuid.UUID]) -> int:
    """Open every field, message and note of ``report_ids``: the least a search must do."""
    opened = 0
    with Session(engine) as session:
        wraps = session.execute(
            select(ReportKey.report_id, ReportKey.purpose, ReportKey.wrapped).where(
                ReportKey.report_id.in_(report_ids),
                ReportKey.recipient_kind == "staff",
                ReportKey.recipient_id == account_id,
                ReportKey.epoch == 0,
            )
        ).all()
        keys = {(r, p): unwrap_key(w, private, KeyContext(r, Purpose(p), 0)) for r, p, w in wraps}
        for row in session.scalars(
            select(ReportField).where(ReportField.report_id.in_(report_ids))
        ):
            open_field(
                keys[row.report_id, "case"],
                row.sealed,
                report_id=row.report_id,
                field=f"report/{row.name}",
            )
            opened += 1
        for message in session.scalars(select(Message).where(Message.report_id.in_(report_ids))):
            open_field(
                keys[message.report_id, "case"],
                message.body,
                report_id=message.report_id,
                field=message_field(message.id),
                bound=message_bound(message, 0),
                legacy=False,
            )
            opened += 1
        for note in session.scalars(select(Note).where(Note.report_id.in_(report_ids))):
            open_field(
                keys[note.report_id, "internal"],
                note.body,
                report_id=note.report_id,
                field=note_field(note.id),
                bound=note_bound(note),
            )
            opened += 1
    return opened


def bench(database_url: str, count: int, runs: int, root: Path) -> dict[str, float]:
    env, people = demo_instance(database_url, root)
    person = people["pemeriksa1"]
    start = time.perf_counter()
    fill(database_url, count, person.username)
    fill_s = time.perf_counter() - start
    app = create_app("staff", load_config(env))
    client = app.test_client()
    assert sign_in(client, person).status_code == 303
    token = csrf(client, "/reports")

    def search_page(after: str = "") -> str:
        response = client.post(
            "/reports/search", data={"csrf_token": token, "q": "Kontraktor FIKTIF", "after": after}
        )
        assert response.status_code == 200
        return response.get_data(as_text=True)

    pages_seen: list[int] = []

    def whole() -> None:
        page, pages = search_page(), 1
        while found := re.search(r'name="after" value="([^"]+)"', page):
            page, pages = search_page(found.group(1)), pages + 1
        pages_seen.append(pages)

    engine = create_engine(make_url(database_url))
    with Session(engine) as session:
        account = session.scalar(select(StaffAccount).where(StaffAccount.username == "pemeriksa1"))
        assert account is not None
        record = SecretRecord.from_bytes(account.password_record)
        kek = verify_secret(password_bytes(person.password), record)
        private = unlock(account, kek).private_key
        account_id = account.id
        first_page = list(
            session.scalars(
                select(Report.id)
                .join(ReportGrant, ReportGrant.report_id == Report.id)
                .where(ReportGrant.account_id == account_id)
                .order_by(Report.received_on.desc(), Report.id.desc())
                .limit(SCAN_LIMIT)
            )
        )

    figures: dict[str, float] = {"reports": count, "scan_limit": SCAN_LIMIT, "fill_s": fill_s}

    def service() -> None:  # the search itself: no HTTP, session check or template
        with Session(engine) as session:
            search_cases(session, account_id, private, "Kontraktor FIKTIF")
            session.commit()  # its report.search entry

    # Interleaved, so that a load on the machine weighs on all alike.
    baseline, page_samples = interleaved(
        lambda: bare_decrypt(engine, account_id, private, first_page), search_page, runs
    )
    service_baseline, service_samples = interleaved(
        lambda: bare_decrypt(engine, account_id, private, first_page), service, runs
    )
    figures["service_p50_ms"] = statistics.median(service_samples)
    figures["service_p95_ms"] = percentile(service_samples, 0.95)
    figures["ratio_service"] = statistics.median(service_baseline) / figures["service_p50_ms"]
    whole_samples = timed(whole, max(3, runs // 5))

    def home() -> None:  # the dashboard: counts, and up to 200 read marks opened
        assert client.get("/").status_code == 200

    home_samples = timed(home, runs)
    figures["home_p50_ms"] = statistics.median(home_samples)
    figures["home_p95_ms"] = percentile(home_samples, 0.95)
    figures["bare_decrypt_p50_ms"] = statistics.median(baseline)
    figures["bare_decrypt_p95_ms"] = percentile(baseline, 0.95)
    figures["search_page_p50_ms"] = statistics.median(page_samples)
    figures["search_page_p95_ms"] = percentile(page_samples, 0.95)
    figures["search_all_p50_ms"] = statistics.median(whole_samples)
    figures["search_all_p95_ms"] = percentile(whole_samples, 0.95)
    figures["search_all_pages"] = max(pages_seen)
    figures["ratio"] = figures["bare_decrypt_p50_ms"] / figures["search_page_p50_ms"]
    figures["ratio_p95"] = figures["bare_decrypt_p95_ms"] / figures["search_page_p95_ms"]
    engine.dispose()
    return figures


def main() -> None:
    run_reports_benchmark(bench, __doc__, reports=2000, runs=20)


if __name__ == "__main__":
    main()
