"""The staff portal: investigators, custodians, admins, auditors. Internal network only."""

from flask import Blueprint

bp = Blueprint("staff", __name__)

from sipadu.investigator import views  # noqa: E402, F401 — routes register on import
