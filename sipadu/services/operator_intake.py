"""An intake operator types in a report for someone at a counter, on the phone, from a
letter or an e-mail (issue 18 item 1; docs/intake.md).

The report goes through :func:`sipadu.services.reports.submit_report` exactly as a web
report does: routed investigators, custodians, the recovery key and a new mailbox whose
code and (suggested) passphrase the operator hands over on a slip. The operator keeps
nothing: the key ring is built from routing, custodians, the mailbox and the recovery
key only, so the operator's key opens none of its wraps and no grant row names them
(DESIGN.md §1: "may never keep a copy, a grant or any way back to that report"). An
operator who is also a recipient (an investigator the category is routed to, or a
custodian) is refused: the report would be theirs to reopen.

One audit entry records the intake with its channel and office, in the transaction
that stores the report (G4). It names no report, no code and no content: the entry's
exact time and the operator's name beside a report id would date the report to the
second and tie it to a counter (report dates are coarsened, G2), and would give the
operator a pointer to "their" report in the log.
"""

import uuid
from collections.abc import Iterable, Sequence
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from sipadu.accountability import audit
from sipadu.accountability.audit import Action, AuditError
from sipadu.persistence.models import ReportGrant, ReportKey, Role
from sipadu.services import Derive, Reason, ServiceError, inline
from sipadu.services.attachments import UploadedFile
from sipadu.services.intake import Channel
from sipadu.services.reports import Receipt, ReportForm, SubmissionSettings, submit_report
from sipadu.settings.config import ConfigError


def take_in(
    session: Session,
    form: ReportForm,
    settings: SubmissionSettings,
    today: date,
    operator_id: uuid.UUID,
    files: Sequence[UploadedFile] = (),
    *,
    derive: Derive = inline,
) -> Receipt:
    """Store the report ``form`` (its ``intake`` set, ``transcribed`` true) as
    :func:`submit_report` does, always with a suggested passphrase (a reporter at a
    counter chooses their own later, in the mailbox), and record the intake. The caller
    commits, then shows the slip once. Raises :class:`ServiceError`
    (``OPERATOR_WOULD_HOLD``) if the operator's account is among the report's recipients,
    and whatever :func:`submit_report` raises; the caller rolls back."""
    if form.intake is None or not form.transcribed:
        raise ValueError("an operator's report carries its intake and is transcribed")
    receipt = submit_report(session, form, None, settings, today, files, derive=derive)
    held = session.scalar(
        select(ReportKey.id).where(
            ReportKey.report_id == receipt.report_id, ReportKey.recipient_id == operator_id
        )
    )
    granted = session.scalar(
        select(ReportGrant.report_id).where(
            ReportGrant.report_id == receipt.report_id,
            ReportGrant.account_id == operator_id,
        )
    )
    if held is not None or granted is not None:
        raise ServiceError(Reason.OPERATOR_WOULD_HOLD)
    audit.append(
        session,
        str(operator_id),
        Role.OPERATOR.value,
        Action.REPORT_INTAKE,
        detail=_detail(form.intake.channel, form.intake.office),
    )
    return receipt


def _detail(channel: Channel, office: str) -> dict[str, audit.DetailValue]:
    """The ``report.intake`` entry's detail: the channel and the office, nothing else."""
    return {"channel": channel.value, "office": office}


def check_offices(offices: Iterable[str]) -> None:
    """Refuse office names (``SIPADU_INTAKE_OFFICES``) that the audit log would refuse in
    an intake's entry (:func:`sipadu.accountability.audit.check_detail`: one that looks
    like an IP address or a report code, or is too long): every intake at such an office
    would fail, after the operator typed the whole report. Checked when the staff portal
    starts and by ``sipadu check``. Raises :class:`ConfigError` naming the setting, each
    such name, why, and what to do."""
    refused = []
    for office in offices:
        try:
            audit.check_detail(_detail(Channel.WALK_IN, office))
        except AuditError as error:
            refused.append(f"{office!r} ({str(error).rsplit(': ', 1)[-1]})")
    if refused:
        raise ConfigError(
            "SIPADU_INTAKE_OFFICES: the audit log cannot record the office "
            + "; ".join(refused)
            + ". Every intake there would fail: rename it, without an IP address, 16 "
            "digits or four groups of four digits (docs/intake.md, Configuration)"
        )
