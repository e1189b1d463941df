"""Two-person rule for security-relevant admin changes (DESIGN.md §6, G3).

Granting a role that reads reports or approves changes, activating an account that holds
one, changing which investigators new reports are wrapped to, and resetting the TOTP
app of an account that holds such a role are *proposals*: they change nothing until a
second admin approves (for a TOTP reset, that admin, not the proposer, gets the one-time
link). The proposer can never approve their own proposal. A proposal made at the
server's shell ("operator": the activation of an account that ``sipadu user create``
or ``sipadu user link`` invited) takes two distinct admins, since the person at the
shell may be an admin too. A proposal pins the key fingerprint the proposer saw; if the
account's key changes in between, it cannot be approved (the approver would be vouching
for a key nobody compared). Registering an export recipient, or removing one, is a
proposal too: it pins the recipient's fingerprint (:mod:`sipadu.services.export_recipients`),
and so is offering one to reporters, with the agency's upload address, or no longer
(issue 20: the proposal's ``content`` holds both, as they will apply; its approval
signs what is offered with the instance's audit signing key, which the reporter portal
checks; docs/escalation.md).
So is adding or removing a member of the conflict-of-interest group (a staff
investigator or custodian: the account's key fingerprint; an outside body's age
recipient: its fingerprint), which decides who reads reports about the inspectorate's
own staff (:mod:`sipadu.services.conflict_of_interest`).

Adding or changing a category, a sub-category or a reported unit, and importing units
from a CSV file, are proposals whose ``content`` (canonical JSON) holds exactly what
will be applied, checked when proposed and again when approved (issue 18).
"""

import hashlib
import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from sipadu.accountability import audit
from sipadu.accountability.audit import OPERATOR, Action, Actor
from sipadu.persistence.models import (
    AccountState,
    Category,
    CoiMember,
    CoiMemberKind,
    ExportRecipient,
    Proposal,
    ProposalKind,
    ProposalState,
    RecipientState,
    Report,
    Role,
    StaffAccount,
    StaffRole,
    Unit,
)
from sipadu.services import Reason, ServiceError
from sipadu.services.categories import (
    add_route,
    change_category,
    changed_category_content,
    create_category,
    find_route,
    new_category_content,
    remove_route,
)
from sipadu.services.export_recipients import (
    canonical_recipient,
    checked_channel,
    checked_name,
    in_use,
    offer_checks,
    same_name,
    sign_offer,
    stored_fingerprint,
)
from sipadu.services.key_ring import key_fingerprint
from sipadu.services.links import drop_totp
from sipadu.services.units import (
    apply_import,
    change_unit,
    changed_unit_content,
    create_unit,
    new_unit_content,
    parse_import,
)

# Roles that read reports, approve identity disclosure or approve other admins' changes,
# and the intake operator's, whose reports investigators act on (issue 18 item 1): a
# false operator could plant reports in the city's name. Granting one, or activating an
# account that holds one, takes a second admin.
SENSITIVE_ROLES = frozenset({Role.ADMIN, Role.INVESTIGATOR, Role.CUSTODIAN, Role.OPERATOR})


def needs_approval(roles: frozenset[Role] | set[Role]) -> bool:
    return bool(SENSITIVE_ROLES & set(roles))


def _detail(
    proposal: Proposal,
    account: StaffAccount | None,
    category: Category | None,
    recipient: ExportRecipient | None = None,
    member: CoiMember | None = None,
    unit: Unit | None = None,
) -> dict:
    detail: dict = {"proposal": str(proposal.id), "kind": proposal.kind}
    if unit is not None:
        detail |= {"unit": str(unit.id), "unit_name": unit.name}
    if proposal.content is not None:
        detail |= _content_summary(proposal)
    if recipient is not None:
        detail |= {"recipient": recipient.name, "fingerprint": proposal.fingerprint}
    if member is not None:
        detail["member"] = member.kind
        if member.kind == CoiMemberKind.EXTERNAL:
            detail |= {"recipient": member.name, "fingerprint": proposal.fingerprint}
    if account is not None:
        detail |= {
            "account": str(account.id),
            "username": account.username,
            "fingerprint": proposal.fingerprint,
        }
    if proposal.role:
        detail["role"] = proposal.role
    if category is not None:
        detail["category"] = category.slug
    return detail


def _canonical(content: Mapping) -> str:
    return json.dumps(content, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def content_of(proposal: Proposal) -> dict:
    """What a proposal of issue 18's kinds applies, as it was proposed ({} for others)."""
    return json.loads(proposal.content) if proposal.content else {}


def _content_summary(proposal: Proposal) -> dict:
    """What the audit entries of a proposal say of its content: the words or unit as
    proposed; of an import, its row count and the file's SHA-256 (each unit it adds is
    recorded when it is applied)."""
    content = content_of(proposal)
    assert proposal.content is not None  # the caller's condition
    if proposal.kind == ProposalKind.UNIT_IMPORT:
        return {"rows": len(content.get("rows", [])), "sha256": content.get("sha256")}
    # The log takes flat values of at most 200 characters: the names as proposed, and a
    # digest of everything (descriptions too) that the proposal stores and shows.
    shown = {_SUMMARY_KEYS[k]: v for k, v in content.items() if k in _SUMMARY_KEYS}
    digest = hashlib.sha256(proposal.content.encode("utf-8")).hexdigest()
    return shown | {"proposed_sha256": digest}


# content key → detail key ("kind" is the proposal's own)
_SUMMARY_KEYS = {
    "label_id": "label_id",
    "label_en": "label_en",
    "parent": "parent",
    "active": "active",
    "kind": "unit_kind",
    "name": "name",
    # escalation (issue 20): a recipient offered to reporters, and where they upload
    "offered_to_reporters": "offered_to_reporters",
    "reporter_channel": "reporter_channel",
}


def _create(
    session: Session,
    kind: ProposalKind,
    account: StaffAccount | None,
    proposed_by: str,
    proposer_role: str,
    *,
    role: Role | None = None,
    category: Category | None = None,
    report: Report | None = None,
    recipient: ExportRecipient | None = None,
    member: CoiMember | None = None,
    unit: Unit | None = None,
    content: Mapping | None = None,
) -> Proposal:
    stored = _canonical(content) if content is not None else None
    duplicate = session.scalar(
        select(Proposal.id).where(
            Proposal.unit_id == (unit.id if unit else None),
            Proposal.content == stored if stored is not None else Proposal.content.is_(None),
            Proposal.state == ProposalState.PENDING.value,
            Proposal.kind == kind.value,
            Proposal.account_id == (account.id if account else None),
            Proposal.report_id == (report.id if report else None),
            Proposal.role == (role.value if role else None),
            Proposal.category_id == (category.id if category else None),
            Proposal.recipient_id == (recipient.id if recipient else None),
            Proposal.coi_member_id == (member.id if member else None),
        )
    )
    if duplicate is not None:
        raise ServiceError(Reason.SAME_CHANGE_WAITING)
    proposal = Proposal(
        id=uuid.uuid4(),
        kind=kind.value,
        state=ProposalState.PENDING.value,
        account_id=account.id if account else None,
        report_id=report.id if report else None,
        role=role.value if role else None,
        category_id=category.id if category else None,
        recipient_id=recipient.id if recipient else None,
        coi_member_id=member.id if member else None,
        unit_id=unit.id if unit else None,
        content=stored,
        fingerprint=(
            key_fingerprint(account)
            if account
            else stored_fingerprint(recipient.recipient)
            if recipient
            else stored_fingerprint(member.recipient or "")
            if member
            else None
        ),
        proposed_by=proposed_by,
    )
    session.add(proposal)
    audit.append(
        session,
        proposed_by,
        proposer_role,
        Action.PROPOSAL_CREATE,
        report_id=proposal.report_id,
        detail=_detail(proposal, account, category, recipient, member, unit),
    )
    return proposal


def propose_activation(session: Session, account: StaffAccount, proposed_by: str) -> Proposal:
    """Made when an invited person finished enrollment; in the name of the admin who
    invited them (so that admin cannot approve it)."""
    role = "operator" if proposed_by == "operator" else "admin"
    return _create(session, ProposalKind.ACCOUNT_ACTIVATE, account, proposed_by, role)


def _make_active(session: Session, account: StaffAccount, actor: Actor) -> None:
    account.state = AccountState.ACTIVE.value
    audit.append(
        session,
        actor.id,
        actor.role,
        Action.ACCOUNT_ACTIVATE,
        detail={
            "account": str(account.id),
            "username": account.username,
            "fingerprint": key_fingerprint(account),
        },
    )


def propose_reactivation(session: Session, account: StaffAccount, actor: Actor) -> Proposal | None:
    """Bring back a deactivated account: at once without a sensitive role, else proposed.
    None means it took effect."""
    if account.state != AccountState.DEACTIVATED:
        raise ServiceError(Reason.NOT_DEACTIVATED, name=account.username)
    if account.public_key is None:
        raise ServiceError(Reason.NO_KEY_RESET_PASSWORD, name=account.username)
    if needs_approval(account.role_set):
        return _create(session, ProposalKind.ACCOUNT_ACTIVATE, account, actor.id, actor.role)
    _make_active(session, account, actor)
    return None


def propose_totp_reset(session: Session, account: StaffAccount, actor: Actor) -> Proposal:
    """Reset the authenticator of an account holding a sensitive role: nothing changes
    until a second admin approves, and the link goes to that admin (see :func:`approve`).
    Otherwise one admin holding the link could guess the password through it and
    enroll their own app as the account's."""
    if account.state not in (AccountState.ACTIVE, AccountState.PENDING):
        raise ServiceError(Reason.NO_TOTP_TO_RESET, name=account.username)
    return _create(session, ProposalKind.TOTP_RESET, account, actor.id, actor.role)


def propose_role(session: Session, account: StaffAccount, role: Role, actor: Actor) -> Proposal:
    if role not in SENSITIVE_ROLES:
        raise ServiceError(Reason.ROLE_NEEDS_NO_APPROVAL, role=role.value)
    if role in account.role_set:
        raise ServiceError(Reason.ALREADY_HOLDS_ROLE, name=account.username, role=role.value)
    return _create(session, ProposalKind.ROLE_GRANT, account, actor.id, actor.role, role=role)


def add_role(session: Session, account: StaffAccount, role: Role, actor: Actor) -> None:
    """Give ``account`` the role, recorded; in the caller's transaction. Applied by an
    approval here, or at once by :func:`sipadu.services.staff.grant_role_now` for a role
    outside :data:`SENSITIVE_ROLES`."""
    if role in account.role_set:
        raise ServiceError(Reason.ALREADY_HOLDS_ROLE, name=account.username, role=role.value)
    account.roles.append(StaffRole(role=role))
    audit.append(
        session,
        actor.id,
        actor.role,
        Action.ROLE_GRANT,
        detail={"account": str(account.id), "username": account.username, "role": role.value},
    )


def propose_route(
    session: Session,
    category: Category | None,
    account: StaffAccount,
    add: bool,
    actor: Actor,
    unit: Unit | None = None,
) -> Proposal:
    """Route new reports in ``category``, concerning ``unit``, or both (issue 18: the
    most specific routing wins, :func:`sipadu.services.key_ring.routed_investigators`)
    to ``account``, or stop: pins the account's key fingerprint."""
    routed = find_route(session, category, account, unit) is not None
    target = category.slug if category is not None else ""
    if add and routed:
        raise ServiceError(Reason.ALREADY_RECEIVES, name=account.username, category=target)
    if not add and not routed:
        raise ServiceError(Reason.DOES_NOT_RECEIVE, name=account.username, category=target)
    if add and (Role.INVESTIGATOR not in account.role_set or account.public_key is None):
        raise ServiceError(Reason.NOT_AN_INVESTIGATOR, name=account.username)
    kind = ProposalKind.ROUTE_ADD if add else ProposalKind.ROUTE_REMOVE
    return _create(session, kind, account, actor.id, actor.role, category=category, unit=unit)


def propose_category(
    session: Session,
    words: Mapping[str, str],
    parent_id: str | None,
    actor: Actor,
    *,
    active: bool = True,
) -> Proposal:
    """Add a category (``parent_id`` empty) or a sub-category of ``parent_id``, worded as
    ``words`` (:data:`sipadu.services.categories.WORD_FIELDS`), once a second admin
    approves. Raises :class:`ServiceError` naming the field
    (:func:`sipadu.services.categories.new_category_content`)."""
    content = new_category_content(session, words, parent_id, active)
    parent = session.get(Category, uuid.UUID(content["parent"])) if content["parent"] else None
    return _create(
        session,
        ProposalKind.CATEGORY_ADD,
        None,
        actor.id,
        actor.role,
        category=parent,
        content=content,
    )


def propose_category_change(
    session: Session, category: Category, words: Mapping[str, str], active: bool, actor: Actor
) -> Proposal:
    """Change a category's words, or whether reporters may choose it, once a second
    admin approves (no category is ever deleted)."""
    content = changed_category_content(session, category, words, active)
    return _create(
        session,
        ProposalKind.CATEGORY_CHANGE,
        None,
        actor.id,
        actor.role,
        category=category,
        content=content,
    )


def propose_unit(
    session: Session, kind: str, name: str, parent_id: str | None, actor: Actor
) -> Proposal:
    """Add a reported unit once a second admin approves
    (:func:`sipadu.services.units.new_unit_content` says what is refused)."""
    content = new_unit_content(session, kind, name, parent_id)
    return _create(session, ProposalKind.UNIT_ADD, None, actor.id, actor.role, content=content)


def propose_unit_change(
    session: Session, unit: Unit, name: str, active: bool, actor: Actor
) -> Proposal:
    """Rename a unit, or offer it or not, once a second admin approves."""
    content = changed_unit_content(session, unit, name, active)
    return _create(
        session, ProposalKind.UNIT_CHANGE, None, actor.id, actor.role, unit=unit, content=content
    )


def propose_unit_import(session: Session, text: str, actor: Actor) -> Proposal:
    """Import the units of a CSV file as one proposal. Raises
    :class:`sipadu.services.units.ImportRefused` (every refused row named by line)."""
    content = parse_import(session, text)
    return _create(session, ProposalKind.UNIT_IMPORT, None, actor.id, actor.role, content=content)


def propose_hold(session: Session, report_id: uuid.UUID, hold: bool, actor: Actor) -> Proposal:
    """A legal hold keeps a report past its retention period (and releasing one lets it
    go): either way two admins, because a purge cannot be undone."""
    report = session.get(Report, report_id)
    if report is None:
        raise ServiceError(Reason.NO_SUCH_REPORT, "report")
    if report.legal_hold == hold:
        raise ServiceError(Reason.ALREADY_ON_HOLD if hold else Reason.NOT_ON_HOLD, "report")
    kind = ProposalKind.HOLD_SET if hold else ProposalKind.HOLD_RELEASE
    return _create(session, kind, None, actor.id, actor.role, report=report)


def offer_content(offered: bool, channel: str | None) -> dict | None:
    """What a proposal offers reporters (issue 20), as its ``content`` stores it:
    ``{"offered_to_reporters": bool, "reporter_channel": str | None}``, the address
    checked (:func:`~sipadu.services.export_recipients.checked_channel`); ``None`` for
    a recipient not offered and without an address (a plain export recipient's
    proposal, unchanged). Raises :class:`ServiceError` (field ``reporter_channel``):
    ``REPORTER_CHANNEL_INVALID``, or ``REPORTER_CHANNEL_NEEDED`` when offered without
    one (a reporter must be told where to upload)."""
    typed = (channel or "").strip()
    if offered and not typed:
        raise ServiceError(Reason.REPORTER_CHANNEL_NEEDED, "reporter_channel")
    if not offered and not typed:
        return None
    return {"offered_to_reporters": offered, "reporter_channel": checked_channel(typed)}


def propose_recipient(
    session: Session,
    name: str,
    recipient: str,
    actor: Actor,
    *,
    offered_to_reporters: bool = False,
    reporter_channel: str | None = None,
) -> Proposal:
    """Register an age recipient for exports under ``name``: it is offered on the export
    form only once a second admin approves, and to reporters too (issue 20) if
    ``offered_to_reporters`` (with ``reporter_channel``, :func:`offer_content`). Raises
    :class:`ServiceError`: not an age recipient (field ``recipient``), an empty or too
    long name (field ``name``), a missing or invalid address (field
    ``reporter_channel``), or a key or name already registered or proposed."""
    name = checked_name(name)
    recipient = canonical_recipient(recipient)
    content = offer_content(offered_to_reporters, reporter_channel)
    for other in in_use(session):
        if other.recipient == recipient:
            raise ServiceError(Reason.RECIPIENT_ALREADY_REGISTERED, "recipient", name=other.name)
        if same_name(other.name, name):
            raise ServiceError(Reason.RECIPIENT_NAME_TAKEN, "name", name=other.name)
    row = ExportRecipient(
        id=uuid.uuid4(), name=name, recipient=recipient, state=RecipientState.PROPOSED.value
    )
    session.add(row)
    session.flush()  # the proposal's foreign key names it
    return _create(
        session,
        ProposalKind.RECIPIENT_ADD,
        None,
        actor.id,
        actor.role,
        recipient=row,
        content=content,
    )


def propose_recipient_offer(
    session: Session,
    recipient_id: uuid.UUID,
    offered: bool,
    channel: str | None,
    actor: Actor,
    *,
    audit_key: bytes | None = None,
) -> Proposal:
    """Offer a registered recipient to reporters whose deadline passed, with the address
    where they upload on the agency's own site, or stop offering it (issue 20), once a
    second admin approves; the proposal pins the recipient's fingerprint and holds the
    change (:func:`offer_content`). Raises :class:`ServiceError`: ``NO_SUCH_RECIPIENT``
    (not registered), the address's refusals (field ``reporter_channel``), or
    ``RECIPIENT_OFFER_UNCHANGED`` when it is offered exactly so already, its signature
    checking with ``audit_key`` (the instance's audit public key, 32 bytes): an offer
    that does not check (approved before offers were signed, or changed in the
    database) can be proposed again as it stands, to be signed when approved."""
    row = session.get(ExportRecipient, recipient_id)
    if row is None or row.state != RecipientState.ACTIVE:
        raise ServiceError(Reason.NO_SUCH_RECIPIENT)
    content = offer_content(offered, channel) or {
        "offered_to_reporters": False,
        "reporter_channel": None,
    }
    now = {
        "offered_to_reporters": row.offered_to_reporters,
        "reporter_channel": row.reporter_channel,
    }
    if content == now and (not row.offered_to_reporters or offer_checks(row, audit_key)):
        raise ServiceError(Reason.RECIPIENT_OFFER_UNCHANGED, name=row.name)
    return _create(
        session,
        ProposalKind.RECIPIENT_OFFER,
        None,
        actor.id,
        actor.role,
        recipient=row,
        content=content,
    )


def propose_recipient_removal(session: Session, recipient_id: uuid.UUID, actor: Actor) -> Proposal:
    """Take a registered recipient off the export form, once a second admin approves
    (exports already made to it stay readable by its holder: nothing can recall them)."""
    row = session.get(ExportRecipient, recipient_id)
    if row is None or row.state != RecipientState.ACTIVE:
        raise ServiceError(Reason.NO_SUCH_RECIPIENT)
    return _create(
        session, ProposalKind.RECIPIENT_REMOVE, None, actor.id, actor.role, recipient=row
    )


def _apply_recipient(
    session: Session, kind: ProposalKind, recipient: ExportRecipient, actor: Actor
) -> None:
    adding = kind is ProposalKind.RECIPIENT_ADD
    expected = RecipientState.PROPOSED if adding else RecipientState.ACTIVE
    if recipient.state != expected:  # pragma: no cover — only an approval changes it
        raise ServiceError(Reason.NO_SUCH_RECIPIENT)
    recipient.state = (RecipientState.ACTIVE if adding else RecipientState.REMOVED).value
    if not adding:
        recipient.offer_signature = None  # nothing removed is offered (nor re-offered as is)
    audit.append(
        session,
        actor.id,
        actor.role,
        Action.RECIPIENT_ADD if adding else Action.RECIPIENT_REMOVE,
        detail={
            "recipient": recipient.name,
            "fingerprint": stored_fingerprint(recipient.recipient),
        },
    )


def _offers(proposal: Proposal) -> bool:
    """Whether applying ``proposal`` offers a recipient to reporters (and so signs it)."""
    if proposal.kind not in (ProposalKind.RECIPIENT_ADD, ProposalKind.RECIPIENT_OFFER):
        return False
    try:
        content = content_of(proposal)
    except ValueError:  # changed in the database: its application refuses it
        return False
    return isinstance(content, dict) and content.get("offered_to_reporters") is True


def _apply_offer(
    session: Session,
    proposal: Proposal,
    recipient: ExportRecipient,
    actor: Actor,
    signing_seed: bytes | None,
) -> None:
    """Offer ``recipient`` to reporters as ``proposal``'s content says, recorded
    (``export_recipient.offer``): the approved content is checked again, so a proposal
    changed in the database offers nothing it did not show; and signed with
    ``signing_seed`` (:func:`~sipadu.services.export_recipients.sign_offer`), which the
    reporter portal checks. Raises ``ServiceError(OFFER_NOT_SIGNABLE)`` for an offer
    without a seed (the key is kept on another server; :func:`approve` refuses it
    first): nothing is applied then."""
    content = content_of(proposal)
    offered = content.get("offered_to_reporters") is True
    channel = content.get("reporter_channel")
    checked = offer_content(offered, channel if isinstance(channel, str) else None)
    if offered and signing_seed is None:
        raise ServiceError(Reason.OFFER_NOT_SIGNABLE)
    recipient.offered_to_reporters = offered
    recipient.reporter_channel = checked["reporter_channel"] if checked else None
    if signing_seed is not None and offered:
        sign_offer(recipient, signing_seed)
    else:
        recipient.offer_signature = None  # no longer offered: nothing to check
    audit.append(
        session,
        actor.id,
        actor.role,
        Action.RECIPIENT_OFFER,
        detail={
            "recipient": recipient.name,
            "fingerprint": stored_fingerprint(recipient.recipient),
            "offered_to_reporters": recipient.offered_to_reporters,
            "reporter_channel": recipient.reporter_channel,
        },
    )


# --- the conflict-of-interest group (coi, issue 18) ---------------------------------------

_COI_ROLES = {
    CoiMemberKind.INVESTIGATOR: Role.INVESTIGATOR,
    CoiMemberKind.CUSTODIAN: Role.CUSTODIAN,
}


def _coi_members(session: Session, kind: CoiMemberKind) -> list[CoiMember]:
    """The group's members of ``kind``, approved or proposed."""
    return list(
        session.scalars(
            select(CoiMember).where(
                CoiMember.kind == kind.value,
                CoiMember.state.in_([RecipientState.ACTIVE.value, RecipientState.PROPOSED.value]),
            )
        )
    )


def propose_coi_staff(
    session: Session, account: StaffAccount, kind: CoiMemberKind, actor: Actor
) -> Proposal:
    """Add a staff member to the conflict-of-interest group as its investigator or its
    custodian (``kind``), once a second admin approves; the proposal pins the account's
    key fingerprint. Raises :class:`ServiceError` (field ``account``): not active with a
    key and the role ``kind`` needs, or already a member of that kind (or proposed)."""
    role = _COI_ROLES[kind]
    if account.state != AccountState.ACTIVE or account.public_key is None:
        raise ServiceError(Reason.COLLEAGUE_NOT_ACTIVE, "account")
    if role not in account.role_set:
        refusal = Reason.NOT_A_CUSTODIAN
        if role is Role.INVESTIGATOR:
            refusal = Reason.NOT_AN_INVESTIGATOR
        raise ServiceError(refusal, "account", name=account.username)
    if any(m.account_id == account.id for m in _coi_members(session, kind)):
        raise ServiceError(Reason.ALREADY_COI_MEMBER, "account", name=account.username)
    row = CoiMember(
        id=uuid.uuid4(), kind=kind.value, account_id=account.id, state=RecipientState.PROPOSED.value
    )
    session.add(row)
    session.flush()  # the proposal's foreign key names it
    return _create(session, ProposalKind.COI_MEMBER_ADD, account, actor.id, actor.role, member=row)


def propose_coi_external(session: Session, name: str, recipient: str, actor: Actor) -> Proposal:
    """Add an outside body's age recipient (``age1…``) to the conflict-of-interest group
    under ``name``, once a second admin approves; the proposal pins its fingerprint.
    Raises :class:`ServiceError` as :func:`propose_recipient` does (fields ``name`` and
    ``recipient``)."""
    name = checked_name(name)
    recipient = canonical_recipient(recipient)
    for other in _coi_members(session, CoiMemberKind.EXTERNAL):
        if other.recipient == recipient:
            raise ServiceError(
                Reason.RECIPIENT_ALREADY_REGISTERED, "recipient", name=other.name or ""
            )
        if same_name(other.name or "", name):
            raise ServiceError(Reason.RECIPIENT_NAME_TAKEN, "name", name=other.name or "")
    row = CoiMember(
        id=uuid.uuid4(),
        kind=CoiMemberKind.EXTERNAL.value,
        name=name,
        recipient=recipient,
        state=RecipientState.PROPOSED.value,
    )
    session.add(row)
    session.flush()
    return _create(session, ProposalKind.COI_MEMBER_ADD, None, actor.id, actor.role, member=row)


def propose_coi_removal(session: Session, member_id: uuid.UUID, actor: Actor) -> Proposal:
    """Take a member out of the conflict-of-interest group, once a second admin approves:
    new reports about the inspectorate's staff are no longer wrapped to it (what it was
    given stays given: a grant is taken back by revoking it, nothing recalls an outside
    body's copy)."""
    row = session.get(CoiMember, member_id)
    if row is None or row.state != RecipientState.ACTIVE:
        raise ServiceError(Reason.NO_SUCH_COI_MEMBER)
    account = session.get(StaffAccount, row.account_id) if row.account_id else None
    return _create(
        session, ProposalKind.COI_MEMBER_REMOVE, account, actor.id, actor.role, member=row
    )


def _apply_coi(
    session: Session,
    kind: ProposalKind,
    member: CoiMember,
    account: StaffAccount | None,
    actor: Actor,
) -> None:
    adding = kind is ProposalKind.COI_MEMBER_ADD
    expected = RecipientState.PROPOSED if adding else RecipientState.ACTIVE
    if member.state != expected:  # pragma: no cover — only an approval changes it
        raise ServiceError(Reason.NO_SUCH_COI_MEMBER)
    member.state = (RecipientState.ACTIVE if adding else RecipientState.REMOVED).value
    detail: dict = {"member": member.kind}
    if account is not None:
        detail |= {
            "account": str(account.id),
            "username": account.username,
            "fingerprint": key_fingerprint(account),
        }
    else:
        fingerprint = stored_fingerprint(member.recipient or "")
        detail |= {"recipient": member.name, "fingerprint": fingerprint}
    audit.append(
        session,
        actor.id,
        actor.role,
        Action.COI_MEMBER_ADD if adding else Action.COI_MEMBER_REMOVE,
        detail=detail,
    )


# Holding both means holding the identity key of every report as a custodian while
# working reports as an investigator. G3 still holds (the case page shows an identity
# only through another custodian's approval, docs/staff.md), but the person is one
# decision away from every identity: admins are warned before they approve.
BOTH_ROLES = frozenset({Role.INVESTIGATOR, Role.CUSTODIAN})


def makes_investigator_custodian(
    session: Session, proposal: Proposal, account: StaffAccount | None = None
) -> bool:
    """Whether approving ``proposal`` would leave one person both investigator and
    custodian: a role grant of one to a holder of the other, or the activation of an
    account created with both. Reads only."""
    account = account or (
        session.get(StaffAccount, proposal.account_id) if proposal.account_id else None
    )
    if account is None:
        return False
    roles = set(account.role_set)
    if proposal.kind == ProposalKind.ROLE_GRANT and proposal.role:
        roles.add(Role(proposal.role))
    elif proposal.kind != ProposalKind.ACCOUNT_ACTIVATE:
        return False
    return BOTH_ROLES <= roles


def pending(session: Session) -> list[Proposal]:
    return list(
        session.scalars(
            select(Proposal)
            .where(Proposal.state == ProposalState.PENDING.value)
            .order_by(Proposal.proposed_at)
        )
    )


@dataclass(frozen=True)
class Approval:
    """What an approval did: ``applied`` is False when it was the first of the two a
    proposal made at the shell needs; ``link`` is the one-time link's token an approved
    TOTP reset issued (shown once, to the approving admin)."""

    proposal: Proposal
    applied: bool
    link: str | None = None


def approvals_needed(proposal: Proposal) -> int:
    """Two for a proposal made at the server's shell, else one (the proposer is the
    first person)."""
    return 2 if proposal.proposed_by == OPERATOR.id else 1


def _decide(
    session: Session, proposal_id: uuid.UUID, actor: Actor, now: datetime, state: ProposalState
) -> tuple[Proposal, StaffAccount | None, Category | None, Unit | None, bool]:
    """Record an admin's decision on a pending proposal (never the proposer's; for a
    shell's proposal, two distinct admins approve). The flag: whether it is decided."""
    proposal = session.get(Proposal, proposal_id)
    if proposal is None or proposal.state != ProposalState.PENDING:
        raise ServiceError(Reason.NOT_WAITING_FOR_DECISION)
    if proposal.proposed_by == actor.id:
        raise ServiceError(Reason.OWN_PROPOSAL)
    if state is ProposalState.APPROVED and proposal.seconded_by == actor.id:
        raise ServiceError(Reason.ALREADY_APPROVED_BY_YOU)
    account = session.get(StaffAccount, proposal.account_id) if proposal.account_id else None
    category = session.get(Category, proposal.category_id) if proposal.category_id else None
    recipient = (
        session.get(ExportRecipient, proposal.recipient_id) if proposal.recipient_id else None
    )
    member = session.get(CoiMember, proposal.coi_member_id) if proposal.coi_member_id else None
    if (
        state is ProposalState.APPROVED
        and member is not None
        and member.kind == CoiMemberKind.EXTERNAL
        and stored_fingerprint(member.recipient or "") != proposal.fingerprint
    ):  # the row was changed in the database: nobody compared this key
        raise ServiceError(Reason.RECIPIENT_CHANGED)
    if (
        state is ProposalState.REJECTED
        and member is not None
        and proposal.kind == ProposalKind.COI_MEMBER_ADD
    ):
        member.state = RecipientState.REJECTED.value
    unit = session.get(Unit, proposal.unit_id) if proposal.unit_id else None
    if (
        state is ProposalState.APPROVED
        and account is not None
        and key_fingerprint(account) != proposal.fingerprint
    ):
        raise ServiceError(Reason.KEY_CHANGED)
    if (
        state is ProposalState.APPROVED
        and recipient is not None
        and stored_fingerprint(recipient.recipient) != proposal.fingerprint
    ):  # the row was changed in the database: nobody compared this key
        raise ServiceError(Reason.RECIPIENT_CHANGED)
    if (
        state is ProposalState.REJECTED
        and recipient is not None
        and proposal.kind == ProposalKind.RECIPIENT_ADD
    ):
        recipient.state = RecipientState.REJECTED.value
    detail = _detail(proposal, account, category, recipient, member, unit)
    first_of_two = (
        state is ProposalState.APPROVED
        and approvals_needed(proposal) == 2
        and proposal.seconded_by is None
    )
    if first_of_two:
        proposal.seconded_by = actor.id
    else:
        proposal.state = state.value
        proposal.decided_by = actor.id
        proposal.decided_at = now
    if state is ProposalState.APPROVED and approvals_needed(proposal) == 2:
        detail |= {"approvals": 1 if first_of_two else 2, "needed": 2}
    action = Action.PROPOSAL_APPROVE if state is ProposalState.APPROVED else Action.PROPOSAL_REJECT
    audit.append(session, actor.id, actor.role, action, report_id=proposal.report_id, detail=detail)
    return proposal, account, category, unit, not first_of_two


def approve(
    session: Session,
    proposal_id: uuid.UUID,
    actor: Actor,
    now: datetime,
    *,
    link_ttl: timedelta = timedelta(days=3),
    signing_seed: bytes | None = None,
) -> Approval:
    """Apply the change and record the approval, in the caller's transaction; for a
    shell's proposal, the first approval is only recorded (``applied`` False). An
    approved TOTP reset drops the seed, ends the account's sessions and issues the
    enrollment link (valid ``link_ttl``), naming both admins as its issuers. An offer
    to reporters (issue 20) is signed with ``signing_seed``, the instance's audit
    signing key (32 bytes); without it, its approval raises
    ``ServiceError(OFFER_NOT_SIGNABLE)`` before anything is recorded."""
    waiting = session.get(Proposal, proposal_id)
    if waiting is not None and _offers(waiting) and signing_seed is None:
        raise ServiceError(Reason.OFFER_NOT_SIGNABLE)  # before anything is recorded
    proposal, account, category, unit, decided = _decide(
        session, proposal_id, actor, now, ProposalState.APPROVED
    )
    if not decided:
        return Approval(proposal, applied=False)
    kind = ProposalKind(proposal.kind)
    link = None
    # A proposal's kind says which of its columns are set, and their foreign keys delete
    # the proposal with the row they name: what a kind needs is there.
    if kind is ProposalKind.ROLE_GRANT:
        assert account is not None and proposal.role is not None
        add_role(session, account, Role(proposal.role), actor)
    elif kind is ProposalKind.ACCOUNT_ACTIVATE:
        assert account is not None
        if account.state not in (AccountState.PENDING, AccountState.DEACTIVATED):
            raise ServiceError(Reason.NOT_WAITING_FOR_ACTIVATION, name=account.username)
        _make_active(session, account, actor)
    elif kind is ProposalKind.TOTP_RESET:
        assert account is not None
        if account.state not in (AccountState.ACTIVE, AccountState.PENDING):
            raise ServiceError(Reason.NO_TOTP_TO_RESET, name=account.username)
        issued_by = [proposal.proposed_by, actor.id]
        link, ended = drop_totp(session, account, issued_by, now, link_ttl)
        audit.append(
            session,
            actor.id,
            actor.role,
            Action.TOTP_RESET,
            detail={
                "account": str(account.id),
                "username": account.username,
                "sessions_ended": ended,
                "proposal": str(proposal.id),
                "issued_by": list(issued_by),
            },
        )
    elif kind in (ProposalKind.RECIPIENT_ADD, ProposalKind.RECIPIENT_REMOVE):
        recipient = session.get(ExportRecipient, proposal.recipient_id)
        assert recipient is not None
        _apply_recipient(session, kind, recipient, actor)
        if kind is ProposalKind.RECIPIENT_ADD and proposal.content is not None:
            _apply_offer(session, proposal, recipient, actor, signing_seed)
    elif kind is ProposalKind.RECIPIENT_OFFER:
        recipient = session.get(ExportRecipient, proposal.recipient_id)
        assert recipient is not None
        if recipient.state != RecipientState.ACTIVE:  # removed while this waited
            raise ServiceError(Reason.NO_SUCH_RECIPIENT)
        _apply_offer(session, proposal, recipient, actor, signing_seed)
    elif kind in (ProposalKind.COI_MEMBER_ADD, ProposalKind.COI_MEMBER_REMOVE):
        member = session.get(CoiMember, proposal.coi_member_id)
        assert member is not None
        _apply_coi(session, kind, member, account, actor)
    elif kind in (ProposalKind.HOLD_SET, ProposalKind.HOLD_RELEASE):
        report = session.get_one(Report, proposal.report_id)
        report.legal_hold = kind is ProposalKind.HOLD_SET
    elif kind in _CONFIGURATION:
        _apply_configuration(session, proposal, kind, category, unit, actor)
    elif kind is ProposalKind.ROUTE_ADD:
        assert account is not None
        add_route(session, category, account, actor, unit)
    else:
        assert account is not None
        remove_route(session, category, account, actor, unit)
    return Approval(proposal, applied=True, link=link)


_CONFIGURATION = frozenset(
    {
        ProposalKind.CATEGORY_ADD,
        ProposalKind.CATEGORY_CHANGE,
        ProposalKind.UNIT_ADD,
        ProposalKind.UNIT_CHANGE,
        ProposalKind.UNIT_IMPORT,
    }
)


def _apply_configuration(
    session: Session,
    proposal: Proposal,
    kind: ProposalKind,
    category: Category | None,
    unit: Unit | None,
    actor: Actor,
) -> None:
    """Apply a proposal of issue 18's kinds: its stored content, checked again (a
    refusal now, e.g. the same unit added meanwhile, leaves everything as it was)."""
    content = content_of(proposal)
    name = str(proposal.id)
    if kind is ProposalKind.CATEGORY_ADD:
        create_category(session, content, actor, name)
    elif kind is ProposalKind.CATEGORY_CHANGE:
        assert category is not None
        change_category(session, category, content, actor, name)
    elif kind is ProposalKind.UNIT_ADD:
        create_unit(session, content, actor, name)
    elif kind is ProposalKind.UNIT_CHANGE:
        assert unit is not None
        change_unit(session, unit, content, actor, name)
    else:
        apply_import(session, content, actor, name)


def reject(session: Session, proposal_id: uuid.UUID, actor: Actor, now: datetime) -> Proposal:
    return _decide(session, proposal_id, actor, now, ProposalState.REJECTED)[0]
