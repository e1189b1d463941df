"""Conflict-of-interest routing (issue 18, item 3; ISO 37002 §8.4.1, impartial handling
when the organization's own staff are concerned; docs/conflict-of-interest.md).

A reporter may say that the report concerns staff of the inspectorate itself. Such a
report is sealed like any other (the answer is the sealed ``concerns_inspectorate``
field, "1" or "", stored for every report: G2) but its keys go to the
conflict-of-interest group instead of the routed investigators and the ordinary
custodians (:func:`sipadu.services.key_ring.create_ring`): the group's investigators
(staff, e.g. a team the regional secretary names; they get grants), its outside
keyholders (an age X25519 recipient of e.g. BPKP or KPK: the case and internal keys,
HPKE-wrapped to the recipient's own X25519 key) and its custodians (the identity key).
Outside keyholders never hold the identity key: it stays behind a custodian (G3).

The group is configured by admins under the two-person rule
(:func:`sipadu.services.proposals.propose_coi_staff`, ``propose_coi_external``,
``propose_coi_removal``). Afterwards the report stays in the group: a grant only to
its investigators (:func:`may_receive`), identity requests only to custodians holding
its identity key (:func:`sipadu.services.key_ring.wrap_request_key`).

An outside keyholder reads a report offline with its own age identity
(:func:`external_export`, ``sipadu coi export``): the signed export archive the
export service makes, encrypted again to that same age recipient.
"""

import uuid
from collections.abc import Iterator
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from sipadu.accountability import audit
from sipadu.accountability.audit import OPERATOR, Action, Actor
from sipadu.crypto import CryptoError, PrivateKey, Purpose, age_public_key
from sipadu.persistence.models import (
    CoiMember,
    CoiMemberKind,
    RecipientState,
    Report,
    ReportField,
    StaffAccount,
)
from sipadu.services import Reason, ServiceError, key_ring
from sipadu.services.cases import CaseView, read_case
from sipadu.services.export import age_encrypted, report_zip
from sipadu.services.export_recipients import (
    age_recipient,
    display_fingerprint,
    intact,
    recipient_fingerprint,
)
from sipadu.services.key_ring import EXTERNAL, HeldKeys
from sipadu.services.key_ring import display_fingerprint as key_display
from sipadu.services.reports import (
    CONCERNS_INSPECTORATE_FIELD,
    open_report_field,
)


def concerns_inspectorate(session: Session, keys: HeldKeys) -> bool:
    """Whether the report ``keys`` opens says it concerns the inspectorate's own staff:
    its sealed field, opened with the case key of epoch 0. A report from before the
    field existed has none (False); a field that fails its integrity check counts as
    True (changed in the database: the narrower rule holds)."""
    row = session.get(ReportField, (keys.report_id, CONCERNS_INSPECTORATE_FIELD))
    if row is None:
        return False
    return open_report_field(keys, row) != ""


def is_member(session: Session, account_id: uuid.UUID, kind: CoiMemberKind) -> bool:
    """Whether the account is an approved member of the group as ``kind``."""
    return (
        session.scalar(
            select(CoiMember.id).where(
                CoiMember.account_id == account_id,
                CoiMember.kind == kind.value,
                CoiMember.state == RecipientState.ACTIVE.value,
            )
        )
        is not None
    )


def may_receive(session: Session, keys: HeldKeys, colleague: StaffAccount) -> None:
    """Raise :class:`ServiceError` ``NOT_IN_COI_GROUP`` (field ``colleague``) if the
    report ``keys`` opens concerns the inspectorate's own staff and ``colleague`` is not
    an investigator of the group: such a report is shared within the group only."""
    if concerns_inspectorate(session, keys) and not is_member(
        session, colleague.id, CoiMemberKind.INVESTIGATOR
    ):
        raise ServiceError(Reason.NOT_IN_COI_GROUP, "colleague", name=colleague.username)


# --- the configuration, for admins ------------------------------------------------------


@dataclass(frozen=True)
class MemberView:
    """A member as the admin page lists it: ``label`` a username or an outside body's
    name, ``fingerprint`` its key's in 16 groups of 4 (None: a staff member without a
    key), ``intact`` False for an outside recipient changed in the database."""

    id: uuid.UUID
    kind: str
    state: str
    label: str
    fingerprint: str | None
    recipient: str | None
    intact: bool = True


def members(session: Session) -> list[MemberView]:
    """Approved and proposed members, by kind then label. Reads only."""
    rows = session.scalars(
        select(CoiMember).where(
            CoiMember.state.in_([RecipientState.ACTIVE.value, RecipientState.PROPOSED.value])
        )
    )
    views = []
    for row in rows:
        if row.kind == CoiMemberKind.EXTERNAL:
            stored = row.recipient or ""
            views.append(
                MemberView(
                    row.id,
                    row.kind,
                    row.state,
                    row.name or "",
                    display_fingerprint(stored),
                    stored,
                    intact(stored),
                )
            )
            continue
        account = session.get(StaffAccount, row.account_id)
        if account is None:  # pragma: no cover — the foreign key deletes the member
            continue
        views.append(
            MemberView(row.id, row.kind, row.state, account.username, key_display(account), None)
        )
    order = [k.value for k in CoiMemberKind]
    return sorted(views, key=lambda m: (order.index(m.kind), m.label.casefold()))


@dataclass(frozen=True)
class GroupStatus:
    """How many of the group would receive a new report now: ``readers`` (investigators
    and outside keyholders), ``custodians``."""

    readers: int
    custodians: int

    @property
    def incomplete(self) -> bool:
        """A report about the inspectorate's staff would now be readable by nobody but
        the recovery key, or its reporter's identity held by no custodian."""
        return self.readers == 0 or self.custodians == 0


def group_status(session: Session) -> GroupStatus:
    """Counted as :func:`sipadu.services.key_ring.coi_group` resolves it. Reads only."""
    investigators, outside, custodians = key_ring.coi_group(session)
    return GroupStatus(len(investigators) + len(outside), len(custodians))


# --- an outside keyholder reads a report --------------------------------------------------


def _external_member(session: Session, private: PrivateKey) -> CoiMember:
    """The outside keyholder whose recipient is ``private``'s public key (any state: a
    body removed from the group still reads what it was given)."""
    public = private.public_key()
    for row in session.scalars(
        select(CoiMember).where(CoiMember.kind == CoiMemberKind.EXTERNAL.value)
    ):
        try:
            if age_public_key(row.recipient or "") == public:
                return row
        except CryptoError:
            continue
    raise ServiceError(Reason.NO_SUCH_COI_MEMBER)


def external_view(
    session: Session, report_id: uuid.UUID, private: PrivateKey, actor: Actor = OPERATOR
) -> tuple[CaseView, HeldKeys, str]:
    """Everything of a report an outside keyholder holds, opened with its age identity's
    X25519 key ``private``: fields, messages, notes, files; never the reporter's
    identity (it holds no identity key). Returns the view, the keys (to stream the files
    with) and the keyholder's canonical ``age1…`` recipient. Recorded as
    ``report.export_external`` with the keyholder's name and fingerprint, in the
    caller's transaction (commit before writing anything out). Raises
    :class:`ServiceError`: ``NO_SUCH_COI_MEMBER`` (not a keyholder of the group),
    ``REPORT_NOT_FOUND`` (no such report, or none of its keys wrapped to this key: the
    same answer)."""
    member = _external_member(session, private)
    keys = HeldKeys(session, report_id, EXTERNAL, member.id, private)
    report = session.get(Report, report_id)
    if report is None or not keys.epochs(Purpose.CASE):
        raise ServiceError(Reason.REPORT_NOT_FOUND)
    # Its keys are no investigator's: never the identity. The unit, how the report came
    # in (the operator may be the Inspektorat's own staff) and the reporter's check of a
    # typed report are what the team's investigators see, so the body sees them too.
    view = read_case(session, keys, report, member.id)
    recipient = member.recipient or ""
    audit.append(
        session,
        actor.id,
        actor.role,
        Action.COI_EXTERNAL_EXPORT,
        report_id=report_id,
        detail={"recipient": member.name, "fingerprint": recipient_fingerprint(recipient)},
    )
    return view, keys, recipient


def external_export(
    session: Session, report_id: uuid.UUID, private: PrivateKey, signing_seed: bytes
) -> Iterator[bytes]:
    """:func:`external_view` as the export archive (:func:`sipadu.services.export.
    report_zip`, its manifest signed with the instance's audit key), age-encrypted to the
    keyholder's own recipient: ``age -d -i identity.txt`` opens it. The caller commits
    (the ``report.export_external`` entry) before the first byte is written."""
    view, keys, recipient = external_view(session, report_id, private)
    return age_encrypted(report_zip(view, keys, signing_seed), age_recipient(recipient))
