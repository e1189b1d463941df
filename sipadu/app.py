"""The application factory: one package, two WSGI applications that share nothing at
run time — no cookie name, no session key, no route."""

import logging
from enum import StrEnum

from flask import Flask, abort, request
from flask_wtf.csrf import CSRFProtect

from sipadu.accountability import recovery
from sipadu.persistence.counters import make_counters
from sipadu.services.passphrases import configure_instance_words
from sipadu.settings.config import Config, from_environ
from sipadu.settings.instance import derived_key, generate_missing, load_secret
from sipadu.web import errors
from sipadu.web.context import init_db, init_downloads
from sipadu.web.formdata import FORM_TYPES, FormRequest, mark_worth_draining
from sipadu.web.i18n import init_i18n
from sipadu.web.logs import keep_requests_out_of_logs
from sipadu.web.security import Anonymizer, harden_process, install_headers


class Portal(StrEnum):
    REPORTER = "reporter"
    STAFF = "staff"


def create_app(portal: str = "reporter", config: Config | None = None) -> Flask:
    portal = Portal(portal)
    config = config or from_environ()
    harden_process()
    configure_instance_words(config.instance_words)
    if not config.production:
        generate_missing(config)
        recovery.make_demo_key(config)

    app = Flask(__name__, instance_path=str(config.instance_path))
    app.request_class = FormRequest  # form bodies read token first, in bounded memory
    app.after_request(mark_worth_draining)
    app.config.update(
        SECRET_KEY=cookie_key(config, portal),
        SESSION_COOKIE_NAME=_cookie_name(portal, config),
        SESSION_COOKIE_SECURE=config.production,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Strict",
        SESSION_COOKIE_PATH="/",
        MAX_CONTENT_LENGTH=config.max_request_bytes,
        # Referrer-Policy: no-referrer means no Referer to check; SameSite=Strict and
        # the token protect instead. No time limit: a reporter may take hours to write.
        WTF_CSRF_SSL_STRICT=False,
        WTF_CSRF_TIME_LIMIT=None,
        SIPADU_PORTAL=portal.value,
    )
    app.extensions["sipadu.config"] = config
    init_db(app, config)
    init_downloads(app, config)
    init_i18n(app)
    CSRFProtect(app)
    install_headers(app, production=config.production, scripts=portal is Portal.REPORTER)
    app.extensions["sipadu.counters"] = make_counters(config, prefix=portal.value)
    errors.register(app)
    app.before_request(_refuse_malformed_input)
    # Every case, internal and identity key is also wrapped to the recovery key: without
    # one configured, production does not start (on either portal).
    recovery.public_key(config)
    if portal is Portal.REPORTER:
        from sipadu.reporter import init_reporter

        init_reporter(app, config)
        app.wsgi_app = Anonymizer(app.wsgi_app)  # type: ignore[method-assign]
    else:
        from sipadu.investigator import init_staff

        init_staff(app, config)
    # Werkzeug's development server logs every request with the client address.
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    # Flask's own error lines name the path, and exceptions quote request values.
    keep_requests_out_of_logs()
    return app


def _refuse_malformed_input() -> None:
    """Input no form of ours sends is a forged or broken request: 400. A body that is
    not a form (it would never be read, but a form class could try to read it whole as
    JSON), and a NUL character (PostgreSQL refuses it in text, and no person types one).
    File parts a route does not take are refused while the body is read
    (:mod:`sipadu.web.formdata`)."""
    values = [*request.args.values(), *request.args.keys()]
    values += [v for v in (request.view_args or {}).values() if isinstance(v, str)]
    if request.method == "POST":
        if request.mimetype not in FORM_TYPES and (request.mimetype or request.content_length):
            abort(400)
        values += [*request.form.values(), *request.form.keys()]
    if any("\x00" in value for value in values):
        abort(400)


COOKIE_LABEL = "sipadu.{portal}.cookie.v1"  # the info of each portal's cookie key


def cookie_key(config: Config, portal: Portal) -> bytes:
    """Flask's key for this portal's cookies (and CSRF tokens): derived from the portal's
    session key under a label of its own, apart from the rate-limit buckets' key."""
    secret = load_secret(config, f"{portal.value}_session_key")
    return derived_key(secret, COOKIE_LABEL.format(portal=portal.value))


def _cookie_name(portal: Portal, config: Config) -> str:
    # __Host- makes the browser refuse the cookie unless Secure, host-only and Path=/.
    name = f"sipadu_{portal.value}"
    return f"__Host-{name}" if config.production else name
