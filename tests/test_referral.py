"""Referral (pelimpahan) over HTTP (issue 20, item 1): the case page's form refers a
report to an agency two admins registered, only with its CSRF token and the tick; sent
again it is the same referral; the bundle is downloaded by a POST of its own, recorded
before the first byte, and opens with the real ``age`` tool; an agency removed between
the form and the submit, and a report not held, get nothing; the agency's answer ends
the follow-up; the reporter reads "referred to <agency> on <day>" in the mailbox, in
both languages. Migration 0024 goes up and down on SQLite and PostgreSQL, and the
reporter portal's database role reads what the mailbox shows, and nothing more."""

import html
import io
import json
import re
import subprocess
import uuid
import zipfile
from datetime import UTC, date, datetime

import pyrage
import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import select

from sipadu.crypto import new_keypair
from sipadu.persistence.db import make_engine, make_sessionmaker
from sipadu.persistence.migrate import alembic_config, upgrade
from sipadu.persistence.models import (
    AuditEvent,
    Base,
    ExportRecipient,
    Proposal,
    Referral,
    Report,
)
from sipadu.services.dates import today
from sipadu.services.export_recipients import recipient_fingerprint
from tests.helpers import (
    csrf,
    database,
    login,
    post,
    receipt,
    report_id_of,
    report_with_files,
)

IDENTITY = "Ani Wijaya, 0813 1111 2222"
WHO = "Kasubag Umum Dedi"


def age_keygen(tmp_path, name: str) -> tuple[str, str]:
    key_file = tmp_path / f"{name}.txt"
    made = subprocess.run(
        ["age-keygen", "-o", str(key_file)], capture_output=True, text=True, check=False
    )
    if made.returncode == 127:  # pragma: no cover
        pytest.fail("the age tool is not installed (make programs)")
    assert made.returncode == 0, made.stderr
    return str(key_file), re.search(r"Public key: (age1[0-9a-z]+)", made.stderr).group(1)


def register(clients, database_url: str, name: str, recipient: str) -> uuid.UUID:
    """An agency registered by two admins (docs/casework.md), by id."""
    assert (
        post(
            clients["admin"],
            "/admin/recipients",
            "/admin/recipients",
            name=name,
            recipient=recipient,
        ).status_code
        == 303
    )
    with database(database_url) as session:
        row = session.scalar(select(ExportRecipient).where(ExportRecipient.name == name))
        proposal = session.scalar(select(Proposal).where(Proposal.recipient_id == row.id))
        row_id, proposal_id = row.id, proposal.id
    approved = post(
        clients["admin2"],
        f"/admin/proposals/{proposal_id}/approve",
        "/admin/proposals",
        confirm="y",
    )
    assert approved.status_code == 303
    return row_id


def remove(clients, database_url: str, row_id: uuid.UUID) -> None:
    assert post(
        clients["admin"], f"/admin/recipients/{row_id}/remove", "/admin/recipients", confirm="y"
    ).status_code in (200, 303)
    with database(database_url) as session:
        proposal = session.scalar(
            select(Proposal).where(Proposal.recipient_id == row_id, Proposal.state == "pending")
        )
        proposal_id = proposal.id
    assert (
        post(
            clients["admin2"],
            f"/admin/proposals/{proposal_id}/approve",
            "/admin/proposals",
            confirm="y",
        ).status_code
        == 303
    )
    with database(database_url) as session:
        assert session.get(ExportRecipient, row_id).state == "removed"


def entries(database_url: str, report_id: uuid.UUID, action: str) -> list[dict]:
    with database(database_url) as session:
        return [
            json.loads(e.detail or "{}")
            for e in session.scalars(
                select(AuditEvent)
                .where(AuditEvent.report_id == report_id, AuditEvent.action == action)
                .order_by(AuditEvent.seq)
            )
        ]


def referrals_of(database_url: str, report_id: uuid.UUID) -> list[Referral]:
    with database(database_url) as session:
        rows = list(session.scalars(select(Referral).where(Referral.report_id == report_id)))
        session.expunge_all()
        return rows


@pytest.fixture
def reported(reporter_app, clients, database_url) -> tuple[uuid.UUID, str, str]:
    """A report with an identity and a file: its id, code and passphrase."""
    marker = f"Limpah {uuid.uuid4().hex[:8]}"
    code, passphrase = receipt(
        report_with_files(
            reporter_app.test_client(),
            [("Surat Dedi.txt", b"isi surat", "text/plain")],
            title=marker,
            who=WHO,
            identity=IDENTITY,
        )
    )
    return report_id_of(database_url, marker, clients["pemeriksa1"]), code, passphrase


def refer_form(agency: uuid.UUID, *parts: str, **extra: str) -> dict:
    data = {"to": str(agency), "confirm": "y", **extra}
    data["include"] = list(parts) or ["field:title", "field:what", "messages", "attachments"]
    return data


def test_a_referral_over_http_takes_the_token_and_the_tick_and_is_made_once(
    clients, reported, database_url, tmp_path
):
    report_id, _code, _passphrase = reported
    investigator = clients["pemeriksa1"]
    key_file, recipient = age_keygen(tmp_path, "kpk")
    agency = register(clients, database_url, f"KPK {uuid.uuid4().hex[:4]}", recipient)
    case = f"/reports/{report_id}"
    page = investigator.get(case).get_data(as_text=True)
    assert 'id="refer-form"' in page and str(agency) in page
    # The identity is offered only to who may see it: this investigator may not.
    assert 'value="identity"' not in page

    no_token = investigator.post(f"{case}/referrals", data=refer_form(agency))
    no_tick = post(investigator, f"{case}/referrals", case, **{**refer_form(agency), "confirm": ""})
    assert no_token.status_code == 400 and no_tick.status_code == 400
    assert "centang kotak di samping tombol" in no_tick.get_data(as_text=True)
    assert referrals_of(database_url, report_id) == []
    assert entries(database_url, report_id, "report.refer") == []

    token = csrf(investigator, case)
    data = {"csrf_token": token, **refer_form(agency, "field:title", "field:what", "attachments")}
    first = investigator.post(f"{case}/referrals", data=data)
    again = investigator.post(f"{case}/referrals", data=data)  # a double click, a resend

    for answer in (first, again):
        assert answer.status_code == 303
        assert answer.headers["Location"].endswith(f"{case}#part-referral")
    (referral,) = referrals_of(database_url, report_id)
    assert len(entries(database_url, report_id, "report.refer")) == 1
    with database(database_url) as session:
        assert session.get(Report, report_id).status == "referred"
    page = html.unescape(investigator.get(case).get_data(as_text=True))
    assert f'id="not-downloaded-{referral.id}"' in page
    assert f"/referrals/{referral.id}/bundle" in page

    # The bundle: a POST with its token, recorded before the first byte, for age.
    bundle = f"{case}/referrals/{referral.id}/bundle"
    assert investigator.post(bundle).status_code == 400  # no token: nothing made
    assert entries(database_url, report_id, "referral.bundle") == []
    answer = investigator.post(bundle, data={"csrf_token": csrf(investigator, case)})
    assert answer.status_code == 200
    assert "sipadu-pelimpahan-" in answer.headers["Content-Disposition"]
    sealed = tmp_path / "bundle.zip.age"
    sealed.write_bytes(answer.get_data())
    assert entries(database_url, report_id, "referral.bundle") == [
        {
            "referral": str(referral.id),
            "recipient": referral.agency,
            "recipient_fingerprint": referral.fingerprint,
            "identity_included": False,
        }
    ]
    opened = subprocess.run(
        ["age", "-d", "-i", key_file, str(sealed)], capture_output=True, check=True
    ).stdout
    archive = zipfile.ZipFile(io.BytesIO(opened))
    assert archive.namelist() == [
        "report.json",
        "attachments/001-file.txt",  # the file's own name was not ticked
        "manifest.json",
        "manifest.sig",
    ]
    report = json.loads(archive.read("report.json"))
    assert set(report["fields"]) == {"title", "what"} and report["identity"] is None
    assert b"Dedi" not in opened and b"Ani Wijaya" not in opened
    assert json.loads(archive.read("manifest.json"))["referral"]["profile"]["dropped"] == sorted(
        ["attachment_names", "field:estimated_loss", "field:how", "field:intake",
         "field:status_reason", "field:unit", "field:when", "field:where", "field:who",
         "identity", "messages", "notes"]
    )  # fmt: skip
    page = investigator.get(case).get_data(as_text=True)
    assert f'id="not-downloaded-{referral.id}"' not in page


def test_the_agency_removed_between_the_form_and_the_submit_gets_nothing(
    clients, reported, database_url, tmp_path
):
    report_id, _code, _passphrase = reported
    investigator = clients["pemeriksa1"]
    _key_file, recipient = age_keygen(tmp_path, "ombudsman")
    agency = register(clients, database_url, f"Ombudsman {uuid.uuid4().hex[:4]}", recipient)
    case = f"/reports/{report_id}"
    token = csrf(investigator, case)  # the form, as it was loaded
    remove(clients, database_url, agency)

    answer = investigator.post(
        f"{case}/referrals",
        data={"csrf_token": token, **refer_form(agency), "refer_reason": "Kata untuk pelapor"},
    )

    assert answer.status_code == 400
    page = html.unescape(answer.get_data(as_text=True))
    assert "tidak (lagi) terdaftar" in page
    assert "Kata untuk pelapor" in page  # what was typed is kept
    assert referrals_of(database_url, report_id) == []
    assert entries(database_url, report_id, "report.refer") == []


def test_a_referral_pointed_at_another_key_in_the_database_gets_no_bundle(
    clients, reported, database_url, tmp_path
):
    """A database writer swaps the registry row's key for their own and copies its
    fingerprint into the referral row: the case page says the referral is not what the
    audit log recorded and offers no bundle; the download is refused (409) and recorded
    as an integrity failure, never encrypted to the swapped key (G3)."""
    report_id, _code, _passphrase = reported
    investigator = clients["pemeriksa1"]
    _key_file, recipient = age_keygen(tmp_path, "bpkp")
    agency = register(clients, database_url, f"BPKP {uuid.uuid4().hex[:4]}", recipient)
    case = f"/reports/{report_id}"
    data = {"csrf_token": csrf(investigator, case), **refer_form(agency)}
    assert investigator.post(f"{case}/referrals", data=data).status_code == 303
    (referral,) = referrals_of(database_url, report_id)
    attacker = str(pyrage.x25519.Identity.generate().to_public())
    with database(database_url) as session:
        session.get(ExportRecipient, agency).recipient = attacker
        session.get(Referral, referral.id).fingerprint = recipient_fingerprint(attacker)
        session.commit()

    page = html.unescape(investigator.get(case).get_data(as_text=True))
    assert "tidak sesuai dengan yang tercatat di log audit" in page
    assert f"/referrals/{referral.id}/bundle" not in page
    answer = investigator.post(
        f"{case}/referrals/{referral.id}/bundle", data={"csrf_token": csrf(investigator, case)}
    )
    assert answer.status_code == 409
    assert entries(database_url, report_id, "referral.bundle") == []
    assert entries(database_url, report_id, "record.integrity_failure") == [
        {"kind": "referral", "id": str(referral.id)}
    ]


def test_a_report_not_held_is_not_found(clients, reported, database_url, tmp_path):
    report_id, _code, _passphrase = reported
    _key_file, recipient = age_keygen(tmp_path, "bpkp")
    agency = register(clients, database_url, f"BPKP {uuid.uuid4().hex[:4]}", recipient)
    case = f"/reports/{report_id}"
    owner, other = clients["pemeriksa1"], clients["pemeriksa2"]
    assert post(owner, f"{case}/referrals", case, **refer_form(agency)).status_code == 303
    (referral,) = referrals_of(database_url, report_id)
    with database(database_url) as session:
        colleague = session.scalar(
            sa.text("SELECT id FROM staff_account WHERE username = 'pemeriksa2'")
        )
    revoked = post(owner, f"{case}/grants/{uuid.UUID(str(colleague))}/revoke", case, confirm="y")
    assert revoked.status_code == 303
    token = csrf(other, "/reports")
    for path, data in (
        (f"{case}/referrals", refer_form(agency)),
        (f"{case}/referrals/{referral.id}/bundle", {}),
        (f"{case}/referrals/{referral.id}/response", {"response": "Diterima"}),
    ):
        assert other.post(path, data={"csrf_token": token, **data}).status_code == 404, path
    assert entries(database_url, report_id, "referral.bundle") == []
    assert len(referrals_of(database_url, report_id)) == 1


def test_the_answer_ends_the_follow_up_and_the_reporter_reads_the_referral(
    reporter_app, clients, reported, database_url, tmp_path
):
    report_id, code, passphrase = reported
    investigator = clients["pemeriksa1"]
    _key_file, recipient = age_keygen(tmp_path, "polri")
    name = f"Polda Metro {uuid.uuid4().hex[:4]}"
    agency = register(clients, database_url, name, recipient)
    case = f"/reports/{report_id}"
    assert post(investigator, f"{case}/referrals", case, **refer_form(agency)).status_code == 303
    (referral,) = referrals_of(database_url, report_id)
    listed = investigator.get("/reports?deadline=follow_up_soon").get_data(as_text=True)
    assert str(report_id) not in listed  # 30 days ahead
    assert f'id="follow-up-{referral.id}"' in investigator.get(case).get_data(as_text=True)

    answer = post(
        investigator,
        f"{case}/referrals/{referral.id}/response",
        case,
        response="Diterima oleh penyidik",
    )

    assert answer.status_code == 303
    page = investigator.get(case).get_data(as_text=True)
    assert "Diterima oleh penyidik" in page and f'id="follow-up-{referral.id}"' not in page
    assert entries(database_url, report_id, "referral.response")[0]["recipient"] == name
    assert "penyidik" not in json.dumps(entries(database_url, report_id, "referral.response"))

    mailbox = reporter_app.test_client()
    assert login(mailbox, code, passphrase).status_code == 303
    day = today()
    shown = html.unescape(mailbox.get("/mailbox").get_data(as_text=True))
    assert f"Dilimpahkan ke {name} pada {day.day}" in shown
    assert "Nama atau kontak Anda tidak diteruskan." in shown
    assert "Diterima oleh penyidik" not in shown  # the agency's answer is the holders'
    english = html.unescape(mailbox.get("/mailbox?lang=en").get_data(as_text=True))
    assert f"Referred to {name} on " in english and "Referred to another body" in english


# --- the migration ------------------------------------------------------------------------


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request, tmp_path):
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'referral.db'}"
    else:
        yield request.getfixturevalue("fresh_postgres")


def test_the_migration_goes_up_and_down_on_both_databases(url):
    from sipadu.persistence.models import Role
    from sipadu.services import proposals
    from sipadu.services import referral as referrals
    from sipadu.services.referral import FollowUp, Profile
    from sipadu.settings.config import DayCount
    from tests.services.helpers import held, person, route, service_submit

    before = "0023_statistics_indexes"
    upgrade(url)
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            assert compare_metadata(context, Base.metadata) == []
        with make_sessionmaker(engine, write=True).begin() as session:
            investigator = person(session, f"p.{uuid.uuid4().hex[:6]}", Role.INVESTIGATOR)
            route(session, investigator)
            admin = person(session, f"a.{uuid.uuid4().hex[:6]}", Role.ADMIN)
            second = person(session, f"b.{uuid.uuid4().hex[:6]}", Role.ADMIN)
            agency = str(pyrage.x25519.Identity.generate().to_public())
            proposal = proposals.propose_recipient(session, "KPK", agency, admin.actor())
            proposals.approve(session, proposal.id, second.actor(), datetime.now(UTC))
            report = service_submit(session, new_keypair().public_key())
            referrals.refer(
                session,
                held(session, report, investigator),
                investigator.id,
                proposal.recipient_id,
                Profile.default(),
                "",
                date(2025, 3, 14),
                FollowUp(30, DayCount.CALENDAR),
            )
        with pytest.raises(RuntimeError, match="referral"):  # the referral would be lost
            command.downgrade(alembic_config(url), before)
        with engine.begin() as conn:
            assert conn.execute(sa.text("SELECT count(*) FROM referral")).scalar_one() == 1
            conn.execute(sa.text("DELETE FROM referral"))
        command.downgrade(alembic_config(url), before)
        with engine.connect() as conn:
            assert "referral" not in sa.inspect(conn).get_table_names()
            status = conn.execute(sa.text("SELECT status FROM report")).scalars().all()
        assert status == ["referred"]  # the report stays as it was
        upgrade(url)
        with engine.connect() as conn:
            assert conn.execute(sa.text("SELECT count(*) FROM referral")).scalar_one() == 0
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            assert compare_metadata(context, Base.metadata) == []
    finally:
        engine.dispose()
