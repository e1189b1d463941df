"""Review of the reporter's escalation (issue 20, item 3): faults found, each a test that
fails until it is fixed (docs/escalation.md states the behaviour each one expects).

- The bundle's ZIP entries carry the server's exact clock time (G2).
- An agency's key or upload address replaced in the database by another well-formed
  one is still offered and used (docs/escalation.md: "A row whose address or key was
  changed in the database is not offered, and is refused by id").
- The only agency, withdrawn while the mailbox page was open: the refusal is never
  shown, the reporter gets the mailbox back without a word.

Real keys, a real database, real portals (test clients); nothing mocked."""

import uuid
from datetime import UTC, datetime

import pyrage
import pytest
from sqlalchemy import update

from sipadu.persistence.models import ExportRecipient, Role
from sipadu.services import Reason, proposals
from sipadu.services.escalation import escalation_offer
from sipadu.settings.config import DatePrecision
from sipadu.settings.instance import load_secret
from tests.helpers import TOKEN, database
from tests.services.conftest import recovery, session  # noqa: F401 — fixtures
from tests.services.helpers import person, refused
from tests.services.test_escalation import (  # noqa: F401 — fixtures and helpers
    AUDIT_KEY,
    LATE,
    admins,
    case,
    files,
    forward,
    investigator,
    kpk,
    opened,
)
from tests.test_escalation import escalate, new_report

# --- G2: no exact reporter-side time, in the file handed to the agency either ------------


def test_the_bundles_zip_entries_carry_no_time_finer_than_its_coarsened_day(
    session,  # noqa: F811 — the imported fixtures
    case,  # noqa: F811
    kpk,  # noqa: F811
):
    """The manifest and report.json say ``made_on`` coarsened, but zipstream stamped every
    entry with the server's local clock (to 2 s) as it wrote it: the moment the
    reporter made the file, and from first to last entry how long the download took,
    handed to an outside agency (which may pass the case back to the inspectorate, whose
    network logs hold that moment). No entry may carry more than the coarsened day."""
    row, identity = kpk
    made = forward(session, case, row.id, precision=DatePrecision.DAY)
    zipped = opened(session, case, made, identity)
    day = made.made_on
    allowed = {(day.year, day.month, day.day, 0, 0, 0), (1980, 1, 1, 0, 0, 0)}
    stamped = {info.filename: info.date_time for info in zipped.infolist()}
    assert {name: t for name, t in stamped.items() if t not in allowed} == {}


# --- an agency changed in the database (G3) ----------------------------------------------


@pytest.mark.parametrize("changed", ["key", "address"])
def test_an_agency_whose_key_or_address_was_replaced_in_the_database_is_not_offered(
    session,  # noqa: F811 — the imported fixtures
    case,  # noqa: F811
    kpk,  # noqa: F811
    changed,
):
    """A database writer replaces KPK's approved key with their own (well-formed) age
    key, or its upload address with their own site: the mailbox still offers "KPK",
    the bundle (with the identity, if ticked) opens with the writer's key, and the
    reporter is told to upload it to the writer's site. Only the malformed replacement
    is caught (``intact`` parses; it does not compare with what two admins approved,
    which the hash-chained log records: ``export_recipient.add``/``.offer``)."""
    row, _identity = kpk
    theirs = pyrage.x25519.Identity.generate()
    values = (
        {"recipient": str(theirs.to_public())}
        if changed == "key"
        else {"reporter_channel": "https://kws-kpk.go.id.lapor-aman.example/unggah"}
    )
    session.execute(update(ExportRecipient).where(ExportRecipient.id == row.id).values(**values))
    session.expire_all()
    assert escalation_offer(session, case.report_id, LATE, AUDIT_KEY).agencies == []
    with refused(Reason.AGENCY_NOT_OFFERED, "agency"):
        forward(session, case, row.id, identity=True)


# --- the reporter's page: a refusal said in words ----------------------------------------


def test_the_only_agency_withdrawn_while_the_page_was_open_is_said_in_words(
    reporter_app, database_url, clients, config
):
    """One agency offered; the reporter opens the mailbox; admins remove it; the
    reporter presses "Make the file". Nothing is made (right), but the answer is the
    mailbox without the escalation section and without the refusal: the message is set
    on the form's field, and the form is rendered only while an agency is offered."""
    with database(database_url) as db:
        first = person(db, f"admin.r1{uuid.uuid4().hex[:4]}", Role.ADMIN)
        second = person(db, f"admin.r2{uuid.uuid4().hex[:4]}", Role.ADMIN)
        proposal = proposals.propose_recipient(
            db,
            "Ombudsman RI",
            str(pyrage.x25519.Identity.generate().to_public()),
            first.actor(),
            offered_to_reporters=True,
            reporter_channel="https://ombudsman.go.id/pengaduan",
        )
        seed = load_secret(config, "audit_signing_key")  # as the staff portal signs it
        proposals.approve(db, proposal.id, second.actor(), datetime.now(UTC), signing_seed=seed)
        db.commit()
        only = proposal.recipient_id
    _report_id, box, _ = new_report(reporter_app, database_url, clients, overdue=True)
    assert str(only) in box.get("/mailbox").get_data(as_text=True)  # the page as shown
    with database(database_url) as db:
        removal = proposals.propose_recipient_removal(db, only, first.actor())
        proposals.approve(db, removal.id, second.actor(), datetime.now(UTC))
        db.commit()
    answer = escalate(box, only)
    body = answer.get_data(as_text=True)
    assert answer.status_code == 409 and answer.mimetype == "text/html"
    assert "tidak ditawarkan lagi" in body  # AGENCY_NOT_OFFERED, in Bahasa Indonesia
    # (fix) ...said where it is seen, and without asking to choose from a list that is
    # not there; in English too; and with no agency chosen at all (the form's own check)
    assert 'id="notice"' in body and "tidak ada instansi lain" in body
    assert "Pilih salah satu" not in body and 'id="escalation-form"' not in body
    token = TOKEN.search(box.get("/mailbox").get_data(as_text=True)).group(1)
    for data, status in (({"agency": str(only)}, 409), ({}, 400)):
        english = box.post("/mailbox/escalate?lang=en", data={"csrf_token": token, **data})
        said = english.get_data(as_text=True)
        assert english.status_code == status and 'id="notice"' in said, data
        assert "no other agency is offered now" in said and "Choose one" not in said
