"""The admin page of the conflict-of-interest team (coi, issue 18, item 3; ISO 37002
§8.4.1): who receives reports that concern the Inspectorate's own staff, with each
key's fingerprint, and the forms that propose a change (a second admin approves it on
the proposals page, under the two-person rule)."""

import uuid

from flask import abort, redirect, render_template, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy import select
from werkzeug.wrappers import Response

from sipadu.investigator.admin import TOP, _actor, _change, _names
from sipadu.investigator.blueprint import bp
from sipadu.investigator.forms import (
    ActionForm,
    CoiExternalForm,
    CoiStaffForm,
    SelectChoice,
    entered,
)
from sipadu.investigator.policy import Policy, requires
from sipadu.persistence.models import CoiMemberKind, Role, StaffAccount
from sipadu.services import ServiceError
from sipadu.services import proposals as proposals_service
from sipadu.services.conflict_of_interest import group_status, members
from sipadu.web.context import db_session, transaction
from sipadu.web.refusal_messages import message

_ROLES = {CoiMemberKind.INVESTIGATOR: Role.INVESTIGATOR, CoiMemberKind.CUSTODIAN: Role.CUSTODIAN}


def _staff_form(form: CoiStaffForm | None = None) -> CoiStaffForm:
    """The staff form with every active investigator or custodian to choose from."""
    form = form or CoiStaffForm(formdata=None)
    accounts = [
        a
        for a in db_session().scalars(select(StaffAccount).order_by(StaffAccount.username))
        if a.active and a.role_set & set(_ROLES.values())
    ]
    form.account.choices = [SelectChoice(str(a.id), a.username) for a in accounts]
    return form


def _page(
    staff_form: CoiStaffForm | None = None,
    external_form: CoiExternalForm | None = None,
    refused: dict[str, list[str]] | None = None,
) -> str:
    session = db_session()
    return render_template(
        "staff/admin/conflict.html",
        members=members(session),
        status=group_status(session),
        waiting=[p for p in proposals_service.pending(session) if p.coi_member_id is not None],
        names=_names(session),
        staff_form=_staff_form(staff_form),
        external_form=external_form or CoiExternalForm(formdata=None),
        action_form=ActionForm(),
        refused=refused or {},
    )


@bp.get("/admin/conflict-of-interest")
@requires(Policy.ADMIN)
def admin_conflict() -> str:
    return _page()


@bp.post("/admin/conflict-of-interest/staff")
@requires(Policy.ADMIN)
def admin_propose_coi_staff() -> ResponseReturnValue:
    """Propose a staff member as the team's investigator or custodian."""
    form = _staff_form(CoiStaffForm())
    if not form.validate_on_submit():
        return _page(staff_form=form), 400
    try:
        with transaction(write=True) as writing:
            account = writing.get_one(StaffAccount, uuid.UUID(form.account.data or ""))
            kind = CoiMemberKind(form.kind.data)
            proposals_service.propose_coi_staff(writing, account, kind, _actor())
    except ServiceError as exc:
        form.account.errors = [message(exc)]
        return _page(staff_form=form), 400
    return redirect(url_for("staff.admin_conflict"), code=303)


@bp.post("/admin/conflict-of-interest/external")
@requires(Policy.ADMIN)
def admin_propose_coi_external() -> ResponseReturnValue:
    """Propose an outside keyholder by its age public key (``age1…``)."""
    form = CoiExternalForm()
    if not form.validate_on_submit():
        return _page(external_form=form), 400
    try:
        with transaction(write=True) as writing:
            proposals_service.propose_coi_external(
                writing, entered(form.name), entered(form.recipient), _actor()
            )
    except ServiceError as exc:
        target = form[exc.field] if exc.field in form else form.recipient
        target.errors = [message(exc)]
        return _page(external_form=form), 400
    return redirect(url_for("staff.admin_conflict"), code=303)


@bp.post("/admin/conflict-of-interest/<uuid:member_id>/remove")
@requires(Policy.ADMIN)
def admin_propose_coi_removal(member_id: uuid.UUID) -> Response:
    if not ActionForm().validate_on_submit():
        abort(400)

    def page(messages: list[str]) -> str:
        return _page(refused={TOP: messages})

    _change(
        lambda writing: proposals_service.propose_coi_removal(writing, member_id, _actor()),
        page,
    )
    return redirect(url_for("staff.admin_conflict"), code=303)
