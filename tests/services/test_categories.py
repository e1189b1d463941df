"""Report categories and routing (:mod:`sipadu.services.categories`), called directly:
the four categories, which active investigators with a key new reports are wrapped to,
and accepting reports or not; each change audited with the recipient's fingerprint."""

from datetime import UTC, datetime

from sqlalchemy import delete

from sipadu.accountability.audit import OPERATOR, Action
from sipadu.persistence.models import Category, CategorySlug, Role
from sipadu.services import Reason, categories, staff
from sipadu.services.key_ring import display_fingerprint, key_fingerprint
from tests.services.helpers import CHEAP, Recorded, person, refused


def kkn(session) -> Category:
    categories.seed_categories(session, OPERATOR)
    return categories.category_by_slug(session, "kkn")


def test_seeding_creates_the_four_categories_once(session):
    session.execute(delete(Category))
    log = Recorded(session)

    assert sorted(categories.seed_categories(session, OPERATOR)) == sorted(CategorySlug)
    assert categories.seed_categories(session, OPERATOR) == []

    assert [e["detail"]["category"] for e in log.entries()] == [s.value for s in CategorySlug]
    assert set(log.actions()) == {"category.create"}
    assert {e["actor"] for e in log.entries()} == {"operator"}
    assert all(categories.category_open(session, slug) for slug in CategorySlug)


def test_an_instance_records_its_initialisation_before_the_categories_it_seeds(session):
    session.execute(delete(Category))
    log = Recorded(session)

    created = categories.seed_instance(session, OPERATOR, "9.9", demo=True)

    assert sorted(created) == sorted(CategorySlug)
    assert log.entries()[0]["action"] == "system.init"
    assert log.entries()[0]["detail"] == {"version": "9.9", "demo": True}
    assert log.actions()[1:] == ["category.create"] * len(CategorySlug)
    # Re-initialising records itself again and seeds nothing new.
    assert categories.seed_instance(session, OPERATOR, "9.9", demo=False) == []
    assert log.actions()[-1] == "system.init"


def test_an_unknown_category_is_refused_by_name_and_never_open(session):
    with refused(Reason.UNKNOWN_CATEGORY) as info:
        categories.category_by_slug(session, "lainnya")
    assert info.value.params == {"category": "lainnya"}
    assert categories.category_open(session, "lainnya") is False


def test_a_closed_category_opens_again_and_both_are_recorded(session):
    category = kkn(session)
    log = Recorded(session)

    assert categories.set_accepting(session, category, False, OPERATOR) is False
    assert categories.set_accepting(session, category, False, OPERATOR) is False  # sent twice
    assert categories.category_open(session, "kkn") is False
    assert categories.set_accepting(session, category, True, OPERATOR) is True
    assert categories.category_open(session, "kkn") is True
    assert [e["detail"] for e in log.entries()] == [
        {"category": "kkn", "accepting_reports": False},
        {"category": "kkn", "accepting_reports": True},
    ]


def test_a_route_is_added_once_and_recorded_with_the_key_fingerprint(session):
    admin = person(session, "perute", Role.ADMIN)
    investigator = person(session, "penerima.kkn", Role.INVESTIGATOR)
    category = kkn(session)
    log = Recorded(session)

    assert categories.add_route(session, category, investigator.account, admin.actor()) is True
    assert categories.add_route(session, category, investigator.account, admin.actor()) is False

    assert investigator.account in categories.recipients(session, category)
    entry = log.only(Action.ROUTE_ADD)
    assert (entry["actor"], entry["role"]) == (str(admin.id), "admin")
    assert entry["detail"] == {
        "category": "kkn",
        "account": str(investigator.id),
        "username": "penerima.kkn",
        "fingerprint": key_fingerprint(investigator.account),
    }


def test_removing_a_route_stops_new_reports_and_is_recorded_once(session):
    investigator = person(session, "berhenti", Role.INVESTIGATOR)
    category = kkn(session)
    categories.add_route(session, category, investigator.account, OPERATOR)
    log = Recorded(session)

    assert categories.remove_route(session, category, investigator.account, OPERATOR) is True
    assert categories.remove_route(session, category, investigator.account, OPERATOR) is False

    assert investigator.account not in categories.recipients(session, category)
    assert log.actions() == ["route.remove"]


def test_only_an_active_investigator_with_a_key_receives_reports(session):
    category = kkn(session)
    custodian = person(session, "penjaga.rute", Role.CUSTODIAN)
    invited = staff.create_account(
        session,
        "belum.berkunci",
        {Role.INVESTIGATOR},
        argon2=CHEAP,
        actor=OPERATOR,
        now=datetime.now(UTC),
    ).account
    log = Recorded(session)

    with refused(Reason.NOT_AN_INVESTIGATOR) as info:
        categories.add_route(session, category, custodian.account, OPERATOR)
    assert info.value.params == {"name": "penjaga.rute"}
    with refused(Reason.NOT_ACTIVE_WITH_KEY) as info:
        categories.add_route(session, category, invited, OPERATOR)
    assert info.value.params == {"name": "belum.berkunci"}
    assert log.actions() == []


def test_recipients_are_the_active_routed_investigators_by_name(session):
    admin = person(session, "pengelola", Role.ADMIN)
    category = kkn(session)
    routed = [person(session, name, Role.INVESTIGATOR) for name in ("zaki", "ani", "budi")]
    for someone in routed:
        categories.add_route(session, category, someone.account, OPERATOR)
    staff.deactivate(session, routed[2].account, admin.actor())

    names = [a.username for a in categories.recipients(session, category)]
    assert "budi" not in names
    assert names.index("ani") < names.index("zaki")
    table = dict(categories.routing_table(session))
    assert [c.slug for c in table] == [s.value for s in CategorySlug]
    assert (routed[1].account, display_fingerprint(routed[1].account)) in table[category]


def test_sub_categories_follow_their_category_and_close_with_it(session):
    """Issue 18: the form lists each category followed by its sub-categories, the four
    statutory ones first; a sub-category takes no report while its category takes none."""
    top = kkn(session)
    sub = categories.create_category(
        session,
        {"parent": str(top.id), "active": True, "label_id": "Gratifikasi", "label_en": "Gifts"},
        OPERATOR,
        "p",
    )
    other = categories.create_category(
        session,
        {"parent": None, "active": True, "label_id": "Lainnya", "label_en": "Other"},
        OPERATOR,
        "p",
    )
    order = [c.slug for c in categories.in_order(session)]
    assert order[: order.index(sub.slug) + 1] == [
        "abuse_of_authority",
        "administrative_violation",
        "kkn",
        sub.slug,
    ]
    assert order.index(other.slug) > order.index("staff_discipline")
    assert not sub.statutory and other.parent_id is None
    assert categories.category_open(session, sub.slug)
    categories.set_accepting(session, top, False, OPERATOR)
    assert not categories.category_open(session, sub.slug)
