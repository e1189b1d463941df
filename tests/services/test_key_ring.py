"""The report key ring (:mod:`sipadu.services.key_ring`), called directly: who a report's
keys are wrapped to at submission, on a grant, a revocation, an identity approval, a
password reset and a purge. Real HPKE, a real database; each test runs in one
transaction that is rolled back, as the key ring never commits."""

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from sipadu.crypto import Purpose
from sipadu.persistence.models import Report, ReportGrant, ReportKey, Role
from sipadu.services import Reason, key_ring
from sipadu.services.key_ring import NoKey
from tests.helpers import database
from tests.services.helpers import (
    Submitted,
    held,
    held_as_custodian,
    person,
    refused,
    route,
    service_submit,
)

CASE, INTERNAL, IDENTITY, REQUEST = (
    Purpose.CASE,
    Purpose.INTERNAL,
    Purpose.IDENTITY,
    Purpose.REQUEST,
)


def mailbox(session: Session, report: Submitted) -> key_ring.HeldKeys:
    return key_ring.mailbox_keys(
        session, report.report_id, report.mailbox_id, report.mailbox_private
    )


def what_is_held(keys: key_ring.HeldKeys, epochs: int = 1) -> set[tuple[Purpose, int]]:
    return {
        (purpose, epoch)
        for purpose in (CASE, INTERNAL, IDENTITY)
        for epoch in range(epochs)
        if keys.holds(purpose, epoch)
    }


def wraps(session: Session, **where) -> int:
    query = select(func.count()).select_from(ReportKey)
    for column, value in where.items():
        query = query.where(getattr(ReportKey, column) == value)
    return session.scalar(query)


def test_a_new_report_is_wrapped_to_its_investigators_custodians_mailbox_and_recovery(
    session, recovery
):
    routed = person(session, "routed", Role.INVESTIGATOR)
    other = person(session, "elsewhere", Role.INVESTIGATOR)
    custodian = person(session, "custodian", Role.CUSTODIAN)
    route(session, routed)
    report = service_submit(session, recovery.public_key(), identity="Siti, 0812")
    from_recovery = key_ring.recovery_keys(session, report.report_id, recovery)

    assert what_is_held(held(session, report, routed)) == {(CASE, 0), (INTERNAL, 0)}
    assert what_is_held(held_as_custodian(session, report, custodian)) == {(IDENTITY, 0)}
    assert what_is_held(held(session, report, custodian)) == set()  # no investigator wrap
    assert what_is_held(mailbox(session, report)) == {(CASE, 0), (IDENTITY, 0)}
    assert what_is_held(from_recovery) == {(CASE, 0), (INTERNAL, 0), (IDENTITY, 0)}
    assert what_is_held(held(session, report, other)) == set()
    # One key per purpose: every holder unwraps the same bytes.
    assert held(session, report, routed).key(CASE, 0) == mailbox(session, report).key(CASE, 0)
    custodian_keys = held_as_custodian(session, report, custodian)
    assert from_recovery.key(IDENTITY, 0) == custodian_keys.key(IDENTITY, 0)
    assert key_ring.is_holder(session, report.report_id, routed.id)
    assert not key_ring.is_holder(session, report.report_id, other.id)
    assert not key_ring.is_holder(session, report.report_id, custodian.id)


def test_a_wrap_names_its_recipients_key_fingerprint(session, recovery):
    routed = person(session, "printed", Role.INVESTIGATOR)
    route(session, routed)
    report = service_submit(session, recovery.public_key())
    stored = session.scalars(
        select(ReportKey.recipient_fingerprint).where(
            ReportKey.report_id == report.report_id, ReportKey.recipient_id == routed.id
        )
    ).all()
    assert stored == [key_ring.key_fingerprint(routed.account)] * 2
    assert key_ring.display_fingerprint(routed.account).replace(" ", "").lower() == stored[0]


def test_a_grant_copies_case_and_internal_keys_of_every_epoch_never_the_identity(session, recovery):
    first = person(session, "first", Role.INVESTIGATOR)
    second = person(session, "second", Role.INVESTIGATOR)
    colleague = person(session, "colleague", Role.INVESTIGATOR)
    route(session, first)
    route(session, second)
    report = service_submit(session, recovery.public_key(), identity="Budi")
    row = session.get(Report, report.report_id)
    key_ring.revoke_holder(session, row, second.id, recovery.public_key())  # epoch 1

    copied = key_ring.grant_holder(session, row, held(session, report, first), colleague.account)

    assert copied == 4
    assert what_is_held(held(session, report, colleague), epochs=2) == {
        (CASE, 0),
        (INTERNAL, 0),
        (CASE, 1),
        (INTERNAL, 1),
    }
    assert held(session, report, colleague).key(CASE, 1) == held(session, report, first).key(
        CASE, 1
    )
    assert key_ring.is_holder(session, report.report_id, colleague.id)
    assert [a.username for a in key_ring.holders(session, report.report_id)] == [
        "colleague",
        "first",
    ]


def test_sharing_keys_one_does_not_hold_is_refused_and_grants_nothing(session, recovery):
    outsider = person(session, "outsider", Role.INVESTIGATOR)
    colleague = person(session, "friend", Role.INVESTIGATOR)
    report = service_submit(session, recovery.public_key())
    row = session.get(Report, report.report_id)

    with refused(Reason.NO_KEY_TO_SHARE):
        key_ring.grant_holder(session, row, held(session, report, outsider), colleague.account)

    assert wraps(session, report_id=report.report_id, recipient_id=colleague.id) == 0
    assert not key_ring.is_holder(session, report.report_id, colleague.id)


def test_the_recovery_key_re_grants_every_epoch(session, recovery):
    lost = person(session, "lost", Role.INVESTIGATOR)
    newcomer = person(session, "newcomer", Role.INVESTIGATOR)
    route(session, lost)
    report = service_submit(session, recovery.public_key())
    row = session.get(Report, report.report_id)
    key_ring.revoke_holder(session, row, lost.id, recovery.public_key())  # nobody left

    source = key_ring.recovery_keys(session, report.report_id, recovery)
    assert key_ring.grant_holder(session, row, source, newcomer.account) == 4
    assert held(session, report, newcomer).key(CASE, 0) == source.key(CASE, 0)
    assert not held(session, report, newcomer).holds(IDENTITY, 0)


def test_revoking_starts_an_epoch_the_revoked_never_hold(session, recovery):
    staying = person(session, "staying", Role.INVESTIGATOR)
    leaving = person(session, "leaving", Role.INVESTIGATOR)
    route(session, staying)
    route(session, leaving)
    report = service_submit(session, recovery.public_key())
    row = session.get(Report, report.report_id)
    old_case = held(session, report, staying).key(CASE, 0)

    removed = key_ring.revoke_holder(session, row, leaving.id, recovery.public_key())

    assert removed == 2  # its case and internal wraps of epoch 0
    assert row.key_epoch == 1
    assert what_is_held(held(session, report, leaving), epochs=2) == set()
    assert not key_ring.is_holder(session, report.report_id, leaving.id)
    assert what_is_held(held(session, report, staying), epochs=2) == {
        (CASE, 0),
        (INTERNAL, 0),
        (CASE, 1),
        (INTERNAL, 1),
    }
    assert what_is_held(mailbox(session, report), epochs=2) == {(CASE, 0), (CASE, 1), (IDENTITY, 0)}
    from_recovery = key_ring.recovery_keys(session, report.report_id, recovery)
    assert from_recovery.key(INTERNAL, 1) == held(session, report, staying).key(INTERNAL, 1)
    new_case = held(session, report, staying).key(CASE, 1)
    assert new_case != old_case
    assert new_case == mailbox(session, report).key(CASE, 1)


def test_an_approved_identity_is_wrapped_from_the_custodians_key(session, recovery):
    investigator = person(session, "asker", Role.INVESTIGATOR)
    custodian = person(session, "keeper", Role.CUSTODIAN)
    route(session, investigator)
    report = service_submit(session, recovery.public_key(), identity="Ani")

    key_ring.wrap_identity(
        session, held_as_custodian(session, report, custodian), investigator.account
    )

    assert held(session, report, investigator).key(IDENTITY, 0) == held_as_custodian(
        session, report, custodian
    ).key(IDENTITY, 0)


def test_approving_from_a_key_one_does_not_hold_raises_no_key(session, recovery):
    investigator = person(session, "hopeful", Role.INVESTIGATOR)
    not_a_custodian = person(session, "bystander", Role.INVESTIGATOR)
    route(session, investigator)
    report = service_submit(session, recovery.public_key(), identity="Ani")

    with pytest.raises(NoKey):
        key_ring.wrap_identity(
            session, held(session, report, not_a_custodian), investigator.account
        )
    assert not held(session, report, investigator).holds(IDENTITY, 0)


def test_a_request_key_reaches_custodians_the_requester_and_recovery_only(session, recovery):
    requester = person(session, "requester", Role.INVESTIGATOR)
    colleague = person(session, "bystanding", Role.INVESTIGATOR)
    custodian = person(session, "decider", Role.CUSTODIAN)
    route(session, requester)
    route(session, colleague)
    report = service_submit(session, recovery.public_key())

    key = key_ring.wrap_request_key(
        session, report.report_id, 1, requester.account, recovery.public_key()
    )

    assert held(session, report, requester).key(REQUEST, 1) == key
    assert held_as_custodian(session, report, custodian).key(REQUEST, 1) == key
    assert not held(session, report, custodian).holds(REQUEST, 1)  # a custodian wrap only
    assert key_ring.recovery_keys(session, report.report_id, recovery).key(REQUEST, 1) == key
    assert not held(session, report, colleague).holds(REQUEST, 1)
    assert not mailbox(session, report).holds(REQUEST, 1)
    assert not held_as_custodian(session, report, custodian).holds(REQUEST, 2)


def test_a_recipient_list_holds_each_recipient_once(session, recovery):
    """Roles can put one person on a list twice (a requester who is also a custodian, a
    list joined from two queries): each gets one wrap, and the unique constraint on
    ``report_key`` is never the thing that notices (issue 15: an HTTP 500)."""
    twice = person(session, "dua.kali", Role.INVESTIGATOR)
    other = person(session, "sekali", Role.INVESTIGATOR)
    route(session, twice)
    report = service_submit(session, recovery.public_key())
    as_staff = key_ring.Recipient("staff", twice.id, twice.private.public_key())
    as_custodian = key_ring.Recipient("custodian", twice.id, twice.private.public_key())
    to_other = key_ring.Recipient("staff", other.id, other.private.public_key())

    assert key_ring.distinct_recipients([as_staff, to_other, as_staff, as_custodian]) == [
        as_staff,
        to_other,
        as_custodian,
    ]
    key_ring._wrap_to(
        session, report.report_id, REQUEST, 7, b"k" * 32, [as_staff, as_staff, to_other]
    )
    session.flush()  # the unique constraint would refuse a second row for ``twice``
    assert wraps(session, recipient_id=twice.id, purpose=REQUEST.value) == 1
    assert wraps(session, recipient_id=other.id, purpose=REQUEST.value) == 1


def test_an_investigator_custodians_request_key_is_wrapped_to_each_role_once(session, recovery):
    both = person(session, "dua.peran", Role.INVESTIGATOR, Role.CUSTODIAN)
    route(session, both)
    report = service_submit(session, recovery.public_key(), identity="Ani")

    key = key_ring.wrap_request_key(
        session, report.report_id, 1, both.account, recovery.public_key()
    )
    session.flush()

    assert held(session, report, both).key(REQUEST, 1) == key  # as the requester
    assert held_as_custodian(session, report, both).key(REQUEST, 1) == key
    # The identity key it holds as a custodian is no investigator's key.
    assert held_as_custodian(session, report, both).holds(IDENTITY, 0)
    assert not held(session, report, both).holds(IDENTITY, 0)


def test_a_revocation_leaves_a_custodians_own_wraps(session, recovery):
    """Taking a report from an investigator who is also a custodian takes what the grant
    gave, not the identity key they keep for deciding requests."""
    sharer = person(session, "pembagi.kr", Role.INVESTIGATOR)
    both = person(session, "dua.peran.kr", Role.INVESTIGATOR, Role.CUSTODIAN)
    route(session, sharer)
    route(session, both)
    report = service_submit(session, recovery.public_key(), identity="Ani")
    report_row = session.get_one(Report, report.report_id)

    key_ring.revoke_holder(session, report_row, both.id, recovery.public_key())

    assert what_is_held(held(session, report, both)) == set()
    assert what_is_held(held_as_custodian(session, report, both)) == {(IDENTITY, 0)}


def test_forgetting_an_account_drops_its_wraps_and_grants_of_every_report(session, recovery):
    forgetful = person(session, "forgetful", Role.INVESTIGATOR)
    colleague = person(session, "remains", Role.INVESTIGATOR)
    route(session, forgetful)
    route(session, colleague)
    reports = [service_submit(session, recovery.public_key()) for _ in range(2)]

    assert key_ring.forget_account(session, forgetful.id) == key_ring.Forgotten(wraps=4, grants=2)

    assert wraps(session, recipient_id=forgetful.id) == 0
    assert session.scalar(select(ReportGrant).where(ReportGrant.account_id == forgetful.id)) is None
    for report in reports:  # no new epoch: the others keep what they held
        assert session.get(Report, report.report_id).key_epoch == 0
        assert what_is_held(held(session, report, colleague)) == {(CASE, 0), (INTERNAL, 0)}


def test_shredding_leaves_no_wrap_not_even_for_recovery(session, recovery):
    investigator = person(session, "shredder", Role.INVESTIGATOR)
    route(session, investigator)
    kept, shredded = (
        service_submit(session, recovery.public_key()),
        service_submit(session, recovery.public_key()),
    )
    before = wraps(session, report_id=kept.report_id)

    assert key_ring.shred(session, [shredded.report_id]) == before

    assert wraps(session, report_id=shredded.report_id) == 0
    assert wraps(session, report_id=kept.report_id) == before
    assert not key_ring.recovery_keys(session, shredded.report_id, recovery).holds(CASE, 0)


def test_a_page_of_reports_opens_with_one_key_per_report_held(session, recovery):
    reader = person(session, "reader", Role.INVESTIGATOR)
    route(session, reader)
    mine = [service_submit(session, recovery.public_key()) for _ in range(3)]
    not_mine = service_submit(session, recovery.public_key(), category="staff_discipline")
    wanted = [(r.report_id, 0) for r in [*mine, not_mine]] + [(mine[0].report_id, 1)]

    keys = key_ring.staff_keys_of_reports(session, reader.id, reader.private, CASE, wanted)

    assert keys == {(r.report_id, 0): held(session, r, reader).key(CASE, 0) for r in mine}
    assert key_ring.staff_keys_of_reports(session, reader.id, reader.private, CASE, []) == {}


def test_the_key_ring_never_commits(database_url, recovery):
    """Every change happens in the caller's transaction: rolled back, none of it stays."""
    with database(database_url) as session:
        before = wraps(session), session.scalar(select(func.count()).select_from(ReportGrant))
        investigator = person(session, "uncommitted", Role.INVESTIGATOR)
        colleague = person(session, "uncommitted2", Role.INVESTIGATOR)
        custodian = person(session, "uncommitted3", Role.CUSTODIAN)
        route(session, investigator)
        report = service_submit(session, recovery.public_key(), identity="X")
        row = session.get(Report, report.report_id)
        key_ring.grant_holder(session, row, held(session, report, investigator), colleague.account)
        key_ring.wrap_identity(
            session, held_as_custodian(session, report, custodian), investigator.account
        )
        key_ring.revoke_holder(session, row, colleague.id, recovery.public_key())
        key_ring.wrap_request_key(session, row.id, 1, investigator.account, recovery.public_key())
        key_ring.forget_account(session, investigator.id)
        session.flush()
        assert wraps(session) > before[0]
        session.rollback()
    with database(database_url) as session:
        after = wraps(session), session.scalar(select(func.count()).select_from(ReportGrant))
    assert after == before
