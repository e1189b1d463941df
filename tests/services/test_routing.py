"""Routing by category, sub-category and unit (issue 18,
:func:`sipadu.services.key_ring.routed_investigators`): the most specific routing that
names an active investigator wins, in the documented order; a report concerning a unit
routed on its own is wrapped to that unit's investigators only, and the others hold no
wrap of it at all."""

import uuid
from datetime import UTC, datetime

from sqlalchemy import select

from sipadu.accountability.audit import OPERATOR
from sipadu.persistence.models import (
    Category,
    ReportField,
    ReportGrant,
    ReportKey,
    Role,
    Unit,
    UnitRoute,
)
from sipadu.services import Reason, categories, key_ring, proposals, staff
from sipadu.services.reports import ReportForm, submit_report
from tests.services.helpers import (
    PASSPHRASE,
    TODAY,
    Recorded,
    person,
    refused,
    route,
    submission_settings,
)

NOW = datetime.now(UTC)


def a_unit(session, name: str = "Kelurahan Uji") -> Unit:
    unit = Unit(id=uuid.uuid4(), kind="skpd", name=name, parent_id=None, active=True)
    session.add(unit)
    session.flush()
    return unit


def a_sub_category(session, parent: str = "kkn") -> Category:
    categories.seed_categories(session, OPERATOR)
    top = categories.category_by_slug(session, parent)
    sub = categories.create_category(
        session,
        {"parent": str(top.id), "active": True, "label_id": "Pengadaan", "label_en": "Procurement"},
        OPERATOR,
        "p",
    )
    return sub


def submit(session, recovery, category: str = "kkn", unit: Unit | None = None) -> uuid.UUID:
    categories.seed_categories(session, OPERATOR)
    form = ReportForm(
        category=category, title="Judul", what="Kejadian", unit=str(unit.id) if unit else ""
    )
    receipt = submit_report(
        session, form, PASSPHRASE, submission_settings(recovery.public_key()), TODAY
    )
    return receipt.report_id


def wrapped_to(session, report_id: uuid.UUID) -> set[uuid.UUID]:
    return {
        r
        for r in session.scalars(
            select(ReportKey.recipient_id).where(
                ReportKey.report_id == report_id, ReportKey.recipient_kind == "staff"
            )
        )
    }


def test_a_report_about_a_unit_routed_on_its_own_reaches_only_that_units_investigators(
    session, recovery
):
    general = person(session, "umum.kkn", Role.INVESTIGATOR)
    local = person(session, "khusus.unit", Role.INVESTIGATOR)
    route(session, general, "kkn")
    unit = a_unit(session)
    categories.add_route(session, None, local.account, OPERATOR, unit)

    about_unit = submit(session, recovery, "kkn", unit)
    elsewhere = submit(session, recovery, "kkn")

    assert wrapped_to(session, about_unit) == {local.id}
    assert wrapped_to(session, elsewhere) == {general.id}
    # The unit is sealed, the same size whether a unit was chosen or not (G2).
    sizes = {
        len(sealed)
        for sealed in session.scalars(
            select(ReportField.sealed).where(
                ReportField.name == "unit", ReportField.report_id.in_([about_unit, elsewhere])
            )
        )
    }
    assert len(sizes) == 1
    # The category's investigator holds no wrap and no grant of the unit's report, and
    # cannot open it; the unit's investigator can.
    assert session.get(ReportGrant, (about_unit, general.id)) is None
    assert not key_ring.staff_keys(session, about_unit, general.id, general.private).epochs(
        key_ring.Purpose.CASE
    )
    assert key_ring.staff_keys(session, about_unit, local.id, local.private).epochs(
        key_ring.Purpose.CASE
    )


def test_the_most_specific_routing_wins_in_the_documented_order(session, recovery):
    sub = a_sub_category(session)
    unit = a_unit(session)
    kkn = categories.category_by_slug(session, "kkn")
    people = {
        name: person(session, name, Role.INVESTIGATOR)
        for name in ("kategori", "subkategori", "unit", "kategori.unit", "sub.unit")
    }
    categories.add_route(session, kkn, people["kategori"].account, OPERATOR)
    categories.add_route(session, sub, people["subkategori"].account, OPERATOR)
    categories.add_route(session, None, people["unit"].account, OPERATOR, unit)
    categories.add_route(session, kkn, people["kategori.unit"].account, OPERATOR, unit)
    categories.add_route(session, sub, people["sub.unit"].account, OPERATOR, unit)

    def who(category: Category, with_unit: bool) -> set[str]:
        found = key_ring.routed_investigators(session, category.id, unit.id if with_unit else None)
        names = {p.id: n for n, p in people.items()}
        return {names[r.id] for r in found}

    assert who(sub, True) == {"sub.unit"}
    assert who(kkn, True) == {"kategori.unit"}
    assert who(sub, False) == {"subkategori"}
    assert who(kkn, False) == {"kategori"}
    # Each tier falls to the next once nobody active is left in it.
    for gone, then in [
        ("sub.unit", "kategori.unit"),
        ("kategori.unit", "unit"),
        ("unit", "subkategori"),
        ("subkategori", "kategori"),
    ]:
        staff.deactivate(session, people[gone].account, OPERATOR)
        assert who(sub, True) == {then}
    staff.deactivate(session, people["kategori"].account, OPERATOR)
    assert who(sub, True) == set()  # unrouted: the recovery key only


def test_a_route_on_a_unit_covers_the_units_below_it_the_nearer_winning(session, recovery):
    """Review of issue 18: a route on a kecamatan did not cover its kelurahan, whose
    reports went to the category's investigators instead."""
    city = Unit(id=uuid.uuid4(), kind="kota", name="Jakarta Uji", parent_id=None, active=True)
    district = Unit(id=uuid.uuid4(), kind="kecamatan", name="Kec Uji", parent_id=city.id)
    village = Unit(id=uuid.uuid4(), kind="kelurahan", name="Kel Uji", parent_id=district.id)
    sudin = Unit(id=uuid.uuid4(), kind="skpd", name="Sudin Uji", parent_id=city.id)
    for unit in (city, district, village, sudin):
        unit.active = True
        session.add(unit)
        session.flush()
    sub = a_sub_category(session)
    kkn = categories.category_by_slug(session, "kkn")
    people = {
        name: person(session, name, Role.INVESTIGATOR)
        for name in ("kategori", "kota", "kecamatan", "kelurahan", "kkn.kota", "sub.kecamatan")
    }
    categories.add_route(session, kkn, people["kategori"].account, OPERATOR)
    categories.add_route(session, None, people["kecamatan"].account, OPERATOR, district)

    def who(category: Category, unit: Unit) -> set[str]:
        found = key_ring.routed_investigators(session, category.id, unit.id)
        names = {p.id: n for n, p in people.items()}
        return {names[r.id] for r in found}

    # the kecamatan's route covers its kelurahan, not the city or its sudin
    assert who(kkn, village) == {"kecamatan"}
    assert who(kkn, city) == who(kkn, sudin) == {"kategori"}
    # a report submitted about the kelurahan is wrapped to the kecamatan's investigator
    assert wrapped_to(session, submit(session, recovery, "kkn", village)) == {
        people["kecamatan"].id
    }
    # the nearer unit wins: the kelurahan's own route, else the kecamatan's, else the city's
    categories.add_route(session, None, people["kota"].account, OPERATOR, city)
    assert who(kkn, village) == {"kecamatan"} and who(kkn, sudin) == {"kota"}
    categories.add_route(session, None, people["kelurahan"].account, OPERATOR, village)
    assert who(kkn, village) == {"kelurahan"} and who(kkn, district) == {"kecamatan"}
    # within the tier order: (category, a unit above) before (a unit alone), and
    # (sub-category, a unit above) before both
    categories.add_route(session, kkn, people["kkn.kota"].account, OPERATOR, city)
    assert who(kkn, village) == {"kkn.kota"} and who(sub, village) == {"kkn.kota"}
    categories.add_route(session, sub, people["sub.kecamatan"].account, OPERATOR, district)
    assert who(sub, village) == {"sub.kecamatan"} and who(kkn, village) == {"kkn.kota"}


def test_a_report_in_a_sub_category_is_filed_under_it(session, recovery):
    sub = a_sub_category(session)
    investigator = person(session, "pengadaan", Role.INVESTIGATOR)
    categories.add_route(session, sub, investigator.account, OPERATOR)
    report_id = submit(session, recovery, sub.slug)
    from sipadu.persistence.models import Report

    assert session.get(Report, report_id).category_id == sub.id
    assert wrapped_to(session, report_id) == {investigator.id}


def test_a_closed_unit_or_an_unknown_one_is_refused(session, recovery):
    unit = a_unit(session)
    unit.active = False
    with refused(Reason.NO_SUCH_UNIT, "unit"):
        submit(session, recovery, "kkn", unit)


def test_routing_by_unit_waits_for_a_second_admin_and_records_the_fingerprint(session):
    proposer = person(session, "admin.a", Role.ADMIN)
    approver = person(session, "admin.b", Role.ADMIN)
    investigator = person(session, "lokal", Role.INVESTIGATOR)
    categories.seed_categories(session, OPERATOR)
    kkn = categories.category_by_slug(session, "kkn")
    unit = a_unit(session)
    log = Recorded(session)

    proposal = proposals.propose_route(
        session, kkn, investigator.account, True, proposer.actor(), unit
    )
    assert session.scalar(select(UnitRoute)) is None
    with refused(Reason.SAME_CHANGE_WAITING):
        proposals.propose_route(session, kkn, investigator.account, True, proposer.actor(), unit)
    proposals.approve(session, proposal.id, approver.actor(), NOW)
    assert categories.find_route(session, kkn, investigator.account, unit) is not None
    # Only the unit and category route: not the category alone, not the unit alone.
    assert categories.find_route(session, kkn, investigator.account) is None
    assert categories.find_route(session, None, investigator.account, unit) is None
    added = log.only(key_ring_action("route.add"))
    assert added["detail"]["unit"] == str(unit.id)
    assert added["detail"]["category"] == "kkn"
    assert added["detail"]["fingerprint"] == key_ring.key_fingerprint(investigator.account)
    with refused(Reason.ROUTE_NEEDS_TARGET):
        categories.find_route(session, None, investigator.account)


def key_ring_action(value: str):
    from sipadu.accountability.audit import Action

    return Action(value)
