"""The reporter portal (pelapor): exposed to Tor and the internet; works without JavaScript."""

from flask import Blueprint

bp = Blueprint("reporter", __name__)

from sipadu.reporter import views  # noqa: E402, F401 — routes register on import
