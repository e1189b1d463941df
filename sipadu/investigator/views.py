"""Staff routes."""

from flask import render_template

from sipadu.investigator import bp


@bp.get("/")
def index():
    return render_template("staff/index.html")
