"""Conflict-of-interest routing (issue 18, item 3; ISO 37002 §8.4.1): a report that
concerns the inspectorate's own staff is wrapped to the configured conflict-of-interest
group only; an ordinary routed investigator and an ordinary custodian hold no wrap of
it and cannot find it in any list, count, search or page; the group is configured under
the two-person rule with fingerprints; an outside keyholder's age key really opens it."""

import uuid
from datetime import UTC, datetime, timedelta

import pyrage
import pytest
from sqlalchemy import select

from sipadu.accountability.audit import Action, ReporterMetric
from sipadu.crypto import (
    CryptoError,
    KeyContext,
    Purpose,
    age_private_key,
    age_public_key,
    new_keypair,
    unwrap_key,
)
from sipadu.crypto.age_keys import bech32_decode
from sipadu.persistence.models import (
    CoiMember,
    CoiMemberKind,
    Report,
    ReporterDailyCount,
    ReportField,
    ReportGrant,
    ReportKey,
    ReportStatus,
    Role,
)
from sipadu.services import (
    Reason,
    cases,
    casework,
    dashboard,
    grants,
    key_ring,
    proposals,
    reports,
    retention,
)
from sipadu.services.cases import CaseFilter
from sipadu.services.conflict_of_interest import (
    concerns_inspectorate,
    external_view,
    group_status,
    members,
)
from sipadu.services.reports import CONCERNS_INSPECTORATE_FIELD, open_report_field
from sipadu.services.search import search_cases
from sipadu.settings.config import DatePrecision
from tests.services.helpers import (
    TODAY,
    Recorded,
    ServicePerson,
    held,
    held_as_custodian,
    person,
    refused,
    route,
    service_submit,
)

NOW = datetime(2025, 3, 14, 9, 0, tzinfo=UTC)
REASON = "Perlu menghubungi pelapor untuk klarifikasi"


class World:
    """Two admins, an ordinary routed investigator and an ordinary custodian, and the
    conflict-of-interest group: two investigators, a custodian, an outside keyholder."""

    def __init__(self, session, recovery, *, group: bool = True) -> None:
        self.admin = person(session, "admin.satu", Role.ADMIN)
        self.second = person(session, "admin.dua", Role.ADMIN)
        self.ordinary = person(session, "pemeriksa.biasa", Role.INVESTIGATOR, may_grant=True)
        route(session, self.ordinary)
        self.custodian = person(session, "inspektur.biasa", Role.CUSTODIAN)
        self.coi = person(session, "tim.sekda", Role.INVESTIGATOR, may_grant=True)
        self.coi2 = person(session, "tim.sekda.dua", Role.INVESTIGATOR)
        self.coi_custodian = person(session, "kustodian.sekda", Role.CUSTODIAN)
        self.outside = pyrage.x25519.Identity.generate()
        self.external_id: uuid.UUID | None = None
        if group:
            for who, kind in (
                (self.coi, CoiMemberKind.INVESTIGATOR),
                (self.coi2, CoiMemberKind.INVESTIGATOR),
                (self.coi_custodian, CoiMemberKind.CUSTODIAN),
            ):
                proposal = proposals.propose_coi_staff(
                    session, who.account, kind, self.admin.actor()
                )
                proposals.approve(session, proposal.id, self.second.actor(), NOW)
            proposal = proposals.propose_coi_external(
                session, "BPKP Perwakilan", str(self.outside.to_public()), self.admin.actor()
            )
            proposals.approve(session, proposal.id, self.second.actor(), NOW)
            self.external_id = proposal.coi_member_id


def wraps_of(session, report_id, account: ServicePerson) -> list[ReportKey]:
    return list(
        session.scalars(
            select(ReportKey).where(
                ReportKey.report_id == report_id, ReportKey.recipient_id == account.id
            )
        )
    )


def recipients(session, report_id, purpose: Purpose) -> set[tuple[str, uuid.UUID | None]]:
    return {
        (k.recipient_kind, k.recipient_id if k.recipient_kind != "mailbox" else None)
        for k in session.scalars(
            select(ReportKey).where(
                ReportKey.report_id == report_id, ReportKey.purpose == purpose.value
            )
        )
    }


# --- routing ---------------------------------------------------------------------------


def test_a_report_about_the_inspectorate_is_wrapped_to_the_group_only(session, recovery):
    world = World(session, recovery)
    report = service_submit(session, recovery.public_key(), concerns_inspectorate=True)
    rid = report.report_id
    readers = {("staff", world.coi.id), ("staff", world.coi2.id), ("external", world.external_id)}
    assert recipients(session, rid, Purpose.CASE) == readers | {
        ("mailbox", None),
        ("recovery", None),
    }
    assert recipients(session, rid, Purpose.INTERNAL) == readers | {("recovery", None)}
    # the identity: the group's custodian, never the outside keyholder (G3)
    assert recipients(session, rid, Purpose.IDENTITY) == {
        ("custodian", world.coi_custodian.id),
        ("mailbox", None),
        ("recovery", None),
    }
    granted = set(
        session.scalars(select(ReportGrant.account_id).where(ReportGrant.report_id == rid))
    )
    assert granted == {world.coi.id, world.coi2.id}
    # the ordinary routed investigator and the ordinary custodian hold no wrap at all
    assert wraps_of(session, rid, world.ordinary) == []
    assert wraps_of(session, rid, world.custodian) == []
    assert not held(session, report, world.ordinary).holds(Purpose.CASE, 0)
    # the group's investigator really reads it
    keys = held(session, report, world.coi)
    field = session.get(ReportField, (rid, "title"))
    assert open_report_field(keys, field) == "Pungutan liar"


def test_an_ordinary_report_still_goes_to_the_routed_investigators(session, recovery):
    world = World(session, recovery)
    report = service_submit(session, recovery.public_key())
    rid = report.report_id
    assert ("staff", world.ordinary.id) in recipients(session, rid, Purpose.CASE)
    assert ("external", world.external_id) not in recipients(session, rid, Purpose.CASE)
    assert ("staff", world.coi.id) not in recipients(session, rid, Purpose.CASE)
    assert ("custodian", world.custodian.id) in recipients(session, rid, Purpose.IDENTITY)


def test_the_answer_is_sealed_for_every_report_and_the_rows_look_alike(session, recovery):
    world = World(session, recovery)
    plain = service_submit(session, recovery.public_key())
    coi = service_submit(session, recovery.public_key(), concerns_inspectorate=True)
    rows = {}
    for report, reader in ((plain, world.ordinary), (coi, world.coi)):
        row = session.get(ReportField, (report.report_id, CONCERNS_INSPECTORATE_FIELD))
        assert row is not None  # stored for every report (G2)
        rows[report.report_id] = row
        # Sealed, not the answer itself: opened below with the keys only (a search for
        # "1" in its first bytes failed one time in 64 by chance).
        assert len(row.sealed) > 16 and row.sealed != b"1"
        keys = held(session, report, reader)
        assert concerns_inspectorate(session, keys) is (report is coi)
    assert open_report_field(held(session, coi, world.coi), rows[coi.report_id]) == "1"
    assert open_report_field(held(session, plain, world.ordinary), rows[plain.report_id]) == ""
    # padded: the sealed answers are the same size; the report rows differ in nothing
    # but their own id, keys and dates
    assert len(rows[plain.report_id].sealed) == len(rows[coi.report_id].sealed)
    one, two = session.get(Report, plain.report_id), session.get(Report, coi.report_id)
    columns = [c.key for c in Report.__table__.columns if c.key not in ("id",)]
    assert {c: getattr(one, c) for c in columns} == {c: getattr(two, c) for c in columns}


def test_without_a_group_the_report_is_kept_for_the_recovery_key_and_admins_are_warned(
    session, recovery
):
    World(session, recovery, group=False)
    assert group_status(session).incomplete
    report = service_submit(session, recovery.public_key(), concerns_inspectorate=True)
    rid = report.report_id
    assert recipients(session, rid, Purpose.CASE) == {("mailbox", None), ("recovery", None)}
    assert recipients(session, rid, Purpose.IDENTITY) == {("mailbox", None), ("recovery", None)}
    assert session.scalar(select(ReportGrant).where(ReportGrant.report_id == rid)) is None
    unrouted = session.scalar(
        select(ReporterDailyCount.count).where(
            ReporterDailyCount.metric == ReporterMetric.REPORT_UNROUTED.value
        )
    )
    assert unrouted and unrouted >= 1
    # the recovery key gives it back to a group investigator later, never to another
    assert key_ring.recovery_keys(session, rid, recovery).key(Purpose.CASE, 0)


# --- nobody ordinary finds it ------------------------------------------------------------------


def test_no_list_count_search_or_page_of_an_ordinary_investigator_finds_it(session, recovery):
    world = World(session, recovery)
    coi = service_submit(session, recovery.public_key(), concerns_inspectorate=True)
    me = world.ordinary
    # the list and its filters
    page = cases.list_cases(session, me.id, me.private, CaseFilter(), TODAY)
    assert coi.report_id not in {row.id for row in page.rows}
    for status in ReportStatus:
        filtered = CaseFilter(status=status.value)
        page = cases.list_cases(session, me.id, me.private, filtered, TODAY)
        assert coi.report_id not in {row.id for row in page.rows}
    # the home page's counts
    counts = dashboard.case_counts(session, me.id, me.private, TODAY)
    assert counts.total == 0 and counts.unread == 0 and not any(counts.due.values())
    assert cases.count_unread(session, me.id, me.private, 100) == (0, True)
    # the search
    found = search_cases(session, me.id, me.private, "pungutan")
    assert found.hits == [] and found.total == 0
    # the case page by id: the same refusal as a report that does not exist
    with refused(Reason.REPORT_NOT_FOUND) as missing:
        cases.open_case(session, held(session, coi, me), me.id)
    with refused(Reason.REPORT_NOT_FOUND) as unknown:
        cases.open_case(
            session, key_ring.staff_keys(session, uuid.uuid4(), me.id, me.private), me.id
        )
    assert type(missing.value) is type(unknown.value)
    assert missing.value.params == unknown.value.params
    # ... while the group's investigator has it everywhere
    assert dashboard.case_counts(session, world.coi.id, world.coi.private, TODAY).total == 1


def test_no_identity_request_of_it_reaches_an_ordinary_custodian(session, recovery):
    world = World(session, recovery)
    coi = service_submit(
        session, recovery.public_key(), identity="Budi, 0812", concerns_inspectorate=True
    )
    request = grants.request_identity(
        session, coi.report_id, world.coi.account, REASON, recovery.public_key()
    )
    # the request's key: the group's custodian, the requester, recovery; nobody else
    assert recipients(session, coi.report_id, Purpose.REQUEST) == {
        ("custodian", world.coi_custodian.id),
        ("staff", world.coi.id),
        ("recovery", None),
    }
    ordinary = world.custodian
    assert grants.pending_requests(session, ordinary.account, ordinary.private) == []
    assert dashboard.identity_requests_waiting(session, ordinary.id) == 0
    for approve in (True, False):
        with refused(Reason.NOT_WAITING_FOR_DECISION):
            grants.decide_identity(
                session, request.id, ordinary.account, ordinary.private, approve, NOW
            )
    assert not held_as_custodian(session, coi, ordinary).holds(Purpose.IDENTITY, 0)
    # the group's custodian sees it, reads the reason and approves
    mine = world.coi_custodian
    assert dashboard.identity_requests_waiting(session, mine.id) == 1
    [waiting] = grants.pending_requests(session, mine.account, mine.private)
    assert waiting.reason == REASON
    grants.decide_identity(session, request.id, mine.account, mine.private, True, NOW)
    assert held(session, coi, world.coi).holds(Purpose.IDENTITY, 0)


def test_an_ordinary_report_still_asks_the_ordinary_custodians(session, recovery):
    world = World(session, recovery)
    plain = service_submit(session, recovery.public_key(), identity="Siti")
    request = grants.request_identity(
        session, plain.report_id, world.ordinary.account, REASON, recovery.public_key()
    )
    assert dashboard.identity_requests_waiting(session, world.custodian.id) == 1
    # the group's custodian holds the custodian role: an ordinary custodian too
    # (docs/conflict-of-interest.md); the group is an addition, not a separation of roles
    assert dashboard.identity_requests_waiting(session, world.coi_custodian.id) == 1
    grants.decide_identity(
        session, request.id, world.custodian.account, world.custodian.private, True, NOW
    )


def test_it_is_shared_only_within_the_group(session, recovery):
    world = World(session, recovery)
    coi = service_submit(session, recovery.public_key(), concerns_inspectorate=True)
    keys = held(session, coi, world.coi)
    with refused(Reason.NOT_IN_COI_GROUP, "colleague"):
        grants.grant(session, keys, world.coi.account, world.ordinary.id)
    assert wraps_of(session, coi.report_id, world.ordinary) == []
    # with the recovery key neither
    with refused(Reason.NOT_IN_COI_GROUP, "colleague"):
        grants.recovery_grant(session, coi.report_id, recovery, world.ordinary.account)
    # within the group it works (after a recusal, say)
    third = person(session, "tim.sekda.tiga", Role.INVESTIGATOR)
    proposal = proposals.propose_coi_staff(
        session, third.account, CoiMemberKind.INVESTIGATOR, world.admin.actor()
    )
    proposals.approve(session, proposal.id, world.second.actor(), NOW)
    grants.grant(session, keys, world.coi.account, third.id)
    assert held(session, coi, third).holds(Purpose.CASE, 0)
    # an ordinary report is shared as before
    plain = service_submit(session, recovery.public_key())
    grants.grant(session, held(session, plain, world.ordinary), world.ordinary.account, third.id)


def _opens_epoch(session, report_id, world: World, purpose: Purpose, epoch: int) -> bool:
    """Whether the outside keyholder's age identity opens the report's key of ``epoch``."""
    private = age_private_key(str(world.outside))
    keys = key_ring.HeldKeys(session, report_id, "external", world.external_id, private)
    return keys.holds(purpose, epoch)


def test_a_new_epoch_reaches_the_outside_keyholder_until_it_is_removed(session, recovery):
    """Review of issue 18: a recusal or revocation began an epoch that the outside
    keyholder did not hold, so its export showed every later message as failing."""
    world = World(session, recovery)
    coi = service_submit(session, recovery.public_key(), concerns_inspectorate=True)
    rid = coi.report_id
    casework.recuse(session, rid, world.coi2.account, world.coi2.private, recovery.public_key())
    for purpose in (Purpose.CASE, Purpose.INTERNAL):
        assert _opens_epoch(session, rid, world, purpose, 1)
    # its export opens what is written under the new epoch
    assert session.get(Report, rid).key_epoch == 1
    mailbox = key_ring.mailbox_keys(session, rid, coi.mailbox_id, coi.mailbox_private)
    reports.add_reporter_message(session, mailbox, rid, "Setelah mundur", TODAY, DatePrecision.DAY)
    view, _keys, _recipient = external_view(session, rid, age_private_key(str(world.outside)))
    assert view.fields["title"] == "Pungutan liar"
    assert [(m.body, m.intact) for m in view.messages] == [("Setelah mundur", True)]
    # removed from the group, it keeps what it was given and gets no new epoch
    removal = proposals.propose_coi_removal(session, world.external_id, world.admin.actor())
    proposals.approve(session, removal.id, world.second.actor(), NOW)
    third = person(session, "tim.sekda.tiga", Role.INVESTIGATOR)
    proposal = proposals.propose_coi_staff(
        session, third.account, CoiMemberKind.INVESTIGATOR, world.admin.actor()
    )
    proposals.approve(session, proposal.id, world.second.actor(), NOW)
    grants.grant(session, held(session, coi, world.coi), world.coi.account, third.id)
    grants.revoke(session, rid, world.coi.account, third.id, recovery.public_key())
    assert session.get(Report, rid).key_epoch == 2
    assert _opens_epoch(session, rid, world, Purpose.CASE, 1)
    assert not _opens_epoch(session, rid, world, Purpose.CASE, 2)
    assert not _opens_epoch(session, rid, world, Purpose.INTERNAL, 2)


def test_retention_treats_it_as_any_other_report(session, recovery):
    World(session, recovery)
    coi = service_submit(session, recovery.public_key(), concerns_inspectorate=True)
    report = session.get(Report, coi.report_id)
    report.status = ReportStatus.REJECTED.value
    report.closed_on = TODAY - timedelta(days=400)
    assert coi.report_id in retention.expired(session, retention.RetentionPolicy(), TODAY)


# --- the configuration: two people, fingerprints -----------------------------------------------


def test_the_group_changes_only_when_a_second_admin_approves(session, recovery):
    world = World(session, recovery, group=False)
    log = Recorded(session)
    proposal = proposals.propose_coi_staff(
        session, world.coi.account, CoiMemberKind.INVESTIGATOR, world.admin.actor()
    )
    assert proposal.fingerprint == key_ring.key_fingerprint(world.coi.account)
    before = service_submit(session, recovery.public_key(), concerns_inspectorate=True)
    assert wraps_of(session, before.report_id, world.coi) == []  # proposed is not applied
    with refused(Reason.OWN_PROPOSAL):
        proposals.approve(session, proposal.id, world.admin.actor(), NOW)
    proposals.approve(session, proposal.id, world.second.actor(), NOW)
    after = service_submit(session, recovery.public_key(), concerns_inspectorate=True)
    assert wraps_of(session, after.report_id, world.coi)
    added = log.only(Action.COI_MEMBER_ADD)
    assert added["detail"]["fingerprint"] == key_ring.key_fingerprint(world.coi.account)
    assert added["detail"]["username"] == "tim.sekda"
    assert added["detail"]["member"] == "investigator"
    # the listing shows fingerprints
    [member] = members(session)
    assert member.fingerprint == key_ring.display_fingerprint(world.coi.account)
    # removal: again two admins; then nothing new goes to it
    removal = proposals.propose_coi_removal(session, member.id, world.admin.actor())
    newer = service_submit(session, recovery.public_key(), concerns_inspectorate=True)
    assert wraps_of(session, newer.report_id, world.coi)
    proposals.approve(session, removal.id, world.second.actor(), NOW)
    last = service_submit(session, recovery.public_key(), concerns_inspectorate=True)
    assert wraps_of(session, last.report_id, world.coi) == []
    assert log.only(Action.COI_MEMBER_REMOVE)["detail"]["member"] == "investigator"


def test_a_staff_proposal_pins_the_key_and_checks_the_role(session, recovery):
    world = World(session, recovery, group=False)
    with refused(Reason.NOT_A_CUSTODIAN, "account"):
        proposals.propose_coi_staff(
            session, world.coi.account, CoiMemberKind.CUSTODIAN, world.admin.actor()
        )
    with refused(Reason.NOT_AN_INVESTIGATOR, "account"):
        proposals.propose_coi_staff(
            session, world.coi_custodian.account, CoiMemberKind.INVESTIGATOR, world.admin.actor()
        )
    proposal = proposals.propose_coi_staff(
        session, world.coi.account, CoiMemberKind.INVESTIGATOR, world.admin.actor()
    )
    with refused(Reason.ALREADY_COI_MEMBER, "account"):
        proposals.propose_coi_staff(
            session, world.coi.account, CoiMemberKind.INVESTIGATOR, world.admin.actor()
        )
    world.coi.account.public_key = new_keypair().public_key().to_bytes()  # key changed
    with refused(Reason.KEY_CHANGED):
        proposals.approve(session, proposal.id, world.second.actor(), NOW)


def test_an_outside_keyholder_proposal_pins_its_fingerprint(session, recovery):
    world = World(session, recovery, group=False)
    identity = pyrage.x25519.Identity.generate()
    with refused(Reason.PRIVATE_KEY_NOT_RECIPIENT, "recipient"):
        proposals.propose_coi_external(session, "KPK", str(identity), world.admin.actor())
    log = Recorded(session)
    proposal = proposals.propose_coi_external(
        session, "KPK", str(identity.to_public()), world.admin.actor()
    )
    created = log.only(Action.PROPOSAL_CREATE)["detail"]
    assert created["recipient"] == "KPK" and created["fingerprint"] == proposal.fingerprint
    member = session.get(CoiMember, proposal.coi_member_id)
    member.recipient = str(pyrage.x25519.Identity.generate().to_public())  # changed in the db
    with refused(Reason.RECIPIENT_CHANGED):
        proposals.approve(session, proposal.id, world.second.actor(), NOW)
    proposals.reject(session, proposal.id, world.second.actor(), NOW)
    assert member.state == "rejected"


# --- outside keyholders: their own age key opens it -------------------------------------------


def test_age_keys_decode_to_the_same_x25519_pair():
    identity = pyrage.x25519.Identity.generate()
    private = age_private_key(str(identity))
    assert private.public_key() == age_public_key(str(identity.to_public()))
    recipient = str(identity.to_public())
    broken = recipient[:-1] + ("q" if recipient[-1] != "q" else "p")
    with pytest.raises(CryptoError):
        age_public_key(broken)
    with pytest.raises(CryptoError):
        bech32_decode(recipient, "age-secret-key-")


def test_the_outside_keyholder_unwraps_with_its_own_age_identity(session, recovery):
    world = World(session, recovery)
    coi = service_submit(
        session, recovery.public_key(), identity="Budi", concerns_inspectorate=True
    )
    wrap = session.scalar(
        select(ReportKey.wrapped).where(
            ReportKey.report_id == coi.report_id,
            ReportKey.recipient_kind == "external",
            ReportKey.purpose == Purpose.CASE.value,
        )
    )
    private = age_private_key(str(world.outside))
    case_key = unwrap_key(wrap, private, KeyContext(coi.report_id, Purpose.CASE, 0))
    assert case_key == held(session, coi, world.coi).key(Purpose.CASE, 0)
    log = Recorded(session)
    view, _keys, recipient = external_view(session, coi.report_id, private)
    assert view.fields["title"] == "Pungutan liar" and view.identity is None
    assert recipient == str(world.outside.to_public())
    entry = log.only(Action.COI_EXTERNAL_EXPORT)
    assert entry["report_id"] == str(coi.report_id)
    assert entry["detail"]["recipient"] == "BPKP Perwakilan"
    # another age key, or a report not wrapped to it: refused alike
    with refused(Reason.NO_SUCH_COI_MEMBER):
        external_view(
            session, coi.report_id, age_private_key(str(pyrage.x25519.Identity.generate()))
        )
    plain = service_submit(session, recovery.public_key())
    with refused(Reason.REPORT_NOT_FOUND):
        external_view(session, plain.report_id, private)


def test_the_answer_is_not_searched(session, recovery):
    """The sealed answer is no text of the report: searching "1" finds nothing by it."""
    world = World(session, recovery)
    service_submit(session, recovery.public_key(), concerns_inspectorate=True)
    assert search_cases(session, world.coi.id, world.coi.private, "1").hits == []
