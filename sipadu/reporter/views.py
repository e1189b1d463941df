"""Reporter routes."""

from flask import render_template

from sipadu.reporter import bp


@bp.get("/")
def index():
    """Safety guidance before anything else: how to report without being identified."""
    return render_template("reporter/index.html")
