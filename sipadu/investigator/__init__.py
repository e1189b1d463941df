"""The staff portal: investigators, custodians, admins, auditors. Internal network only.

This package only registers: the blueprint and runtime (:mod:`.blueprint`), who is
signed in (:mod:`.signin`), the policy of every route (:mod:`.policy`) and the views,
which import those leaf modules and never this package. Before every request the
signed-in staff member (if any) is loaded from the server-side session row, then the
route's declared policy is enforced.
"""

from flask import Flask

from sipadu.investigator import (  # noqa: F401
    admin,
    auditor,
    auth,
    cases,
    conflict,
    custodian,
    intake_form,
    notify,
    statistics,
    units,
    views,
)
from sipadu.investigator.blueprint import bp, make_runtime
from sipadu.investigator.filters import plain_links
from sipadu.investigator.policy import enforce
from sipadu.investigator.signin import load_signed_in
from sipadu.investigator.words import entry_role_said, roles_said, said, verdict_said, when_said
from sipadu.settings.config import Config
from sipadu.web.derivations import Derivations
from sipadu.web.uploads import init_uploads

bp.before_request(load_signed_in)  # first: the policy needs to know who it is
bp.before_request(enforce)


def init_staff(app: Flask, config: Config) -> None:
    app.extensions["sipadu.staff"] = make_runtime(config)
    app.extensions["sipadu.derivations"] = Derivations.for_portal(config, "staff")
    init_uploads(app, config)  # files to the reporter (investigator/cases.py)
    app.register_blueprint(bp)
    app.add_template_filter(plain_links, "plain_links")
    app.add_template_filter(said, "said")  # internal values in words: never on a page
    app.add_template_filter(roles_said, "roles_said")
    app.add_template_filter(entry_role_said, "entry_role")
    app.add_template_filter(verdict_said, "verdict_said")
    app.add_template_filter(when_said, "when")
