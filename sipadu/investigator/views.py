"""The staff landing page, the routing overview and the ceiling on new reports."""

from flask import g, render_template

from sipadu.investigator.blueprint import bp
from sipadu.investigator.policy import Policy, requires
from sipadu.services.audit_log import intake_days
from sipadu.services.categories import routing_table
from sipadu.services.dates import today
from sipadu.web.context import app_config, db_session


@bp.get("/")
@requires(Policy.PUBLIC)
def index() -> str:
    """Signed out: what this portal is. Signed in: where each of your roles works."""
    if g.staff is None:
        return render_template("staff/index.html")
    return render_template("staff/home.html", roles=g.staff.account.role_set)


@bp.get("/routing")
@requires(Policy.ROUTING)
def routing() -> str:
    """Who new reports in each category are encrypted to, with key fingerprints: every
    investigator and auditor can check that nobody unexpected receives reports (G3)."""
    return render_template("staff/routing.html", categories=routing_table(db_session()))


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
