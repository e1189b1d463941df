"""The staff landing page and the routing overview."""

from flask import g, render_template

from sipadu.investigator import bp
from sipadu.investigator.policy import Policy, requires
from sipadu.services.categories import routing_table
from sipadu.web import db_session


@bp.get("/")
@requires(Policy.PUBLIC)
def index():
    """Signed out: what this portal is. Signed in: where each of your roles works."""
    if g.staff is None:
        return render_template("staff/index.html")
    return render_template("staff/home.html", roles=g.staff.account.role_set)


@bp.get("/routing")
@requires(Policy.ROUTING)
def routing():
    """Who new reports in each category are encrypted to, with key fingerprints: every
    investigator and auditor can check that nobody unexpected receives reports (G3)."""
    return render_template("staff/routing.html", categories=routing_table(db_session()))
