"""The reporter portal (pelapor): exposed to Tor and the internet; works without JavaScript.

This package only registers: the blueprint and runtime (:mod:`.blueprint`) and the views,
which import that leaf module and never this package.
"""

from flask import Flask

from sipadu.reporter import mailbox, passphrase, refused, transparency, views  # noqa: F401 — routes register on import
from sipadu.reporter.blueprint import bp, make_runtime, onion_location, runtime
from sipadu.reporter.sessions import keep_alive
from sipadu.settings.config import Config
from sipadu.web.derivations import Derivations
from sipadu.web.uploads import KeepAlive, init_uploads

# While files arrive, a signed-in reporter's mailbox session is kept alive this often (or
# every third of the idle limit, if shorter): an upload longer than the idle limit (45 MB
# at 50 KiB/s is 15 minutes) must not end it.
KEEP_ALIVE_SECONDS = 30


def init_reporter(app: Flask, config: Config) -> None:
    app.extensions["sipadu.reporter"] = make_runtime(config)
    app.extensions["sipadu.derivations"] = Derivations.for_portal(config, "reporter")
    every = min(KEEP_ALIVE_SECONDS, config.mailbox_idle_seconds / 3)
    init_uploads(app, config, KeepAlive(_keep_alive, every))
    # The mailbox session's idle clock stops while a request is in flight: renewed when
    # the request starts — first of all, before Flask-WTF's check reads the body, which
    # may take a while — and again when it ends (sipadu.reporter.sessions.keep_alive).
    app.before_request_funcs.setdefault(None, []).insert(0, _keep_alive)
    app.teardown_request(_keep_alive_after)
    if config.onion_address:
        app.after_request(onion_location(config.onion_address))
    app.register_blueprint(bp)


def _keep_alive() -> None:
    rt = runtime()
    keep_alive(rt.sessions, rt.idle_seconds)


def _keep_alive_after(_exc: BaseException | None) -> None:
    _keep_alive()
