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
from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.wrappers import Response

from sipadu.accountability.audit import Actor
from sipadu.investigator.blueprint import bp, now, runtime
from sipadu.investigator.forms import (
    NOT_A_REPORT_ID,
    NOT_CONFIRMED,
    ROLE_CHOICES,
    AcceptingForm,
    ActionForm,
    ConfirmForm,
    CreateAccountForm,
    HoldForm,
    MayGrantForm,
    RecipientForm,
    RoleForm,
    RouteForm,
    SelectChoice,
    entered,
    not_confirmed,
)
from sipadu.investigator.policy import Policy, requires
from sipadu.investigator.words import ACTOR_WORDS
from sipadu.persistence.models import (
    AccountState,
    Category,
    CoiMember,
    ExportRecipient,
    Proposal,
    ProposalState,
    RecipientState,
    Report,
    Role,
    StaffAccount,
)
from sipadu.services import ServiceError
from sipadu.services import proposals as proposals_service
from sipadu.services import staff as staff_service
from sipadu.services.categories import category_by_slug, routing_table, set_accepting
from sipadu.services.export_recipients import display_fingerprint as recipient_fingerprint
from sipadu.services.export_recipients import in_use, intact
from sipadu.services.key_ring import display_fingerprint
from sipadu.services.proposals import SENSITIVE_ROLES
from sipadu.web.context import db_session, transaction
from sipadu.web.forms import BoundedForm
from sipadu.web.refusal_messages import message


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
            writing, proposal_id, _actor(), now(), link_ttl=runtime().link_ttl
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


def _categories_page(box: str = "", messages: tuple[str, ...] | list[str] = ()) -> str:
    """The categories page; after a refusal, ``messages`` beside the box ``box``, and
    the investigator that was chosen there still chosen."""
    session = db_session()
    investigators = [
        a
        for a in session.scalars(select(StaffAccount).order_by(StaffAccount.username))
        if Role.INVESTIGATOR in a.role_set and a.active
    ]
    form = RouteForm(formdata=None)
    form.account.choices = [SelectChoice(str(a.id), a.username) for a in investigators]
    return render_template(
        "staff/admin/categories.html",
        categories=routing_table(session),
        form=form,
        refused={box: list(messages)} if box else {},
        chosen=request.form.get("account") if box else None,
        action_form=ActionForm(),
        waiting=[p for p in proposals_service.pending(session) if p.category_id is not None],
        accounts={a.id: a for a in session.scalars(select(StaffAccount))},
        category_slugs={c.id: c.slug for c in session.scalars(select(Category))},
    )


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


@bp.post("/admin/categories/<slug>/active")
@requires(Policy.ADMIN)
def admin_category_active(slug: str) -> Response:
    """Stop (or resume) accepting reports in a category: at once, audited."""
    box = f"accepting-confirm-{slug}"

    def page(messages: list[str]) -> str:
        return _categories_page(box, messages)

    accepting = _checked_form(AcceptingForm, page).accepting.data == "yes"
    _change(
        lambda writing: set_accepting(writing, _category(writing, slug), accepting, _actor()),
        page,
    )
    return redirect(url_for("staff.admin_categories"), code=303)


@bp.get("/admin/recipients")
@requires(Policy.ADMIN)
def admin_recipients() -> str:
    return _recipients_page(RecipientForm())


def _recipients_page(form: RecipientForm, refused: dict[str, list[str]] | None = None) -> str:
    """Export recipients: those offered on the export form, those waiting for a second
    admin, and the form to propose one. Public keys and names only; a row changed in the
    database is shown as failing its check (it is off the export form) and can still be
    proposed for removal. ``refused``: a refusal's messages at the top of the page
    (``{TOP: [...]}``)."""
    session = db_session()
    rows = in_use(session)  # registered, and proposed
    return render_template(
        "staff/admin/recipients.html",
        recipients=sorted(
            (r for r in rows if r.state == RecipientState.ACTIVE), key=lambda r: r.name
        ),
        waiting=[p for p in proposals_service.pending(session) if p.recipient_id is not None],
        rows={r.id: r for r in rows},
        fingerprints={r.id: recipient_fingerprint(r.recipient) for r in rows},
        altered={r.id for r in rows if not intact(r.recipient)},
        names=_names(session),
        form=form,
        action_form=ActionForm(),
        refused=refused or {},
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
                writing, entered(form.name), entered(form.recipient), _actor()
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
