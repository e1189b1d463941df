"""The staff home page (a dashboard per role), the routing overview and the ceiling on
new reports."""

from flask import g, render_template

from sipadu.investigator.blueprint import bp, now, signing_public_key_hex
from sipadu.investigator.forms import DEADLINE_LABELS
from sipadu.investigator.notify import home_digest
from sipadu.investigator.policy import Policy, requires
from sipadu.persistence.models import Role
from sipadu.services.audit_log import intake_days
from sipadu.services.categories import routing_table, unit_routing_table
from sipadu.services.conflict_of_interest import group_status, members
from sipadu.services.dashboard import (
    case_counts,
    chain_state,
    identity_requests_waiting,
    proposals_waiting,
)
from sipadu.services.dates import today
from sipadu.web.context import app_config, db_session, transaction


@bp.get("/")
@requires(Policy.PUBLIC)
def index() -> str:
    """Signed out: what this portal is. Signed in: for each of your roles, what waits
    (counts linking to the filtered pages) and where it works (issue 17, item 2)."""
    if g.staff is None:
        return render_template("staff/index.html")
    account = g.staff.account
    roles = account.role_set
    with transaction() as reading:  # counts only: nothing is shown that needs recording
        cases = (
            case_counts(reading, account.id, g.staff.private_key(), today())
            if Role.INVESTIGATOR in roles
            else None
        )
        requests = (
            identity_requests_waiting(reading, account.id) if Role.CUSTODIAN in roles else None
        )
        proposals = proposals_waiting(reading) if Role.ADMIN in roles else None
        coi = group_status(reading) if Role.ADMIN in roles else None  # coi (issue 18)
        chain = chain_state(reading, signing_public_key_hex()) if Role.AUDITOR in roles else None
        digest = home_digest(reading, account)  # issue 19: when it is not mailed
    return render_template(
        "staff/home.html",
        roles=roles,
        cases=cases,
        due_labels=DEADLINE_LABELS,
        requests=requests,
        proposals=proposals,
        coi=coi,
        chain=chain,
        digest=digest,
        now=now(),
    )


@bp.get("/routing")
@requires(Policy.ROUTING)
def routing() -> str:
    """Who new reports in each category are encrypted to, with key fingerprints: every
    investigator and auditor can check that nobody unexpected receives reports (G3)."""
    session = db_session()
    return render_template(
        "staff/routing.html",
        categories=routing_table(session),
        unit_routes=unit_routing_table(session),
        coi_members=members(session),
    )


@bp.get("/intake")
@requires(Policy.INTAKE)
def intake() -> str:
    """The ceiling on new reports per hour and, per day, how many were received and how
    many refused because it was reached: for admins to judge the setting, for auditors
    to see when reporters were turned away. Day counts only (G2)."""
    return render_template(
        "staff/intake.html",
        per_hour=app_config().reports_per_hour,
        days=intake_days(db_session(), 90, today(), app_config().date_precision),
        precision=app_config().date_precision.value,
    )
