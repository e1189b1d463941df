"""Conflict-of-interest routing over HTTP and at the shell (issue 18, item 3): the
reporter's checkbox, the admin page under the two-person rule with fingerprints, the
ordinary investigator's and custodian's pages that never show such a report, and an
outside keyholder who opens it with its own age identity (``sipadu coi export``, then
the real ``age`` tool)."""

import io
import json
import re
import subprocess
import uuid
import zipfile

import pyrage
import pytest
from sqlalchemy import select

from sipadu.persistence.models import (
    AuditEvent,
    CoiMember,
    IdentityRequest,
    Proposal,
    StaffAccount,
)
from sipadu.services.export_recipients import display_fingerprint as age_fingerprint
from sipadu.services.key_ring import display_fingerprint
from tests.helpers import database, invoke, post, report_id_of, submit

PAGE = "/admin/conflict-of-interest"
MARKER = "Pemeriksa Inspektorat minta imbalan"


def _account(database_url: str, username: str) -> StaffAccount:
    with database(database_url) as session:
        account = session.scalar(select(StaffAccount).where(StaffAccount.username == username))
        session.expunge_all()
        return account


def _pending(database_url: str) -> list[Proposal]:
    with database(database_url) as session:
        rows = list(
            session.scalars(
                select(Proposal).where(
                    Proposal.coi_member_id.is_not(None), Proposal.state == "pending"
                )
            )
        )
        session.expunge_all()
        return rows


def _trail(database_url: str, action: str) -> list[AuditEvent]:
    with database(database_url) as session:
        rows = list(session.scalars(select(AuditEvent).where(AuditEvent.action == action)))
        session.expunge_all()
        return rows


@pytest.fixture(scope="module")
def outside(tmp_path_factory):
    """An outside keyholder's age identity (as BPKP would make it) and its file."""
    identity = pyrage.x25519.Identity.generate()
    key_file = tmp_path_factory.mktemp("bpkp") / "bpkp.txt"
    key_file.write_text(f"# public key: {identity.to_public()}\n{identity}\n")
    return identity, key_file


@pytest.fixture(scope="module")
def team(clients, database_url, outside):
    """The team as admins configure it on the page: pemeriksa2 as its investigator and
    BPKP's age key as its outside keyholder, each proposed by one admin and approved by
    the other."""
    admin, second = clients["admin"], clients["admin2"]
    pemeriksa2 = _account(database_url, "pemeriksa2")
    proposed = post(admin, f"{PAGE}/staff", PAGE, account=str(pemeriksa2.id), kind="investigator")
    assert proposed.status_code == 303, proposed.get_data(as_text=True)
    identity, _file = outside
    proposed = post(
        admin, f"{PAGE}/external", PAGE, name="BPKP Perwakilan", recipient=str(identity.to_public())
    )
    assert proposed.status_code == 303, proposed.get_data(as_text=True)
    waiting = _pending(database_url)
    shown = admin.get(PAGE).get_data(as_text=True)
    for proposal in waiting:  # the proposer cannot approve their own
        own = post(
            admin, f"/admin/proposals/{proposal.id}/approve", "/admin/proposals", confirm="y"
        )
        assert own.status_code == 409
    for proposal in waiting:
        approved = post(
            second, f"/admin/proposals/{proposal.id}/approve", "/admin/proposals", confirm="y"
        )
        assert approved.status_code == 303
    return shown


def test_admins_configure_the_team_with_fingerprints_and_two_people(
    clients, team, database_url, outside
):
    identity, _file = outside
    recipient = str(identity.to_public())
    pemeriksa2 = _account(database_url, "pemeriksa2")
    # while proposed, the page showed both with their fingerprints
    assert display_fingerprint(pemeriksa2) in team and age_fingerprint(recipient) in team
    page = clients["admin2"].get(PAGE + "?lang=en").get_data(as_text=True)
    assert "BPKP Perwakilan" in page and recipient in page
    assert display_fingerprint(pemeriksa2) in page
    assert "investigator of the team" in page and "outside keyholder" in page
    with database(database_url) as session:
        states = {m.state for m in session.scalars(select(CoiMember))}
    assert states == {"active"}
    added = [json.loads(e.detail) for e in _trail(database_url, "coi_member.add")]
    assert {d["member"] for d in added} == {"investigator", "external"}
    assert all(len(d["fingerprint"]) == 64 for d in added)
    # no custodian in the team yet: admins are warned on their home page
    home = clients["admin"].get("/?lang=en").get_data(as_text=True)
    assert 'id="dash-coi-warning"' in home and PAGE in home
    assert clients["pemeriksa1"].get(PAGE).status_code in (403, 404)
    assert clients["inspektur"].get(PAGE).status_code in (403, 404)


def test_the_reporter_form_asks_plainly_and_keeps_the_tick(reporter_app):
    client = reporter_app.test_client()
    page = client.get("/report").get_data(as_text=True)
    assert 'name="concerns_inspectorate"' in page and "Inspektorat sendiri" in page
    assert "tim tersendiri" in page  # why we ask
    english = client.get("/report?lang=en").get_data(as_text=True)
    assert "staff of the Inspectorate itself" in english and "separate team" in english
    data = {"category": "kkn", "title": "", "what": "x", "concerns_inspectorate": "y"}
    data["csrf_token"] = re.search(r'name="csrf_token" [^>]*value="([^"]+)"', page).group(1)
    refused = client.post("/report", data=data)
    assert refused.status_code == 400
    box = re.search(
        r'<input[^>]*name="concerns_inspectorate"[^>]*>', refused.get_data(as_text=True)
    )
    assert box and "checked" in box.group(0)


def _total(client) -> int:
    """The home page's "reports in your list" count."""
    home = client.get("/").get_data(as_text=True)
    return int(re.search(r'href="/reports" data-count="(\d+)"', home).group(1))


@pytest.fixture(scope="module")
def coi_report(reporter_app, team, clients, database_url) -> tuple[uuid.UUID, dict[str, int]]:
    """The report about the inspectorate's own staff, and each investigator's home-page
    count from before it came."""
    before = {name: _total(clients[name]) for name in ("pemeriksa1", "pemeriksa2")}
    submit(
        reporter_app.test_client(),
        title=MARKER,
        what="Seorang pemeriksa meminta uang",
        identity="Rahasia Pelapor 0812",
        concerns_inspectorate="y",
    )
    return report_id_of(database_url, MARKER, clients["pemeriksa2"]), before


def test_an_ordinary_investigator_finds_it_nowhere(clients, coi_report):
    report_id, before = coi_report
    me = clients["pemeriksa1"]
    assert MARKER not in me.get("/reports").get_data(as_text=True)
    for query in ("?status=received", "?deadline=ack_soon", "?unread=y"):
        assert MARKER not in me.get("/reports" + query).get_data(as_text=True)
    found = post(me, "/reports/search", "/reports/search", q="imbalan")
    assert found.status_code == 200 and MARKER not in found.get_data(as_text=True)
    # the case page by id: the same answer as for a report that does not exist
    unknown_id = uuid.uuid4()
    hidden, unknown = me.get(f"/reports/{report_id}"), me.get(f"/reports/{unknown_id}")
    assert hidden.status_code == unknown.status_code == 404
    assert hidden.get_data(as_text=True).replace(str(report_id), "") == unknown.get_data(
        as_text=True
    ).replace(str(unknown_id), "")
    for page in ("export", "print"):
        assert me.get(f"/reports/{report_id}/{page}").status_code == 404
    # the home page's count did not move for them; it did for the team's investigator
    assert _total(me) == before["pemeriksa1"]
    assert _total(clients["pemeriksa2"]) == before["pemeriksa2"] + 1
    assert clients["pemeriksa2"].get(f"/reports/{report_id}").status_code == 200
    # admins' pages are not theirs either
    assert me.get("/admin/holds").status_code in (403, 404)


def test_an_ordinary_custodian_never_sees_its_identity_request(clients, coi_report, database_url):
    report_id, _before = coi_report
    asked = post(
        clients["pemeriksa2"],
        f"/reports/{report_id}/identity-requests",
        f"/reports/{report_id}",
        reason="Perlu klarifikasi langsung",
    )
    assert asked.status_code in (200, 303), asked.get_data(as_text=True)
    custodian = clients["inspektur"]
    page = custodian.get("/identity-requests").get_data(as_text=True)
    assert str(report_id) not in page and "Perlu klarifikasi" not in page
    home = custodian.get("/").get_data(as_text=True)
    assert re.search(r'href="/identity-requests" data-count="0"', home)
    with database(database_url) as session:
        request_id = session.scalar(
            select(IdentityRequest.id).where(IdentityRequest.report_id == report_id)
        )
    refused = post(
        custodian, f"/identity-requests/{request_id}/refuse", "/identity-requests", confirm="y"
    )
    assert refused.status_code in (400, 404, 409)
    with database(database_url) as session:
        assert session.get(IdentityRequest, request_id).state == "pending"
    assert custodian.get("/admin/holds").status_code in (403, 404)


def test_the_outside_keyholder_opens_it_with_its_own_age_identity(
    env, coi_report, outside, tmp_path, database_url
):
    coi_report, _before = coi_report
    _identity, key_file = outside
    out = tmp_path / "laporan.zip.age"
    export = ("coi", "export", "--report", str(coi_report), "--identity")
    result = invoke(env, *export, str(key_file), "--out", str(out))
    assert result.exit_code == 0, result.output
    assert out.read_bytes().startswith(b"age-encryption.org/v1")
    opened = subprocess.run(["age", "-d", "-i", str(key_file), str(out)], capture_output=True)
    assert opened.returncode == 0, opened.stderr
    archive = zipfile.ZipFile(io.BytesIO(opened.stdout))
    report = json.loads(archive.read("report.json"))
    assert report["report_id"] == str(coi_report)
    assert report["fields"]["title"] == MARKER
    assert report["identity"] is None  # never the reporter's identity
    assert "Rahasia Pelapor" not in opened.stdout.decode("latin-1")
    assert "manifest.sig" in archive.namelist()
    (entry,) = _trail(database_url, "report.export_external")
    assert entry.report_id == coi_report
    assert json.loads(entry.detail)["recipient"] == "BPKP Perwakilan"
    # a file that exists is not overwritten; another age key opens nothing
    again = invoke(env, *export, str(key_file), "--out", str(out))
    assert again.exit_code != 0
    stranger = tmp_path / "lain.txt"
    stranger.write_text(f"{pyrage.x25519.Identity.generate()}\n")
    refused = invoke(env, *export, str(stranger), "--out", str(tmp_path / "x.age"))
    assert refused.exit_code != 0 and not (tmp_path / "x.age").exists()


def test_every_investigator_can_see_who_the_team_is(clients, team, database_url, outside):
    """G3: like routing, who receives these reports is on the routing page, with the
    fingerprints, for every investigator, admin and auditor to compare."""
    identity, _file = outside
    page = clients["pemeriksa1"].get("/routing?lang=en").get_data(as_text=True)
    members = page[page.index('id="coi-members"') :]
    assert "pemeriksa2" in members and "BPKP Perwakilan" in members
    assert display_fingerprint(_account(database_url, "pemeriksa2")) in members
    assert age_fingerprint(str(identity.to_public())) in members
    assert "investigator of the team" in members and "outside keyholder" in members


def test_the_team_investigator_is_told_and_offered_only_team_colleagues(
    reporter_app, clients, coi_report, database_url
):
    report_id, _before = coi_report
    me = clients["pemeriksa2"]
    page = me.get(f"/reports/{report_id}?lang=en").get_data(as_text=True)
    assert 'id="concerns-inspectorate"' in page and "conflict-of-interest team" in page
    offered = re.findall(r'<option value="[0-9a-f-]{36}">([^<]+)</option>', page)
    assert "pemeriksa1" not in offered  # an ordinary investigator is not offered
    # an ordinary report's page says nothing of the kind, and offers every colleague
    plain = f"Laporan biasa {uuid.uuid4().hex[:6]}"
    submit(reporter_app.test_client(), title=plain)
    ordinary = me.get(f"/reports/{report_id_of(database_url, plain, me)}").get_data(as_text=True)
    assert 'id="concerns-inspectorate"' not in ordinary
