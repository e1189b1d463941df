"""Admin pages: staff accounts, roles, categories and routing, under the two-person rule.

Changes that widen who can read reports (a sensitive role, activating an account that
holds one, routing) become proposals a second admin approves; taking access away
(deactivation, revoking a role) is immediate. One-time links are shown once, here.
"""

import uuid
from collections.abc import Callable
from typing import NoReturn, TypeVar

from flask import abort, g, make_response, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.wrappers import Response

from sipadu.accountability.audit import Actor
from sipadu.investigator.blueprint import bp, now, runtime, signing_public_key_hex
from sipadu.investigator.forms import (
    NOT_A_REPORT_ID,
    NOT_CONFIRMED,
    ROLE_CHOICES,
    ActionForm,
    CategoryWordsForm,
    ConfirmForm,
    CreateAccountForm,
    HoldForm,
    MayGrantForm,
    RecipientForm,
    RecipientOfferForm,
    RoleForm,
    RouteForm,
    SelectChoice,
    UnitRouteForm,
    entered,
    not_confirmed,
)
from sipadu.investigator.policy import Policy, requires
from sipadu.investigator.words import ACTOR_WORDS, said
from sipadu.persistence.models import (
    AccountState,
    Category,
    CoiMember,
    ExportRecipient,
    Proposal,
    ProposalKind,
    ProposalState,
    RecipientState,
    Report,
    Role,
    StaffAccount,
    Unit,
)
from sipadu.services import Reason, ServiceError, notifications
from sipadu.services import proposals as proposals_service
from sipadu.services import staff as staff_service
from sipadu.services.categories import (
    WORD_FIELDS,
    category_by_id,
    category_by_slug,
    in_order,
    routing_table,
    unit_routing_table,
    words_of,
)
from sipadu.services.export_recipients import display_fingerprint as recipient_fingerprint
from sipadu.services.export_recipients import in_use, intact, offer_checks
from sipadu.services.key_ring import display_fingerprint
from sipadu.services.plain_text import same_words
from sipadu.services.proposals import SENSITIVE_ROLES
from sipadu.services.units import grouped_units, unit_by_id
from sipadu.web.context import db_session, transaction
from sipadu.web.forms import BoundedForm
from sipadu.web.refusal_messages import message
from sipadu.web.words import CATEGORY_LABELS


def _actor() -> Actor:
    return Actor(str(g.staff.account.id), Role.ADMIN.value)


F = TypeVar("F", bound=BoundedForm)
T = TypeVar("T")
# A page shown again after a refusal, given the refusal's messages to show beside the
# box (or field) of the form that was sent, or at the top of the page where that box
# may be gone (a refusal for a state changed meanwhile: "no longer waiting"). A
# ``refused`` mapping of a template: a box's id → its messages; "" → the page's top.
Page = Callable[[list[str]], str]
TOP = ""


def _again(page: Page, messages: list[str], status: int) -> NoReturn:
    """Stop the view with ``page`` shown again (``status``): the same form, what was
    typed or chosen kept, and ``messages`` beside the box of the button used."""
    abort(make_response(page(messages), status))


def _checked_form(form_class: Callable[[], F], page: Page) -> F:
    """The posted form, valid. A form whose box was not ticked changes nothing: its page
    comes back (400) with the choices kept and the reason beside the box; anything else
    wrong with it is a bad request."""
    form = form_class()
    if not form.validate_on_submit():
        if not_confirmed(form):
            _again(page, [str(NOT_CONFIRMED)], 400)
        abort(400)
    return form


def _account(session: Session, account_id: uuid.UUID) -> StaffAccount:
    account = session.get(StaffAccount, account_id)
    if account is None:
        abort(404)
    return account


def _names(session: Session) -> dict[str, str]:
    """Audit actor ids → usernames (or words, for the shell), for showing who proposed
    what."""
    accounts = {str(a.id): a.username for a in session.scalars(select(StaffAccount))}
    return {actor: str(words) for actor, words in ACTOR_WORDS.items()} | accounts


@bp.get("/admin")
@requires(Policy.ADMIN)
def admin_index() -> str:
    return _accounts_page(CreateAccountForm())


def _accounts_page(form: CreateAccountForm) -> str:
    session = db_session()
    accounts = list(session.scalars(select(StaffAccount).order_by(StaffAccount.username)))
    return render_template(
        "staff/admin/accounts.html",
        accounts=accounts,
        fingerprints={a.id: display_fingerprint(a) for a in accounts},
        digests=notifications.registered(session),  # whether, never which address
        pending=len(proposals_service.pending(session)),
        form=form,
    )


def _link_page(account: StaffAccount, token: str, kind: str) -> str:
    endpoint = "staff.enroll_totp" if kind == "totp" else "staff.activate"
    return render_template(
        "staff/admin/link.html",
        account=account,
        link=url_for(endpoint, token=token, _external=True),
        kind=kind,
        hours=int(runtime().link_ttl.total_seconds() // 3600),
    )


@bp.post("/admin/accounts")
@requires(Policy.ADMIN)
def admin_create_account() -> ResponseReturnValue:
    form = CreateAccountForm()
    if not form.validate_on_submit():
        return _accounts_page(form), 400
    if not form.roles.data:  # DataRequired passed: at least one role was chosen
        abort(400)
    roles = {Role(r) for r in form.roles.data}
    try:
        with transaction(write=True) as writing:
            new = staff_service.create_account(
                writing,
                entered(form.username),
                roles,
                display_name=form.display_name.data,
                argon2=runtime().argon2,
                actor=_actor(),
                now=now(),
                link_ttl=runtime().link_ttl,
            )
    except ServiceError as exc:
        form.username.errors = [message(exc)]
        return _accounts_page(form), 400
    return _link_page(new.account, new.enrollment_token or "", "activate")


@bp.get("/admin/accounts/<uuid:account_id>")
@requires(Policy.ADMIN)
def admin_account(account_id: uuid.UUID) -> str:
    return _account_page(account_id)


def _account_page(
    account_id: uuid.UUID, box: str | None = None, messages: tuple[str, ...] | list[str] = ()
) -> str:
    """The account page; after a refusal, ``messages`` beside the box ``box`` (or at the
    top: :data:`TOP`) and the role that was chosen still chosen."""
    session = db_session()
    account = _account(session, account_id)
    waiting = [p for p in proposals_service.pending(session) if p.account_id == account.id]
    posted = request.form if request.method == "POST" else None
    revoke_role_form = RoleForm(formdata=posted if box == "revoke-role-confirm" else None)
    held = {r.value for r in account.role_set}
    revoke_role_form.role.choices = [c for c in ROLE_CHOICES if c.value in held]
    return render_template(
        "staff/admin/account.html",
        account=account,
        fingerprint=display_fingerprint(account),
        waiting=waiting,
        names=_names(session),
        sensitive={r.value for r in SENSITIVE_ROLES},
        form=ActionForm(),
        role_form=RoleForm(formdata=posted if box == "grant-role-confirm" else None),
        revoke_role_form=revoke_role_form,
        refused={box: list(messages)} if box is not None else {},
        states=AccountState,
    )


def _on_account(account_id: uuid.UUID, box: str) -> Page:
    return lambda messages: _account_page(account_id, box, messages)


def _done(account_id: uuid.UUID, message: str) -> Response:
    return redirect(url_for("staff.admin_account", account_id=account_id, done=message), code=303)


def _change(action: Callable[[Session], T], page: Page) -> T:
    """Run ``action(writing)`` in one write transaction with its audit entries. A change
    the service refuses is its page again (409) with the reason beside the form that
    was sent, and nothing is half-done."""
    try:
        with transaction(write=True) as writing:
            return action(writing)
    except ServiceError as exc:
        _again(page, [message(exc)], 409)


def _run(
    account_id: uuid.UUID, action: Callable[[Session, StaffAccount], T]
) -> tuple[StaffAccount, T]:
    """:func:`_change` on one account: ``action(writing, account)``; a refusal is shown
    at the top of the account's page (the button may be gone: the account changed)."""

    def on_account(writing: Session) -> tuple[StaffAccount, T]:
        account = _account(writing, account_id)
        return account, action(writing, account)

    return _change(on_account, _on_account(account_id, TOP))


@bp.post("/admin/accounts/<uuid:account_id>/deactivate")
@requires(Policy.ADMIN)
def admin_deactivate(account_id: uuid.UUID) -> Response:
    box = "deactivate-confirm"
    _checked_form(ConfirmForm, _on_account(account_id, box))
    _run(account_id, lambda s, a: staff_service.deactivate(s, a, _actor()))
    return _done(account_id, "deactivated")


@bp.post("/admin/accounts/<uuid:account_id>/reactivate")
@requires(Policy.ADMIN)
def admin_reactivate(account_id: uuid.UUID) -> Response:
    box = "reactivate-confirm"
    _checked_form(ConfirmForm, _on_account(account_id, box))
    _, proposal = _run(
        account_id, lambda s, a: proposals_service.propose_reactivation(s, a, _actor())
    )
    return _done(account_id, "proposed" if proposal is not None else "reactivated")


# The one-time links an admin can issue: which service call, which kind of link. A TOTP
# reset of a sensitive role returns no link: it is proposed, and the approving admin
# gets the link (admin_decide).
LINK_ACTIONS: dict[str, tuple[Callable[..., str | None], str]] = {
    "resend": (staff_service.resend_link, "activate"),
    "reset-password": (staff_service.reset_password, "activate"),
    "reset-totp": (staff_service.request_totp_reset, "totp"),
}


@bp.post('/admin/accounts/<uuid:account_id>/<any(resend, "reset-password", "reset-totp"):what>')
@requires(Policy.ADMIN)
def admin_link(account_id: uuid.UUID, what: str) -> ResponseReturnValue:
    """A new activation link, a password reset or a TOTP reset: each shows its one-time
    link once, on the page that answers the button (a TOTP reset of a sensitive role is
    proposed instead)."""
    box = f"{what}-confirm"
    _checked_form(ConfirmForm, _on_account(account_id, box))
    issue, kind = LINK_ACTIONS[what]
    account, token = _run(account_id, lambda s, a: issue(s, a, _actor(), now(), runtime().link_ttl))
    if token is None:
        return _done(account_id, "proposed")
    return _link_page(account, token, kind)


@bp.post("/admin/accounts/<uuid:account_id>/roles")
@requires(Policy.ADMIN)
def admin_grant_role(account_id: uuid.UUID) -> Response:
    box = "grant-role-confirm"
    role = Role(_checked_form(RoleForm, _on_account(account_id, box)).role.data)

    def grant(session: Session, account: StaffAccount) -> Proposal | None:
        if role in SENSITIVE_ROLES:
            return proposals_service.propose_role(session, account, role, _actor())
        staff_service.grant_role_now(session, account, role, _actor())
        return None

    _, proposal = _run(account_id, grant)
    return _done(account_id, "proposed" if proposal is not None else "granted")


@bp.post("/admin/accounts/<uuid:account_id>/roles/revoke")
@requires(Policy.ADMIN)
def admin_revoke_role(account_id: uuid.UUID) -> Response:
    box = "revoke-role-confirm"
    role = Role(_checked_form(RoleForm, _on_account(account_id, box)).role.data)
    _run(account_id, lambda s, a: staff_service.revoke_role(s, a, role, _actor()))
    return _done(account_id, "revoked")


@bp.post("/admin/accounts/<uuid:account_id>/may-grant")
@requires(Policy.ADMIN)
def admin_may_grant(account_id: uuid.UUID) -> Response:
    """Allow (or stop) an investigator sharing reports with colleagues. Immediate: it
    lets them copy keys they already hold to other investigators only."""
    box = "may-grant-confirm"
    allowed = _checked_form(MayGrantForm, _on_account(account_id, box)).allowed.data == "yes"
    _run(account_id, lambda s, a: staff_service.set_may_grant(s, a, allowed, _actor()))
    return _done(account_id, "permission")


@bp.get("/admin/proposals")
@requires(Policy.ADMIN)
def admin_proposals() -> str:
    return _proposals_page({})


def _proposals_page(refused: dict[str, list[str]]) -> str:
    """The proposals page; ``refused``: a box's id → the messages shown beside it."""
    session = db_session()
    waiting = proposals_service.pending(session)
    recent = list(
        session.scalars(
            select(Proposal)
            .where(Proposal.state != ProposalState.PENDING.value)
            .order_by(Proposal.decided_at.desc())
            .limit(20)
        )
    )
    accounts = {a.id: a for a in session.scalars(select(StaffAccount))}
    categories = {c.id: c.slug for c in session.scalars(select(Category))}
    recipients = {r.id: r for r in session.scalars(select(ExportRecipient))}
    coi = {m.id: m for m in session.scalars(select(CoiMember))}  # coi (issue 18)
    return render_template(
        "staff/admin/proposals.html",
        coi=coi,
        coi_fingerprints={
            m.id: recipient_fingerprint(m.recipient) for m in coi.values() if m.recipient
        },
        recipients=recipients,
        recipient_fingerprints={
            r.id: recipient_fingerprint(r.recipient) for r in recipients.values()
        },
        altered={r.id for r in recipients.values() if not intact(r.recipient)},
        waiting=waiting,
        recent=recent,
        accounts=accounts,
        fingerprints={a.id: display_fingerprint(a) for a in accounts.values()},
        both_roles={
            p.id
            for p in waiting
            if proposals_service.makes_investigator_custodian(
                session, p, accounts.get(p.account_id) if p.account_id else None
            )
        },
        categories=categories,
        names=_names(session),
        me=str(g.staff.account.id),
        form=ActionForm(),
        refused=refused,
        contents={p.id: proposals_service.content_of(p) for p in waiting},
        current_words={
            c.id: words_of(c).as_dict() | {"offered": c.active}
            for c in session.scalars(select(Category))
        },
        units={u.id: u for u in session.scalars(select(Unit))},
        unit_paths={
            str(u.id): path
            for group in grouped_units(session, active_only=False)
            for u, path in group.units
        },
        category_ids={str(c.id): c.slug for c in session.scalars(select(Category))},
    )


@bp.post("/admin/proposals/<uuid:proposal_id>/<any(approve, reject):decision>")
@requires(Policy.ADMIN)
def admin_decide(proposal_id: uuid.UUID, decision: str) -> ResponseReturnValue:
    """Approve or reject a proposal. An approved TOTP reset answers with its one-time
    link, shown once, to the approving admin only (the proposer never sees it)."""
    box = f"decide-{proposal_id}"

    _checked_form(ConfirmForm, lambda messages: _proposals_page({box: messages}))

    def page(messages: list[str]) -> str:  # the proposal may no longer be waiting
        return _proposals_page({TOP: messages})

    if decision == "reject":
        _change(
            lambda writing: proposals_service.reject(writing, proposal_id, _actor(), now()), page
        )
        return redirect(url_for("staff.admin_proposals"), code=303)

    def approve(writing: Session) -> tuple[StaffAccount | None, str | None]:
        approval = proposals_service.approve(
            writing,
            proposal_id,
            _actor(),
            now(),
            link_ttl=runtime().link_ttl,
            signing_seed=runtime().signing_seed,  # signs an offer to reporters (issue 20)
        )
        account_id = approval.proposal.account_id
        return (writing.get(StaffAccount, account_id) if account_id else None), approval.link

    account, link = _change(approve, page)
    if account is not None and link is not None:
        return _link_page(account, link, "totp")
    return redirect(url_for("staff.admin_proposals"), code=303)


@bp.get("/admin/holds")
@requires(Policy.ADMIN)
def admin_holds() -> str:
    """Legal holds: reports kept past their retention period. Admins see report ids and
    dates only, never contents."""
    return _holds_page(HoldForm())


def _holds_page(form: HoldForm) -> str:
    """The holds page: a form to propose a hold and one to propose its end, each with
    its own box; ``form``, once sent, comes back in the place of its ``change``."""
    session = db_session()
    held = list(session.scalars(select(Report).where(Report.legal_hold.is_(True))))
    waiting = [p for p in proposals_service.pending(session) if p.report_id is not None]
    forms = {}
    for change in ("set", "release"):
        shown = form if form.change.data == change else HoldForm(formdata=None)
        shown.report.id = f"hold-{change}-report"
        forms[change] = shown
    return render_template(
        "staff/admin/holds.html",
        held=held,
        waiting=waiting,
        forms=forms,
        names=_names(session),
    )


@bp.post("/admin/holds")
@requires(Policy.ADMIN)
def admin_propose_hold() -> Response:
    form = HoldForm()

    def page(messages: list[str]) -> str:  # a refusal of the report id
        form.report.errors = messages
        return _holds_page(form)

    if not form.validate_on_submit():
        if {"csrf_token", "change"} & set(form.errors):
            abort(400)  # an old form or a crafted one: no button sends another change
        # The id left empty, the box not ticked, or both: said beside each, id kept.
        abort(make_response(_holds_page(form), 400))
    try:
        report_id = uuid.UUID(entered(form.report).strip())
    except ValueError:
        _again(page, [str(NOT_A_REPORT_ID)], 400)
    _change(
        lambda writing: proposals_service.propose_hold(
            writing, report_id, form.change.data == "set", _actor()
        ),
        page,
    )
    return redirect(url_for("staff.admin_holds"), code=303)


@bp.get("/admin/categories")
@requires(Policy.ADMIN)
def admin_categories() -> str:
    return _categories_page()


def _categories_page(
    box: str = "",
    messages: tuple[str, ...] | list[str] = (),
    *,
    new_form: CategoryWordsForm | None = None,
    words_form: tuple[str, CategoryWordsForm] | None = None,
    route_form: UnitRouteForm | None = None,
) -> str:
    """The categories page; after a refusal, ``messages`` beside the box ``box``, and
    the investigator that was chosen there still chosen; a refused words form
    (``new_form``, or ``words_form``: a category's slug and its form) or unit route form
    comes back as it was sent, the reasons beside its fields."""
    session = db_session()
    investigators = [
        a
        for a in session.scalars(select(StaffAccount).order_by(StaffAccount.username))
        if Role.INVESTIGATOR in a.role_set and a.active
    ]
    form = RouteForm(formdata=None)
    form.account.choices = [SelectChoice(str(a.id), a.username) for a in investigators]
    ordered = in_order(session)
    words_forms = {}
    for category in ordered:
        if words_form is not None and words_form[0] == category.slug:
            words_forms[category.slug] = words_form[1]
            continue
        shown = CategoryWordsForm(
            formdata=None, data={**words_of(category).as_dict(), "offered": category.active}
        )
        words_forms[category.slug] = shown
    new = new_form or CategoryWordsForm(formdata=None)
    new.parent.choices = _parent_choices(ordered)
    routes = route_form or UnitRouteForm(formdata=None)
    _unit_route_choices(session, routes, ordered, investigators)
    waiting = [
        p
        for p in proposals_service.pending(session)
        if p.category_id is not None or p.kind in _CATEGORY_KINDS or p.unit_id is not None
    ]
    return render_template(
        "staff/admin/categories.html",
        contents={p.id: proposals_service.content_of(p) for p in waiting},
        categories=routing_table(session),
        form=form,
        refused={box: list(messages)} if box else {},
        chosen=request.form.get("account") if box else None,
        action_form=ActionForm(),
        waiting=waiting,
        accounts={a.id: a for a in session.scalars(select(StaffAccount))},
        category_slugs={c.id: c.slug for c in session.scalars(select(Category))},
        new_form=new,
        words_forms=words_forms,
        route_form=routes,
        unit_routes=unit_routing_table(session),
        units={u.id: u for u in session.scalars(select(Unit))},
    )


_CATEGORY_KINDS = frozenset({ProposalKind.CATEGORY_ADD, ProposalKind.CATEGORY_CHANGE})


def _parent_choices(ordered: list[Category]) -> list[SelectChoice]:
    return [SelectChoice("", _("A category of its own (top level)"))] + [
        SelectChoice(str(c.id), _("A sub-category of: %(name)s", name=said(c.slug, "category")))
        for c in ordered
        if c.parent_id is None
    ]


def _unit_route_choices(
    session: Session,
    form: UnitRouteForm,
    ordered: list[Category],
    investigators: list[StaffAccount],
) -> None:
    form.unit.choices = [
        SelectChoice(str(unit.id), path)
        for group in grouped_units(session, active_only=False)
        for unit, path in group.units
    ]
    form.category.choices = [SelectChoice("", _("Every category"))] + [
        SelectChoice(str(c.id), said(c.slug, "category")) for c in ordered
    ]
    form.account.choices = [SelectChoice(str(a.id), a.username) for a in investigators]


def _typed_words(form: CategoryWordsForm) -> dict[str, str]:
    return {name: form[name].data or "" for name in WORD_FIELDS}


def _words_refused(form: CategoryWordsForm, exc: ServiceError) -> None:
    target = form[exc.field] if exc.field in form else form.label_id
    target.errors = [message(exc)]


@bp.post("/admin/categories/new")
@requires(Policy.ADMIN)
def admin_propose_category() -> ResponseReturnValue:
    """Propose a new category or sub-category: a second admin approves it on the
    proposals page, where its words are shown as they will be."""
    form = CategoryWordsForm()
    with transaction() as reading:
        form.parent.choices = _parent_choices(in_order(reading))
    if not form.validate_on_submit():
        return _categories_page(new_form=form), 400
    if not form.parent.data and (taken := _statutory_label(form)) is not None:
        _words_refused(form, taken)
        return _categories_page(new_form=form), 400
    try:
        with transaction(write=True) as writing:
            proposals_service.propose_category(
                writing,
                _typed_words(form),
                form.parent.data or None,
                _actor(),
                active=bool(form.offered.data),
            )
    except ServiceError as exc:
        _words_refused(form, exc)
        return _categories_page(new_form=form), 400
    return redirect(url_for("staff.admin_categories", _anchor="waiting"), code=303)


def _statutory_label(form: CategoryWordsForm) -> ServiceError | None:
    """A new top-level category worded like a statutory one, whose words live in the
    catalogue, not in its row (so the service cannot compare them): refused here."""
    for field, language in (("label_id", "id"), ("label_en", "en")):
        typed = form[field].data or ""
        with force_locale(language):
            words = [str(label) for label in CATEGORY_LABELS.values()]
        if any(same_words(typed, word) for word in words):
            return ServiceError(Reason.CATEGORY_LABEL_TAKEN, field, label=typed.strip())
    return None


@bp.post("/admin/categories/<slug>/words")
@requires(Policy.ADMIN)
def admin_propose_category_change(slug: str) -> ResponseReturnValue:
    """Propose new words for a category, or to offer it to reporters or not."""
    form = CategoryWordsForm()
    form.parent.choices = [SelectChoice("", "")]
    if not form.validate_on_submit():
        return _categories_page(words_form=(slug, form)), 400
    try:
        with transaction(write=True) as writing:
            proposals_service.propose_category_change(
                writing,
                _category(writing, slug),
                _typed_words(form),
                bool(form.offered.data),
                _actor(),
            )
    except ServiceError as exc:
        _words_refused(form, exc)
        return _categories_page(words_form=(slug, form)), 400
    return redirect(url_for("staff.admin_categories", _anchor="waiting"), code=303)


@bp.post("/admin/categories/unit-routes")
@requires(Policy.ADMIN)
def admin_propose_unit_route() -> ResponseReturnValue:
    """Propose routing by unit (every category, or one), or its end: pins the
    investigator's key fingerprint, as every routing proposal."""
    form = UnitRouteForm()
    with transaction() as reading:
        investigators = [
            a
            for a in reading.scalars(select(StaffAccount).order_by(StaffAccount.username))
            if Role.INVESTIGATOR in a.role_set and a.active
        ]
        _unit_route_choices(reading, form, in_order(reading), investigators)
    if not form.validate_on_submit():
        if {"csrf_token", "change"} & set(form.errors):
            abort(400)
        return _categories_page(route_form=form), 400

    def propose(writing: Session) -> Proposal:
        unit = unit_by_id(writing, form.unit.data)
        category = category_by_id(writing, form.category.data) if form.category.data else None
        account = _account(writing, uuid.UUID(form.account.data))
        return proposals_service.propose_route(
            writing, category, account, form.change.data == "add", _actor(), unit
        )

    try:
        with transaction(write=True) as writing:
            propose(writing)
    except ServiceError as exc:
        form.confirm.errors = [message(exc)]
        return _categories_page(route_form=form), 409
    return redirect(url_for("staff.admin_categories", _anchor="waiting"), code=303)


def _category(session: Session, slug: str) -> Category:
    try:
        return category_by_slug(session, slug)
    except ServiceError:
        abort(404)


@bp.post("/admin/categories/<slug>/routes")
@requires(Policy.ADMIN)
def admin_propose_route(slug: str) -> Response:
    add = request.form.get("change", "add") == "add"
    box = f"{'add' if add else 'remove'}-confirm-{slug}"

    def page(messages: list[str]) -> str:
        return _categories_page(box, messages)

    _checked_form(ConfirmForm, page)  # the account and change are checked by the service
    try:
        account_id = uuid.UUID(request.form.get("account", ""))
    except ValueError:
        abort(400)
    _change(
        lambda writing: proposals_service.propose_route(
            writing, _category(writing, slug), _account(writing, account_id), add, _actor()
        ),
        page,
    )
    return redirect(url_for("staff.admin_categories"), code=303)


def _audit_key() -> bytes | None:
    """The instance's audit public key as this host knows it (never the database's)."""
    known = signing_public_key_hex()
    return bytes.fromhex(known) if known else None


@bp.get("/admin/recipients")
@requires(Policy.ADMIN)
def admin_recipients() -> str:
    return _recipients_page(RecipientForm())


def _recipients_page(
    form: RecipientForm,
    refused: dict[str, list[str]] | None = None,
    offer: tuple[uuid.UUID, RecipientOfferForm] | None = None,
) -> str:
    """Export recipients: those offered on the export form, those waiting for a second
    admin, and the form to propose one. Public keys and names only; a row changed in the
    database is shown as failing its check (it is off the export form) and can still be
    proposed for removal. ``refused``: a refusal's messages at the top of the page
    (``{TOP: [...]}``) or beside a recipient's offer form (``{"offer-<id>": [...]}``);
    ``offer``: that recipient's offer form as it was sent (issue 20), kept as typed."""
    session = db_session()
    rows = in_use(session)  # registered, and proposed
    key = _audit_key()
    offers = {
        r.id: RecipientOfferForm(
            formdata=None,
            offered_to_reporters=r.offered_to_reporters,
            reporter_channel=r.reporter_channel or "",
        )
        for r in rows
    }
    if offer is not None:
        offers[offer[0]] = offer[1]
    refused = dict(refused or {})
    shown = {f"offer-{r.id}" for r in rows if r.state == RecipientState.ACTIVE}
    for box in [b for b in refused if b != TOP and b not in shown]:  # the row is gone
        refused[TOP] = refused.get(TOP, []) + refused.pop(box)
    return render_template(
        "staff/admin/recipients.html",
        recipients=sorted(
            (r for r in rows if r.state == RecipientState.ACTIVE), key=lambda r: r.name
        ),
        waiting=[p for p in proposals_service.pending(session) if p.recipient_id is not None],
        rows={r.id: r for r in rows},
        fingerprints={r.id: recipient_fingerprint(r.recipient) for r in rows},
        altered={r.id for r in rows if not intact(r.recipient)},
        # offered, but not shown to reporters: its offer's signature does not check (a
        # host that knows no audit public key cannot tell, and says nothing)
        unsigned=set()
        if key is None
        else {r.id for r in rows if r.offered_to_reporters and not offer_checks(r, key)},
        names=_names(session),
        form=form,
        action_form=ActionForm(),
        offers=offers,
        contents={
            p.id: proposals_service.content_of(p) for p in proposals_service.pending(session)
        },
        refused=refused,
    )


@bp.post("/admin/recipients")
@requires(Policy.ADMIN)
def admin_propose_recipient() -> ResponseReturnValue:
    """Propose registering an export recipient: a second admin approves it on the
    proposals page, after comparing its fingerprint with the key's holder."""
    form = RecipientForm()
    if not form.validate_on_submit():
        return _recipients_page(form), 400
    try:
        with transaction(write=True) as writing:
            proposals_service.propose_recipient(
                writing,
                entered(form.name),
                entered(form.recipient),
                _actor(),
                offered_to_reporters=bool(form.offered_to_reporters.data),
                reporter_channel=form.reporter_channel.data or "",
            )
    except ServiceError as exc:
        target = form[exc.field] if exc.field in form else form.recipient
        target.errors = [message(exc)]
        return _recipients_page(form), 400
    return redirect(url_for("staff.admin_recipients"), code=303)


@bp.post("/admin/recipients/<uuid:recipient_id>/remove")
@requires(Policy.ADMIN)
def admin_propose_recipient_removal(recipient_id: uuid.UUID) -> Response:
    if not ActionForm().validate_on_submit():
        abort(400)

    def page(messages: list[str]) -> str:
        return _recipients_page(RecipientForm(formdata=None), {TOP: messages})

    _change(
        lambda writing: proposals_service.propose_recipient_removal(
            writing, recipient_id, _actor()
        ),
        page,
    )
    return redirect(url_for("staff.admin_recipients"), code=303)


@bp.post("/admin/recipients/<uuid:recipient_id>/offer")
@requires(Policy.ADMIN)
def admin_propose_recipient_offer(recipient_id: uuid.UUID) -> Response:
    """Propose to offer a registered recipient to reporters, with the agency's upload
    address, or to stop (issue 20): a second admin approves it on the proposals page. A
    refusal comes back beside the row's form, with what was typed."""
    form = RecipientOfferForm()
    box = f"offer-{recipient_id}"

    def page(messages: list[str]) -> str:
        return _recipients_page(RecipientForm(formdata=None), {box: messages}, (recipient_id, form))

    if not form.validate_on_submit():
        _again(page, [m for errors in form.errors.values() for m in errors], 400)
    _change(
        lambda writing: proposals_service.propose_recipient_offer(
            writing,
            recipient_id,
            bool(form.offered_to_reporters.data),
            form.reporter_channel.data or "",
            _actor(),
            audit_key=_audit_key(),
        ),
        page,
    )
    return redirect(url_for("staff.admin_recipients"), code=303)
