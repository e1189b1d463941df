"""``sipadu serve`` runs both portals under gunicorn; nothing about a request is logged."""

import http.client
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest

from sipadu.app import Portal
from sipadu.hosting.serve import gunicorn_options, uvicorn_options
from tests.helpers import CANARY_IP, IDENTIFYING_HEADERS, config_env, free_port, wait_for


def fetch(url: str) -> tuple[int, http.client.HTTPMessage, str]:
    request = urllib.request.Request(url, headers=IDENTIFYING_HEADERS)
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, response.headers, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read().decode()


def test_gunicorn_options_keep_no_access_log_and_suit_slow_uploads(config):
    for portal in Portal:
        options = gunicorn_options(portal, config)
        assert options["accesslog"] is None
        assert options["worker_class"] == "sipadu.hosting.serve.PortalWorker"  # event-driven
        assert options["forwarded_allow_ips"] == ""
    front = uvicorn_options(config, lambda status, lang: ([], b"busy"))
    assert front["limit_concurrency"] is None  # the cap is the front's: idle ones go first
    assert front["access_log"] is False and front["proxy_headers"] is False
    assert front["server_header"] is False and front["headers"] == [("server", "SIPADU")]
    assert gunicorn_options(Portal.REPORTER, config)["bind"] == [config.reporter_bind]
    assert gunicorn_options(Portal.STAFF, config)["bind"] == [config.staff_bind]


@pytest.fixture
def served(empty_database_url, tmp_path, redis_url):
    reporter_port, staff_port = free_port(), free_port()
    env = {
        **os.environ,
        **config_env(
            tmp_path / "instance",
            empty_database_url,
            redis_url,
            SIPADU_REPORTER_BIND=f"127.0.0.1:{reporter_port}",
            SIPADU_STAFF_BIND=f"127.0.0.1:{staff_port}",
            SIPADU_WORKERS="1",
            SIPADU_THREADS="2",
        ),
    }
    sipadu = [sys.executable, "-m", "sipadu.cli"]
    subprocess.run([*sipadu, "init"], env=env, check=True, capture_output=True)
    process = subprocess.Popen(
        [*sipadu, "serve"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    reporter, staff = f"http://127.0.0.1:{reporter_port}", f"http://127.0.0.1:{staff_port}"
    try:
        deadline = time.monotonic() + 30
        wait_for(reporter + "/", deadline)
        wait_for(staff + "/", deadline)
        yield process, reporter, staff
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)


def test_serve_runs_both_portals_and_logs_nothing_of_requests(served):
    process, reporter, staff = served
    for base, marker in ((reporter, "Buat laporan"), (staff, "Portal petugas")):
        status, headers, body = fetch(base + "/")
        assert status == 200 and marker in body
        assert headers["Content-Security-Policy"].startswith("default-src 'none'")
        assert headers["Cache-Control"] == "no-store"
        assert headers["Server"] == "SIPADU"  # not gunicorn and its version
        assert fetch(base + "/no-such-page-canary")[0] == 404
    assert fetch(reporter + "/login")[0] == 404  # no staff route on the reporter portal
    client_ports = []
    for base in (reporter, staff):  # requests the server can only log as broken
        for raw_request in (
            f"GET /broken-canary {CANARY_IP} HTTP/1.1\r\n\r\n".encode(),
            b"GET / HTTP/1.1\r\nX-Canary: " + b"x" * 20_000 + b"\r\n\r\n",  # head too big
        ):
            with socket.create_connection(("127.0.0.1", int(base.rsplit(":", 1)[1]))) as raw:
                client_ports.append(raw.getsockname()[1])
                raw.sendall(raw_request)
                assert raw.recv(100).startswith(b"HTTP/1.1 400 ")
    process.send_signal(signal.SIGTERM)
    output = process.communicate(timeout=30)[0].decode()
    assert process.returncode == 0, output
    for canary in (CANARY_IP, "CanaryAgent", "no-such-page-canary", "search.example", "canary"):
        assert canary not in output, output
    for port in client_ports:
        assert f"127.0.0.1:{port}" not in output and f"', {port})" not in output, output
