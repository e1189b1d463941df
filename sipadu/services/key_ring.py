"""The report key ring: every report key, HPKE-wrapped to each recipient that holds it
(DESIGN.md G3, §4; the wrap format and the key hierarchy are in docs/crypto.md, "Key
wrapping" and "Key hierarchy").

A report has, per key epoch (``report.key_epoch``, 0 at submission), a *case* key
(fields, messages, files) and an *internal* key (notes, never the mailbox's). Its
*identity* key has epoch 0 only, and the reason of its n-th identity request is sealed
under a *request* key of epoch n. Each wrap is one ``report_key`` row:
``wrap_key(key, recipient's public key, KeyContext(report id, purpose, epoch))``. A
recipient is a staff member as investigator (kind ``staff``, by account id), a staff
member as custodian (``custodian``, by account id), the report's mailbox (``mailbox``)
or the offline recovery key (``recovery``); for a report that concerns the
inspectorate's own staff, also an outside body's age key (``external``, by its
conflict-of-interest member id; docs/conflict-of-interest.md).

Custodian wraps (the identity key at submission, each request key) are a kind of their
own so that no investigator view can open them: an account that is both investigator
and custodian reads a reporter's identity on the case page only through the ``staff``
wrap :func:`wrap_identity` adds when *another* custodian approves its request (G3;
docs/crypto.md, "Key hierarchy"). A recipient list is de-duplicated before it is
wrapped to (one row per recipient, whatever roles put it on the list twice).

An investigator holds a report when they have its ``report_grant`` row (the list of
reports they work) *and* its wraps (what they can read). Both change together, here:

- :func:`create_ring` at submission, and :func:`wrap_receipt_nonce` (the nonce of the
  report's receipt commitment, to the mailbox only: docs/receipt.md),
- :func:`grant_holder` when a colleague, or the recovery key, shares the report,
- :func:`revoke_holder` when one is taken away (a new epoch begins),
- :func:`wrap_request_key` when an investigator asks for the identity, and
  :func:`wrap_identity` when a custodian approves,
- :func:`forget_account` when a password reset destroys an account's key pair,
- :func:`shred` when retention deletes reports.

Every function here runs inside the caller's transaction: it adds, changes or deletes
rows and never commits; the caller commits together with its audit entry (G4). Keys are
unwrapped by :class:`HeldKeys` (one report, on demand: :func:`staff_keys`,
:func:`mailbox_keys`, :func:`recovery_keys`) or :func:`staff_keys_of_reports` (a page of
reports at once).
"""

import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TypeVar

from sqlalchemy import ColumnElement, Exists, Select, delete, exists, select
from sqlalchemy.orm import QueryableAttribute, Session

from sipadu.crypto import (
    CryptoError,
    KeyContext,
    PrivateKey,
    PublicKey,
    Purpose,
    age_public_key,
    fingerprint,
    new_key,
    unwrap_key,
    wrap_key,
)
from sipadu.persistence.db import rows_affected, scope_to_report
from sipadu.persistence.models import (
    AccountState,
    Category,
    CategoryRoute,
    CoiMember,
    CoiMemberKind,
    Mailbox,
    RecipientState,
    Report,
    ReportGrant,
    ReportKey,
    Role,
    StaffAccount,
    StaffRole,
    Unit,
    UnitRoute,
)
from sipadu.services import Reason, ServiceError

T = TypeVar("T")

SHARED = (Purpose.CASE, Purpose.INTERNAL)  # what a grant copies: never the identity
STAFF_KINDS = ("staff", "custodian")  # the recipient kinds that are a staff account
CUSTODIAN = "custodian"  # a custodian's wraps: never opened by an investigator view
EXTERNAL = "external"  # an outside body's age key, of the conflict-of-interest group
IDENTITY_EPOCH = 0  # the identity is written once, at submission


@dataclass(frozen=True)
class Recipient:
    """Someone a key is wrapped to. ``kind``: ``staff`` | ``custodian`` | ``mailbox`` |
    ``recovery``; ``id``: the account or mailbox id (None for recovery)."""

    kind: str
    id: uuid.UUID | None
    public: PublicKey

    @property
    def fingerprint(self) -> str:
        """As stored in ``report_key.recipient_fingerprint`` and audit details."""
        return fingerprint(self.public).replace(" ", "").lower()


def _staff_recipient(account: StaffAccount) -> Recipient:
    """``account`` as a recipient; it must have a key pair (``public_key`` set)."""
    return Recipient("staff", account.id, PublicKey.from_bytes(account.public_key or b""))


def key_fingerprint(account: StaffAccount) -> str | None:
    """The account's key fingerprint as contiguous hex (audit details, exports, the
    fingerprint a proposal pins); None before it has a key pair."""
    if account.public_key is None:
        return None
    return _staff_recipient(account).fingerprint


def display_fingerprint(account: StaffAccount) -> str | None:
    """The fingerprint as people compare it: 16 groups of 4 hex digits."""
    if account.public_key is None:
        return None
    return fingerprint(PublicKey.from_bytes(account.public_key))


def _staff_recipients(
    session: Session, *conditions: ColumnElement[bool], kind: str = "staff"
) -> list[Recipient]:
    """Active staff with a key, matching ``conditions``. Only the id, state and public
    key are read: the reporter portal's database role may read nothing else of a staff
    account (docs/deploy.md)."""
    rows = session.execute(
        select(StaffAccount.id, StaffAccount.public_key)
        .join(StaffRole, StaffRole.account_id == StaffAccount.id)
        .where(
            StaffAccount.state == AccountState.ACTIVE.value,
            StaffAccount.public_key.is_not(None),
            *conditions,
        )
        .distinct()
    )
    return [
        Recipient(kind, account_id, PublicKey.from_bytes(key))
        for account_id, key in rows
        if key is not None  # the query's condition; this says so to the type checker
    ]


def _active_custodians(session: Session) -> list[Recipient]:
    """Every active custodian with a key, as a ``custodian`` recipient: the holders of
    each new identity key and of each identity request's key."""
    return _staff_recipients(session, StaffRole.role == Role.CUSTODIAN, kind=CUSTODIAN)


def routed_investigators(
    session: Session, category_id: uuid.UUID, unit_id: uuid.UUID | None = None
) -> list[Recipient]:
    """The investigators a new report in ``category_id`` (a category or a sub-category)
    concerning ``unit_id`` (None: no unit chosen) is wrapped to: those of the most
    specific routing that names at least one active investigator with a key (issue 18),
    in this order:

    1. the sub-category and the unit;
    2. the sub-category's category (or the category itself) and the unit;
    3. the unit alone;
    4. the sub-category alone;
    5. the category alone.

    A route on a unit covers the units below it: within each of tiers 1 to 3, a route on
    the unit itself comes first, then one on the unit it sits under, then the one above
    that (a kelurahan's route, then its kecamatan's, then its Kota Administrasi's;
    :func:`_unit_and_above`).

    Nobody at all: an empty list (the report is readable only with the recovery key, and
    counted unrouted). Only the first tier with someone counts: a report concerning a
    unit routed on its own never reaches the category's investigators (docs/staff.md,
    "Categories, units and routing"). Reads only."""
    row = session.execute(
        select(Category.id, Category.parent_id).where(Category.id == category_id)
    ).one_or_none()
    parent_id = row.parent_id if row is not None else None
    sub = category_id if parent_id is not None else None
    top = parent_id if parent_id is not None else category_id
    tiers = []
    units = _unit_and_above(session, unit_id) if unit_id is not None else []
    for category in ([sub] if sub is not None else []) + [top, None]:
        tiers += [_unit_routes(unit, category) for unit in units]
    if sub is not None:
        tiers.append(_category_routes(sub))
    tiers.append(_category_routes(top))
    for accounts in tiers:
        found = _staff_recipients(
            session, StaffRole.role == Role.INVESTIGATOR, StaffAccount.id.in_(accounts)
        )
        if found:
            return found
    return []


_UNIT_DEPTH = 3  # Kota Administrasi, kecamatan, kelurahan: no unit sits deeper


def _unit_and_above(session: Session, unit_id: uuid.UUID) -> list[uuid.UUID]:
    """``unit_id`` and the units it sits under, nearest first (a kelurahan, its
    kecamatan, their Kota Administrasi; a suku dinas, its Kota Administrasi): a route on
    a unit covers the units below it, and the nearer route wins. Bounded, should a loop
    be written into the database. Reads only the id and parent of a unit."""
    chain = [unit_id]
    while len(chain) < _UNIT_DEPTH:
        parent = session.scalar(select(Unit.parent_id).where(Unit.id == chain[-1]))
        if parent is None or parent in chain:
            break
        chain.append(parent)
    return chain


def _unit_routes(unit_id: uuid.UUID, category_id: uuid.UUID | None) -> Select[uuid.UUID]:
    return select(UnitRoute.account_id).where(
        UnitRoute.unit_id == unit_id,
        UnitRoute.category_id.is_(None)
        if category_id is None
        else UnitRoute.category_id == category_id,
    )


def _category_routes(category_id: uuid.UUID) -> Select[uuid.UUID]:
    return select(CategoryRoute.account_id).where(CategoryRoute.category_id == category_id)


def distinct_recipients(recipients: Iterable[Recipient]) -> list[Recipient]:
    """``recipients`` in order, each (kind, id, key) once: a person on a list twice (a
    requester who is also a custodian, a holder named by two routes) gets one wrap."""
    seen: set[tuple[str, uuid.UUID | None, str]] = set()
    kept = []
    for recipient in recipients:
        identity = (recipient.kind, recipient.id, recipient.fingerprint)
        if identity not in seen:
            seen.add(identity)
            kept.append(recipient)
    return kept


def _wrap_to(
    session: Session,
    report_id: uuid.UUID,
    purpose: Purpose,
    epoch: int,
    key: bytes,
    recipients: Iterable[Recipient],
) -> None:
    """Add one ``report_key`` row per distinct recipient: ``key`` HPKE-wrapped to its
    public key, bound to (report, purpose, epoch). In the caller's transaction."""
    context = KeyContext(report_id, purpose, epoch)
    for recipient in distinct_recipients(recipients):
        session.add(
            ReportKey(
                report_id=report_id,
                purpose=purpose.value,
                epoch=epoch,
                recipient_kind=recipient.kind,
                recipient_id=recipient.id,
                recipient_fingerprint=recipient.fingerprint,
                wrapped=wrap_key(key, recipient.public, context),
            )
        )


# --- the keys one recipient holds --------------------------------------------------------


class NoKey(ServiceError):
    """The recipient holds no key for that purpose and epoch (not granted, revoked, or
    not approved for the identity)."""

    def __init__(self, purpose: str, epoch: int) -> None:
        super().__init__(Reason.NO_KEY, purpose=purpose, epoch=epoch)


class HeldKeys:
    """The report keys one recipient holds (a mailbox, a staff member or the recovery
    key), unwrapped on demand with its private key, per purpose and epoch, and kept for
    the life of this object. Reads only, in the caller's transaction."""

    def __init__(
        self,
        session: Session,
        report_id: uuid.UUID,
        kind: str,
        recipient_id: uuid.UUID | None,
        private: PrivateKey,
    ) -> None:
        self.session = session
        self.report_id = report_id
        self._kind = kind
        self._recipient_id = recipient_id
        self._private = private
        self._cache: dict[tuple[Purpose, int], bytes] = {}
        # Purposes whose every wrap was unwrapped up front (:func:`staff_keys_of_batch`):
        # the cache then is the whole answer, and nothing more is asked of the database.
        self._complete: frozenset[Purpose] = frozenset()

    @property
    def kind(self) -> str:
        """The recipient kind these keys are wrapped to (``staff``, ``custodian``, ...)."""
        return self._kind

    def key(self, purpose: Purpose, epoch: int) -> bytes:
        """The key; raises :class:`NoKey` without a wrap, ``CryptoError`` if the wrap
        does not open with this private key (nor for a negative epoch: what a stored
        epoch of the wrong type reads as, :mod:`sipadu.persistence.checked`)."""
        if epoch < 0:
            raise CryptoError("a malformed epoch: the row was changed in the database")
        if (purpose, epoch) not in self._cache and purpose in self._complete:
            raise NoKey(purpose.value, epoch)
        if (purpose, epoch) not in self._cache:
            scope_to_report(self.session, self.report_id)
            wrapped = self.session.scalar(
                select(ReportKey.wrapped).where(
                    ReportKey.report_id == self.report_id,
                    ReportKey.purpose == purpose.value,
                    ReportKey.epoch == epoch,
                    ReportKey.recipient_kind == self._kind,
                    ReportKey.recipient_id == self._recipient_id,
                )
            )
            if wrapped is None:
                raise NoKey(purpose.value, epoch)
            context = KeyContext(self.report_id, purpose, epoch)
            self._cache[(purpose, epoch)] = unwrap_key(wrapped, self._private, context)
        return self._cache[(purpose, epoch)]

    def holds(self, purpose: Purpose, epoch: int) -> bool:
        """Whether :meth:`key` finds and opens a wrap (``CryptoError`` still raises)."""
        try:
            self.key(purpose, epoch)
        except NoKey:
            return False
        return True

    def epochs(self, purpose: Purpose) -> list[int]:
        """The epochs of ``purpose`` this recipient has a wrap of, newest first (one
        query, nothing unwrapped)."""
        if purpose in self._complete:
            return sorted((e for p, e in self._cache if p is purpose), reverse=True)
        scope_to_report(self.session, self.report_id)
        return sorted(
            self.session.scalars(
                select(ReportKey.epoch).where(
                    ReportKey.report_id == self.report_id,
                    ReportKey.purpose == purpose.value,
                    ReportKey.recipient_kind == self._kind,
                    ReportKey.recipient_id == self._recipient_id,
                )
            ),
            reverse=True,
        )


def open_any_epoch(
    keys: HeldKeys, purpose: Purpose, epoch: int | None, opener: Callable[[bytes, int], T]
) -> tuple[T, int]:
    """``opener(key, epoch)`` with the key of ``epoch``, or, for a row that stores no
    epoch (``None``: a version 2 message or file, docs/crypto.md "Row order"), with each
    epoch's key ``keys`` holds, newest first, until one opens: a row binds its epoch in
    its associated data, so only its own key opens it. Returns the opened value and the
    epoch. Raises :class:`NoKey` when no key of ``purpose`` (or of ``epoch``) is held,
    and the last ``CryptoError`` when none opens.

    A stored epoch would date a reporter's row: epochs begin at revocations, which the
    audit log dates to the microsecond. The cost is one AES-GCM attempt per epoch held
    (a report has a handful at most)."""
    if epoch is not None:
        return opener(keys.key(purpose, epoch), epoch), epoch
    held = keys.epochs(purpose)
    if not held:
        raise NoKey(purpose.value, 0)
    failure: CryptoError | None = None
    for candidate in held:
        try:
            return opener(keys.key(purpose, candidate), candidate), candidate
        except CryptoError as exc:
            failure = exc
    assert failure is not None  # held is not empty
    raise failure


def mailbox_keys(
    session: Session, report_id: uuid.UUID, mailbox_id: uuid.UUID, private: PrivateKey
) -> HeldKeys:
    """The keys a report's mailbox holds (its private key opened by code ‖ passphrase)."""
    return HeldKeys(session, report_id, "mailbox", mailbox_id, private)


def staff_keys(
    session: Session, report_id: uuid.UUID, account_id: uuid.UUID, private: PrivateKey
) -> HeldKeys:
    """The keys a staff member holds as an investigator (their private key from the
    session): never their custodian wraps, whatever other role they have."""
    return HeldKeys(session, report_id, "staff", account_id, private)


def custodian_keys(
    session: Session, report_id: uuid.UUID, account_id: uuid.UUID, private: PrivateKey
) -> HeldKeys:
    """The keys a staff member holds as a custodian: the identity key (to approve with,
    never to show) and the request keys (to read a request's reason)."""
    return HeldKeys(session, report_id, CUSTODIAN, account_id, private)


def recovery_keys(session: Session, report_id: uuid.UUID, private: PrivateKey) -> HeldKeys:
    """The keys the offline recovery key holds (used offline, by ``sipadu recovery``)."""
    return HeldKeys(session, report_id, "recovery", None, private)


def staff_keys_of_reports(
    session: Session,
    account_id: uuid.UUID,
    private: PrivateKey,
    purpose: Purpose,
    wanted: Iterable[tuple[uuid.UUID, int]],
) -> dict[tuple[uuid.UUID, int], bytes]:
    """The ``purpose`` keys a staff member holds for several (report, epoch) pairs at
    once (a page of the case list): one query, one unwrap per pair held. Pairs without a
    wrap are left out. Reads only, in the caller's transaction."""
    wanted = set(wanted)
    if not wanted:
        return {}
    wraps = session.execute(
        select(ReportKey.report_id, ReportKey.epoch, ReportKey.wrapped).where(
            ReportKey.report_id.in_({report_id for report_id, _ in wanted}),
            ReportKey.purpose == purpose.value,
            ReportKey.recipient_kind == "staff",
            ReportKey.recipient_id == account_id,
        )
    )
    keys = {}
    for report_id, epoch, wrapped in wraps:
        if (report_id, epoch) not in wanted:
            continue
        try:
            keys[report_id, epoch] = unwrap_key(
                wrapped, private, KeyContext(report_id, purpose, epoch)
            )
        except CryptoError:  # altered in the database: left out, as without a wrap
            continue
    return keys


def staff_keys_of_batch(
    session: Session,
    account_id: uuid.UUID,
    private: PrivateKey,
    report_ids: Sequence[uuid.UUID],
    purposes: Sequence[Purpose] = SHARED,
) -> dict[uuid.UUID, HeldKeys]:
    """:func:`staff_keys` for several reports at once (a batch of a search): every wrap
    of ``purposes`` the account holds as an investigator, of every epoch, fetched in one
    query and unwrapped (one HPKE unwrap each), so that opening the reports' rows asks
    nothing more of the database. A wrap that does not open (altered in the database) is
    left out: rows under it fail their check, as without a wrap. Reads only."""
    held = {r: staff_keys(session, r, account_id, private) for r in report_ids}
    if not held:
        return held
    wraps = session.execute(
        select(ReportKey.report_id, ReportKey.purpose, ReportKey.epoch, ReportKey.wrapped).where(
            ReportKey.report_id.in_(list(held)),
            ReportKey.purpose.in_([p.value for p in purposes]),
            ReportKey.recipient_kind == "staff",
            ReportKey.recipient_id == account_id,
        )
    )
    for report_id, purpose_value, epoch, wrapped in wraps:
        purpose = Purpose(purpose_value)
        try:
            if epoch < 0:  # a malformed epoch (see HeldKeys.key)
                raise CryptoError("a malformed epoch")
            key = unwrap_key(wrapped, private, KeyContext(report_id, purpose, epoch))
        except CryptoError:
            continue
        held[report_id]._cache[purpose, epoch] = key
    for keys in held.values():
        keys._complete = frozenset(purposes)
    return held


# --- who holds a report ----------------------------------------------------------------


@dataclass(frozen=True)
class NewReportKeys:
    """The epoch-0 keys of a new report, for the caller to seal its fields with."""

    case: bytes
    internal: bytes
    identity: bytes
    investigators: int  # how many it was routed to; 0: only the recovery key can read it


def create_ring(
    session: Session,
    report_id: uuid.UUID,
    category_id: uuid.UUID,
    mailbox: Recipient,
    recovery: PublicKey,
    unit_id: uuid.UUID | None = None,
    *,
    concerns_inspectorate: bool = False,
) -> NewReportKeys:
    """Fresh epoch-0 keys for a new report (its row already flushed), wrapped as
    DESIGN.md §4 says: the case key to every active investigator routed to
    ``category_id`` and ``unit_id`` (:func:`routed_investigators`), the mailbox and
    recovery; the internal key to those investigators
    and recovery; the identity key to every active custodian, the mailbox and recovery.
    The investigators get their grant rows. In the caller's transaction.

    A report that ``concerns_inspectorate`` (its own staff: ISO 37002 §8.4.1) goes to the
    conflict-of-interest group instead (:func:`coi_group`): its investigators and
    outside keyholders in place of the routed investigators, its custodians in place of
    the ordinary ones; with no group configured, to the mailbox and recovery only."""
    if concerns_inspectorate:
        investigators, outside, custodians = coi_group(session)
    else:
        investigators, outside = routed_investigators(session, category_id, unit_id), []
        custodians = _active_custodians(session)
    to_recovery = Recipient("recovery", None, recovery)
    readers = [*investigators, *outside]
    keys = NewReportKeys(new_key(), new_key(), new_key(), len(readers))
    _wrap_to(session, report_id, Purpose.CASE, 0, keys.case, [*readers, mailbox, to_recovery])
    _wrap_to(session, report_id, Purpose.INTERNAL, 0, keys.internal, [*readers, to_recovery])
    session.add_all(
        ReportGrant(report_id=report_id, account_id=r.id, read_mark=None) for r in investigators
    )
    _wrap_to(
        session,
        report_id,
        Purpose.IDENTITY,
        IDENTITY_EPOCH,
        keys.identity,
        [*custodians, mailbox, to_recovery],
    )
    return keys


def wrap_receipt_nonce(
    session: Session, report_id: uuid.UUID, nonce: bytes, mailbox: Recipient
) -> None:
    """Wrap the 32-byte nonce of the report's receipt commitment to its mailbox, and to
    nobody else (purpose ``receipt``, epoch 0; docs/receipt.md): not to the
    investigators, custodians or the recovery key, so that only the reporter can tell
    which stored commitment is their report's. It goes with the report's other wraps
    when retention shreds them (:func:`shred`). In the caller's transaction."""
    _wrap_to(session, report_id, Purpose.RECEIPT, 0, nonce, [mailbox])


def _coi_accounts(kind: CoiMemberKind) -> ColumnElement[bool]:
    return StaffAccount.id.in_(
        select(CoiMember.account_id).where(
            CoiMember.kind == kind.value, CoiMember.state == RecipientState.ACTIVE.value
        )
    )


def coi_group(session: Session) -> tuple[list[Recipient], list[Recipient], list[Recipient]]:
    """The approved conflict-of-interest group as recipients: its investigators (active,
    with the investigator role and a key: ``staff``), its outside keyholders
    (``external``: each age recipient's X25519 key, classical suite; a row changed in
    the database so that it no longer decodes is left out) and its custodians (active,
    with the custodian role and a key: ``custodian``). Reads only the columns the
    reporter portal's role may read (docs/deploy.md)."""
    investigators = _staff_recipients(
        session, StaffRole.role == Role.INVESTIGATOR, _coi_accounts(CoiMemberKind.INVESTIGATOR)
    )
    custodians = _staff_recipients(
        session,
        StaffRole.role == Role.CUSTODIAN,
        _coi_accounts(CoiMemberKind.CUSTODIAN),
        kind=CUSTODIAN,
    )
    return investigators, _outside_keyholders(session), custodians


def _outside_keyholders(session: Session, *conditions: ColumnElement[bool]) -> list[Recipient]:
    """The active outside keyholders of the conflict-of-interest group matching
    ``conditions``, as ``external`` recipients (each age recipient's X25519 key); a row
    changed in the database so that it no longer decodes is left out. Reads only."""
    outside = []
    for member_id, recipient in session.execute(
        select(CoiMember.id, CoiMember.recipient).where(
            CoiMember.kind == CoiMemberKind.EXTERNAL.value,
            CoiMember.state == RecipientState.ACTIVE.value,
            *conditions,
        )
    ):
        try:
            outside.append(Recipient(EXTERNAL, member_id, age_public_key(recipient or "")))
        except CryptoError:
            continue
    return outside


def is_holder(session: Session, report_id: uuid.UUID, account_id: uuid.UUID) -> bool:
    """Whether the account has a grant row for the report. Reads only, in the caller's
    transaction."""
    return session.get(ReportGrant, (report_id, account_id)) is not None


def holders(session: Session, report_id: uuid.UUID) -> list[StaffAccount]:
    """The accounts granted the report, by username. Reads only, in the caller's
    transaction."""
    return list(
        session.scalars(
            select(StaffAccount)
            .join(ReportGrant, ReportGrant.account_id == StaffAccount.id)
            .where(ReportGrant.report_id == report_id)
            .order_by(StaffAccount.username)
        )
    )


def grant_holder(session: Session, report: Report, source: HeldKeys, account: StaffAccount) -> int:
    """Wrap to ``account`` (which has a key pair) every epoch's case and internal key
    that ``source`` holds (a colleague's keys, or the recovery key's), and add its grant
    row. Never the identity key. Returns the number of wraps added; raises
    :class:`ServiceError` if ``source`` holds none. In the caller's transaction."""
    recipient = _staff_recipient(account)
    copied = 0
    for epoch in range(report.key_epoch + 1):
        for purpose in SHARED:
            try:
                key = source.key(purpose, epoch)
            except NoKey:
                continue
            _wrap_to(session, report.id, purpose, epoch, key, [recipient])
            copied += 1
    if not copied:
        raise ServiceError(Reason.NO_KEY_TO_SHARE)
    session.add(ReportGrant(report_id=report.id, account_id=account.id, read_mark=None))
    return copied


def revoke_holder(
    session: Session, report: Report, account_id: uuid.UUID, recovery: PublicKey
) -> int:
    """Take the report from ``account_id``: every investigator wrap to it (approved
    identity and its own request keys included; its wraps as a custodian stay, they are
    not the grant's) and its grant row go, and epoch ``report.key_epoch + 1`` begins: fresh
    case and internal keys, wrapped to the remaining holders, the outside keyholders of
    the conflict-of-interest group that held the previous epoch and are still members
    (:func:`_external_holders`), the mailbox (case key only) and recovery. What was
    written before stays under the old epoch's keys; the identity key is not renewed (it
    seals only what was written at submission). Returns the number of wraps removed. In
    the caller's transaction."""
    removed = rows_affected(
        session,
        delete(ReportKey).where(
            ReportKey.report_id == report.id,
            ReportKey.recipient_kind == "staff",
            ReportKey.recipient_id == account_id,
        ),
    )
    session.execute(
        delete(ReportGrant).where(
            ReportGrant.report_id == report.id, ReportGrant.account_id == account_id
        )
    )
    remaining = [
        _staff_recipient(a)
        for a in holders(session, report.id)
        if a.public_key and a.active and Role.INVESTIGATOR in a.role_set
    ]  # a new epoch only to those still entitled to it (not a deactivated holder)
    outside = _external_holders(session, report.id, report.key_epoch)
    report.key_epoch += 1
    # Made with the report, gone only with it.
    mailbox = session.scalars(select(Mailbox).where(Mailbox.report_id == report.id)).one()
    to_mailbox = Recipient("mailbox", mailbox.id, PublicKey.from_bytes(mailbox.public_key))
    to_recovery = Recipient("recovery", None, recovery)
    epoch = report.key_epoch
    readers = [*remaining, *outside]
    _wrap_to(
        session, report.id, Purpose.CASE, epoch, new_key(), [*readers, to_mailbox, to_recovery]
    )
    _wrap_to(session, report.id, Purpose.INTERNAL, epoch, new_key(), [*readers, to_recovery])
    return removed


def _external_holders(session: Session, report_id: uuid.UUID, epoch: int) -> list[Recipient]:
    """The outside keyholders (``external``) that hold the report's case key of
    ``epoch`` and are still active members of the conflict-of-interest group: the
    holders of the next epoch besides the staff. One removed from the group
    (``coi_member_remove`` approved) keeps what it was given but gets no new epoch
    (docs/conflict-of-interest.md, "After submission"). Reads only."""
    return _outside_keyholders(
        session,
        CoiMember.id.in_(
            select(ReportKey.recipient_id).where(
                ReportKey.report_id == report_id,
                ReportKey.purpose == Purpose.CASE.value,
                ReportKey.epoch == epoch,
                ReportKey.recipient_kind == EXTERNAL,
            )
        ),
    )


def wrap_identity(session: Session, source: HeldKeys, account: StaffAccount) -> None:
    """Wrap the report's identity key, from ``source`` (a custodian's keys), to
    ``account`` (an investigator with a key pair) after a custodian approved: a ``staff``
    wrap, the only kind the case page opens. Raises :class:`NoKey` if ``source`` does not
    hold it. In the caller's transaction."""
    held = session.scalar(
        select(ReportKey.id).where(
            ReportKey.report_id == source.report_id,
            ReportKey.purpose == Purpose.IDENTITY.value,
            ReportKey.epoch == IDENTITY_EPOCH,
            ReportKey.recipient_kind == "staff",
            ReportKey.recipient_id == account.id,
        )
    )
    if held is not None:
        return  # approved before and still held (a revoke drops it): one wrap is enough
    key = source.key(Purpose.IDENTITY, IDENTITY_EPOCH)
    _wrap_to(
        session,
        source.report_id,
        Purpose.IDENTITY,
        IDENTITY_EPOCH,
        key,
        [_staff_recipient(account)],
    )


def wrap_request_key(
    session: Session,
    report_id: uuid.UUID,
    number: int,
    requester: StaffAccount,
    recovery: PublicKey,
) -> bytes:
    """A fresh key for the reason of the report's ``number``-th identity request (its
    epoch), wrapped to the custodians it is addressed to (``custodian`` wraps: every
    active custodian who holds the report's identity key, the only ones who can approve
    it; so a report about the inspectorate's own staff asks its conflict-of-interest
    custodians only), the requester (a ``staff`` wrap, also when the requester is a
    custodian) and recovery; returned for the caller to seal the reason with. In the
    caller's transaction."""
    key = new_key()
    holding = select(ReportKey.recipient_id).where(
        ReportKey.report_id == report_id,
        ReportKey.purpose == Purpose.IDENTITY.value,
        ReportKey.recipient_kind == CUSTODIAN,
    )
    custodians = _staff_recipients(
        session, StaffRole.role == Role.CUSTODIAN, StaffAccount.id.in_(holding), kind=CUSTODIAN
    )
    recipients = [*custodians, _staff_recipient(requester)]
    recipients.append(Recipient("recovery", None, recovery))
    _wrap_to(session, report_id, Purpose.REQUEST, number, key, recipients)
    return key


def addressed_to(custodian_id: uuid.UUID, report_id: QueryableAttribute[uuid.UUID]) -> Exists:
    """A condition on a query of identity requests: the report of ``report_id`` has a
    custodian wrap (its identity key or a request's key) to ``custodian_id``. A request
    on a report the custodian holds nothing of (a report about the inspectorate's own
    staff, to an ordinary custodian) is neither shown to them nor decided by them."""
    return exists().where(
        ReportKey.report_id == report_id,
        ReportKey.recipient_kind == CUSTODIAN,
        ReportKey.recipient_id == custodian_id,
        ReportKey.purpose.in_([Purpose.IDENTITY.value, Purpose.REQUEST.value]),
    )


@dataclass(frozen=True)
class Forgotten:
    """What :func:`forget_account` removed: ``wraps``, the report keys wrapped to the
    account (one per report and epoch), and ``grants``, the reports it had been granted
    (one per report; 0 when only custodian wraps went)."""

    wraps: int
    grants: int


def forget_account(
    session: Session, account_id: uuid.UUID, kinds: Sequence[str] = STAFF_KINDS
) -> Forgotten:
    """Every wrap to the account of the given ``kinds`` (as investigator, ``staff``,
    with every grant it had; as custodian, ``custodian``), of every report, goes: its
    key pair is being destroyed (a password reset), or it may no longer read
    (deactivation, a role taken away; the recovery key can give reports back, ``sipadu
    recovery grant``). No new epoch: what it could read is already read. Returns the
    numbers of wraps and of grants removed (:class:`Forgotten`). In the caller's
    transaction."""
    wraps = rows_affected(
        session,
        delete(ReportKey).where(
            ReportKey.recipient_kind.in_(kinds), ReportKey.recipient_id == account_id
        ),
    )
    grants = 0
    if "staff" in kinds:
        grants = rows_affected(
            session, delete(ReportGrant).where(ReportGrant.account_id == account_id)
        )
    return Forgotten(wraps, grants)


def shred(session: Session, report_ids: Sequence[uuid.UUID]) -> int:
    """Delete every wrap of these reports: their ciphertext can no longer be opened by
    anyone, the recovery key included. Returns the number of wraps deleted. In the
    caller's transaction."""
    return rows_affected(session, delete(ReportKey).where(ReportKey.report_id.in_(report_ids)))
