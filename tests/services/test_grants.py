"""Who may hold a report (:mod:`sipadu.services.grants`), called directly: sharing with
a colleague and taking a report back (a new epoch), the identity behind a custodian's
decision, and re-granting from the offline recovery key; each refusal by its reason,
each decision by its audit entry, and no reason text in the log. Real HPKE, a real
database, rolled back after each test."""

import uuid
from datetime import UTC, datetime

import pytest
from sqlalchemy import text as sa_text
from sqlalchemy import update

from sipadu.accountability.audit import OPERATOR, Action
from sipadu.crypto import Purpose
from sipadu.persistence.models import IdentityRequest, IdentityRequestState, Report, Role
from sipadu.services import Reason, cases, grants, key_ring, staff
from sipadu.services.proposals import add_role
from tests.services.helpers import (
    CHEAP,
    Recorded,
    ServicePerson,
    Submitted,
    held,
    held_as_custodian,
    person,
    refused,
    route,
    service_submit,
)

NOW = datetime.now(UTC)
REASON = "Perlu menghubungi pelapor untuk bukti tambahan"


@pytest.fixture
def custodian(session) -> ServicePerson:
    """A custodian there before the report (so its identity key is wrapped to them)."""
    return person(session, "penjaga.id", Role.CUSTODIAN)


@pytest.fixture
def case(session, recovery, custodian) -> tuple[ServicePerson, ServicePerson, Submitted]:
    """A report routed to an investigator allowed to share, and a colleague without it;
    the custodian of the fixture above holds its identity key."""
    sharer = person(session, "pembagi", Role.INVESTIGATOR, may_grant=True)
    colleague = person(session, "rekan", Role.INVESTIGATOR)
    route(session, sharer)
    return sharer, colleague, service_submit(session, recovery.public_key(), identity="Siti, 0812")


def test_sharing_gives_a_colleague_the_case_but_not_the_identity(session, case):
    sharer, colleague, report = case
    log = Recorded(session)

    grants.grant(session, held(session, report, sharer), sharer.account, colleague.id)

    theirs = held(session, report, colleague)
    assert theirs.key(Purpose.CASE, 0) == held(session, report, sharer).key(Purpose.CASE, 0)
    assert not theirs.holds(Purpose.IDENTITY, 0)
    entry = log.only(Action.GRANT_ADD)
    assert (entry["actor"], entry["role"], entry["report_id"]) == (
        str(sharer.id),
        "investigator",
        str(report.report_id),
    )
    assert entry["detail"] == {
        "account": str(colleague.id),
        "username": "rekan",
        "fingerprint": key_ring.key_fingerprint(colleague.account),
        "keys": 2,
    }


def test_only_a_holder_allowed_to_share_shares_and_only_with_an_active_investigator(session, case):
    sharer, colleague, report = case
    outsider = person(session, "orang.luar", Role.INVESTIGATOR, may_grant=True)
    custodian = person(session, "penjaga", Role.CUSTODIAN)
    invited = staff.create_account(
        session, "diundang", {Role.INVESTIGATOR}, argon2=CHEAP, actor=sharer.actor(), now=NOW
    ).account
    keys = held(session, report, sharer)
    log = Recorded(session)

    with refused(Reason.REPORT_NOT_FOUND):
        grants.grant(session, held(session, report, outsider), outsider.account, colleague.id)
    sharer.account.may_grant = False
    with refused(Reason.NOT_ALLOWED_TO_SHARE):
        grants.grant(session, keys, sharer.account, colleague.id)
    sharer.account.may_grant = True
    for nobody in (uuid.uuid4(), invited.id):
        with refused(Reason.COLLEAGUE_NOT_ACTIVE, "colleague"):
            grants.grant(session, keys, sharer.account, nobody)
    with refused(Reason.NOT_AN_INVESTIGATOR, "colleague") as info:
        grants.grant(session, keys, sharer.account, custodian.id)
    assert info.value.params == {"name": "penjaga"}
    grants.grant(session, keys, sharer.account, colleague.id)
    with refused(Reason.ALREADY_HAS_REPORT, "colleague") as info:
        grants.grant(session, keys, sharer.account, colleague.id)
    assert info.value.params == {"name": "rekan"}
    assert log.actions() == ["grant.add"]


def test_taking_a_report_back_starts_an_epoch_the_colleague_never_holds(session, case, recovery):
    sharer, colleague, report = case
    grants.grant(session, held(session, report, sharer), sharer.account, colleague.id)
    log = Recorded(session)

    epoch = grants.revoke(
        session, report.report_id, sharer.account, colleague.id, recovery.public_key()
    )

    assert epoch == 1 == session.get(Report, report.report_id).key_epoch
    assert not key_ring.is_holder(session, report.report_id, colleague.id)
    assert held(session, report, sharer).holds(Purpose.CASE, 1)
    assert not held(session, report, colleague).holds(Purpose.CASE, 1)
    detail = log.only(Action.GRANT_REVOKE)["detail"]
    assert (detail["username"], detail["wraps_removed"], detail["new_epoch"]) == ("rekan", 2, 1)


def test_taking_back_is_refused_for_oneself_a_non_holder_and_without_permission(
    session, case, recovery
):
    sharer, colleague, report = case
    public = recovery.public_key()
    with refused(Reason.CANNOT_REVOKE_OWN, "colleague"):
        grants.revoke(session, report.report_id, sharer.account, sharer.id, public)
    for nobody in (colleague.id, uuid.uuid4()):
        with refused(Reason.NO_ACCESS, "colleague"):
            grants.revoke(session, report.report_id, sharer.account, nobody, public)
    with refused(Reason.REPORT_NOT_FOUND):
        grants.revoke(session, report.report_id, colleague.account, sharer.id, public)
    sharer.account.may_grant = False
    with refused(Reason.NOT_ALLOWED_TO_SHARE):
        grants.revoke(session, report.report_id, sharer.account, colleague.id, public)
    assert session.get(Report, report.report_id).key_epoch == 0


# --- the identity ------------------------------------------------------------------------


def test_an_approved_request_lets_the_investigator_read_the_identity(
    session, case, custodian, recovery
):
    investigator, _colleague, report = case
    log = Recorded(session)

    request = grants.request_identity(
        session, report.report_id, investigator.account, f"  {REASON}  ", recovery.public_key()
    )
    [waiting] = [
        w
        for w in grants.pending_requests(session, custodian.account, custodian.private)
        if w.request is request
    ]
    assert (waiting.investigator, waiting.reason) == (investigator.account, REASON)
    assert grants.request_reason(session, request, investigator.account, investigator.private) == (
        REASON
    )
    grants.decide_identity(session, request.id, custodian.account, custodian.private, True, NOW)

    assert request.state == IdentityRequestState.APPROVED and request.decided_by == custodian.id
    identity = held(session, report, investigator).key(Purpose.IDENTITY, 0)
    assert identity == held_as_custodian(session, report, custodian).key(Purpose.IDENTITY, 0)
    # Each reason decrypted is a read (issue 15): the custodian's list, the requester's.
    assert log.actions() == [
        "identity.request",
        "identity_request.read",
        "identity_request.read",
        "identity.approve",
    ]
    asked, shown, reread, approved = log.entries()
    assert asked["detail"] == {"request": str(request.id)}
    assert (shown["actor"], shown["role"], shown["detail"]) == (
        str(custodian.id),
        "custodian",
        {"request": str(request.id)},
    )
    assert (reread["actor"], reread["role"]) == (str(investigator.id), "investigator")
    assert (approved["actor"], approved["role"]) == (str(custodian.id), "custodian")
    assert "Perlu" not in str(log.entries())  # the reason is sealed, never logged


def test_a_refused_request_wraps_nothing(session, case, custodian, recovery):
    investigator, colleague, report = case
    request = grants.request_identity(
        session, report.report_id, investigator.account, REASON, recovery.public_key()
    )
    log = Recorded(session)

    grants.decide_identity(session, request.id, custodian.account, custodian.private, False, NOW)

    assert request.state == IdentityRequestState.REFUSED
    assert not held(session, report, investigator).holds(Purpose.IDENTITY, 0)
    assert log.actions() == ["identity.refuse"]
    # A colleague without the request key reads no reason, and no read is recorded.
    assert grants.request_reason(session, request, colleague.account, colleague.private) == ""
    assert log.actions() == ["identity.refuse"]
    with refused(Reason.NOT_WAITING_FOR_DECISION):
        grants.decide_identity(session, request.id, custodian.account, custodian.private, True, NOW)


def test_a_request_needs_a_reason_a_grant_and_is_asked_once(session, case, recovery):
    investigator, colleague, report = case
    public = recovery.public_key()
    with refused(Reason.IDENTITY_REASON_MISSING, "reason"):
        grants.request_identity(session, report.report_id, investigator.account, " \n ", public)
    with refused(Reason.REPORT_NOT_FOUND):
        grants.request_identity(session, report.report_id, colleague.account, REASON, public)
    grants.request_identity(session, report.report_id, investigator.account, REASON, public)
    with refused(Reason.ALREADY_ASKED):
        grants.request_identity(session, report.report_id, investigator.account, REASON, public)


def test_a_custodian_never_decides_their_own_request(session, case, recovery):
    investigator, _colleague, report = case
    request = grants.request_identity(
        session, report.report_id, investigator.account, REASON, recovery.public_key()
    )
    add_role(session, investigator.account, Role.CUSTODIAN, OPERATOR)  # became one since
    with refused(Reason.OWN_REQUEST):
        grants.decide_identity(
            session, request.id, investigator.account, investigator.private, True, NOW
        )
    with refused(Reason.NOT_WAITING_FOR_DECISION):
        grants.decide_identity(
            session, uuid.uuid4(), investigator.account, investigator.private, True, NOW
        )


def test_an_investigator_who_is_also_a_custodian_can_ask_for_the_identity(session, recovery):
    both = person(session, "dua.peran", Role.INVESTIGATOR, Role.CUSTODIAN)
    route(session, both)
    report = service_submit(session, recovery.public_key(), identity="Ani")
    request = grants.request_identity(
        session, report.report_id, both.account, REASON, recovery.public_key()
    )
    session.flush()  # one wrap per recipient: no unique-constraint failure (issue 15)
    assert grants.request_reason(session, request, both.account, both.private) == REASON


def test_an_investigator_custodian_sees_the_identity_only_after_another_custodian_approves(
    session, custodian, recovery
):
    """G3 for one person holding both roles: holding the identity key as a custodian
    shows nothing on the case page; they cannot approve their own request; another
    custodian's approval is what opens it."""
    both = person(session, "dua.peran.id", Role.INVESTIGATOR, Role.CUSTODIAN)
    route(session, both)
    report = service_submit(session, recovery.public_key(), identity="Siti, 0812")
    log = Recorded(session)

    assert cases.open_case(session, held(session, report, both), both.id).identity is None
    request = grants.request_identity(
        session, report.report_id, both.account, REASON, recovery.public_key()
    )
    with refused(Reason.OWN_REQUEST):
        grants.decide_identity(session, request.id, both.account, both.private, True, NOW)
    assert request.state == IdentityRequestState.PENDING
    assert cases.open_case(session, held(session, report, both), both.id).identity is None
    assert Action.IDENTITY_READ.value not in log.actions()
    # The other custodian reads the reason through their own wrap, and approves.
    [waiting] = grants.pending_requests(session, custodian.account, custodian.private)
    assert waiting.reason == REASON
    grants.decide_identity(session, request.id, custodian.account, custodian.private, True, NOW)
    session.flush()  # the approval's wrap is an investigator wrap: no unique-constraint clash

    view = cases.open_case(session, held(session, report, both), both.id)
    assert view.identity == "Siti, 0812"
    assert log.actions() == [
        "report.read",
        "identity.request",
        "report.read",
        "identity_request.read",  # the other custodian's list
        "identity.approve",
        "report.read",
        "identity.read",
    ]


def test_a_refused_request_leaves_an_investigator_custodian_without_the_identity(
    session, custodian, recovery
):
    both = person(session, "dua.peran.tolak", Role.INVESTIGATOR, Role.CUSTODIAN)
    route(session, both)
    report = service_submit(session, recovery.public_key(), identity="Siti, 0812")
    request = grants.request_identity(
        session, report.report_id, both.account, REASON, recovery.public_key()
    )
    grants.decide_identity(session, request.id, custodian.account, custodian.private, False, NOW)

    assert cases.open_case(session, held(session, report, both), both.id).identity is None
    assert not held(session, report, both).holds(Purpose.IDENTITY, 0)


def test_approval_is_refused_once_the_investigator_lost_the_report(
    session, case, custodian, recovery
):
    investigator, colleague, report = case
    grants.grant(session, held(session, report, investigator), investigator.account, colleague.id)
    request = grants.request_identity(
        session, report.report_id, colleague.account, REASON, recovery.public_key()
    )
    grants.revoke(
        session, report.report_id, investigator.account, colleague.id, recovery.public_key()
    )
    with refused(Reason.INVESTIGATOR_LOST_REPORT):
        grants.decide_identity(session, request.id, custodian.account, custodian.private, True, NOW)
    assert request.state == IdentityRequestState.PENDING


def test_approval_is_refused_for_a_deactivated_investigator(session, case, custodian, recovery):
    investigator, _colleague, report = case
    admin = person(session, "penonaktif", Role.ADMIN)
    request = grants.request_identity(
        session, report.report_id, investigator.account, REASON, recovery.public_key()
    )
    staff.deactivate(session, investigator.account, admin.actor())
    with refused(Reason.COLLEAGUE_NOT_ACTIVE, "colleague"):
        grants.decide_identity(session, request.id, custodian.account, custodian.private, True, NOW)


def test_a_custodian_appointed_after_the_report_holds_no_identity_key(session, case, recovery):
    investigator, _colleague, report = case
    request = grants.request_identity(
        session, report.report_id, investigator.account, REASON, recovery.public_key()
    )
    newcomer = person(session, "penjaga.baru", Role.CUSTODIAN)
    # Not addressed to them (issue 18: a request goes to the custodians who hold the
    # identity key), so to them there is no such request to decide.
    with refused(Reason.NOT_WAITING_FOR_DECISION):
        grants.decide_identity(session, request.id, newcomer.account, newcomer.private, True, NOW)
    assert grants.pending_requests(session, newcomer.account, newcomer.private) == []
    assert not held(session, report, investigator).holds(Purpose.IDENTITY, 0)


# --- the recovery key -----------------------------------------------------------------------


def test_the_recovery_key_gives_a_report_back_after_a_password_reset(session, case, recovery):
    investigator, colleague, report = case
    log = Recorded(session)

    copied = grants.recovery_grant(session, report.report_id, recovery, colleague.account)

    assert copied == 2 and key_ring.is_holder(session, report.report_id, colleague.id)
    assert held(session, report, colleague).key(Purpose.CASE, 0) == held(
        session, report, investigator
    ).key(Purpose.CASE, 0)
    entry = log.only(Action.RECOVERY_GRANT)
    assert (entry["actor"], entry["role"], entry["detail"]["keys"]) == ("operator", "operator", 2)


def test_the_recovery_key_grants_an_existing_report_to_an_active_non_holder_only(
    session, case, custodian, recovery
):
    investigator, _colleague, report = case
    with refused(Reason.NO_SUCH_REPORT):
        grants.recovery_grant(session, uuid.uuid4(), recovery, investigator.account)
    with refused(Reason.ALREADY_HAS_REPORT) as info:
        grants.recovery_grant(session, report.report_id, recovery, investigator.account)
    assert info.value.params == {"name": "pembagi"}
    with refused(Reason.NOT_AN_INVESTIGATOR, "colleague"):
        grants.recovery_grant(session, report.report_id, recovery, custodian.account)


def test_deactivation_drops_every_grant_and_a_later_epoch_never_reaches_the_account(
    session, case, custodian, recovery
):
    """Issue 15, item 6: a deactivated colleague kept every wrap, and a later revoke on
    a report they once held wrapped the new epoch to them too. Deactivation drops their
    grants and wraps (the recovery key can give reports back), and a new epoch goes only
    to active investigators."""
    sharer, colleague, report = case
    other = person(session, "ketiga", Role.INVESTIGATOR)
    admin = person(session, "penonaktif.2", Role.ADMIN)
    for to in (colleague, other):
        grants.grant(session, held(session, report, sharer), sharer.account, to.id)
    log = Recorded(session)

    staff.deactivate(session, colleague.account, admin.actor())

    assert not key_ring.is_holder(session, report.report_id, colleague.id)
    assert not held(session, report, colleague).holds(Purpose.CASE, 0)
    # Issue 15 review: one report granted (one grant), its two keys wrapped (two wraps),
    # each counted under its own name: "grants_dropped" used to count the wraps.
    detail = log.only(Action.ACCOUNT_DEACTIVATE)["detail"]
    assert (detail["grants_dropped"], detail["wraps_dropped"]) == (1, 2)
    grants.revoke(session, report.report_id, sharer.account, other.id, recovery.public_key())
    assert not held(session, report, colleague).holds(Purpose.CASE, 1)
    assert held(session, report, sharer).holds(Purpose.CASE, 1)


def test_a_new_epoch_skips_a_holder_no_longer_entitled_to_it(session, case, recovery):
    """Defence in depth for the rule above: a holder whose grant row remains but who is
    deactivated (a row written before this rule) gets nothing of a new epoch."""
    sharer, colleague, report = case
    other = person(session, "keempat", Role.INVESTIGATOR)
    for to in (colleague, other):
        grants.grant(session, held(session, report, sharer), sharer.account, to.id)
    colleague.account.state = "deactivated"  # as before deactivation dropped grants
    session.flush()
    grants.revoke(session, report.report_id, sharer.account, other.id, recovery.public_key())
    assert key_ring.is_holder(session, report.report_id, colleague.id)
    assert not held(session, report, colleague).holds(Purpose.CASE, 1)


def test_taking_a_role_away_drops_what_it_gave(session, case, custodian, recovery):
    """Issue 15, item 6: removing the investigator role drops the person's grants and
    wraps; removing the custodian role drops their custodian wraps."""
    sharer, colleague, report = case
    admin = person(session, "pencabut", Role.ADMIN)
    grants.grant(session, held(session, report, sharer), sharer.account, colleague.id)
    staff.revoke_role(session, colleague.account, Role.INVESTIGATOR, admin.actor())
    assert not key_ring.is_holder(session, report.report_id, colleague.id)
    assert not held(session, report, colleague).holds(Purpose.CASE, 0)
    assert held_as_custodian(session, report, custodian).holds(Purpose.IDENTITY, 0)
    staff.revoke_role(session, custodian.account, Role.CUSTODIAN, admin.actor())
    assert not held_as_custodian(session, report, custodian).holds(Purpose.IDENTITY, 0)


def _tamper_request(session, request_id: uuid.UUID, **values) -> None:
    """Change a request row as a database writer would: SQL, then reload."""
    session.execute(
        update(IdentityRequest).where(IdentityRequest.id == request_id).values(**values)
    )
    session.expire_all()


def test_a_request_relabelled_to_another_investigator_is_refused_not_approved(
    session, case, custodian, recovery
):
    """A database writer moves an investigator's request to a colleague of their choosing:
    the custodian must not read it as the colleague's nor wrap the identity to them."""
    investigator, colleague, report = case
    grants.grant(session, held(session, report, investigator), investigator.account, colleague.id)
    request = grants.request_identity(
        session, report.report_id, investigator.account, REASON, recovery.public_key()
    )
    _tamper_request(session, request.id, account_id=colleague.id)
    log = Recorded(session)

    [waiting] = grants.pending_requests(session, custodian.account, custodian.private)
    assert (waiting.investigator.id, waiting.reason) == (colleague.id, None)
    entry = log.only(Action.INTEGRITY_FAILURE)
    assert (entry["actor"], entry["role"], entry["detail"]) == (
        str(custodian.id),
        "custodian",
        {"kind": "identity_request", "id": str(request.id)},
    )
    with refused(Reason.INTEGRITY_FAILED):
        grants.decide_identity(session, request.id, custodian.account, custodian.private, True, NOW)
    assert not held(session, report, colleague).holds(Purpose.IDENTITY, 0)


def test_a_re_dated_request_fails_its_integrity_check(session, case, custodian, recovery):
    investigator, _colleague, report = case
    request = grants.request_identity(
        session, report.report_id, investigator.account, REASON, recovery.public_key()
    )
    asked_at = request.requested_at
    _tamper_request(session, request.id, requested_at=datetime(2024, 1, 2, tzinfo=UTC))
    [waiting] = grants.pending_requests(session, custodian.account, custodian.private)
    assert waiting.reason is None
    _tamper_request(session, request.id, requested_at=asked_at)  # as it was: it reads again
    [waiting] = grants.pending_requests(session, custodian.account, custodian.private)
    assert waiting.reason == REASON


@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("reason", "X'02' || substr(reason, 2)"),  # TEXT, not UTF-8
        ("reason", "99"),
        ("requested_at", "'not a time'"),
        ("requested_at", "1.5"),
        ("account_id", "'not-a-uuid'"),
        ("account_id", "CAST(X'ff' AS TEXT)"),
    ],
)
def test_a_request_holding_a_value_of_the_wrong_type_fails_never_a_500(
    session, case, custodian, recovery, column, value
):
    """Issue 15 item 9: SQLite stores any type in any column; such a request is failed
    and recorded on the custodian's page, and cannot be approved."""
    if session.get_bind().dialect.name != "sqlite":
        pytest.skip("PostgreSQL refuses a value of the wrong type in a column")
    investigator, _colleague, report = case
    request = grants.request_identity(
        session, report.report_id, investigator.account, REASON, recovery.public_key()
    )
    session.execute(sa_text("PRAGMA defer_foreign_keys = ON"))  # a writer turns them off
    session.execute(
        sa_text(f"UPDATE identity_request SET {column} = {value} WHERE id = :id"),
        {"id": request.id.hex},
    )
    session.expire_all()
    log = Recorded(session)

    [waiting] = grants.pending_requests(session, custodian.account, custodian.private)

    assert waiting.reason is None
    assert log.only(Action.INTEGRITY_FAILURE)["detail"]["kind"] == "identity_request"
    with refused(Reason.INTEGRITY_FAILED):
        grants.decide_identity(
            session, waiting.request.id, custodian.account, custodian.private, True, NOW
        )
