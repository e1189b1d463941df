"""Two portals from one factory that share no route, cookie or session key."""

import ast
import importlib
import sys
from pathlib import Path

import pytest

from sipadu.web.context import dispose
from tests.helpers import RECOVERY_HEX

STAFF_PATHS = ["/login", "/logout", "/reports", "/reports/1", "/audit", "/audit/export.jsonl"]


def endpoints(app) -> set[str]:
    return {rule.endpoint for rule in app.url_map.iter_rules()}


def test_reporter_app_has_only_reporter_routes(reporter_app):
    assert {e.split(".")[0] for e in endpoints(reporter_app)} == {"reporter", "static"}


def test_staff_app_has_only_staff_routes(staff_app):
    assert {e.split(".")[0] for e in endpoints(staff_app)} == {"staff", "static"}


@pytest.mark.parametrize("path", STAFF_PATHS)
def test_staff_paths_are_404_on_the_reporter_app(reporter_client, path):
    assert reporter_client.get(path).status_code == 404
    assert reporter_client.post(path).status_code in (400, 404)  # CSRF may answer first


def test_cookie_names_and_session_keys_differ(reporter_app, staff_app):
    assert reporter_app.config["SESSION_COOKIE_NAME"] != staff_app.config["SESSION_COOKIE_NAME"]
    assert reporter_app.secret_key != staff_app.secret_key


@pytest.mark.parametrize("package", ["reporter", "investigator"])
def test_no_portal_module_imports_its_own_package_back(package):
    """A portal's views import leaf modules (its blueprint and runtime, sign-in helpers,
    filters); only the package's ``__init__`` imports the views, to register them. So no
    import cycle runs through the package, and its ``__init__`` holds nothing to import."""
    root = Path(__file__).parent.parent / "sipadu" / package
    for path in sorted(root.glob("*.py")):
        if path.name == "__init__.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                back = node.module == f"sipadu.{package}" or (node.level and not node.module)
                assert not back, f"{path.name} imports sipadu.{package} back"
            elif isinstance(node, ast.Import):
                assert all(alias.name != f"sipadu.{package}" for alias in node.names), path.name


def _bucket_keys(app) -> list[bytes]:
    with app.app_context():
        if app.config["SIPADU_PORTAL"] == "reporter":
            from sipadu.reporter.blueprint import runtime

            return [runtime().mailbox.failure_key]
        from sipadu.investigator.blueprint import runtime

        return [runtime().failures_key, runtime().device_key]


@pytest.mark.parametrize("portal", ["reporter", "staff"])
def test_cookie_and_rate_limit_keys_are_derived_apart(request, config, portal):
    """A portal's session key keys nothing itself: its cookie key and its rate-limit
    buckets' key (and the staff device cookies' key) are derived from it with HKDF
    under distinct labels. They all differ, and neither a bucket key nor the secret
    itself verifies a cookie the portal signed."""
    from flask import Flask
    from flask.sessions import SecureCookieSessionInterface
    from itsdangerous import BadSignature

    from sipadu.settings.instance import load_secret

    app = request.getfixturevalue(f"{portal}_app")
    secret = load_secret(config, f"{portal}_session_key")
    others = [*_bucket_keys(app), secret]
    assert len({app.secret_key, *others}) == 1 + len(others)
    sessions = SecureCookieSessionInterface()
    cookie = sessions.get_signing_serializer(app).dumps({"csrf_token": "abc"})
    assert sessions.get_signing_serializer(app).loads(cookie) == {"csrf_token": "abc"}
    for key in others:
        impostor = Flask("impostor")
        impostor.secret_key = key
        with pytest.raises(BadSignature):
            sessions.get_signing_serializer(impostor).loads(cookie)


def test_production_cookies_are_secure_host_only_strict(tmp_path):
    from sipadu import create_app
    from sipadu.settings.config import load_config

    config = load_config(
        {
            "SIPADU_INSTANCE_PATH": str(tmp_path),
            "SIPADU_REPORTER_SESSION_KEY": "01" * 32,
            "SIPADU_STAFF_SESSION_KEY": "02" * 32,
            "SIPADU_RECOVERY_PUBLIC_KEY": RECOVERY_HEX,
            "SIPADU_LOOKUP_SALT": "33" * 16,
        }
    )
    for portal in ("reporter", "staff"):
        app = create_app(portal, config)
        assert app.config["SESSION_COOKIE_NAME"] == f"__Host-sipadu_{portal}"
        assert app.config["SESSION_COOKIE_SECURE"] is True
        assert app.config["SESSION_COOKIE_HTTPONLY"] is True
        assert app.config["SESSION_COOKIE_SAMESITE"] == "Strict"


def test_wsgi_exposes_both_portals_lazily(monkeypatch, env):
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    sys.modules.pop("wsgi", None)
    wsgi = importlib.import_module("wsgi")
    assert "reporter" not in vars(wsgi) and "staff" not in vars(wsgi)
    assert {e.split(".")[0] for e in endpoints(wsgi.reporter)} == {"reporter", "static"}
    assert {e.split(".")[0] for e in endpoints(wsgi.staff)} == {"staff", "static"}
    for app in (wsgi.reporter, wsgi.staff):
        dispose(app)


def test_reporter_start_page_is_indonesian_by_default_and_english_on_request(reporter_client):
    indonesian = reporter_client.get("/").get_data(as_text=True)
    assert '<html lang="id">' in indonesian and "Buat laporan" in indonesian
    english = reporter_client.get("/?lang=en").get_data(as_text=True)
    assert '<html lang="en">' in english and "Make a report" in english
    assert 'href="/report?lang=en"' in english


def test_unknown_language_falls_back_to_indonesian(reporter_client):
    assert '<html lang="id">' in reporter_client.get("/?lang=xx").get_data(as_text=True)


def test_language_is_kept_in_generated_links(staff_client):
    page = staff_client.get("/?lang=en").get_data(as_text=True)
    assert 'href="/?lang=en"' in page  # url_for carries it on
    assert 'href="/login?lang=en"' in page


@pytest.mark.parametrize(
    "lang, words", [("id", "Halaman tidak ditemukan"), ("en", "Page not found")]
)
def test_error_pages_speak_the_chosen_language(reporter_client, staff_client, lang, words):
    for client in (reporter_client, staff_client):
        response = client.get(f"/no-such-page?lang={lang}")
        assert response.status_code == 404
        assert words in response.get_data(as_text=True)


def test_no_page_loads_anything_from_another_site(reporter_client, staff_client):
    for client in (reporter_client, staff_client):
        for path in ("/", "/?lang=en", "/missing"):
            page = client.get(path).get_data(as_text=True)
            assert (
                "http://" not in page
                and "https://" not in page
                and "//" not in page.replace("<!--", "")
            )
