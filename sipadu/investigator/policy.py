"""Who may open which staff page: one table, one check (DESIGN.md §1).

Every staff route names its policy with :func:`requires`; :func:`enforce` runs before
every request of the blueprint and refuses what the policy does not allow. A route that
names no policy is refused to everybody (and the authorization-matrix test fails), so
forgetting the decorator can never open a page.
"""

from collections.abc import Callable
from enum import StrEnum
from typing import TypeVar

from flask import abort, current_app, g, redirect, request, url_for
from werkzeug.wrappers import Response

from sipadu.persistence.models import Role

F = TypeVar("F", bound=Callable)


class Policy(StrEnum):
    PUBLIC = "public"  # sign-in, enrollment links: nobody signed in yet
    SIGNED_IN = "signed_in"  # any active staff member
    ADMIN = "admin"
    AUDITOR = "auditor"
    INVESTIGATOR = "investigator"
    CUSTODIAN = "custodian"
    ROUTING = "routing"  # who receives which category: investigators, auditors, admins
    INTAKE = "intake"  # the ceiling on new reports and its daily counts: admins, auditors
    OPERATOR = "operator"  # the intake form at a counter: intake operators only
    STATISTICS = "statistics"  # compliance statistics (issue 19): auditors, custodians


ALLOWED: dict[Policy, frozenset[Role] | None] = {
    Policy.PUBLIC: None,
    Policy.SIGNED_IN: frozenset(Role),
    Policy.ADMIN: frozenset({Role.ADMIN}),
    Policy.AUDITOR: frozenset({Role.AUDITOR}),
    Policy.INVESTIGATOR: frozenset({Role.INVESTIGATOR}),
    Policy.CUSTODIAN: frozenset({Role.CUSTODIAN}),
    Policy.ROUTING: frozenset({Role.INVESTIGATOR, Role.AUDITOR, Role.ADMIN}),
    Policy.INTAKE: frozenset({Role.AUDITOR, Role.ADMIN}),
    Policy.OPERATOR: frozenset({Role.OPERATOR}),
    Policy.STATISTICS: frozenset({Role.AUDITOR, Role.CUSTODIAN}),
}

_ATTRIBUTE = "sipadu_policy"


def requires(policy: Policy) -> Callable[[F], F]:
    def mark(view: F) -> F:
        setattr(view, _ATTRIBUTE, policy)
        return view

    return mark


def policy_of(view: Callable) -> Policy | None:
    return getattr(view, _ATTRIBUTE, None)


def enforce() -> Response | None:
    """Refuse the request unless the signed-in staff member's roles satisfy the route's
    policy. Not signed in: to the sign-in page. Signed in without the role: 403."""
    view = current_app.view_functions.get(request.endpoint or "")
    if view is None:
        return None  # no route matched: Flask answers 404 / 405 itself
    policy = policy_of(view)
    if policy is None:
        abort(403)
    allowed = ALLOWED[policy]
    if allowed is None:
        return None
    if g.get("staff") is None:
        return redirect(url_for("staff.login"), code=303)
    if not allowed & g.staff.account.role_set:
        abort(403)
    return None
