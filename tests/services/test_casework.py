"""Casework basics (issue 17, item 3), called directly: reopening with a reason the
reporter reads, labels and priority sealed under the internal key and filterable only
within one's own grants, the lead investigator, links between reports held by the
linker, and stepping down. Each change writes exactly its own audit entry, without the
sealed values; each refusal by its reason. Real HPKE, a real database, rolled back after
each test."""

import json
import uuid
from datetime import timedelta

import pytest
from sqlalchemy import select, update
from sqlalchemy import text as sa_text

from sipadu.accountability.audit import Action
from sipadu.crypto import Purpose
from sipadu.persistence.models import CaseRecord as CaseRecordRow
from sipadu.persistence.models import Report, ReportField, ReportGrant, ReportStatus, Role
from sipadu.services import Reason, case_record, cases, casework, grants, key_ring, retention
from sipadu.services.case_record import LinkKind, Priority
from sipadu.services.cases import CaseFilter, NotGranted
from sipadu.services.key_ring import NoKey
from sipadu.services.reports import STATUS_REASON_FIELD, open_report_field
from tests.services.helpers import (
    TODAY,
    Recorded,
    ServicePerson,
    Submitted,
    held,
    person,
    refused,
    route,
    service_submit,
)

LABELS = "Pungli perizinan, Dinas PU"


@pytest.fixture
def team(session, recovery) -> tuple[ServicePerson, ServicePerson, Submitted]:
    """A report routed to an investigator allowed to share, and given to a colleague."""
    lead = person(session, "ketua.tim", Role.INVESTIGATOR, may_grant=True)
    colleague = person(session, "anggota", Role.INVESTIGATOR)
    route(session, lead)
    report = service_submit(session, recovery.public_key())
    grants.grant(session, held(session, report, lead), lead.account, colleague.id)
    return lead, colleague, report


def _close(session, report: Submitted, who: ServicePerson, reason: str) -> None:
    keys = held(session, report, who)
    cases.change_status(session, keys, who.id, "in_review", "", TODAY)
    cases.change_status(session, keys, who.id, "closed_unsubstantiated", reason, TODAY)


def _mailbox_reason(session, report: Submitted) -> str | None:
    """The status reason as the reporter's mailbox opens it."""
    keys = key_ring.mailbox_keys(
        session, report.report_id, report.mailbox_id, report.mailbox_private
    )
    row = session.get(ReportField, (report.report_id, STATUS_REASON_FIELD))
    return open_report_field(keys, row)


# --- reopen ----------------------------------------------------------------------------------


def test_a_closed_report_is_reopened_in_review_and_the_reporter_reads_the_reason(session, team):
    lead, _colleague, report = team
    _close(session, report, lead, "Bukti tidak cukup")
    log = Recorded(session)

    cases.reopen(session, held(session, report, lead), lead.id, "  Ada bukti baru dari pelapor ")

    row = session.get(Report, report.report_id)
    assert row.status == ReportStatus.IN_REVIEW and row.closed_on is None
    assert _mailbox_reason(session, report) == "Ada bukti baru dari pelapor"
    entry = log.only(Action.REPORT_REOPEN)
    assert entry["detail"] == {"from": "closed_unsubstantiated", "to": "in_review"}
    assert "bukti" not in json.dumps(log.entries()).lower()  # the reason is not logged
    # A reopened report is worked again: retention no longer counts from its closing.
    far = TODAY + timedelta(days=100 * 365)
    assert report.report_id not in retention.expired(session, retention.RetentionPolicy(), far)


def test_only_a_closed_or_rejected_report_is_reopened_and_only_with_a_reason(session, team):
    lead, _colleague, report = team
    keys = held(session, report, lead)
    with refused(Reason.NOT_CLOSED):
        cases.reopen(session, keys, lead.id, "alasan")
    cases.change_status(session, keys, lead.id, "rejected", "Bukan wewenang kami", TODAY)
    with refused(Reason.REOPEN_NEEDS_REASON, "reason"):
        cases.reopen(session, keys, lead.id, "   ")
    outsider = person(session, "orang.luar", Role.INVESTIGATOR)
    with pytest.raises(NotGranted):
        cases.reopen(session, held(session, report, outsider), outsider.id, "alasan")
    log = Recorded(session)
    cases.reopen(session, keys, lead.id, "Ternyata wewenang kami")
    assert log.actions() == [Action.REPORT_REOPEN.value]
    assert session.get(Report, report.report_id).status == ReportStatus.IN_REVIEW


# --- labels and priority ---------------------------------------------------------------------


def test_labels_and_priority_are_sealed_under_the_internal_key_and_never_logged(
    session, team, recovery
):
    lead, colleague, report = team
    log = Recorded(session)

    casework.set_labels(session, held(session, report, lead), lead.id, LABELS, "high")

    seen = case_record.read(session, held(session, report, colleague))
    assert seen is not None
    assert seen.labels == ("Pungli perizinan", "Dinas PU") and seen.priority is Priority.HIGH
    # Nothing of it in plaintext: not in the row, not in the log.
    row = session.execute(sa_text("SELECT * FROM case_record")).all()
    stored = b"".join(
        bytes(v) if isinstance(v, bytes | memoryview) else str(v).encode() for r in row for v in r
    )
    for plain in (b"Pungli", b"Dinas", b"high"):
        assert plain not in stored
    assert log.only(Action.CASE_LABELS)["detail"] == {"labels": 2}
    assert "Pungli" not in json.dumps(log.entries()) and "high" not in json.dumps(log.entries())
    # The mailbox holds no internal key: the reporter can never open it.
    mailbox = key_ring.mailbox_keys(
        session, report.report_id, report.mailbox_id, report.mailbox_private
    )
    with pytest.raises(NoKey):
        mailbox.key(Purpose.INTERNAL, 0)
    # The recovery key does open it.
    assert (
        case_record.read(session, key_ring.recovery_keys(session, report.report_id, recovery))
        == seen
    )


def test_an_unknown_priority_is_refused_and_changes_nothing(session, team):
    lead, _colleague, report = team
    log = Recorded(session)
    with refused(Reason.UNKNOWN_PRIORITY, "priority"):
        casework.set_labels(session, held(session, report, lead), lead.id, "x", "urgent")
    assert log.actions() == []
    assert session.get(CaseRecordRow, report.report_id) is None


def test_an_altered_or_moved_record_fails_its_check_and_is_recorded(session, team):
    lead, _colleague, report = team
    keys = held(session, report, lead)
    casework.set_labels(session, keys, lead.id, LABELS, "low")
    session.execute(update(CaseRecordRow).values(epoch=1))  # another epoch's label
    log = Recorded(session)

    work = casework.casework_of(session, held(session, report, lead), lead.id, lead.private)

    assert work.record is None and work.links == []
    assert log.only(Action.INTEGRITY_FAILURE)["detail"] == {
        "kind": "case_record",
        "id": str(report.report_id),
    }
    page = cases.list_cases(session, lead.id, lead.private, CaseFilter(), TODAY)
    assert [r.record_intact for r in page.rows] == [False]
    # Saving again starts from an empty record (the failure is on the record).
    casework.set_labels(session, held(session, report, lead), lead.id, "baru", "normal")
    assert case_record.read(session, held(session, report, lead)).labels == ("baru",)


def test_the_list_filters_on_labels_and_priority_within_ones_own_grants(session, team, recovery):
    lead, colleague, shared = team
    mine_only = service_submit(session, recovery.public_key())  # routed to lead only
    casework.set_labels(session, held(session, shared, lead), lead.id, "Pungli", "high")
    casework.set_labels(session, held(session, mine_only, lead), lead.id, "pungli", "high")

    def listed(who: ServicePerson, **criteria: str) -> list[uuid.UUID]:
        page = cases.list_cases(session, who.id, who.private, CaseFilter(**criteria), TODAY)
        return [row.id for row in page.rows]

    assert set(listed(lead, label="PUNGLI")) == {shared.report_id, mine_only.report_id}
    assert listed(colleague, label="pungli") == [shared.report_id]
    assert listed(colleague, priority="high") == [shared.report_id]
    assert listed(colleague, priority="low") == []
    assert listed(colleague, label="dinas") == []
    row = cases.list_cases(session, colleague.id, colleague.private, CaseFilter(), TODAY).rows[0]
    assert (row.labels, row.priority) == (("Pungli",), "high")
    with refused(Reason.UNKNOWN_PRIORITY, "priority"):
        listed(colleague, priority="urgent")


def test_a_sealed_filter_looks_at_a_bounded_number_of_reports_per_page(
    session, recovery, monkeypatch
):
    """SCAN_LIMIT reports at most per request; the next page goes on from the last one
    looked at, so every match is found in the end."""
    someone = person(session, "pemeriksa.batas", Role.INVESTIGATOR)
    route(session, someone)
    submitted = [service_submit(session, recovery.public_key()) for _ in range(5)]
    # All on one day: the list's order is by id, newest (largest) first.
    in_order = sorted((s.report_id for s in submitted), reverse=True)
    wanted = in_order[-1]  # the last one the list reaches
    keys = key_ring.staff_keys(session, wanted, someone.id, someone.private)
    casework.set_labels(session, keys, someone.id, "cari", "normal")
    monkeypatch.setattr(cases, "PAGE_SIZE", 1)
    monkeypatch.setattr(cases, "SCAN_LIMIT", 2)

    pages, cursor = [], None
    for _ in range(5):
        page = cases.list_cases(
            session, someone.id, someone.private, CaseFilter(label="cari"), TODAY, cursor
        )
        pages.append(page)
        cursor = page.next_cursor
        if cursor is None:
            break
    assert [r.id for p in pages for r in p.rows] == [wanted]
    assert pages[0].partial and pages[0].rows == []
    assert len(pages) >= 2 and pages[-1].next_cursor is None


# --- the lead investigator ---------------------------------------------------------------------


def test_the_lead_is_a_holder_chosen_by_someone_allowed_to_share(session, team, recovery):
    lead, colleague, report = team
    outsider = person(session, "bukan.pemegang", Role.INVESTIGATOR)
    with refused(Reason.NOT_ALLOWED_TO_SHARE):
        casework.set_lead(
            session, held(session, report, colleague), colleague.account, colleague.id
        )
    with refused(Reason.LEAD_NOT_HOLDER, "lead"):
        casework.set_lead(session, held(session, report, lead), lead.account, outsider.id)
    with refused(Reason.LEAD_NOT_HOLDER, "lead"):
        casework.set_lead(session, held(session, report, lead), lead.account, uuid.uuid4())
    log = Recorded(session)

    casework.set_lead(session, held(session, report, lead), lead.account, colleague.id)

    assert log.only(Action.CASE_LEAD)["detail"] == {
        "account": str(colleague.id),
        "username": "anggota",
    }
    work = casework.casework_of(session, held(session, report, lead), lead.id, lead.private)
    assert work.lead is not None and work.lead.id == colleague.id
    row = cases.list_cases(session, lead.id, lead.private, CaseFilter(), TODAY).rows[0]
    assert row.lead == "anggota"
    # A lead who no longer holds the report is no lead, whatever the record says.
    grants.revoke(session, report.report_id, lead.account, colleague.id, recovery.public_key())
    assert (
        casework.casework_of(session, held(session, report, lead), lead.id, lead.private).lead
        is None
    )
    assert (
        cases.list_cases(session, lead.id, lead.private, CaseFilter(), TODAY).rows[0].lead is None
    )
    cleared = Recorded(session)
    casework.set_lead(session, held(session, report, lead), lead.account, None)
    assert cleared.only(Action.CASE_LEAD)["detail"] == {"cleared": True}


# --- links ------------------------------------------------------------------------------------


def test_links_need_both_reports_and_show_only_to_holders_of_both(session, team, recovery):
    lead, colleague, first = team
    second = service_submit(session, recovery.public_key())  # lead holds it, colleague not
    with refused(Reason.LINK_NOT_HELD, "other"):
        casework.link(
            session,
            held(session, first, colleague),
            colleague.id,
            colleague.private,
            second.report_id,
            "duplicate",
        )
    # A report that does not exist is refused in the same words: no existence oracle.
    with refused(Reason.LINK_NOT_HELD, "other"):
        casework.link(
            session, held(session, first, lead), lead.id, lead.private, uuid.uuid4(), "related"
        )
    with refused(Reason.LINK_TO_ITSELF, "other"):
        casework.link(
            session, held(session, first, lead), lead.id, lead.private, first.report_id, "related"
        )
    with refused(Reason.UNKNOWN_LINK_KIND, "kind"):
        casework.link(
            session, held(session, first, lead), lead.id, lead.private, second.report_id, "x"
        )
    log = Recorded(session)

    casework.link(
        session, held(session, first, lead), lead.id, lead.private, second.report_id, "duplicate"
    )

    assert log.only(Action.CASE_LINK)["detail"] == {
        "other": str(second.report_id),
        "kind": "duplicate",
    }
    here = casework.casework_of(session, held(session, first, lead), lead.id, lead.private)
    there = casework.casework_of(session, held(session, second, lead), lead.id, lead.private)
    assert [(ln.report_id, ln.kind, ln.title) for ln in here.links] == [
        (second.report_id, LinkKind.DUPLICATE, "Pungutan liar")
    ]
    assert [ln.report_id for ln in there.links] == [first.report_id]
    # The colleague holds only the first: the link is not shown to them at all.
    theirs = casework.casework_of(
        session, held(session, first, colleague), colleague.id, colleague.private
    )
    assert theirs.links == []
    with refused(Reason.ALREADY_LINKED, "other"):
        casework.link(
            session, held(session, second, lead), lead.id, lead.private, first.report_id, "related"
        )

    casework.unlink(session, held(session, second, lead), lead.id, lead.private, first.report_id)
    assert (
        casework.casework_of(session, held(session, first, lead), lead.id, lead.private).links == []
    )
    assert (
        casework.casework_of(session, held(session, second, lead), lead.id, lead.private).links
        == []
    )
    assert log.actions().count(Action.CASE_UNLINK.value) == 1
    with refused(Reason.NOT_LINKED, "other"):
        casework.unlink(
            session, held(session, second, lead), lead.id, lead.private, first.report_id
        )


def test_a_report_id_is_found_in_a_pasted_address():
    rid = uuid.uuid4()
    assert casework.report_id_in(f"http://10.0.0.5:5001/reports/{rid}#links") == rid
    assert casework.report_id_in(str(rid).upper()) == rid
    with refused(Reason.NOT_A_REPORT_ID, "other"):
        casework.report_id_in("laporan kemarin")


# --- stepping down ----------------------------------------------------------------------------


def test_recusing_drops_ones_own_grant_at_once_and_clears_the_lead(session, team, recovery):
    lead, colleague, report = team
    casework.set_lead(session, held(session, report, lead), lead.account, colleague.id)
    epoch = session.get(Report, report.report_id).key_epoch
    log = Recorded(session)

    new_epoch = casework.recuse(
        session, report.report_id, colleague.account, colleague.private, recovery.public_key()
    )

    assert new_epoch == epoch + 1
    assert session.get(ReportGrant, (report.report_id, colleague.id)) is None
    assert not held(session, report, colleague).holds(Purpose.CASE, new_epoch)
    assert not held(session, report, colleague).holds(Purpose.CASE, 0)  # every wrap gone
    with pytest.raises(NotGranted):
        cases.open_case(session, held(session, report, colleague), colleague.id)
    entry = log.only(Action.GRANT_RECUSE)
    assert entry["actor"] == str(colleague.id)
    assert entry["detail"]["was_lead"] is True and entry["detail"]["new_epoch"] == new_epoch
    record = case_record.read(session, held(session, report, lead))
    assert record is not None and record.lead is None


def test_the_last_holder_cannot_recuse(session, team, recovery):
    lead, colleague, report = team
    grants.revoke(session, report.report_id, lead.account, colleague.id, recovery.public_key())
    log = Recorded(session)
    with refused(Reason.LAST_HOLDER):
        casework.recuse(
            session, report.report_id, lead.account, lead.private, recovery.public_key()
        )
    assert log.actions() == []
    assert (
        session.scalar(select(ReportGrant).where(ReportGrant.report_id == report.report_id))
        is not None
    )
