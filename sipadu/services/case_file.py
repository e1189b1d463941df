"""The printable case file (*berkas perkara*) of a report: its fields, messages, files
with the SHA-256 of each file's plaintext, status history, internal notes if asked, and
the SHA-256 of the ``manifest.json`` an export of the same case state holds, so paper
and export can be tied (docs/casework.md, "Print").

Opening it is a plaintext read, recorded like a view or an export (``report.print``,
and ``identity.read`` when the identity is in it), in the caller's transaction, which
commits before anything is shown (G4). The identity is in it exactly when it is in an
export by the same person: the manifest's hash commits to ``report.json``, which holds
it, and a printed hash over a name left off the paper could be checked against guessed
names.
"""

import json
import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from sipadu.accountability import audit
from sipadu.accountability.audit import Action
from sipadu.persistence.models import AuditEvent
from sipadu.services.cases import CaseView, open_case
from sipadu.services.key_ring import HeldKeys

# The audit actions that change a report's status, shown as its history. Status changes
# are staff actions, dated to the second in the log; what a reporter did is not there (G2).
# A referral (issue 20) is a step when it moved the report to "referred" (its entry then
# has "from" and "to"); a second agency for a report already referred is none.
HISTORY_ACTIONS = (Action.STATUS_CHANGE, Action.REPORT_REOPEN, Action.REPORT_REFER)


@dataclass(frozen=True)
class StatusStep:
    """One change of status: when (UTC), by whom (an audit actor id), from and to
    (status values), and whether it acknowledged the report."""

    at: datetime
    actor: str
    old: str
    new: str
    acknowledged: bool


def open_for_print(
    session: Session, keys: HeldKeys, account_id: uuid.UUID, *, notes: bool
) -> CaseView:
    """Everything of a granted report for its case file, with the read recorded:
    ``report.print`` (whether the notes are printed, whether the identity is in it), and
    ``identity.read`` (``via: print``) when it is. The notes are opened either way: the
    export's ``notes.json`` is part of the manifest whose hash is printed. Raises
    ``NotGranted`` or ``NoKey``, as :func:`open_case`."""
    view = open_case(session, keys, account_id, record=False)
    included = view.identity is not None
    audit.append(
        session,
        str(account_id),
        "investigator",
        Action.REPORT_PRINT,
        report_id=keys.report_id,
        detail={"notes_included": notes, "identity_included": included},
    )
    if included:
        audit.append(
            session,
            str(account_id),
            "investigator",
            Action.IDENTITY_READ,
            report_id=keys.report_id,
            detail={"via": "print"},
        )
    return view


def status_history(session: Session, report_id: uuid.UUID) -> list[StatusStep]:
    """The report's status changes as the audit log keeps them, oldest first. The log is
    the only record of them (a report row keeps only its current status and the dates of
    acknowledgement and closing); an entry whose detail does not read is left out (the
    auditor's verification finds it)."""
    steps = []
    for entry in session.scalars(
        select(AuditEvent)
        .where(AuditEvent.report_id == report_id, AuditEvent.action.in_(HISTORY_ACTIONS))
        .order_by(AuditEvent.seq)
    ):
        try:
            detail = json.loads(entry.detail or "{}")
            at = datetime.fromisoformat(entry.at)
        except ValueError:
            continue
        if not isinstance(detail, dict) or "to" not in detail:
            continue
        steps.append(
            StatusStep(
                at,
                entry.actor,
                str(detail.get("from", "")),
                str(detail.get("to", "")),
                bool(detail.get("acknowledged")),
            )
        )
    return steps
