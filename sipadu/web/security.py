"""HTTP hardening shared by both portals (DESIGN.md §8) and the reporter's anonymizer.

What an attacker could do if a line here changed: a missing CSP or ``frame-ancestors``
lets an injected resource or a framing page act in the reporter's browser; a cached
page shows a report to the next user of a shared computer; a kept client address ends
up in a log or a traceback and identifies a reporter.
"""

import os
import resource
from collections.abc import Iterable
from typing import TYPE_CHECKING

from flask import Flask, Response, request

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

# Only these request headers reach the reporter app. An allow-list, not a deny-list:
# a proxy that invents a new client-address header (X-Real-IP, CF-Connecting-IP,
# True-Client-IP, ...) must not leak it to us. User-Agent and Referer are dropped too.
REPORTER_HEADER_ALLOWLIST = frozenset(
    {
        "HTTP_HOST",
        "HTTP_COOKIE",
        "HTTP_ACCEPT",
        "HTTP_ACCEPT_ENCODING",
        "HTTP_CONNECTION",
        "HTTP_TRANSFER_ENCODING",
        "HTTP_EXPECT",
        "HTTP_ORIGIN",
        "HTTP_CACHE_CONTROL",
        "HTTP_PRAGMA",
        "HTTP_UPGRADE_INSECURE_REQUESTS",
        "HTTP_SEC_FETCH_SITE",
        "HTTP_SEC_FETCH_MODE",
        "HTTP_SEC_FETCH_DEST",
    }
)
_CLIENT_KEYS = ("REMOTE_ADDR", "REMOTE_HOST", "REMOTE_PORT", "REMOTE_USER")


class Anonymizer:
    """WSGI middleware for the reporter app: the client's address, port, user agent,
    referrer and any forwarding header are removed before Flask (or any logger, error
    handler or extension) can see them."""

    def __init__(self, app: "WSGIApplication") -> None:
        self.app = app

    def __call__(
        self, environ: "WSGIEnvironment", start_response: "StartResponse"
    ) -> Iterable[bytes]:
        for key in [k for k in environ if k.startswith("HTTP_")]:
            if key not in REPORTER_HEADER_ALLOWLIST:
                del environ[key]
        for key in _CLIENT_KEYS:
            environ.pop(key, None)
        return self.app(environ, start_response)


# The reporter portal's one optional script (sipadu/static/upload.js: the upload
# progress of issue 16 item 6) and the request it sends. From this origin only, and
# never inline or evaluated: an injected <script> element or handler attribute still
# does not run. What else 'self' could run: only a response of this origin served with
# a JavaScript type (nosniff, below, makes Chromium and Firefox refuse any other type
# as a script); the reporter portal serves none but its static files
# (docs/reporter.md, "Upload progress"). The staff portal has no script at all.
REPORTER_SCRIPT = ["script-src 'self'", "connect-src 'self'"]


def content_security_policy(*, scripts: bool = False) -> str:
    """The policy of every response; ``scripts`` for the reporter portal."""
    return "; ".join(
        [
            "default-src 'none'",
            *(REPORTER_SCRIPT if scripts else []),
            "style-src 'self'",
            "img-src 'self'",
            "form-action 'self'",
            "frame-ancestors 'none'",
            "base-uri 'none'",
        ]
    )


def add_security_headers(
    response: Response, *, production: bool, scripts: bool = False
) -> Response:
    headers = response.headers
    headers["Content-Security-Policy"] = content_security_policy(scripts=scripts)
    headers["Referrer-Policy"] = "no-referrer"
    headers["X-Content-Type-Options"] = "nosniff"
    headers["X-Frame-Options"] = "DENY"
    headers["Cross-Origin-Opener-Policy"] = "same-origin"
    headers["Cross-Origin-Resource-Policy"] = "same-origin"
    headers["Permissions-Policy"] = (
        "camera=(), microphone=(), geolocation=(), payment=(), usb=(), interest-cohort=()"
    )
    if production:
        headers["Strict-Transport-Security"] = "max-age=63072000"
    # Static assets carry nothing about anyone; every page might (a case, a code).
    if not request.path.startswith("/static/"):
        headers["Cache-Control"] = "no-store"
        headers["Pragma"] = "no-cache"
        headers["Expires"] = "0"
    return response


def install_headers(app: Flask, *, production: bool, scripts: bool = False) -> None:
    """``scripts``: the reporter portal's own static script may run (REPORTER_SCRIPT)."""
    app.after_request(
        lambda response: add_security_headers(response, production=production, scripts=scripts)
    )


def harden_process() -> None:
    """Called at every entry point. A core dump of a worker holds decrypted reports and
    unwrapped keys: never write one. Files we create (the SQLite database and its WAL,
    secrets, exports) are private to the service's OS user."""
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    os.umask(0o077)
