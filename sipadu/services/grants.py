"""Who may hold a report: grants between investigators, revocation with a new key
epoch, the custodian-gated identity, and re-granting from the offline recovery key
(DESIGN.md G3, §4). These use cases check who may act and record it; the wraps
themselves change in :mod:`sipadu.services.key_ring`.

A grant copies keys, it cannot take them back: what a colleague read stays read.
Revocation deletes their wraps and starts a new epoch, so everything written afterwards
is sealed under keys they never held.
"""

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from sipadu.accountability import audit
from sipadu.accountability.audit import Action, DetailValue
from sipadu.crypto import CryptoError, PrivateKey, PublicKey, Purpose, open_field, seal_field
from sipadu.persistence.models import (
    AccountState,
    IdentityRequest,
    IdentityRequestState,
    Report,
    Role,
    StaffAccount,
    utcnow,
)
from sipadu.services import IntegrityFailed, Reason, ServiceError, key_ring
from sipadu.services.cases import granted
from sipadu.services.conflict_of_interest import may_receive
from sipadu.services.key_ring import HeldKeys, NoKey, key_fingerprint
from sipadu.services.row_metadata import request_bound, request_field


def _check_colleague(account: StaffAccount | None) -> StaffAccount:
    if account is None or account.state != AccountState.ACTIVE or account.public_key is None:
        raise ServiceError(Reason.COLLEAGUE_NOT_ACTIVE, "colleague")
    if Role.INVESTIGATOR not in account.role_set:
        raise ServiceError(Reason.NOT_AN_INVESTIGATOR, "colleague", name=account.username)
    return account


def _detail(colleague: StaffAccount, **more: DetailValue) -> dict[str, DetailValue]:
    return {
        "account": str(colleague.id),
        "username": colleague.username,
        "fingerprint": key_fingerprint(colleague),
        **more,
    }


def grant(
    session: Session,
    keys: HeldKeys,
    granter: StaffAccount,
    colleague_id: uuid.UUID,
) -> StaffAccount:
    """An investigator allowed to share (``may_grant``, set by admins) gives a colleague
    the report: the case and internal keys of every epoch, not the identity."""
    granted(session, keys.report_id, granter.id)
    if not granter.may_grant:
        raise ServiceError(Reason.NOT_ALLOWED_TO_SHARE)
    colleague = _check_colleague(session.get(StaffAccount, colleague_id))
    if key_ring.is_holder(session, keys.report_id, colleague.id):
        raise ServiceError(Reason.ALREADY_HAS_REPORT, "colleague", name=colleague.username)
    may_receive(session, keys, colleague)  # a report about the inspectorate: its group only
    report = session.get_one(Report, keys.report_id)  # the grant checked above holds it
    copied = key_ring.grant_holder(session, report, keys, colleague)
    audit.append(
        session,
        str(granter.id),
        "investigator",
        Action.GRANT_ADD,
        report_id=report.id,
        detail=_detail(colleague, keys=copied),
    )
    return colleague


def revoke(
    session: Session,
    report_id: uuid.UUID,
    revoker: StaffAccount,
    colleague_id: uuid.UUID,
    recovery: PublicKey,
) -> int:
    """Take a report away from a colleague: their wraps (identity included) and grant
    go, and a new epoch begins: fresh case and internal keys, wrapped to the remaining
    holders, the mailbox and the recovery key. Returns the new epoch."""
    granted(session, report_id, revoker.id)
    if not revoker.may_grant:
        raise ServiceError(Reason.NOT_ALLOWED_TO_SHARE)
    if colleague_id == revoker.id:
        raise ServiceError(Reason.CANNOT_REVOKE_OWN, "colleague")
    colleague = session.get(StaffAccount, colleague_id)
    if colleague is None or not key_ring.is_holder(session, report_id, colleague_id):
        raise ServiceError(Reason.NO_ACCESS, "colleague")
    report = session.get_one(Report, report_id)  # the grant checked above holds it
    removed = key_ring.revoke_holder(session, report, colleague_id, recovery)
    epoch = report.key_epoch
    audit.append(
        session,
        str(revoker.id),
        "investigator",
        Action.GRANT_REVOKE,
        report_id=report_id,
        detail=_detail(colleague, wraps_removed=removed, new_epoch=epoch),
    )
    return epoch


# --- identity behind a custodian ---------------------------------------------------------


def request_identity(
    session: Session,
    report_id: uuid.UUID,
    investigator: StaffAccount,
    reason: str,
    recovery: PublicKey,
) -> IdentityRequest:
    """Ask the custodians for the reporter's identity. The reason is sealed under a key
    of its own, wrapped to the custodians (who must read it to decide), the requester
    and the recovery key: it may say things about the case."""
    granted(session, report_id, investigator.id)
    reason = reason.strip()
    if not reason:
        raise ServiceError(Reason.IDENTITY_REASON_MISSING, "reason")
    pending = session.scalar(
        select(IdentityRequest.id).where(
            IdentityRequest.report_id == report_id,
            IdentityRequest.account_id == investigator.id,
            IdentityRequest.state == IdentityRequestState.PENDING.value,
        )
    )
    if pending is not None:
        raise ServiceError(Reason.ALREADY_ASKED)
    number = (
        session.scalar(
            select(func.count())
            .select_from(IdentityRequest)
            .where(IdentityRequest.report_id == report_id)
        )
        or 0
    ) + 1
    request = IdentityRequest(
        id=uuid.uuid4(),
        report_id=report_id,
        account_id=investigator.id,
        state=IdentityRequestState.PENDING.value,
        requested_at=utcnow(),  # set here, not by the insert: it is sealed with the reason
        reason=b"",
    )
    key = key_ring.wrap_request_key(session, report_id, number, investigator, recovery)
    request.reason = seal_field(
        key,
        reason.encode("utf-8"),
        report_id=report_id,
        field=request_field(request.id),
        bound=request_bound(request),
    )
    session.add(request)
    audit.append(
        session,
        str(investigator.id),
        "investigator",
        Action.IDENTITY_REQUEST,
        report_id=report_id,
        detail={"request": str(request.id)},
    )
    return request


def _request_number(session: Session, request: IdentityRequest) -> int:
    return session.execute(
        select(func.count())
        .select_from(IdentityRequest)
        .where(
            IdentityRequest.report_id == request.report_id,
            IdentityRequest.requested_at <= request.requested_at,
        )
    ).scalar_one()


def _open_reason(request: IdentityRequest, key: bytes) -> str:
    """Raises ``CryptoError`` (or ``UnicodeDecodeError``) unless the reason opens with
    the request's own requester and time (:func:`request_bound`)."""
    return open_field(
        key,
        request.reason,
        report_id=request.report_id,
        field=request_field(request.id),
        bound=request_bound(request),
    ).decode("utf-8")


def request_reason(
    session: Session, request: IdentityRequest, reader: StaffAccount, private: PrivateKey
) -> str | None:
    """The reason, for the requester (their investigator wrap of the request key) or a
    custodian (their custodian wrap); "" for anyone else. Each reason decrypted is
    recorded (``identity_request.read``, in the role whose wrap opened it) in the
    caller's transaction, which commits before it is shown. ``None``: the request failed
    its integrity check (its requester or time was changed in the database, or its
    reason altered), recorded as ``record.integrity_failure``; nothing of it is shown."""
    try:
        request_bound(request)
    except CryptoError:  # a requester or time of the wrong type: no wrap can be found by it
        if Role.CUSTODIAN not in reader.role_set:
            return ""
        audit.append(
            session,
            str(reader.id),
            "custodian",
            Action.INTEGRITY_FAILURE,
            report_id=request.report_id,
            detail={"kind": "identity_request", "id": str(request.id)},
        )
        return None
    number = _request_number(session, request)
    for role, keys in (
        ("investigator", key_ring.staff_keys(session, request.report_id, reader.id, private)),
        ("custodian", key_ring.custodian_keys(session, request.report_id, reader.id, private)),
    ):
        try:
            key = keys.key(Purpose.REQUEST, number)
        except NoKey:
            continue
        try:
            reason: str | None = _open_reason(request, key)
            action = Action.IDENTITY_REQUEST_READ
            detail: dict[str, DetailValue] = {"request": str(request.id)}
        except (CryptoError, UnicodeDecodeError):
            reason, action = None, Action.INTEGRITY_FAILURE
            detail = {"kind": "identity_request", "id": str(request.id)}
        audit.append(
            session, str(reader.id), role, action, report_id=request.report_id, detail=detail
        )
        return reason
    return ""


@dataclass(frozen=True)
class PendingRequest:
    request: IdentityRequest
    investigator: StaffAccount | None  # None: its requester was changed to no account
    reason: str | None  # None: failed its integrity check (:func:`request_reason`)


def pending_requests(
    session: Session, custodian: StaffAccount, private: PrivateKey
) -> list[PendingRequest]:
    """The requests waiting for a decision that are addressed to ``custodian`` (a report
    whose identity or request key it holds: :func:`key_ring.addressed_to`; never one
    about the inspectorate's own staff to an ordinary custodian), oldest first, each
    with its reason decrypted and the read recorded (:func:`request_reason`): the caller
    writes, and commits before the page leaves."""
    rows = session.scalars(
        select(IdentityRequest)
        .where(
            IdentityRequest.state == IdentityRequestState.PENDING.value,
            key_ring.addressed_to(custodian.id, IdentityRequest.report_id),
        )
        .order_by(IdentityRequest.requested_at)
    ).all()
    return [
        PendingRequest(
            r,
            session.get(StaffAccount, r.account_id),
            request_reason(session, r, custodian, private),
        )
        for r in rows
    ]


def _check_request_intact(
    session: Session, request: IdentityRequest, custodian: StaffAccount, private: PrivateKey
) -> None:
    """Raise :class:`IntegrityFailed` if the request's reason does not open with its own
    requester and time under the custodian's wrap: a database writer who relabels a
    request must not get the identity wrapped to the account of their choosing. (A
    custodian named after the request holds no wrap of its key and cannot check.)"""
    try:
        request_bound(request)  # a requester or time of the wrong type
    except CryptoError:
        raise IntegrityFailed() from None
    keys = key_ring.custodian_keys(session, request.report_id, custodian.id, private)
    try:
        key = keys.key(Purpose.REQUEST, _request_number(session, request))
    except NoKey:
        return
    try:
        _open_reason(request, key)
    except (CryptoError, UnicodeDecodeError):
        raise IntegrityFailed() from None


def decide_identity(
    session: Session,
    request_id: uuid.UUID,
    custodian: StaffAccount,
    private: PrivateKey,
    approve: bool,
    now: datetime,
) -> IdentityRequest:
    """A custodian approves (the identity key is wrapped to the investigator, from the
    custodian's own custodian wrap) or refuses. Either way it is recorded. Nobody
    decides their own request, so an account that is both investigator and custodian
    sees an identity only on another custodian's decision (G3). Approval raises
    :class:`IntegrityFailed` for a request that fails its integrity check."""
    request = session.get(IdentityRequest, request_id)
    if request is None or request.state != IdentityRequestState.PENDING:
        raise ServiceError(Reason.NOT_WAITING_FOR_DECISION)
    if request.account_id == custodian.id:
        raise ServiceError(Reason.OWN_REQUEST)
    addressed = session.scalar(
        select(IdentityRequest.id).where(
            IdentityRequest.id == request_id,
            key_ring.addressed_to(custodian.id, IdentityRequest.report_id),
        )
    )
    if addressed is None:  # not addressed to this custodian: to them, no request at all
        raise ServiceError(Reason.NOT_WAITING_FOR_DECISION)
    investigator = session.get(StaffAccount, request.account_id)
    if investigator is None:  # a requester of no account: changed in the database
        raise IntegrityFailed()
    if approve:
        _check_request_intact(session, request, custodian, private)
        _check_colleague(investigator)  # first: deactivation also drops every grant
        if not key_ring.is_holder(session, request.report_id, investigator.id):
            raise ServiceError(Reason.INVESTIGATOR_LOST_REPORT)
        keys = key_ring.custodian_keys(session, request.report_id, custodian.id, private)
        try:
            key_ring.wrap_identity(session, keys, investigator)
        except NoKey:
            raise ServiceError(Reason.NO_IDENTITY_KEY) from None
    request.state = (
        IdentityRequestState.APPROVED if approve else IdentityRequestState.REFUSED
    ).value
    request.decided_by = custodian.id
    request.decided_at = now
    audit.append(
        session,
        str(custodian.id),
        "custodian",
        Action.IDENTITY_APPROVE if approve else Action.IDENTITY_REFUSE,
        report_id=request.report_id,
        detail={"request": str(request.id), **_detail(investigator)},
    )
    return request


# --- the offline recovery key ----------------------------------------------------------------


def recovery_grant(
    session: Session, report_id: uuid.UUID, recovery_private: PrivateKey, colleague: StaffAccount
) -> int:
    """Re-grant a report from the recovery key (run offline by the key's holders, e.g.
    after an investigator's password reset): every epoch's case and internal keys."""
    report = session.get(Report, report_id)
    if report is None:
        raise ServiceError(Reason.NO_SUCH_REPORT)
    _check_colleague(colleague)
    if key_ring.is_holder(session, report_id, colleague.id):
        raise ServiceError(Reason.ALREADY_HAS_REPORT, name=colleague.username)
    source = key_ring.recovery_keys(session, report_id, recovery_private)
    may_receive(session, source, colleague)
    copied = key_ring.grant_holder(session, report, source, colleague)
    audit.append(
        session,
        audit.OPERATOR.id,
        audit.OPERATOR.role,
        Action.RECOVERY_GRANT,
        report_id=report_id,
        detail=_detail(colleague, keys=copied),
    )
    return copied
