"""The staff home page is a dashboard per role (issue 17, item 2): each count is a link,
and the link lands on a list holding exactly the reports counted."""

import html
import io
import json
import re
import uuid
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from sipadu.persistence.models import (
    AuditCheckpoint,
    Report,
    ReportGrant,
    Role,
    StaffAccount,
    StaffRole,
)
from sipadu.services.cases import due_soon_until
from sipadu.services.dates import today
from tests.helpers import (
    csrf,
    database,
    form_tokens,
    post,
    report_id_of,
    signed_in,
    submit,
)
from tests.helpers import login as mailbox_login

COUNT = re.compile(r'<a href="([^"]+)" data-count="(\d+)"')
LISTED = re.compile(r'<a href="/reports/([0-9a-f-]{36})">')


def counts(client) -> dict[str, int]:
    """The dashboard's counts by the address each links to."""
    page = client.get("/").get_data(as_text=True)
    return {html.unescape(href): int(n) for href, n in COUNT.findall(page)}


def listed(client, href: str) -> set[uuid.UUID]:
    response = client.get(href)
    assert response.status_code == 200, href
    return {uuid.UUID(m) for m in LISTED.findall(response.get_data(as_text=True))}


@pytest.fixture(scope="module")
def worked(reporter_app, clients, database_url):
    """Six reports in every state a count tells apart, by name."""
    investigator = clients["pemeriksa1"]
    ids, codes = {}, {}
    for name in ("ack_soon", "ack_overdue", "feedback_soon", "feedback_overdue", "unread", "spam"):
        marker = f"Dasbor {name} {uuid.uuid4().hex[:6]}"
        codes[name] = submit(reporter_app.test_client(), title=marker)[:2]
        ids[name] = report_id_of(database_url, marker, investigator)
    day = today()
    changes = {
        "ack_soon": {"ack_due_on": day + timedelta(days=1)},
        "ack_overdue": {"ack_due_on": day - timedelta(days=1)},
        "feedback_soon": {"status": "investigating", "feedback_due_on": due_soon_until(day)},
        "feedback_overdue": {"status": "in_review", "feedback_due_on": day - timedelta(days=2)},
        "unread": {"status": "in_review"},
        "spam": {"ack_due_on": day - timedelta(days=1), "spam": True},
    }
    with database(database_url) as session:
        for name, values in changes.items():
            if name not in ("ack_soon", "ack_overdue", "spam"):
                values.setdefault("ack_due_on", day - timedelta(days=30))
            if name not in ("feedback_soon", "feedback_overdue"):
                values["feedback_due_on"] = day + timedelta(days=60)
            session.execute(update(Report).where(Report.id == ids[name]).values(**values))
        session.commit()
    # The reporter writes: a message the investigator has not read.
    mailbox = reporter_app.test_client()
    code, passphrase = codes["unread"]
    assert mailbox_login(mailbox, code, passphrase).status_code == 303
    response = mailbox.post(
        "/mailbox/messages", data={**form_tokens(mailbox, "/mailbox"), "body": "Ada kabar?"}
    )
    assert response.status_code == 303
    return ids


def test_an_investigator_sees_counts_that_link_to_exactly_the_reports_counted(clients, worked):
    investigator = clients["pemeriksa1"]
    shown = counts(investigator)
    due = {
        name: shown[f"/reports?deadline={name}"]
        for name in ("ack_soon", "ack_overdue", "feedback_soon", "feedback_overdue")
    }
    # Spam is neither counted nor listed; each deadline holds its one report.
    assert due == {"ack_soon": 1, "ack_overdue": 1, "feedback_soon": 1, "feedback_overdue": 1}
    for name in due:
        assert listed(investigator, f"/reports?deadline={name}") == {worked[name]}
    assert shown["/reports?unread=y"] == 1
    assert listed(investigator, "/reports?unread=y") == {worked["unread"]}
    statuses = {href.split("=")[1]: n for href, n in shown.items() if "status=" in href}
    assert statuses == {
        "received": 2,
        "in_review": 2,
        "investigating": 1,
        "closed_substantiated": 0,
        "closed_unsubstantiated": 0,
        "rejected": 0,
        "referred": 0,  # issue 20
    }
    for status, count in statuses.items():
        assert len(listed(investigator, f"/reports?status={status}")) == count
    assert shown["/reports"] == 5

    # Opening the report reads its message: the unread count drops, and the link's list
    # with it. The dashboard itself records nothing (counts only, no plaintext shown).
    investigator.get(f"/reports/{worked['unread']}")
    assert counts(investigator)["/reports?unread=y"] == 0
    assert listed(investigator, "/reports?unread=y") == set()


def test_the_home_page_records_nothing_and_shows_no_title(clients, worked, database_url):
    from tests.test_casework import actions

    before = len(actions(database_url))
    page = clients["pemeriksa1"].get("/").get_data(as_text=True)
    assert len(actions(database_url)) == before
    assert "Dasbor" not in page


def test_other_roles_see_no_report_counts(clients, worked):
    for name in ("inspektur", "admin", "auditor"):
        shown = counts(clients[name])
        assert not any(href.startswith("/reports") for href in shown), name


def test_the_custodian_sees_the_identity_requests_it_may_decide(clients, worked):
    custodian = clients["inspektur"]
    assert counts(custodian) == {"/identity-requests": 0}
    page = f"/reports/{worked['ack_soon']}"
    response = post(clients["pemeriksa1"], f"{page}/identity-requests", page, reason="Perlu saksi")
    assert response.status_code == 303
    assert counts(custodian) == {"/identity-requests": 1}
    assert "Perlu saksi" in custodian.get("/identity-requests").get_data(as_text=True)


def test_admins_see_pending_proposals(clients, database_url):
    admin = clients["admin"]
    assert counts(admin) == {"/admin/proposals": 0}
    with database(database_url) as session:
        account_id = session.scalar(
            select(StaffAccount.id).where(StaffAccount.username == "pemeriksa2")
        )
    target = f"/admin/accounts/{account_id}"
    assert post(admin, f"{target}/roles", target, role="custodian", confirm="y").status_code == 303
    assert counts(admin) == {"/admin/proposals": 1}
    assert counts(clients["admin2"]) == {"/admin/proposals": 1}


def _chain(client) -> str:
    page = client.get("/").get_data(as_text=True)
    state = re.search(r'<p id="dash-chain">(.*?)</p>', page, re.S).group(1)
    checkpoint = re.search(r'<p id="dash-checkpoint">(.*?)</p>', page, re.S).group(1)
    return re.sub(r"<[^>]+>", "", state + checkpoint)


def test_auditors_see_the_chain_state_and_the_last_checkpoints_age(clients, database_url):
    auditor = clients["auditor"]
    before = _chain(auditor)
    assert "Belum diverifikasi" in before and "Belum ada titik periksa" in before
    made = auditor.post(
        "/audit/checkpoints", data={"csrf_token": csrf(auditor, "/audit/checkpoints")}
    )
    assert made.status_code == 200
    kept = made.get_data()
    after = _chain(auditor)
    assert "Titik periksa terakhir" in after
    verify = auditor.post(
        "/audit/verify",
        data={
            "csrf_token": csrf(auditor, "/audit/verify"),
            "checkpoints": [(io.BytesIO(kept), "kept.json")],
        },
        content_type="multipart/form-data",
    )
    assert verify.status_code == 200
    assert "Terverifikasi" in _chain(auditor)

    # A stored checkpoint rewritten (its hash no longer the one it signed): broken, with
    # no walk of the log (the home page reads the checkpoint and its one entry).
    seq = json.loads(kept)["seq"]
    with database(database_url) as session:
        row = session.scalar(select(AuditCheckpoint).where(AuditCheckpoint.seq == seq))
        original = row.hash
        row.hash = "0" * 64
        session.commit()
    try:
        assert "Rusak" in _chain(auditor)
    finally:
        with database(database_url) as session:
            session.execute(
                update(AuditCheckpoint).where(AuditCheckpoint.seq == seq).values(hash=original)
            )
            session.commit()
    assert "Terverifikasi" in _chain(auditor)


def test_a_person_with_several_roles_sees_each_section(staff_app, people, database_url, worked):
    with database(database_url) as session:
        account_id = session.scalar(
            select(StaffAccount.id).where(StaffAccount.username == "pemeriksa2")
        )
        session.add_all(
            [
                StaffRole(account_id=account_id, role=Role.AUDITOR),
                StaffRole(account_id=account_id, role=Role.CUSTODIAN),
            ]
        )
        held = len(
            list(session.scalars(select(ReportGrant).where(ReportGrant.account_id == account_id)))
        )
        session.commit()
    client = signed_in(staff_app, people["pemeriksa2"])
    page = client.get("/").get_data(as_text=True)
    for section in ("dash-cases", "dash-custodian", "dash-audit"):
        assert f'id="{section}"' in page, section
    assert 'id="dash-admin"' not in page
    assert counts(client)["/reports"] == held - 1  # the spam report is not counted
