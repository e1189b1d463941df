"""An operator takes in a report for someone (:mod:`sipadu.services.operator_intake`,
issue 18 item 1): stored exactly as a web report, with its sealed ``intake`` field;
the operator keeps no grant and no wrap, and their key opens nothing of it; one audit
entry names the channel and office, never the report. Real HPKE and Argon2 (cheap), a
real database, rolled back."""

import json

import pytest
from sqlalchemy import select

from sipadu.accountability.audit import OPERATOR, Action
from sipadu.crypto import CryptoError, KeyContext, Purpose, unwrap_key
from sipadu.persistence.models import (
    AuditEvent,
    Mailbox,
    ReportField,
    ReportGrant,
    ReportKey,
    Role,
)
from sipadu.services import Reason, key_ring
from sipadu.services.categories import category_by_slug, seed_categories, set_accepting
from sipadu.services.intake import INTAKE_FIELD, Channel, Intake, parse_intake
from sipadu.services.operator_intake import take_in
from sipadu.services.proposals import needs_approval
from sipadu.services.reports import ReportForm, open_report_field
from tests.services.helpers import (
    CATEGORY,
    TODAY,
    person,
    refused,
    route,
    submission_settings,
)


def _form(operator: str = "petugas", identity: str = "") -> ReportForm:
    return ReportForm(
        category=CATEGORY,
        title="Pungutan di loket KTP",
        what="Diminta Rp 50.000 untuk mempercepat KTP",
        identity=identity,
        intake=Intake(Channel.WALK_IN, "Kantor Kecamatan", operator),
        transcribed=True,
    )


@pytest.fixture
def world(session):
    seed_categories(session, OPERATOR)
    investigator = person(session, "pemeriksa", Role.INVESTIGATOR)
    route(session, investigator)
    custodian = person(session, "inspektur", Role.CUSTODIAN)
    operator = person(session, "petugas", Role.OPERATOR)
    return investigator, custodian, operator


def test_the_operator_role_needs_a_second_admin():
    assert needs_approval({Role.OPERATOR})


def test_an_intake_is_stored_like_a_web_report_with_its_intake_sealed(session, recovery, world):
    investigator, custodian, operator = world
    settings = submission_settings(recovery.public_key())
    receipt = take_in(session, _form(identity="Budi, 0812"), settings, TODAY, operator.id)
    assert receipt.suggested_passphrase  # always suggested: the slip carries it
    keys = key_ring.staff_keys(session, receipt.report_id, investigator.id, investigator.private)
    row = session.get_one(ReportField, (receipt.report_id, INTAKE_FIELD))
    value = open_report_field(keys, row)
    assert json.loads(value) == {
        "channel": "walk_in",
        "office": "Kantor Kecamatan",
        "operator": "petugas",
    }
    assert parse_intake(value) == Intake(Channel.WALK_IN, "Kantor Kecamatan", "petugas")
    # Routed investigator, custodian (identity), mailbox and recovery: as on the web.
    kinds = {
        (k.recipient_kind, k.recipient_id)
        for k in session.scalars(select(ReportKey).where(ReportKey.report_id == receipt.report_id))
    }
    mailbox = session.scalar(select(Mailbox.id).where(Mailbox.report_id == receipt.report_id))
    assert kinds == {
        ("staff", investigator.id),
        ("custodian", custodian.id),
        ("mailbox", mailbox),
        ("recovery", None),
    }
    # The identity is sealed under the identity key, as the web form's.
    identity = session.get_one(ReportField, (receipt.report_id, "identity"))
    assert open_report_field(keys, identity) is None  # the investigator is not approved
    custodian_keys = key_ring.custodian_keys(
        session, receipt.report_id, custodian.id, custodian.private
    )
    assert open_report_field(custodian_keys, identity) == "Budi, 0812"


def test_the_operators_key_opens_nothing_of_the_report(session, recovery, world):
    _investigator, _custodian, operator = world
    settings = submission_settings(recovery.public_key())
    receipt = take_in(session, _form(), settings, TODAY, operator.id)
    rows = list(session.scalars(select(ReportKey).where(ReportKey.report_id == receipt.report_id)))
    assert len(rows) >= 4
    for row in rows:
        context = KeyContext(receipt.report_id, Purpose(row.purpose), row.epoch)
        with pytest.raises(CryptoError):
            unwrap_key(row.wrapped, operator.private, context)
        assert row.recipient_id != operator.id
    assert session.scalar(select(ReportGrant).where(ReportGrant.account_id == operator.id)) is None
    keys = key_ring.staff_keys(session, receipt.report_id, operator.id, operator.private)
    assert keys.epochs(Purpose.CASE) == []
    title = session.get_one(ReportField, (receipt.report_id, "title"))
    assert open_report_field(keys, title) is None


def test_an_intake_is_audited_with_channel_and_office_and_never_the_report(
    session, recovery, world
):
    _investigator, _custodian, operator = world
    settings = submission_settings(recovery.public_key())
    receipt = take_in(session, _form(), settings, TODAY, operator.id)
    entries = list(
        session.scalars(select(AuditEvent).where(AuditEvent.action == Action.REPORT_INTAKE.value))
    )
    assert len(entries) == 1
    entry = entries[0]
    assert (entry.actor, entry.role, entry.report_id) == (str(operator.id), "operator", None)
    assert json.loads(entry.detail) == {"channel": "walk_in", "office": "Kantor Kecamatan"}
    assert receipt.code not in entry.detail and str(receipt.report_id) not in entry.detail


def test_an_operator_who_would_hold_the_report_is_refused(session, recovery, world):
    both = person(session, "petugas2", Role.OPERATOR, Role.INVESTIGATOR)
    route(session, both)
    settings = submission_settings(recovery.public_key())
    with refused(Reason.OPERATOR_WOULD_HOLD):  # the caller rolls back: nothing is kept
        take_in(session, _form("petugas2"), settings, TODAY, both.id)


def test_an_intake_in_a_closed_category_is_refused(session, recovery, world):
    _investigator, _custodian, operator = world
    set_accepting(session, category_by_slug(session, CATEGORY), False, OPERATOR)
    with refused(Reason.CATEGORY_CLOSED, "category"):
        take_in(session, _form(), submission_settings(recovery.public_key()), TODAY, operator.id)
