"""The reporter portal (pelapor): exposed to Tor and the internet; works without JavaScript.

This package only registers: the blueprint and runtime (:mod:`.blueprint`) and the views,
which import that leaf module and never this package.
"""

from flask import Flask

from sipadu.reporter import mailbox, views  # noqa: F401 — routes register on import
from sipadu.reporter.blueprint import bp, make_runtime, onion_location
from sipadu.reporter.uploads import init_uploads
from sipadu.settings.config import Config
from sipadu.web.derivations import Derivations


def init_reporter(app: Flask, config: Config) -> None:
    app.extensions["sipadu.reporter"] = make_runtime(config)
    app.extensions["sipadu.derivations"] = Derivations.for_portal(config, "reporter")
    init_uploads(app, config)
    if config.onion_address:
        app.after_request(onion_location(config.onion_address))
    app.register_blueprint(bp)
