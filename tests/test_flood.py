"""A submission flood is capped (issue 13, item 7): at most SIPADU_REPORTS_PER_HOUR new
reports per hour over the whole portal (never per client), a refused reporter keeps
everything typed, nothing of a refusal is stored but a daily count that admins and
auditors read, and investigators hide junk as spam."""

import http.cookiejar
import os
import re
import threading
import time
import urllib.error
import urllib.request
import uuid
from contextlib import contextmanager
from datetime import timedelta

import redis
from sqlalchemy import func, select, update

from sipadu import create_app
from sipadu.accountability.audit import ReporterMetric
from sipadu.persistence.models import (
    AuditEvent,
    Blob,
    Category,
    CategorySlug,
    Report,
    ReporterDailyCount,
    ReportStatus,
)
from sipadu.services.dates import today
from sipadu.services.retention import RetentionPolicy, expired
from sipadu.settings.config import load_config
from sipadu.web.context import dispose
from tests.helpers import (
    ALWAYS_REDIS_URL,
    account_of,
    config_env,
    csrf,
    database,
    end,
    fields_part,
    file_head,
    form_tokens,
    post,
    report_with_files,
    reporter_under_gunicorn,
    submission_of,
    submit,
)


@contextmanager
def reporter_portal(tmp_path, database_url, redis_url, per_hour: int, **extra: str):
    """A reporter portal of its own instance folder (own secrets, so its own ceiling
    count) on this module's database."""
    env = config_env(
        tmp_path / uuid.uuid4().hex[:8],
        database_url,
        redis_url,
        SIPADU_REPORTS_PER_HOUR=str(per_hour),
        **extra,
    )
    app = create_app("reporter", load_config(env))
    app.config["TESTING"] = True
    try:
        yield app
    finally:
        dispose(app)


def refused_today(database_url: str) -> int:
    with database(database_url) as session:
        return (
            session.scalar(
                select(ReporterDailyCount.count).where(
                    ReporterDailyCount.day == today(),
                    ReporterDailyCount.metric == ReporterMetric.REPORT_REFUSED_CEILING.value,
                )
            )
            or 0
        )


def stored(database_url: str) -> tuple[int, int]:
    """(reports, files staged and never linked)."""
    with database(database_url) as session:
        reports = session.scalar(select(func.count()).select_from(Report))
        staged = session.scalar(
            select(func.count()).select_from(Blob).where(Blob.linked.is_(False))
        )
        return reports, staged


# --- the ceiling --------------------------------------------------------------------------


def test_six_concurrent_submitters_store_exactly_the_ceiling(new_database_url, tmp_path, redis_url):
    """The flood of the issue, against real gunicorn: six anonymous clients submit at
    once, each report with a file. Exactly the ceiling is stored; every other submitter
    gets the form back with their text, 429 and Retry-After; nothing else remains."""
    ceiling, clients, each = 5, 6, 3
    with reporter_under_gunicorn(
        new_database_url, tmp_path, redis_url, SIPADU_REPORTS_PER_HOUR=str(ceiling)
    ) as (_, base):
        barrier = threading.Barrier(clients)
        results: list[tuple[int, str, str, dict]] = []
        lock = threading.Lock()

        def flood(number: int) -> None:
            opener = urllib.request.build_opener(
                urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar())
            )
            barrier.wait(timeout=60)
            for attempt in range(each):
                page = opener.open(base + "/report", timeout=60).read().decode()
                token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
                title = f"Banjir {number}-{attempt} {uuid.uuid4().hex[:6]}"
                boundary = uuid.uuid4().hex
                fields = {
                    "csrf_token": token,
                    **submission_of(page),
                    "category": "kkn",
                    "title": title,
                    "what": "Sampah",
                    "passphrase": "kuda hijau melompat tinggi",
                    "passphrase_confirm": "kuda hijau melompat tinggi",
                }
                body = (
                    fields_part(boundary, fields)
                    + file_head(boundary, "bukti.txt", "text/plain")
                    + os.urandom(64 * 1024)
                    + b"\r\n"
                    + end(boundary)
                )
                request = urllib.request.Request(
                    base + "/report",
                    data=body,
                    headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
                )
                try:
                    with opener.open(request, timeout=60) as response:
                        outcome = (response.status, response.read().decode(), title, {})
                except urllib.error.HTTPError as refusal:
                    outcome = (refusal.code, refusal.read().decode(), title, refusal.headers)
                with lock:
                    results.append(outcome)

        threads = [threading.Thread(target=flood, args=(n,)) for n in range(clients)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)

    assert len(results) == clients * each
    accepted = [r for r in results if r[0] == 200]
    refused = [r for r in results if r[0] != 200]
    assert len(accepted) == ceiling
    assert all('id="report-code"' in body for _, body, _, _ in accepted)
    assert {status for status, _, _, _ in refused} == {429}
    for _, body, title, headers in refused:
        assert 'id="ceiling-reached"' in body and 'id="report-code"' not in body
        assert f'value="{title}"' in body  # the text typed is still there
        assert 'value="kuda hijau melompat tinggi"' in body  # the passphrase too
        assert 3600 <= int(headers.get("Retry-After", 0)) <= 3600 + 300  # any case
    reports, staged = stored(new_database_url)
    assert reports == ceiling
    deadline = time.monotonic() + 10
    while staged and time.monotonic() < deadline:  # discarded as each request ends
        time.sleep(0.2)
        staged = stored(new_database_url)[1]
    assert staged == 0
    assert refused_today(new_database_url) == clients * each - ceiling


def test_a_refused_report_keeps_everything_typed_and_stores_nothing(
    tmp_path, database_url, redis_url, people
):
    with reporter_portal(tmp_path, database_url, redis_url, per_hour=1) as app:
        submit(app.test_client())
        before, refusals = stored(database_url)[0], refused_today(database_url)
        typed = {
            "title": "Pungutan liar di loket",
            "what": "Petugas meminta uang tambahan",
            "who": "Kepala loket",
            "where": "Kantor kecamatan",
            "when": "Senin lalu",
            "how": "Saya melihat sendiri",
            "estimated_loss": "Rp 5 juta",
            "identity": "Siti, 0812",
            "passphrase": "rahasia sekali untuk saya",
            "passphrase_confirm": "rahasia sekali untuk saya",
        }
        client = app.test_client()
        response = report_with_files(
            client, [("bukti.pdf", os.urandom(300 * 1024), "application/pdf")], **typed
        )
        page = response.get_data(as_text=True)
        assert response.status_code == 429
        assert 3600 <= int(response.headers["Retry-After"]) <= 3600 + 300
        for value in typed.values():
            assert value in page
        assert re.search(r'<input checked[^>]*value="kkn"', page)
        assert "Tidak ada yang disimpan" in page  # Bahasa Indonesia first
        assert re.search(r"\d\d:\d\d WIB \(\d\d:\d\d WITA, \d\d:\d\d WIT\)", page)
        assert "pilih lagi" in page.lower()  # files must be chosen again
        english = client.post(
            "/report?lang=en",
            data={**form_tokens(client, "/report"), "category": "kkn", **typed},
        ).get_data(as_text=True)
        assert "Nothing was stored" in english and "choose your evidence files again" in english
    assert stored(database_url) == (before, 0)
    assert refused_today(database_url) == refusals + 2


def test_the_ceiling_is_never_keyed_on_the_client(tmp_path, database_url, redis_url, people):
    """Different addresses and forwarding headers share one ceiling (the reporter portal
    never sees them anyway)."""
    with reporter_portal(tmp_path, database_url, redis_url, per_hour=2) as app:
        statuses = []
        for number in range(4):
            client = app.test_client()
            address = f"198.51.100.{number + 1}"
            client.environ_base.update(
                REMOTE_ADDR=address, HTTP_X_FORWARDED_FOR=address, HTTP_X_REAL_IP=address
            )
            data = {**form_tokens(client, "/report"), "category": "kkn"}
            data.update(title=f"Dari {address}", what="Isi", passphrase="", passphrase_confirm="")
            statuses.append(client.post("/report", data=data).status_code)
        assert statuses == [200, 200, 429, 429]


def _probe(app, last_part: bytes, category: str = "kkn") -> tuple[int, str]:
    """A submission valid in every text field, sent with ``last_part`` before the
    closing boundary: what an attacker learns from it (status, page without token)."""
    client = app.test_client()
    boundary = uuid.uuid4().hex
    fields = {**form_tokens(client, "/report"), "category": category, "title": "Uji"}
    fields |= {"what": "Isi", "passphrase": "", "passphrase_confirm": ""}
    body = fields_part(boundary, fields) + last_part.replace(b"{b}", boundary.encode())
    response = client.post(
        "/report?lang=en",
        data=body + end(boundary),
        content_type=f"multipart/form-data; boundary={boundary}",
    )
    page = re.sub(r'value="[^"]{40,}"', "", response.get_data(as_text=True))  # the token
    return response.status_code, page


@contextmanager
def _closed_category(database_url: str, slug: str):
    with database(database_url) as session:
        session.execute(update(Category).where(Category.slug == slug).values(active=False))
        session.commit()
    try:
        yield
    finally:
        with database(database_url) as session:
            session.execute(update(Category).where(Category.slug == slug).values(active=True))
            session.commit()


def test_only_a_storable_report_learns_whether_the_ceiling_is_full(
    tmp_path, database_url, redis_url, people
):
    """G2: an attacker who fills the ceiling to one below and then probes with invalid
    submissions must not learn, without spending a report, that a real reporter just
    sent one. Before, any submission whose text was valid was told 429 the moment the
    ceiling was full (an empty file input carrying bytes: 400 open, 429 full)."""
    probes = {
        "bytes in an empty file input": file_head("{b}", "") + b"x\r\n",
        # a JPEG's signature, then nothing of one: cannot be cleaned, so warned about
        "a picture that is not one": file_head("{b}", "foto.jpg", "image/jpeg")
        + b"\xff\xd8\xff\xe0bukan\r\n",
    }
    closed = CategorySlug.STAFF_DISCIPLINE.value
    with reporter_portal(tmp_path, database_url, redis_url, per_hour=1) as app:
        with _closed_category(database_url, closed):
            while_open = {name: _probe(app, part) for name, part in probes.items()}
            while_open["a closed category"] = _probe(app, b"", category=closed)
            submit(app.test_client())  # a real reporter takes the hour's last slot
            while_full = {name: _probe(app, part) for name, part in probes.items()}
            while_full["a closed category"] = _probe(app, b"", category=closed)
        full = _probe(app, b"")  # a complete, valid report: it alone is told
    statuses = {name: status for name, (status, _) in while_open.items()}
    # A file that cannot be cleaned is warned about (200, nothing stored: issue 21), the
    # rest refused; either way before the ceiling is consulted.
    assert statuses == {
        "bytes in an empty file input": 400,
        "a picture that is not one": 200,
        "a closed category": 400,
    }
    assert while_full == while_open
    assert full[0] == 429 and 'id="ceiling-reached"' in full[1]


def test_hosts_sharing_redis_share_one_ceiling(tmp_path, database_url, people):
    """Two hosts of one instance (same secrets, same Redis) count together."""
    salt = os.urandom(16).hex()
    redis.Redis.from_url(ALWAYS_REDIS_URL).ping()
    with (
        reporter_portal(tmp_path, database_url, ALWAYS_REDIS_URL, 3, SIPADU_LOOKUP_SALT=salt) as a,
        reporter_portal(tmp_path, database_url, ALWAYS_REDIS_URL, 3, SIPADU_LOOKUP_SALT=salt) as b,
    ):
        statuses = []
        for app in (a, b, a, b, a):
            client = app.test_client()
            data = {**form_tokens(client, "/report"), "category": "kkn", "title": "Dua"}
            data.update(what="Isi", passphrase="", passphrase_confirm="")
            statuses.append(client.post("/report", data=data).status_code)
        assert statuses == [200, 200, 200, 429, 429]


# --- what admins and auditors see ------------------------------------------------------------


def test_admins_and_auditors_see_the_limit_and_the_refusals_per_day(
    tmp_path, database_url, redis_url, clients
):
    with reporter_portal(tmp_path, database_url, redis_url, per_hour=1) as app:
        submit(app.test_client())
        client = app.test_client()
        data = {**form_tokens(client, "/report"), "category": "kkn", "title": "Lagi"}
        data.update(what="Isi", passphrase="", passphrase_confirm="")
        assert client.post("/report", data=data).status_code == 429
    refused = refused_today(database_url)
    with database(database_url) as session:
        received = session.scalar(
            select(ReporterDailyCount.count).where(
                ReporterDailyCount.day == today(),
                ReporterDailyCount.metric == ReporterMetric.REPORT_SUBMITTED.value,
            )
        )
    for who in ("admin", "auditor"):
        page = clients[who].get("/intake?lang=en")
        assert page.status_code == 200, who
        text = page.get_data(as_text=True)
        assert "at most 60 new reports per hour" in text  # this module's setting: the default
        day = today().isoformat()
        row = rf'<td[^>]*>{day}</td><td[^>]*>{received}</td><td[^>]* class="late">{refused}</td>'
        assert re.search(row, text), who
        assert "report_refused_ceiling" not in text and "SIPADU_" not in text
    assert clients["pemeriksa1"].get("/intake").status_code == 403
    activity = clients["auditor"].get("/audit/activity?lang=en")
    text = activity.get_data(as_text=True)
    assert "Reports refused: hourly limit reached" in text
    assert not any(metric.value in text for metric in ReporterMetric)


def test_every_reporter_metric_has_a_label():
    from sipadu.investigator.forms import METRIC_LABELS

    assert set(METRIC_LABELS) == {metric.value for metric in ReporterMetric}


# --- spam -------------------------------------------------------------------------------------


def _listed(client, marker: str, query: str = "") -> bool:
    return marker in client.get("/reports" + query).get_data(as_text=True)


def _report_id(database_url: str, client, marker: str) -> uuid.UUID:
    page = client.get("/reports").get_data(as_text=True)
    return uuid.UUID(re.search(r'href="/reports/([0-9a-f-]{36})">' + re.escape(marker), page)[1])


def _entries(database_url: str, report_id: uuid.UUID, action: str) -> list[AuditEvent]:
    with database(database_url) as session:
        return list(
            session.scalars(
                select(AuditEvent).where(
                    AuditEvent.report_id == report_id, AuditEvent.action == action
                )
            )
        )


def test_an_investigator_hides_spam_from_every_list_and_it_is_recorded(
    reporter_app, clients, people, database_url
):
    marker = f"Sampah {uuid.uuid4().hex[:8]}"
    submit(reporter_app.test_client(), title=marker)
    one, two = clients["pemeriksa1"], clients["pemeriksa2"]
    report_id = _report_id(database_url, one, marker)
    page = f"/reports/{report_id}"

    # Not confirmed: nothing happens, and the reason is beside the form.
    response = post(one, f"{page}/spam?lang=en", page)
    assert response.status_code == 400
    assert "Tick the box to confirm" in response.get_data(as_text=True)
    assert _listed(one, marker) and not _entries(database_url, report_id, "report.spam")

    assert post(one, f"{page}/spam", page, confirm="y").status_code == 303
    for client in (one, two):  # hidden for every holder, shown with the filter
        assert not _listed(client, marker)
        assert _listed(client, marker, "?spam=y")
    (entry,) = _entries(database_url, report_id, "report.spam")
    assert entry.actor == str(account_of(database_url, "pemeriksa1").id)
    with database(database_url) as session:
        report = session.get(Report, report_id)
        assert report.spam and report.status == ReportStatus.RECEIVED.value  # nothing else
    assert 'id="spam"' in one.get(page).get_data(as_text=True)

    # Marking again changes nothing and records nothing; taking it back lists it again.
    assert post(one, f"{page}/spam", page, confirm="y").status_code == 303
    assert len(_entries(database_url, report_id, "report.spam")) == 1
    assert post(two, f"{page}/not-spam", page).status_code == 303
    assert _listed(one, marker) and not _listed(one, marker, "?spam=y")
    assert len(_entries(database_url, report_id, "report.not_spam")) == 1

    # No grant, no mark: a report that is not yours does not exist.
    assert post(one, f"/reports/{uuid.uuid4()}/spam", page, confirm="y").status_code == 404


def test_a_spam_mark_is_made_only_together_with_its_audit_entry(
    reporter_app, staff_app, clients, database_url, monkeypatch
):
    from sipadu.accountability import audit

    marker = f"Atomik {uuid.uuid4().hex[:8]}"
    submit(reporter_app.test_client(), title=marker)
    one = clients["pemeriksa1"]
    report_id = _report_id(database_url, one, marker)
    page = f"/reports/{report_id}"
    token = csrf(one, page)

    def broken(*args, **kwargs):
        raise audit.AuditError("the log refused the entry")

    monkeypatch.setattr(audit, "append", broken)
    staff_app.config["PROPAGATE_EXCEPTIONS"] = False
    try:
        response = one.post(f"{page}/spam", data={"csrf_token": token, "confirm": "y"})
    finally:
        staff_app.config["PROPAGATE_EXCEPTIONS"] = None
    assert response.status_code == 500
    monkeypatch.undo()
    with database(database_url) as session:
        assert session.get(Report, report_id).spam is False


def test_spam_is_deleted_like_any_report_after_retention(reporter_app, clients, database_url):
    """Marked or not, a rejected report is shredded when its retention ends."""
    marker = f"Lama {uuid.uuid4().hex[:8]}"
    submit(reporter_app.test_client(), title=marker)
    one = clients["pemeriksa1"]
    report_id = _report_id(database_url, one, marker)
    assert (
        post(one, f"/reports/{report_id}/spam", f"/reports/{report_id}", confirm="y").status_code
        == 303
    )
    policy = RetentionPolicy()
    with database(database_url) as session:
        session.execute(
            update(Report)
            .where(Report.id == report_id)
            .values(
                status=ReportStatus.REJECTED.value,
                closed_on=today() - timedelta(days=policy.rejected_days + 1),
            )
        )
        session.commit()
        assert report_id in expired(session, policy, today(), limit=10_000)
