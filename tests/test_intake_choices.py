"""The operator's intake form offers what the reporter's form offers (issue 18 items 1-3):
the categories admins add, with their words, and not those closed; the sub-categories
and the units, grouped; and the conflict-of-interest tick with its explanation. What
the operator chooses takes effect: a report about a unit routed on its own reaches that
unit's investigator only, and a report about the inspectorate's own staff reaches the
conflict-of-interest team only."""

import re
import uuid

import pytest
from sqlalchemy import select

from sipadu.crypto.envelope import Purpose
from sipadu.persistence.models import (
    Category,
    Proposal,
    Report,
    ReportGrant,
    ReportKey,
    Unit,
)
from tests.helpers import account_of, config_env, database, form_tokens, post, signed_in
from tests.test_categories_units import CSV_GOOD, approve, pending

OFFICE = "Kantor Inspektorat"
NEW_ID, NEW_EN = "Pelayanan perizinan", "Licensing services"
CLOSED_ID = "Kategori ditutup"


@pytest.fixture(scope="module")
def env(instance_path, database_url, redis_url) -> dict:
    return config_env(
        instance_path,
        database_url,
        redis_url,
        SIPADU_WEB_ADDRESS="https://lapor.example.go.id",
        SIPADU_INTAKE_OFFICES=OFFICE,
    )


@pytest.fixture(scope="module")
def operator(staff_app, people):
    return signed_in(staff_app, people["petugas1"])


def _propose_category(admin, database_url, label_id, label_en, parent="", offered="y"):
    answer = post(
        admin,
        "/admin/categories/new",
        "/admin/categories",
        parent=parent,
        label_id=label_id,
        label_en=label_en,
        description_id=f"Uraian {label_id}.",
        description_en=f"About {label_en}.",
        examples_id=f"Contoh {label_id}.",
        examples_en=f"Example {label_en}.",
        offered=offered,
    )
    assert answer.status_code == 303, answer.get_data(as_text=True)
    (proposal,) = pending(database_url, "category_add")
    return proposal


@pytest.fixture(scope="module")
def configured(clients, database_url) -> dict[str, str]:
    """Two new top-level categories (one offered, one not), a sub-category of KKN, the
    test units, and Dinas Uji routed on its own to pemeriksa2 (both demo investigators
    are routed every statutory category): each proposed by admin, approved by admin2."""
    admin, second = clients["admin"], clients["admin2"]
    with database(database_url) as session:
        kkn = session.scalar(select(Category).where(Category.slug == "kkn"))
    for label_id, label_en, offered in ((NEW_ID, NEW_EN, "y"), (CLOSED_ID, "Closed one", "")):
        approve(second, _propose_category(admin, database_url, label_id, label_en, "", offered))
    approve(second, _propose_category(admin, database_url, "Tender", "Tenders", str(kkn.id)))
    assert post(admin, "/admin/units/import", "/admin/units", text=CSV_GOOD).status_code == 303
    (imported,) = pending(database_url, "unit_import")
    assert approve(second, imported).status_code == 303
    with database(database_url) as session:
        slugs = {c.label_id: c.slug for c in session.scalars(select(Category)) if c.label_id}
        units = {u.name: str(u.id) for u in session.scalars(select(Unit))}
    routed = post(
        admin,
        "/admin/categories/unit-routes",
        "/admin/categories",
        unit=units["Dinas Uji"],
        category="",
        account=str(account_of(database_url, "pemeriksa2").id),
        change="add",
        confirm="y",
    )
    assert routed.status_code == 303
    (route,) = [p for p in pending(database_url, "route_add") if p.unit_id]
    assert approve(second, route).status_code == 303
    return {**slugs, **units}


def typed(**extra) -> dict:
    return {
        "channel": "walk_in",
        "office": OFFICE,
        "category": "kkn",
        "title": "Pungutan loket",
        "what": "Petugas meminta Rp 50.000.",
        **extra,
    }


def send(client, **data):
    body = {**form_tokens(client, "/intake/report"), **data}
    return client.post("/intake/report", data=body, content_type="multipart/form-data")


def stored(database_url, before: set[uuid.UUID]) -> uuid.UUID:
    with database(database_url) as session:
        (new,) = set(session.scalars(select(Report.id))) - before
    return new


def report_ids(database_url) -> set[uuid.UUID]:
    with database(database_url) as session:
        return set(session.scalars(select(Report.id)))


def readers(database_url, report_id) -> tuple[set[str], set[str]]:
    """The usernames holding the report's case key, and those with it in their list."""
    with database(database_url) as session:
        names = {account_of(database_url, name).id: name for name in NAMES}
        wraps = session.scalars(
            select(ReportKey.recipient_id).where(
                ReportKey.report_id == report_id,
                ReportKey.purpose == Purpose.CASE.value,
                ReportKey.recipient_kind == "staff",
            )
        )
        grants = session.scalars(
            select(ReportGrant.account_id).where(ReportGrant.report_id == report_id)
        )
        return {names[i] for i in wraps if i in names}, {names[i] for i in grants if i in names}


NAMES = ("pemeriksa1", "pemeriksa2", "inspektur", "petugas1", "admin", "admin2")


def test_the_intake_form_offers_the_configured_choices_grouped(operator, configured):
    page = operator.get("/intake/report?lang=en").get_data(as_text=True)
    assert f'value="{configured[NEW_ID]}"' in page and NEW_EN in page
    assert f"About {NEW_EN}." in page and f"Example {NEW_EN}." in page
    assert f'value="{configured[CLOSED_ID]}"' not in page and "Closed one" not in page
    subs = re.search(r'<select name="subcategory".*?</select>', page, re.S).group(0)
    assert '<optgroup label="Corruption, collusion or nepotism (KKN)">' in subs
    assert f'<option value="{configured["Tender"]}">Tenders</option>' in subs
    units = re.search(r'<select name="unit".*?</select>', page, re.S).group(0)
    assert '<optgroup label="Jakarta Uji">' in units
    assert '<optgroup label="City-wide offices (SKPD)">' in units
    village = configured["Kelurahan Uji Satu"]
    assert f'<option value="{village}">Kecamatan Uji — Kelurahan Uji Satu</option>' in units
    coi = page[page.index('name="concerns_inspectorate"') :][:1200]
    assert 'aria-describedby="concerns-inspectorate-help"' in page
    assert "goes to a separate team" in coi
    indonesian = operator.get("/intake/report").get_data(as_text=True)
    assert NEW_ID in indonesian and NEW_EN not in indonesian


def test_the_identity_help_names_whoever_approves_for_every_report(operator, reporter_app):
    """For a report about the inspectorate's own staff the team's custodian decides, not
    the Inspector: the forms said "setelah Inspektur menyetujui" (review of issue 18)."""
    reporter = reporter_app.test_client()
    for page in (
        operator.get("/intake/report").get_data(as_text=True),
        reporter.get("/report").get_data(as_text=True),
        reporter.get("/").get_data(as_text=True),
    ):
        assert "Inspektur menyetujui" not in page
        assert "setelah kustodian, yaitu pejabat yang menjaga identitas pelapor" in page
    english = operator.get("/intake/report?lang=en").get_data(as_text=True)
    assert "only after a custodian, an official who guards reporters" in english


def test_an_operators_report_about_a_routed_unit_reaches_its_investigator_only(
    operator, configured, database_url
):
    before = report_ids(database_url)
    answer = send(operator, **typed(unit=configured["Dinas Uji"], subcategory=configured["Tender"]))
    assert answer.status_code == 200 and 'id="report-code"' in answer.get_data(as_text=True)
    report_id = stored(database_url, before)
    assert readers(database_url, report_id) == ({"pemeriksa2"}, {"pemeriksa2"})
    # Without the unit, the category's investigators, both of them.
    before = report_ids(database_url)
    assert send(operator, **typed(title="Tanpa unit")).status_code == 200
    both = {"pemeriksa1", "pemeriksa2"}
    assert readers(database_url, stored(database_url, before)) == (both, both)


def test_an_operators_report_in_a_new_category_and_sub_category_is_stored(
    operator, configured, database_url, clients
):
    marker = f"Sub {uuid.uuid4().hex[:6]}"
    answer = send(operator, **typed(title=marker, subcategory=configured["Tender"]))
    assert answer.status_code == 200
    page = clients["pemeriksa1"].get("/reports?lang=en").get_data(as_text=True)
    row = page[page.index(marker) - 1500 :][:3000]
    assert "Tenders" in row
    answer = send(operator, **typed(title="Baru", category=configured[NEW_ID]))
    assert answer.status_code == 200, answer.get_data(as_text=True)[:500]


def test_a_sub_category_of_another_category_or_a_closed_one_is_refused_and_kept(
    operator, configured, database_url
):
    before = report_ids(database_url)
    answer = send(
        operator, **typed(category="abuse_of_authority", subcategory=configured["Tender"])
    )
    page = answer.get_data(as_text=True)
    assert answer.status_code == 400 and 'id="subcategory-error"' in page
    assert f'<option value="{configured["Tender"]}" selected>' in page
    answer = send(operator, **typed(category=configured[CLOSED_ID]))
    assert answer.status_code == 400
    assert report_ids(database_url) == before


def test_the_coi_tick_on_the_intake_form_routes_to_the_team_only(
    operator, configured, clients, database_url
):
    """Last: pemeriksa1 becomes the conflict-of-interest team's investigator."""
    admin, second = clients["admin"], clients["admin2"]
    page = "/admin/conflict-of-interest"
    pemeriksa1 = account_of(database_url, "pemeriksa1")
    proposed = post(admin, f"{page}/staff", page, account=str(pemeriksa1.id), kind="investigator")
    assert proposed.status_code == 303
    with database(database_url) as session:
        (waiting,) = session.scalars(
            select(Proposal).where(Proposal.coi_member_id.is_not(None), Proposal.state == "pending")
        )
        session.expunge_all()
    assert approve(second, waiting).status_code == 303
    before = report_ids(database_url)
    answer = send(operator, **typed(concerns_inspectorate="y", unit=configured["Dinas Uji"]))
    assert answer.status_code == 200
    wraps, grants = readers(database_url, stored(database_url, before))
    assert wraps == grants == {"pemeriksa1"}
