"""Review of issue 20 as a whole (referral, receipt, escalation working together, and the
docs a newcomer follows): faults found, each a test that fails until it is fixed.

- A referral is the reporter's feedback (a closing outcome the mailbox tells, with the
  agency and the day). When the agency sends the report back and it is reopened, the
  reopening clears ``closed_on`` and with it the only trace of that feedback: once the
  feedback date passes, the mailbox tells the reporter "we promised ... and have not
  done so", offers escalation, and the bundle handed to KPK states the feedback deadline
  as missed and never met (``met_on: null``), though the reporter was told in time.
- docs/escalation.md still says the escalation bundle gets no receipt until "Part B" is
  merged (the view passing ``None``): it is merged, and the bundle carries it.
- The auditor reads a referral's integrity failure as "A record failed its integrity
  check ... and was not shown": nothing says it was a referral (and its bundle refused).
- The escalation bundle's README calls the investigators "penyelidik" (the portal's word
  is "pemeriksa") and does not tell the agency how to check the receipt it carries.

Real keys, a real database; nothing mocked."""

from datetime import timedelta
from pathlib import Path

from sipadu.accountability import audit
from sipadu.persistence.models import Report
from sipadu.services import cases
from sipadu.services.escalation import missed_deadlines
from sipadu.services.statistics import case_facts
from tests.services.conftest import recovery, session  # noqa: F401 — fixtures
from tests.services.helpers import TODAY, held, service_submit
from tests.services.test_referral import (  # noqa: F401 — fixtures and helpers
    admins,
    agency_key,
    custodian,
    investigator,
    kpk,
    refer,
)

ROOT = Path(__file__).resolve().parent.parent

# --- referral, reopening and escalation: the feedback the referral gave -------------------


def test_a_referral_in_time_stays_feedback_in_time_after_the_agency_sends_it_back(
    session,  # noqa: F811 — the imported fixtures
    recovery,  # noqa: F811
    investigator,  # noqa: F811
    custodian,  # noqa: F811
    kpk,  # noqa: F811
):
    """docs/referral.md: a referral is "a closing outcome like a close" that the reporter
    reads in the mailbox ("Referred to KPK on <day>"); docs/escalation.md: the feedback is
    "the earlier of the first staff message and the closing". Referred on its first day
    (both deadlines met), then reopened because the agency sent it back (docs/referral.md
    names this case): after the feedback date, with no staff message, the mailbox must not
    say the feedback date was missed, nor offer escalation on it, nor the statistics count
    it late. Today the reopening erased the closing day, so all three say "missed"."""
    report = service_submit(session, recovery.public_key())
    _referral, made = refer(session, report, investigator, kpk, reason="Kewenangan KPK")
    assert made
    keys = held(session, report, investigator)
    cases.reopen(session, keys, investigator.id, "KPK mengembalikan laporan ini")
    row = session.get(Report, report.report_id)
    after_feedback_date = row.feedback_due_on + timedelta(days=1)
    missed = missed_deadlines(session, row, after_feedback_date)
    assert [m.deadline.value for m in missed] == [], missed
    # the only report received that day (CaseFacts carry no id, by design)
    [facts] = case_facts(session, row.received_on, row.received_on + timedelta(days=1))
    assert facts.first_feedback_on == TODAY
    assert facts.closed_on is None  # days to close still count from the current closing


# --- the docs a newcomer follows ------------------------------------------------------------


def test_docs_escalation_no_longer_says_the_bundle_waits_for_part_b():
    """The view passes the receipt (sipadu/reporter/mailbox.py, ``receipt_json``) and
    tests/test_escalation.py checks it; docs/escalation.md's "Known limits" still tells
    readers that the bundle carries no receipt until Part B is merged."""
    text = " ".join((ROOT / "docs" / "escalation.md").read_text().split())
    assert "once Part B of issue 20 is merged" not in text
    assert "passes `None` until then" not in text


# --- the auditor's words for the new actions ------------------------------------------------


def test_a_referrals_integrity_failure_is_said_as_a_referral(staff_app):
    """``referral.bundle`` refused because the referral row differs from its logged
    ``report.refer`` appends ``record.integrity_failure`` with ``kind: referral``
    (docs/referral.md). The auditor's sentence falls back to "A record ... was not shown":
    which record, and that the referral's bundle was refused, is lost."""
    from sipadu.investigator.words import SENTENCES

    sentence = SENTENCES[audit.Action.INTEGRITY_FAILURE.value]
    detail = {"kind": "referral", "id": "5a4d3a11-8971-49cd-89bb-5379897f38a4"}
    with staff_app.test_request_context("/"):  # Bahasa Indonesia, the first language
        said_id = sentence(detail, "")
    with staff_app.test_request_context("/?lang=en"):
        said_en = sentence(detail, "")
    assert "pelimpahan" in said_id.lower(), said_id
    assert "referral" in said_en.lower(), said_en


# --- the escalation bundle's own words, read by the agency ---------------------------------


def test_the_escalation_readme_uses_the_portals_words_and_says_how_to_check_the_receipt():
    """The bundle's README.txt is what KPK reads first. It says "Pesan penyelidik" where
    every reporter page and docs/escalation.md say "pemeriksa", and says nothing of how to
    check receipt.json (with the inspectorate's pinned public key, docs/receipt.md's
    recipe), the only part of the bundle that proves anything (its manifest is not
    signed, docs/escalation.md)."""
    from sipadu.services.escalation import README

    readme = README.format(institution="Inspektorat Kota", agency="KPK")
    indonesian = readme[: readme.index("[English]")]
    assert "penyelidik" not in indonesian
    assert "kunci publik" in indonesian, indonesian
    assert "public key" in readme[readme.index("[English]") :]
