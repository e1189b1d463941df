"""Escalation by the reporter through the reporter portal (issue 20, item 3): the mailbox
offers nothing within the deadlines and refuses a forged post; past a deadline it offers
the agencies a second admin approved, and its POST (CSRF) answers with the age-encrypted
bundle to the chosen agency, recorded coarsened and counted, never audited; the case
page tells its holders, without the agency. A tampered or removed agency, a refused form
token and an expired session lose nothing and come back in words. Real portals (test
clients), real keys, a real database."""

import dataclasses
import html
import io
import json
import os
import re
import uuid
import zipfile
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pyrage
import pytest
from sqlalchemy import func, select, update

from sipadu.accountability.audit import ReporterMetric
from sipadu.crypto import signing_public_key
from sipadu.persistence.models import (
    AuditEvent,
    ExportRecipient,
    Proposal,
    Report,
    ReporterDailyCount,
    Role,
)
from sipadu.services import proposals, receipts
from sipadu.services.dates import today
from sipadu.services.export_recipients import offer_checks
from sipadu.settings.instance import load_secret
from tests.helpers import (
    TOKEN,
    csrf,
    database,
    dated_report,
    end_mailbox_sessions,
    form_tokens,
    invoke,
    login,
    mailbox_client,
    report_id_of,
    submit,
)
from tests.services.helpers import person

IDENTITY = "Nama Rahasia, 0812 0000"
MAX_BYTES = 100 * 1000  # "100 KB", as tests/test_reporter_pages.py


@pytest.fixture(scope="module")
def agencies(database_url, people, config) -> dict[str, tuple[uuid.UUID, pyrage.x25519.Identity]]:
    """KPK and Ombudsman RI offered to reporters, approved by a second admin (and signed
    with the instance's audit signing key, as the staff portal does)."""
    made = {}
    with database(database_url) as session:
        first = person(session, "admin.eskalasi1", Role.ADMIN)
        second = person(session, "admin.eskalasi2", Role.ADMIN)
        for name, channel in (
            ("KPK", "https://kws.kpk.go.id"),
            ("Ombudsman RI", "https://ombudsman.go.id/pengaduan"),
        ):
            identity = pyrage.x25519.Identity.generate()
            proposal = proposals.propose_recipient(
                session,
                name,
                str(identity.to_public()),
                first.actor(),
                offered_to_reporters=True,
                reporter_channel=channel,
            )
            proposals.approve(
                session, proposal.id, second.actor(), datetime.now(UTC), signing_seed=seed(config)
            )
            made[name] = (proposal.recipient_id, identity)
        session.commit()
    return made


def seed(config) -> bytes:
    """The instance's audit signing key, with which the staff portal signs an offer."""
    return load_secret(config, "audit_signing_key")


def new_report(reporter_app, database_url, clients, *, overdue: bool):
    """A report with an identity; its id and a signed-in mailbox client. ``overdue``:
    its acknowledgement date moved into the past (as if the days had passed)."""
    marker = f"Eskalasi {uuid.uuid4().hex[:8]}"
    code, passphrase, _ = submit(reporter_app.test_client(), title=marker, identity=IDENTITY)
    report_id = report_id_of(database_url, marker, clients["pemeriksa1"])
    if overdue:
        with database(database_url) as session:
            report = session.get(Report, report_id)
            report.ack_due_on = report.received_on - timedelta(days=1)
            session.commit()
    return report_id, mailbox_client(reporter_app, code, passphrase), (code, passphrase)


def recorded(database_url, report_id) -> tuple[date | None, int, int]:
    """The report's escalated_on, today's escalation count and the audit log's length."""
    with database(database_url) as session:
        return (
            session.get(Report, report_id).escalated_on,
            session.scalar(
                select(func.coalesce(func.sum(ReporterDailyCount.count), 0)).where(
                    ReporterDailyCount.metric == ReporterMetric.ESCALATION.value
                )
            ),
            session.scalar(select(func.count()).select_from(AuditEvent)),
        )


def escalate(client, agency_id, **extra):
    data = {"csrf_token": TOKEN.search(client.get("/mailbox").get_data(as_text=True)).group(1)}
    return client.post("/mailbox/escalate", data={**data, "agency": str(agency_id), **extra})


def test_within_its_deadlines_nothing_is_offered_and_a_forged_post_is_refused(
    reporter_app, database_url, clients, agencies
):
    report_id, box, _ = new_report(reporter_app, database_url, clients, overdue=False)
    page = box.get("/mailbox").get_data(as_text=True)
    assert 'id="escalation"' not in page and "/mailbox/escalate" not in page
    before = recorded(database_url, report_id)
    refused = escalate(box, agencies["KPK"][0])
    body = refused.get_data(as_text=True)
    assert refused.status_code == 409 and refused.mimetype == "text/html"
    assert "belum terjadi" in body and 'id="notice"' in body  # said, in Bahasa Indonesia
    assert recorded(database_url, report_id) == before


def test_past_a_deadline_the_reporter_downloads_a_bundle_only_the_agency_opens(
    reporter_app, staff_app, database_url, clients, agencies
):
    report_id, box, _ = new_report(reporter_app, database_url, clients, overdue=True)
    page = box.get("/mailbox").get_data(as_text=True)
    assert len(page.encode()) <= MAX_BYTES
    section = page[
        page.index('id="escalation"') : page.index("</section>", page.index('id="escalation"'))
    ]
    for shown in ("KPK", "https://kws.kpk.go.id", "KPK.age", "Ombudsman RI", "Ombudsman-RI.age"):
        assert shown in section, shown
    assert 'id="missed-acknowledgement"' in section and 'id="escalation-identity"' in section
    assert "tidak kepada instansi mana" in section  # staff see that it was, not to whom
    english = box.get("/mailbox?lang=en").get_data(as_text=True)
    assert "Forward my report to another agency" in english and "Make the file" in english
    _none, count_before, log_before = recorded(database_url, report_id)

    kpk_id, kpk = agencies["KPK"]
    response = escalate(box, kpk_id)
    assert response.status_code == 200 and response.mimetype == "application/octet-stream"
    assert 'filename="KPK.age"' in response.headers["Content-Disposition"]
    assert "no-store" in response.headers["Cache-Control"]
    sealed = response.get_data()
    response.close()
    with pytest.raises(pyrage.DecryptError):
        pyrage.decrypt(sealed, [agencies["Ombudsman RI"][1]])  # the other agency cannot
    zipped = zipfile.ZipFile(io.BytesIO(pyrage.decrypt(sealed, [kpk])))
    report = json.loads(zipped.read("report.json"))
    assert report["report_id"] == str(report_id) and report["identity"] is None
    assert report["missed_deadlines"][0]["deadline"] == "acknowledgement"
    assert IDENTITY.encode() not in b"".join(zipped.read(n) for n in zipped.namelist())
    assert "receipt.json" not in zipped.namelist()  # its day is not over: no receipt yet

    escalated_on, count, log = recorded(database_url, report_id)
    assert escalated_on == today() and count == count_before + 1
    assert log == log_before  # G2: never an audit entry
    mailbox = box.get("/mailbox").get_data(as_text=True)
    assert 'id="escalated-on"' in mailbox
    case = clients["pemeriksa1"].get(f"/reports/{report_id}").get_data(as_text=True)
    shown = re.search(r'id="case-escalated">([^<]+)<', case).group(1)
    assert today().isoformat() in shown and "KPK" not in shown

    # Made again, with the identity ticked: nothing more recorded.
    again = escalate(box, kpk_id, identity="y")
    zipped = zipfile.ZipFile(io.BytesIO(pyrage.decrypt(again.get_data(), [kpk])))
    again.close()
    assert json.loads(zipped.read("report.json"))["identity"] == IDENTITY
    assert recorded(database_url, report_id)[:2] == (escalated_on, count)


def test_once_its_day_is_sealed_the_bundle_holds_the_proof_of_report(reporter_app, env, agencies):
    """Parts B and C together: a report received three days ago, never acknowledged (its
    acknowledgement date moved into the past, as if the days had passed), its day sealed
    by ``sipadu audit checkpoint``; the bundle carries its receipt, which the agency
    checks against the pinned key (docs/receipt.md) and ties to the report. (Dated
    recently: a day is sealed only within a week of its end, docs/receipt.md.)"""
    day = today() - timedelta(days=3)
    code, passphrase = dated_report(env, day, "Laporan lama berbukti")
    with database(env["SIPADU_DATABASE_URL"]) as session:
        session.execute(
            update(Report)
            .where(Report.received_on == day)
            .values(ack_due_on=day - timedelta(days=1))
        )
        session.commit()
    assert invoke(env, "audit", "checkpoint").exit_code == 0
    pinned = invoke(env, "audit", "public-key").stdout.strip()
    box = mailbox_client(reporter_app, code, passphrase)
    kpk_id, kpk = agencies["KPK"]
    response = escalate(box, kpk_id)
    assert response.status_code == 200
    zipped = zipfile.ZipFile(io.BytesIO(pyrage.decrypt(response.get_data(), [kpk])))
    response.close()
    report = json.loads(zipped.read("report.json"))
    assert report["missed_deadlines"][0]["deadline"] == "acknowledgement"
    receipt = json.loads(zipped.read("receipt.json"))
    assert receipts.check(receipt, pinned).report_id == report["report_id"]
    assert json.loads(zipped.read("manifest.json"))["receipt_included"] is True


@pytest.mark.parametrize("which", ["random", "garbage", "empty"])
def test_a_tampered_agency_comes_back_in_words_and_nothing_is_kept(
    reporter_app, database_url, clients, agencies, which
):
    report_id, box, _ = new_report(reporter_app, database_url, clients, overdue=True)
    before = recorded(database_url, report_id)
    agency = {"random": uuid.uuid4(), "garbage": "<script>x</script>", "empty": ""}[which]
    refused = escalate(box, agency, identity="y")
    body = refused.get_data(as_text=True)
    assert refused.status_code in (400, 409) and refused.mimetype == "text/html"
    assert 'id="agency-error"' in body and "<script>x" not in body
    assert 'id="escalation-identity" aria-describedby="escalation-identity-help" checked' in body
    assert recorded(database_url, report_id) == before


def test_an_agency_removed_after_the_page_was_shown_is_refused(
    reporter_app, database_url, clients, agencies, config
):
    report_id, box, _ = new_report(reporter_app, database_url, clients, overdue=True)
    with database(database_url) as session:
        first = person(session, f"admin.hapus{uuid.uuid4().hex[:4]}", Role.ADMIN)
        second = person(session, f"admin.setuju{uuid.uuid4().hex[:4]}", Role.ADMIN)
        identity = pyrage.x25519.Identity.generate()
        proposal = proposals.propose_recipient(
            session,
            f"Kejaksaan {uuid.uuid4().hex[:4]}",
            str(identity.to_public()),
            first.actor(),
            offered_to_reporters=True,
            reporter_channel="https://kejaksaan.go.id",
        )
        proposals.approve(
            session, proposal.id, second.actor(), datetime.now(UTC), signing_seed=seed(config)
        )
        session.commit()
        gone = proposal.recipient_id
    assert str(gone) in box.get("/mailbox").get_data(as_text=True)
    with database(database_url) as session:
        removal = proposals.propose_recipient_removal(session, gone, first.actor())
        proposals.approve(session, removal.id, second.actor(), datetime.now(UTC))
        session.commit()
    before = recorded(database_url, report_id)
    refused = escalate(box, gone)
    body = refused.get_data(as_text=True)
    assert refused.status_code == 409 and "tidak ditawarkan lagi" in body
    assert str(gone) not in body  # no longer among the choices
    assert recorded(database_url, report_id) == before


def test_a_refused_form_token_sends_nothing_and_keeps_the_choice(
    reporter_app, database_url, clients, agencies
):
    report_id, box, _ = new_report(reporter_app, database_url, clients, overdue=True)
    before = recorded(database_url, report_id)
    no_token = box.post("/mailbox/escalate", data={"agency": str(agencies["KPK"][0])})
    assert no_token.status_code == 400 and no_token.mimetype == "text/html"
    other = reporter_app.test_client()  # a token of another session (another tab, a reset)
    foreign = TOKEN.search(other.get("/mailbox/login").get_data(as_text=True)).group(1)
    wrong = box.post(
        "/mailbox/escalate",
        data={"csrf_token": foreign, "agency": str(agencies["KPK"][0])},
        headers={"Sec-Fetch-Site": "same-origin"},
    )
    body = wrong.get_data(as_text=True)
    assert wrong.status_code == 400 and 'id="notice"' in body
    assert f'value="{agencies["KPK"][0]}" id="agency-{agencies["KPK"][0]}" checked' in body
    assert recorded(database_url, report_id) == before


def test_an_expired_session_loses_nothing_the_file_is_made_after_signing_in(
    reporter_app, database_url, clients, agencies, config, redis_url
):
    report_id, box, (code, passphrase) = new_report(
        reporter_app, database_url, clients, overdue=True
    )
    token = form_tokens(box, "/mailbox")["csrf_token"]
    assert end_mailbox_sessions(redis_url, Path(config.volatile_path)) >= 1
    closed = box.post(
        "/mailbox/escalate", data={"csrf_token": token, "agency": str(agencies["KPK"][0])}
    )
    body = closed.get_data(as_text=True)
    assert closed.status_code == 200 and 'id="login-form"' in body
    assert "Tidak ada yang hilang" in body
    assert recorded(database_url, report_id)[0] is None
    assert login(box, code, passphrase).status_code == 303
    made = escalate(box, agencies["KPK"][0])
    assert made.status_code == 200 and made.mimetype == "application/octet-stream"
    made.get_data()
    made.close()
    assert recorded(database_url, report_id)[0] == today()


# --- the staff side: two admins offer an agency; its holders see the escalation ----------


def test_two_admins_offer_an_agency_to_reporters_on_the_staff_portal(clients, database_url):
    admin, second = clients["admin"], clients["admin2"]
    name = f"BPKP {uuid.uuid4().hex[:4]}"
    public = str(pyrage.x25519.Identity.generate().to_public())
    wrong = admin.post(
        "/admin/recipients",
        data={
            "csrf_token": csrf(admin, "/admin/recipients"),
            "name": name,
            "recipient": public,
            "offered_to_reporters": "y",
            "reporter_channel": "http://bpkp.go.id",
        },
    )
    page = wrong.get_data(as_text=True)
    assert wrong.status_code == 400 and 'id="reporter_channel-error"' in page
    assert 'value="http://bpkp.go.id"' in page and public in page  # everything typed kept
    proposed = admin.post(
        "/admin/recipients",
        data={
            "csrf_token": csrf(admin, "/admin/recipients"),
            "name": name,
            "recipient": public,
            "offered_to_reporters": "y",
            "reporter_channel": "https://lapor.bpkp.go.id",
        },
    )
    assert proposed.status_code == 303
    waiting = second.get("/admin/proposals").get_data(as_text=True)
    proposal_id = re.search(r'id="content-([0-9a-f-]{36})"><strong>Ditawarkan', waiting).group(1)
    assert "mereka mengunggah berkas di https://lapor.bpkp.go.id" in waiting
    with database(database_url) as session:
        assert not session.scalar(
            select(ExportRecipient.offered_to_reporters).where(ExportRecipient.name == name)
        )
    approved = second.post(
        f"/admin/proposals/{proposal_id}/approve",
        data={"csrf_token": csrf(second, "/admin/proposals"), "confirm": "y"},
    )
    assert approved.status_code == 303
    with database(database_url) as session:
        row = session.scalar(select(ExportRecipient).where(ExportRecipient.name == name))
        assert row.offered_to_reporters and row.reporter_channel == "https://lapor.bpkp.go.id"
        entry = session.scalar(
            select(AuditEvent)
            .where(AuditEvent.action == "export_recipient.offer")
            .order_by(AuditEvent.seq.desc())
        )
        assert json.loads(entry.detail)["reporter_channel"] == "https://lapor.bpkp.go.id"
    # The row's own form: a bad address comes back beside it, typed as it was.
    box = f"offer-{row.id}"
    refused = admin.post(
        f"/admin/recipients/{row.id}/offer",
        data={
            "csrf_token": csrf(admin, "/admin/recipients"),
            "offered_to_reporters": "y",
            "reporter_channel": "https://203.0.113.9/unggah",
        },
    )
    page = refused.get_data(as_text=True)
    assert refused.status_code == 409 and f'id="{box}-error"' in page
    assert 'value="https://203.0.113.9/unggah"' in page
    stop = admin.post(
        f"/admin/recipients/{row.id}/offer",
        data={"csrf_token": csrf(admin, "/admin/recipients"), "reporter_channel": ""},
    )
    assert stop.status_code == 303
    listed = admin.get("/admin/recipients").get_data(as_text=True)
    assert "Tidak ditawarkan kepada pelapor." in listed[listed.index('id="waiting-') :]
    assert f'id="unsigned-{row.id}"' not in listed  # its offer checks


def test_an_offer_is_signed_where_the_key_is_and_checked_by_the_reporter_portal(
    staff_app, reporter_app, clients, database_url
):
    """The approval on the staff portal signs the offer with the instance's audit key;
    the reporter portal checks it with the key it knows. An offer that does not check
    (approved before offers were signed, or changed in the database) is marked on the
    admins' page and proposed again; a staff host without the signing key refuses its
    approval in words, and applies nothing."""
    admin, second = clients["admin"], clients["admin2"]
    name = f"Ombudsman {uuid.uuid4().hex[:4]}"
    with database(database_url) as session:
        first = person(session, f"admin.tanda{uuid.uuid4().hex[:4]}", Role.ADMIN)
        proposal = proposals.propose_recipient(
            session, name, str(pyrage.x25519.Identity.generate().to_public()), first.actor()
        )
        session.commit()
    added = second.post(
        f"/admin/proposals/{proposal.id}/approve",
        data={"csrf_token": csrf(second, "/admin/proposals"), "confirm": "y"},
    )
    assert added.status_code == 303
    row_id = proposal.recipient_id
    offer = admin.post(
        f"/admin/recipients/{row_id}/offer",
        data={
            "csrf_token": csrf(admin, "/admin/recipients"),
            "offered_to_reporters": "y",
            "reporter_channel": "https://ombudsman.go.id/lapor",
        },
    )
    assert offer.status_code == 303
    with database(database_url) as session:
        offer_id = session.scalar(
            select(Proposal.id).where(
                Proposal.recipient_id == row_id, Proposal.kind == "recipient_offer"
            )
        )
    kept = staff_app.extensions["sipadu.staff"]
    staff_app.extensions["sipadu.staff"] = dataclasses.replace(kept, signing_seed=None)
    try:
        refused = second.post(
            f"/admin/proposals/{offer_id}/approve",
            data={"csrf_token": csrf(second, "/admin/proposals"), "confirm": "y"},
        )
    finally:
        staff_app.extensions["sipadu.staff"] = kept
    page = html.unescape(refused.get_data(as_text=True))
    assert refused.status_code == 409 and "Tawaran kepada pelapor tidak dapat disetujui" in page
    reporter_key = reporter_app.extensions["sipadu.reporter"].audit_key
    with database(database_url) as session:
        row = session.get(ExportRecipient, row_id)
        assert not row.offered_to_reporters and row.offer_signature is None  # nothing applied
    approved = second.post(
        f"/admin/proposals/{offer_id}/approve",
        data={"csrf_token": csrf(second, "/admin/proposals"), "confirm": "y"},
    )
    assert approved.status_code == 303
    with database(database_url) as session:
        row = session.get(ExportRecipient, row_id)
        assert row.offered_to_reporters and offer_checks(row, reporter_key)
        row.offer_signature = None  # as an offer approved before offers were signed
        session.commit()
    listed = admin.get("/admin/recipients").get_data(as_text=True)
    assert f'id="unsigned-{row_id}"' in listed and "Pelapor tidak melihatnya" in listed
    again = admin.post(  # the same offer: not "unchanged", since reporters do not see it
        f"/admin/recipients/{row_id}/offer",
        data={
            "csrf_token": csrf(admin, "/admin/recipients"),
            "offered_to_reporters": "y",
            "reporter_channel": "https://ombudsman.go.id/lapor",
        },
    )
    assert again.status_code == 303


def test_a_reporter_portal_that_knows_another_audit_key_offers_nothing(
    reporter_app, database_url, clients, agencies
):
    """The offers are checked with the key the reporter portal's configuration gives
    (SIPADU_AUDIT_PUBLIC_KEY, or the signing key's public half), never one read from the
    database: another instance's key, or none, and no agency is offered or used."""
    _report_id, box, _ = new_report(reporter_app, database_url, clients, overdue=True)
    assert str(agencies["KPK"][0]) in box.get("/mailbox").get_data(as_text=True)
    kept = reporter_app.extensions["sipadu.reporter"]
    try:
        for key in (signing_public_key(os.urandom(32)), None):
            reporter_app.extensions["sipadu.reporter"] = dataclasses.replace(kept, audit_key=key)
            page = box.get("/mailbox").get_data(as_text=True)
            assert 'id="escalation-form"' not in page and str(agencies["KPK"][0]) not in page
            refused = escalate(box, agencies["KPK"][0])
            assert refused.status_code == 409 and refused.mimetype == "text/html"
            assert "tidak ada instansi lain" in refused.get_data(as_text=True)
    finally:
        reporter_app.extensions["sipadu.reporter"] = kept


def test_a_session_that_ends_during_the_download_does_not_cut_it(
    reporter_app, database_url, clients, agencies, config, redis_url
):
    """The file is made from keys the request opened; the mailbox closing itself (or the
    reporter leaving) midway through a slow download changes nothing of it."""
    _report_id, box, _ = new_report(reporter_app, database_url, clients, overdue=True)
    kpk_id, kpk = agencies["KPK"]
    response = escalate(box, kpk_id)
    assert response.status_code == 200 and response.is_streamed
    pieces = iter(response.response)
    first = next(pieces)
    assert end_mailbox_sessions(redis_url, Path(config.volatile_path)) >= 1
    sealed = first + b"".join(pieces)
    response.close()
    zipped = zipfile.ZipFile(io.BytesIO(pyrage.decrypt(sealed, [kpk])))
    assert zipped.testzip() is None and "manifest.json" in zipped.namelist()
    assert box.get("/mailbox").status_code == 303  # and the mailbox is closed
