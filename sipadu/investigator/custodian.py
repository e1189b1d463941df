"""The custodian's page: identity requests, each with the investigator's reason, to
approve (the identity key is wrapped to that investigator) or refuse."""

import uuid

from flask import abort, g, redirect, render_template, url_for
from flask.typing import ResponseReturnValue

from sipadu.investigator.blueprint import bp, now
from sipadu.investigator.forms import NOT_CONFIRMED, ActionForm, ConfirmForm, not_confirmed
from sipadu.investigator.policy import Policy, requires
from sipadu.persistence.models import StaffAccount
from sipadu.services import ServiceError
from sipadu.services.grants import decide_identity, pending_requests
from sipadu.web.context import transaction
from sipadu.web.refusal_messages import message


@bp.get("/identity-requests")
@requires(Policy.CUSTODIAN)
def identity_requests() -> str:
    return _requests_page({})


def _requests_page(refused: dict[str, list[str]]) -> str:
    """The requests waiting; ``refused``: a box's id → the messages shown beside it."""
    with transaction(write=True) as writing:  # each reason's read recorded before it shows
        waiting = pending_requests(writing, g.staff.account, g.staff.private_key())
    return render_template(
        "staff/custodian/requests.html",
        waiting=waiting,
        form=ActionForm(),
        me=g.staff.account.id,
        refused=refused,
    )


@bp.post("/identity-requests/<uuid:request_id>/<any(approve, refuse):decision>")
@requires(Policy.CUSTODIAN)
def identity_decide(request_id: uuid.UUID, decision: str) -> ResponseReturnValue:
    """Approve or refuse a request. Without the tick, or refused by the service, the
    requests come back with the reason beside that request's box (400, 409)."""
    form = ConfirmForm()
    box = f"decide-{request_id}"
    if not form.validate_on_submit():
        if not_confirmed(form):
            return _requests_page({box: [str(NOT_CONFIRMED)]}), 400
        abort(400)
    try:
        with transaction(write=True) as writing:
            # Accounts are never deleted (deactivated at most), so the signed-in one is
            # there; get_one raises (a 500) if it ever is not, as before.
            custodian = writing.get_one(StaffAccount, g.staff.account.id)
            decide_identity(
                writing, request_id, custodian, g.staff.private_key(), decision == "approve", now()
            )
    except ServiceError as exc:
        # At the top: the request may no longer be waiting, its box gone.
        return _requests_page({"": [message(exc)]}), 409
    return redirect(url_for("staff.identity_requests"), code=303)
