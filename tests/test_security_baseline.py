"""HTTP hardening of both portals (DESIGN.md §8), the reporter's anonymizer (G2), no
request logging, and process hardening."""

import logging
import os
import resource
import subprocess
import sys

import pytest
from flask import jsonify, render_template_string, request
from flask_wtf.csrf import generate_csrf

from sipadu import create_app
from sipadu.web.context import dispose
from sipadu.web.logs import keep_requests_out_of_logs
from sipadu.web.security import content_security_policy
from tests.helpers import CANARY_IP, IDENTIFYING_HEADERS


@pytest.fixture(scope="module")
def probe_apps(config):
    """Both portals with test-only routes that show what the application can see."""
    apps = {}
    for portal in ("reporter", "staff"):
        app = create_app(portal, config)
        app.config["TESTING"] = True

        def seen():
            return jsonify(
                remote_addr=request.remote_addr,
                access_route=request.access_route,
                user_agent=request.user_agent.string,
                environ={k: str(v) for k, v in request.environ.items() if isinstance(v, str)},
            )

        def form():
            if request.method == "POST":
                return "accepted"
            return render_template_string(
                '<form method="post"><input name="csrf_token" value="{{ t }}"></form>{{ v }}',
                t=generate_csrf(),
                v="<script>alert(1)</script>",
            )

        def boom():
            raise RuntimeError("deliberate failure")

        app.add_url_rule("/_seen", "seen", seen)
        app.add_url_rule("/_form", "form", form, methods=["GET", "POST"])
        app.add_url_rule("/_boom", "boom", boom)
        apps[portal] = app
    yield apps
    for app in apps.values():
        dispose(app)


PORTALS = ["reporter", "staff"]


@pytest.mark.parametrize("portal", PORTALS)
@pytest.mark.parametrize("path", ["/", "/?lang=en", "/missing", "/static/sipadu.css", "/_boom"])
def test_security_headers_on_every_response(probe_apps, portal, path):
    app = probe_apps[portal]
    app.config["PROPAGATE_EXCEPTIONS"] = False
    response = app.test_client().get(path)
    headers = response.headers
    policy = headers["Content-Security-Policy"]
    assert policy == content_security_policy(scripts=portal == "reporter")
    assert "default-src 'none'" in policy
    assert "frame-ancestors 'none'" in policy
    assert "unsafe-" not in policy and "data:" not in policy and "*" not in policy
    assert headers["Referrer-Policy"] == "no-referrer"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["X-Frame-Options"] == "DENY"
    if not path.startswith("/static/"):
        assert headers["Cache-Control"] == "no-store"


BASE_POLICY = [
    "default-src 'none'",
    "style-src 'self'",
    "img-src 'self'",
    "form-action 'self'",
    "frame-ancestors 'none'",
    "base-uri 'none'",
]


@pytest.mark.parametrize("portal", PORTALS)
def test_only_the_reporter_portal_may_run_a_script_and_only_its_own(probe_apps, portal):
    """Issue 16 item 6: the reporter portal's upload progress is a static script of its
    own origin, sending its request to its own origin. Exactly these two directives are
    added there, and nothing on the staff portal: no inline script, no eval, no other
    origin anywhere."""
    policy = probe_apps[portal].test_client().get("/").headers["Content-Security-Policy"]
    directives = policy.split("; ")
    added = {"reporter": ["script-src 'self'", "connect-src 'self'"], "staff": []}[portal]
    assert sorted(directives) == sorted(BASE_POLICY + added)
    assert "unsafe" not in policy and "nonce-" not in policy and "sha256-" not in policy


@pytest.mark.parametrize("portal", PORTALS)
def test_server_error_page_reveals_nothing(probe_apps, portal):
    app = probe_apps[portal]
    app.config["PROPAGATE_EXCEPTIONS"] = False
    response = app.test_client().get("/_boom")
    assert response.status_code == 500
    body = response.get_data(as_text=True)
    assert "deliberate failure" not in body and "Traceback" not in body
    assert "Terjadi kesalahan" in body


@pytest.mark.parametrize("portal", PORTALS)
def test_csrf_is_required_on_every_post(probe_apps, portal):
    client = probe_apps[portal].test_client()
    assert client.post("/_form").status_code == 400
    page = client.get("/_form").get_data(as_text=True)
    token = page.split('value="')[1].split('"')[0]
    assert client.post("/_form", data={"csrf_token": token}).get_data(as_text=True) == "accepted"


@pytest.mark.parametrize("portal", PORTALS)
def test_templates_autoescape(probe_apps, portal):
    page = probe_apps[portal].test_client().get("/_form").get_data(as_text=True)
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;" in page


@pytest.mark.parametrize("portal", PORTALS)
def test_session_cookie_flags(probe_apps, portal):
    response = probe_apps[portal].test_client().get("/_form")
    cookie = response.headers["Set-Cookie"]
    assert cookie.startswith(f"sipadu_{portal}=")
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/" in cookie
    assert "Expires" not in cookie  # a browser-session cookie only


def test_reporter_app_never_sees_the_client_address_or_browser(probe_apps):
    client = probe_apps["reporter"].test_client()
    response = client.get(
        "/_seen", headers=IDENTIFYING_HEADERS, environ_base={"REMOTE_ADDR": CANARY_IP}
    )
    seen = response.get_json()
    assert seen["remote_addr"] is None
    assert seen["access_route"] == []
    assert seen["user_agent"] == ""
    dump = str(seen["environ"])
    assert CANARY_IP not in dump and "CanaryAgent" not in dump and "search.example" not in dump


def test_a_client_address_sent_to_the_reporter_app_reaches_no_log(probe_apps, caplog, capfd):
    app = probe_apps["reporter"]
    app.config["PROPAGATE_EXCEPTIONS"] = False
    client = app.test_client()
    caplog.set_level(logging.DEBUG)
    for path in ("/", "/missing", "/_boom", "/_form"):
        client.get(path, headers=IDENTIFYING_HEADERS, environ_base={"REMOTE_ADDR": CANARY_IP})
    client.post("/_form", headers=IDENTIFYING_HEADERS, environ_base={"REMOTE_ADDR": CANARY_IP})
    captured = capfd.readouterr()
    logged = caplog.text + captured.out + captured.err
    assert "RuntimeError" in logged  # the error itself is logged (proves capture works)
    assert "deliberate failure" not in logged  # an exception's text may quote a request
    assert "/_boom" not in logged and "Exception on …" in logged
    assert CANARY_IP not in logged and "CanaryAgent" not in logged


def test_staff_app_logs_no_requests(probe_apps, caplog, capfd):
    client = probe_apps["staff"].test_client()
    caplog.set_level(logging.DEBUG)
    client.get("/", headers=IDENTIFYING_HEADERS, environ_base={"REMOTE_ADDR": CANARY_IP})
    client.get("/missing", headers=IDENTIFYING_HEADERS, environ_base={"REMOTE_ADDR": CANARY_IP})
    captured = capfd.readouterr()
    logged = caplog.text + captured.out + captured.err
    assert CANARY_IP not in logged and "CanaryAgent" not in logged


def test_creating_an_app_disables_core_dumps_and_private_files(reporter_app):
    assert resource.getrlimit(resource.RLIMIT_CORE) == (0, 0)
    current = os.umask(0o077)
    os.umask(current)
    assert current == 0o077


def test_oversized_request_gets_a_clear_413_page(probe_apps, config):
    app = probe_apps["reporter"]
    assert app.config["MAX_CONTENT_LENGTH"] == config.max_request_bytes
    body = (
        b'--x\r\nContent-Disposition: form-data; name="f"; filename="a"\r\n\r\n'
        + b"a" * 4096
        + b"\r\n--x--\r\n"
    )
    app.config["MAX_CONTENT_LENGTH"] = 1024
    try:
        response = app.test_client().post(
            "/_form?lang=en", data=body, content_type="multipart/form-data; boundary=x"
        )
    finally:
        app.config["MAX_CONTENT_LENGTH"] = config.max_request_bytes
    assert response.status_code == 413
    assert "larger than the limit" in response.get_data(as_text=True)


def test_rate_limits_are_shared_between_processes(config, redis_url):
    """Every worker counts against the same limits: through Redis (every host) when it is
    configured, else through the instance's counters on the memory file system (every
    worker of the host), never in one process's memory."""
    import uuid

    from limits import parse

    first, second = create_app("reporter", config), create_app("reporter", config)
    try:
        item, key = parse("3/minute"), f"test-{uuid.uuid4()}"
        for _ in range(3):
            assert first.extensions["sipadu.counters"].hit(item, key)
        assert not second.extensions["sipadu.counters"].test(item, key)
        assert not second.extensions["sipadu.counters"].hit(item, key)
        # A place taken in one process is given back in another (a success).
        other = f"test-{uuid.uuid4()}"
        places = [first.extensions["sipadu.counters"].take(item, other) for _ in range(3)]
        assert None not in places and first.extensions["sipadu.counters"].take(item, other) is None
        second.extensions["sipadu.counters"].give_back(item, other, places[0])
        assert second.extensions["sipadu.counters"].take(item, other) is not None
        assert second.extensions["sipadu.counters"].take(item, other, force=True) is not None
        assert not first.extensions["sipadu.counters"].test(item, other)
        kind = type(first.extensions["sipadu.counters"]).__name__
        assert kind == ("RedisCounters" if redis_url else "MemoryFileCounters")
    finally:
        for app in (first, second):
            dispose(app)


def test_every_server_log_line_keeps_its_wording_and_loses_the_request(caplog):
    """What gunicorn's own workers, uvicorn and Flask write about a request (issue 15):
    the wording and the error's class stay; addresses, paths and typed text go, and a
    line break in a value cannot start a line of its own."""
    keep_requests_out_of_logs()
    caplog.set_level(logging.DEBUG)
    gunicorn = logging.getLogger("gunicorn.error")
    gunicorn.warning(
        f"Invalid request from ip={CANARY_IP}: Invalid HTTP request line: 'GET /canary-path'"
    )
    gunicorn.warning("Invalid request from ip=2001:db8::77: canary")
    gunicorn.error("Error handling request %s", "/mailbox/attachments/canary-uuid")
    logging.getLogger("sipadu.app").error("Exception on /\r\nSet-Cookie: x=1 [GET]")
    logging.getLogger("sipadu.app").error("Exception on %s [%s]", "/canary", "GET")
    try:
        try:
            int("canary-typed")
        except ValueError as error:
            raise LookupError("canary-context") from error
    except LookupError as error:
        logging.getLogger("sipadu.app").exception("Exception on /canary-app [GET]")
        logging.getLogger("uvicorn.error").exception("Exception in ASGI application\n")
        logging.getLogger("werkzeug").error("%(path)s", {"path": "/canary-dict"})
        gunicorn.exception(error)  # a message that is the exception itself
    messages = [record.getMessage() for record in caplog.records]
    assert messages[:5] == [
        "Invalid request from ip …",
        "Invalid request from ip …",
        "Error handling request …",
        "Exception on …",
        "Exception on … […]",
    ]
    # The servers' own exceptions: one fixed line each, the classes and no traceback
    # (issue 15 item 10); the app's keep their frames.
    assert "Exception in ASGI application (LookupError, ValueError)" in messages
    assert "LookupError (text withheld) (LookupError, ValueError)" in messages
    server = [r for r in caplog.records if r.name in ("uvicorn.error", "gunicorn.error")]
    assert all(r.exc_info is None and not r.exc_text for r in server)
    app = [r for r in caplog.records if r.name == "sipadu.app" and r.exc_text]
    assert len(app) == 1 and "line " in app[0].exc_text and "ValueError" in app[0].exc_text
    logged = caplog.text
    for request_value in (CANARY_IP, "2001:db8", "canary", "Set-Cookie", "x=1", "GET"):
        assert request_value not in logged, request_value


def test_what_python_itself_writes_to_stderr_loses_the_request_too():
    """Found in review: warnings, an exception ending a thread and one Python could not
    raise ("Exception ignored in") went straight to stderr with their text, around the
    log filter. They go through it now: class and frames, no text. (A child process:
    pytest puts hooks of its own in their place.)"""
    child = f"""
import gc, threading, warnings
from sipadu.web.logs import keep_requests_out_of_logs
keep_requests_out_of_logs()
warnings.warn("canary-warning from {CANARY_IP} for /mailbox/x")
def ends():
    raise RuntimeError("canary-thread /mailbox/attachments/x")
thread = threading.Thread(target=ends)
thread.start()
thread.join()
class Ignored:
    def __del__(self):
        raise ValueError("canary-unraisable")
Ignored()
gc.collect()
"""
    run = subprocess.run([sys.executable, "-c", child], capture_output=True, text=True, check=True)
    assert "RuntimeError" in run.stderr and "ValueError" in run.stderr
    assert "UserWarning" in run.stderr or "warn" in run.stderr.lower()
    assert "canary" not in run.stderr and CANARY_IP not in run.stderr
    assert "/mailbox" not in run.stderr
