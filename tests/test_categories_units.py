"""Categories, sub-categories and reported units that admins configure (issue 18, item 2):
proposed by one admin, shown to the second exactly as they will apply, approved, then
offered on the reporter's form (without JavaScript, grouped, every choice kept on a
refusal and a language switch), sealed in the report, and shown to investigators in
words on the list, the case page and the printable case file."""

import io
import json
import re
import uuid

import pytest
from sqlalchemy import select

from sipadu.persistence.models import (
    AuditEvent,
    Category,
    Proposal,
    ProposalState,
    Unit,
    UnitKind,
)
from tests.helpers import csrf, database, form_tokens, login, post, report_id_of, submit

SUB_ID = "Pengadaan barang dan jasa"
SUB_EN = "Procurement of goods and services"
CSV_GOOD = (
    "kind,name,parent\n"
    "Kota Administrasi,Jakarta Uji,\n"
    "Kecamatan,Kecamatan Uji,Jakarta Uji\n"
    "Kelurahan,Kelurahan Uji Satu,Kecamatan Uji\n"
    "SKPD,Dinas Uji,\n"
)


def pending(database_url, kind: str) -> list[Proposal]:
    with database(database_url) as session:
        rows = session.scalars(
            select(Proposal).where(
                Proposal.kind == kind, Proposal.state == ProposalState.PENDING.value
            )
        )
        return list(rows)


def approve(client, proposal: Proposal):
    return post(
        client,
        f"/admin/proposals/{proposal.id}/approve",
        "/admin/proposals",
        confirm="y",
    )


@pytest.fixture(scope="module")
def configured(clients, database_url) -> dict[str, str]:
    """A sub-category of KKN and four units, each proposed by admin, approved by
    admin2: what the tests below find on the pages. Slug and unit ids by name."""
    admin, second = clients["admin"], clients["admin2"]
    with database(database_url) as session:
        kkn = session.scalar(select(Category).where(Category.slug == "kkn"))
    answer = post(
        admin,
        "/admin/categories/new",
        "/admin/categories",
        parent=str(kkn.id),
        label_id=SUB_ID,
        label_en=SUB_EN,
        description_id="Tender diatur, harga digelembungkan.",
        description_en="Rigged tenders, inflated prices.",
        examples_id="Contoh: pemenang tender sudah ditentukan.",
        examples_en="Example: the winner was chosen before the tender.",
        offered="y",
    )
    assert answer.status_code == 303, answer.get_data(as_text=True)
    (category_proposal,) = pending(database_url, "category_add")
    page = second.get("/admin/proposals").get_data(as_text=True)
    shown = page[page.index(f'id="content-{category_proposal.id}"') :]
    assert SUB_ID in shown and SUB_EN in shown and "Rigged tenders" in shown
    # The proposer cannot approve it; the second admin can.
    assert approve(admin, category_proposal).status_code == 409
    assert approve(second, category_proposal).status_code == 303

    answer = post(admin, "/admin/units/import", "/admin/units", text=CSV_GOOD)
    assert answer.status_code == 303, answer.get_data(as_text=True)
    (import_proposal,) = pending(database_url, "unit_import")
    page = second.get("/admin/proposals").get_data(as_text=True)
    for name in ("Jakarta Uji", "Kecamatan Uji", "Kelurahan Uji Satu", "Dinas Uji"):
        assert name in page
    assert approve(second, import_proposal).status_code == 303
    with database(database_url) as session:
        sub = session.scalar(select(Category).where(Category.label_en == SUB_EN))
        units = {u.name: str(u.id) for u in session.scalars(select(Unit))}
    return {"sub": sub.slug, **units}


def test_a_sub_category_and_units_reach_the_reporter_only_after_a_second_admin(
    reporter_app, configured
):
    page = reporter_app.test_client().get("/report?lang=en").get_data(as_text=True)
    assert f'<option value="{configured["sub"]}">{SUB_EN}</option>' in page
    assert '<optgroup label="Corruption, collusion or nepotism (KKN)">' in page
    assert '<optgroup label="Jakarta Uji">' in page
    village = configured["Kelurahan Uji Satu"]
    assert f'<option value="{village}">Kecamatan Uji — Kelurahan Uji Satu</option>' in page
    assert '<optgroup label="City-wide offices (SKPD)">' in page and "Dinas Uji" in page
    indonesian = reporter_app.test_client().get("/report").get_data(as_text=True)
    assert SUB_ID in indonesian and SUB_EN not in indonesian


def entries(database_url: str, action: str) -> list[dict]:
    with database(database_url) as session:
        rows = session.scalars(select(AuditEvent).where(AuditEvent.action == action))
        return [json.loads(e.detail or "{}") for e in rows]


def test_the_approval_is_in_the_audit_log_with_what_changed(configured, database_url):
    created = entries(database_url, "category.create")
    assert any(d.get("label_en") == SUB_EN and d.get("parent") == "kkn" for d in created)
    proposed = [d for d in entries(database_url, "proposal.create") if d.get("label_en")]
    assert proposed and len(proposed[0]["proposed_sha256"]) == 64
    units = entries(database_url, "unit.create")
    assert {"Jakarta Uji", "Kecamatan Uji", "Kelurahan Uji Satu", "Dinas Uji"} <= {
        d["name"] for d in units
    }


def test_a_report_names_its_sub_category_and_unit_and_investigators_read_them_in_words(
    reporter_app, clients, configured, database_url
):
    marker = f"Tender diatur {uuid.uuid4().hex[:8]}"
    code, passphrase, _page = submit(
        reporter_app.test_client(),
        title=marker,
        category="kkn",
        subcategory=configured["sub"],
        unit=configured["Kelurahan Uji Satu"],
    )
    investigator = clients["pemeriksa1"]
    report_id = report_id_of(database_url, marker, investigator)
    with database(database_url) as session:
        from sipadu.persistence.models import Report, ReportField

        report = session.get(Report, report_id)
        assert report.category_id == session.scalar(
            select(Category.id).where(Category.slug == configured["sub"])
        )
        stored = session.scalar(
            select(ReportField.sealed).where(
                ReportField.report_id == report_id, ReportField.name == "unit"
            )
        )
        assert configured["Kelurahan Uji Satu"].encode() not in stored  # sealed
    words = f"Korupsi, kolusi, atau nepotisme (KKN) — {SUB_ID}"
    path = "Jakarta Uji — Kecamatan Uji — Kelurahan Uji Satu"
    case = investigator.get(f"/reports/{report_id}").get_data(as_text=True)
    assert f'id="case-unit">{path}<' in case
    assert re.search(r'id="case-category">[^<]*' + re.escape(SUB_ID), case)
    listing = investigator.get("/reports").get_data(as_text=True)
    assert path in listing
    # Filtering by KKN finds the report filed under its sub-category.
    assert marker in investigator.get("/reports?category=kkn").get_data(as_text=True)
    assert marker not in investigator.get("/reports?category=staff_discipline").get_data(
        as_text=True
    )
    printed = investigator.get(f"/reports/{report_id}/print").get_data(as_text=True)
    assert path in printed and SUB_ID in printed
    assert words.split(" — ")[1] in case
    # The reporter reads them too, in the mailbox.
    box = reporter_app.test_client()
    assert login(box, code, passphrase).status_code == 303
    mailbox = box.get("/mailbox").get_data(as_text=True)
    assert path in mailbox and SUB_ID in mailbox


def test_a_sub_category_of_another_category_is_refused_beside_it_with_everything_kept(
    reporter_app, configured
):
    client = reporter_app.test_client()
    data = {
        "category": "staff_discipline",
        "subcategory": configured["sub"],
        "unit": configured["Dinas Uji"],
        "title": "Judul tetap",
        "what": "Uraian tetap",
    }
    answer = client.post("/report?lang=en", data={**form_tokens(client, "/report"), **data})
    page = answer.get_data(as_text=True)
    assert answer.status_code == 400
    assert 'id="subcategory-error"' in page
    assert f'<option value="{configured["sub"]}" selected>' in page
    assert f'<option value="{configured["Dinas Uji"]}" selected>' in page
    assert "Judul tetap" in page and "Uraian tetap" in page


def test_a_language_switch_keeps_the_sub_category_and_unit(reporter_app, configured):
    client = reporter_app.test_client()
    data = {
        "category": "kkn",
        "subcategory": configured["sub"],
        "unit": configured["Kecamatan Uji"],
        "title": "Judul",
        "switch_language": "",
    }
    answer = client.post("/report?lang=en", data={**form_tokens(client, "/report"), **data})
    page = answer.get_data(as_text=True)
    assert answer.status_code == 200
    assert f'<option value="{configured["sub"]}" selected>{SUB_EN}</option>' in page
    assert f'<option value="{configured["Kecamatan Uji"]}" selected>' in page


def test_the_form_stays_under_100_kb_with_three_hundred_units(
    reporter_app, configured, database_url
):
    with database(database_url) as session:
        city = session.scalar(select(Unit).where(Unit.name == "Jakarta Uji"))
        for d in range(20):
            district = Unit(
                id=uuid.uuid4(),
                kind=UnitKind.DISTRICT.value,
                name=f"Kecamatan Banyak {d:02d}",
                parent_id=city.id,
                active=True,
            )
            session.add(district)
            for k in range(14):
                session.add(
                    Unit(
                        id=uuid.uuid4(),
                        kind=UnitKind.SUBDISTRICT.value,
                        name=f"Kelurahan Contoh Panjang Namanya {d:02d}-{k:02d}",
                        parent_id=district.id,
                        active=True,
                    )
                )
        session.commit()
        assert len(list(session.scalars(select(Unit)))) >= 300
    for lang in ("id", "en"):
        page = reporter_app.test_client().get(f"/report?lang={lang}").get_data()
        assert page.count(b"<option") >= 300
        print(f"report_form_{lang}_kb={len(page) / 1024:.1f}")
        assert len(page) <= 100_000, len(page)  # "100 KB", as tests/test_reporter_pages.py


def test_an_import_with_bad_rows_is_refused_line_by_line_and_the_text_stays(
    clients, configured, database_url
):
    text = (
        "kind,name,parent\n"
        "Kelurahan,Kelurahan Yatim,Kecamatan Tidak Ada\n"
        "Desa,Desa Salah,\n"
        "Kota Administrasi,Jakarta Uji,\n"
        "Kecamatan,Kecamatan Baru,Jakarta Uji\n"
        "Kelurahan,Kelurahan Baru,Jakarta Uji\n"
    )
    answer = post(clients["admin"], "/admin/units/import?lang=en", "/admin/units", text=text)
    page = answer.get_data(as_text=True)
    assert answer.status_code == 400
    problems = page[page.index('id="import-problems"') :]
    for line in (2, 3, 4, 6):
        assert f"Line {line}:" in problems
    assert "Line 5:" not in problems
    assert "Kelurahan Yatim" in page and "Desa Salah" in page  # the text kept to correct
    assert pending(database_url, "unit_import") == []


def test_an_import_over_the_limits_is_refused_whole(clients):
    too_big = "kind,name,parent\n" + "SKPD,Dinas Ulang Ulang Ulang,\n" * 12_000
    answer = post(clients["admin"], "/admin/units/import?lang=en", "/admin/units", text=too_big)
    assert answer.status_code in (400, 413)
    many = "kind,name,parent\n" + "".join(f"SKPD,Dinas {n},\n" for n in range(3001))
    answer = post(clients["admin"], "/admin/units/import?lang=en", "/admin/units", text=many)
    assert answer.status_code == 400
    assert "3000" in answer.get_data(as_text=True)


def test_a_file_csv_cannot_read_comes_back_with_its_text_and_why(clients, database_url):
    """Review of issue 18: a value over 131,072 characters, or lines ended by CR alone,
    made the csv module raise: a server error, and the pasted text lost."""
    text = 'kind,name,parent\nSKPD,"' + "a" * 140_000 + '",\n'
    answer = post(clients["admin"], "/admin/units/import?lang=en", "/admin/units", text=text)
    page = answer.get_data(as_text=True)
    assert answer.status_code == 400
    assert "Line 2 is longer than 600 characters" in page
    assert "a" * 140_000 in page  # kept to correct
    answer = post(clients["admin"], "/admin/units/import", "/admin/units", text=text)
    assert answer.status_code == 400 and "Baris 2" in answer.get_data(as_text=True)
    unclosed = 'kind,name,parent\nSKPD,"' + ("b" * 500 + "\n") * 300
    answer = post(clients["admin"], "/admin/units/import?lang=en", "/admin/units", text=unclosed)
    assert answer.status_code == 400
    assert "cannot be read as CSV from line 2" in answer.get_data(as_text=True)
    assert pending(database_url, "unit_import") == []
    mac = b"kind,name,parent\rSKPD,Dinas Mac,\rSKPD,Dinas Mac Dua,\r"
    answer = clients["admin"].post(
        "/admin/units/import",
        data={
            "csrf_token": csrf(clients["admin"], "/admin/units"),
            "text": "",
            "upload": (io.BytesIO(mac), "units.csv", "text/csv"),
        },
        content_type="multipart/form-data",
    )
    assert answer.status_code == 303
    (proposal,) = pending(database_url, "unit_import")
    assert [row["name"] for row in json.loads(proposal.content)["rows"]] == [
        "Dinas Mac",
        "Dinas Mac Dua",
    ]
    rejected = post(
        clients["admin2"], f"/admin/proposals/{proposal.id}/reject", "/admin/proposals", confirm="y"
    )
    assert rejected.status_code == 303  # the module's other tests count the units


def test_a_unit_name_a_spreadsheet_would_run_is_refused_with_why(clients, database_url):
    """Review of issue 18: ``=cmd|' /C calc'!A0`` was accepted as a unit's name."""
    text = "kind,name,parent\nSKPD,=cmd|' /C calc'!A0,\nSKPD,@SUM(1+1),\nSKPD,Dinas Baik,\n"
    answer = post(clients["admin"], "/admin/units/import?lang=en", "/admin/units", text=text)
    page = answer.get_data(as_text=True)
    assert answer.status_code == 400
    problems = page[page.index('id="import-problems"') :]
    assert "Line 2:" in problems and "Line 3:" in problems and "Line 4:" not in problems
    assert "runs as a formula" in problems
    answer = post(
        clients["admin"], "/admin/units", "/admin/units", kind="skpd", name="+1", parent=""
    )
    assert answer.status_code == 400
    assert "rumus" in answer.get_data(as_text=True)
    assert pending(database_url, "unit_import") == pending(database_url, "unit_add") == []


def test_a_category_label_with_a_bidi_override_is_refused_beside_it(clients, database_url):
    answer = post(
        clients["admin"],
        "/admin/categories/new?lang=en",
        "/admin/categories",
        label_id="Nama \u202egnalam",
        label_en="Fine",
    )
    page = answer.get_data(as_text=True)
    assert answer.status_code == 400
    assert 'id="new-label_id-error"' in page
    assert pending(database_url, "category_add") == []


def test_a_csrf_token_is_needed(clients):
    assert clients["admin"].post("/admin/units", data={"name": "x"}).status_code == 400
    assert csrf(clients["admin"], "/admin/units")


def test_routing_by_unit_is_shown_with_fingerprints_to_investigators_after_approval(
    clients, configured, database_url
):
    from sipadu.services.key_ring import display_fingerprint
    from tests.helpers import account_of

    investigator = account_of(database_url, "pemeriksa2")
    answer = post(
        clients["admin"],
        "/admin/categories/unit-routes",
        "/admin/categories",
        unit=configured["Dinas Uji"],
        category="",
        account=str(investigator.id),
        change="add",
        confirm="y",
    )
    assert answer.status_code == 303
    assert 'id="unit-routes"' not in clients["pemeriksa1"].get("/routing").get_data(as_text=True)
    (proposal,) = [p for p in pending(database_url, "route_add") if p.unit_id]
    page = clients["admin2"].get("/admin/proposals").get_data(as_text=True)
    assert display_fingerprint(investigator) in page and "Dinas Uji" in page
    assert approve(clients["admin2"], proposal).status_code == 303
    shown = clients["pemeriksa1"].get("/routing").get_data(as_text=True)
    table = shown[shown.index('id="unit-routes"') :]
    assert "Dinas Uji" in table and display_fingerprint(investigator) in table


def test_routing_by_unit_needs_the_tick(clients, configured, database_url):
    from tests.helpers import account_of

    answer = post(
        clients["admin"],
        "/admin/categories/unit-routes?lang=en",
        "/admin/categories",
        unit=configured["Jakarta Uji"],
        category="",
        account=str(account_of(database_url, "pemeriksa1").id),
        change="add",
    )
    page = answer.get_data(as_text=True)
    assert answer.status_code == 400
    assert 'id="unit-route-confirm-error"' in page
    assert f'<option selected value="{configured["Jakarta Uji"]}">' in page
    assert [p for p in pending(database_url, "route_add") if p.unit_id is not None] == []


def test_an_expired_form_comes_back_with_the_sub_category_and_unit_chosen(reporter_app, configured):
    """A refused form token (the session expired, Tor Browser's New Identity): the form
    comes back from what was posted, every choice kept (sipadu.reporter.refused)."""
    client = reporter_app.test_client()
    data = {
        "csrf_token": "kedaluwarsa",
        "category": "kkn",
        "subcategory": configured["sub"],
        "unit": configured["Kelurahan Uji Satu"],
        "title": "Judul lama",
        "what": "Uraian lama",
    }
    answer = client.post("/report", data=data)
    page = answer.get_data(as_text=True)
    assert answer.status_code == 400
    assert f'<option value="{configured["sub"]}" selected>' in page
    assert f'<option value="{configured["Kelurahan Uji Satu"]}" selected>' in page
    assert "Judul lama" in page


def test_a_new_category_may_not_be_worded_like_a_statutory_one(clients, database_url):
    answer = post(
        clients["admin"],
        "/admin/categories/new?lang=en",
        "/admin/categories",
        label_id="korupsi, kolusi, atau  nepotisme (KKN)",
        label_en="Something else",
    )
    assert answer.status_code == 400
    assert 'id="new-label_id-error"' in answer.get_data(as_text=True)
    assert pending(database_url, "category_add") == []


def test_the_report_form_stays_within_100_kb_with_units_to_the_limit(
    clients, reporter_app, configured, database_url
):
    """Review of issue 18: nothing bounded the report form (900 SKPDs made 86 KB). Units
    are added, with the longest names allowed and characters HTML escaping lengthens,
    until the next is refused; the real page then stays within 100 KB in both languages,
    and a proposal of one more unit is refused with the reason. (Last in this module: it
    fills the module's unit list.)"""
    from sipadu.accountability.audit import OPERATOR
    from sipadu.services import Reason, ServiceError, units

    heavy = '&"<é' * 36  # 144 characters, 5 or 2 bytes each once escaped and encoded
    with database(database_url) as session:
        city = session.scalar(select(Unit).where(Unit.name == "Jakarta Uji"))
        added = 0
        try:
            for d in range(200):
                content = units.new_unit_content(
                    session, "kecamatan", f"K{d:04d} {heavy}", str(city.id)
                )
                district = units.create_unit(session, content, OPERATOR, "p")
                for k in range(8):
                    content = units.new_unit_content(
                        session, "kelurahan", f"L{k:04d} {heavy}", str(district.id)
                    )
                    units.create_unit(session, content, OPERATOR, "p")
                    added += 1
        except ServiceError as error:
            assert error.reason is Reason.UNITS_FORM_TOO_LARGE
        try:  # and the rest of the room with SKPDs
            for n in range(20):
                content = units.new_unit_content(session, "skpd", f"S{n:04d} {heavy}", None)
                units.create_unit(session, content, OPERATOR, "p")
        except ServiceError as error:
            assert error.reason is Reason.UNITS_FORM_TOO_LARGE
        session.commit()
        size = units.select_bytes(session.scalars(select(Unit)))
        assert units.MAX_UNIT_SELECT_BYTES - 2000 < size <= units.MAX_UNIT_SELECT_BYTES
    assert added > 20
    for lang in ("id", "en"):
        page = reporter_app.test_client().get(f"/report?lang={lang}").get_data()
        assert page.count(b"<option") > added
        print(f"report_form_at_the_limit_{lang}_kb={len(page) / 1024:.1f}")
        assert len(page) <= 100_000, len(page)
    answer = post(
        clients["admin"], "/admin/units?lang=en", "/admin/units", kind="skpd", name=heavy, parent=""
    )
    assert answer.status_code == 400
    assert "the list on the report form would take more than 70 KB" in answer.get_data(as_text=True)
    text = "kind,name,parent\n" + "".join(f"SKPD,Dinas {n} {'&' * 140},\n" for n in range(3))
    answer = post(clients["admin"], "/admin/units/import", "/admin/units", text=text)
    assert answer.status_code == 400 and "70 KB" in answer.get_data(as_text=True)
    assert pending(database_url, "unit_import") == pending(database_url, "unit_add") == []
