"""Argon2id work on request paths is bounded per host and never slows other pages
(issue 13, item 4; G8).

Every route that stretches a secret takes a slot of its portal's host-wide pool. When
the pool is full the answer comes at once (after a short wait at most): 503 with
``Retry-After`` and the same form, what was typed kept, with a notice. Each derivation
runs on a dedicated thread whose nice value is raised, so ordinary pages keep the CPU.
"""

import os
import re
import time
import uuid

import pyotp
import pytest
from click.testing import CliRunner

from sipadu import create_app
from sipadu.crypto import kdf as kdf_module
from sipadu.settings.config import load_config
from sipadu.web.context import dispose
from sipadu.web.derivations import THREAD_PREFIX
from tests.helpers import (
    STRONGER,
    Person,
    config_env,
    csrf,
    every_slot_held,
    form_tokens,
    init_demo,
    login,
    sign_in,
    signed_in,
    submit,
    totp_key,
)

WAIT_MS = 300  # how long a request may queue for a slot here (default: 2 s)


@pytest.fixture(scope="module")
def env(instance_path, database_url, redis_url) -> dict:
    return config_env(instance_path, database_url, redis_url, SIPADU_KDF_WAIT_MS=str(WAIT_MS))


@pytest.fixture(scope="module")
def people(env) -> dict[str, Person]:
    return init_demo(env)


def refused_as_busy(response, started: float, *typed: str, secrets: tuple[str, ...] = ()) -> str:
    """A quick 503 busy page that keeps ``typed`` and never sends back ``secrets``
    (passwords, passphrases: issue 15 review)."""
    elapsed = time.monotonic() - started
    page = response.get_data(as_text=True)
    assert response.status_code == 503, page[:600]
    assert response.headers["Retry-After"] == "60"
    assert elapsed < WAIT_MS / 1000 + 1.5, elapsed  # a short wait, never a long hang
    assert 'id="notice"' in page
    for text in typed:
        assert f'value="{text}"' in page or re.search(f">\\s*{re.escape(text)}</textarea>", page), (
            text
        )
    for secret in secrets:
        assert secret not in page
    return page


def cli(env, *args: str, stdin: str | None = None) -> str:
    from sipadu.cli import main

    result = CliRunner().invoke(main, list(args), env=env, input=stdin, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.stdout


def test_every_reporter_route_that_derives_answers_busy_with_the_typed_text(
    people, reporter_app, config
):
    client = reporter_app.test_client()
    code, passphrase, _ = submit(client)
    with every_slot_held(config, "reporter"):
        started = time.monotonic()
        response = login(reporter_app.test_client(), code, passphrase)
        refused_as_busy(response, started, code, passphrase)  # a reporter's form keeps all

        form = {
            "category": "kkn",
            "title": "Pungutan liar di loket",
            "what": "Petugas meminta uang tambahan.",
            "passphrase": "sebuah frasa sandi panjang",
            "passphrase_confirm": "sebuah frasa sandi panjang",
        }
        started = time.monotonic()
        response = client.post("/report", data={**form, **form_tokens(client, "/report")})
        page = refused_as_busy(response, started, form["title"], form["passphrase"], form["what"])
        assert 'id="report-code"' not in page
    # With a slot free again, the same form goes through.
    assert login(reporter_app.test_client(), code, passphrase).status_code == 303


def test_every_staff_route_that_derives_answers_busy_with_the_typed_text(
    people, staff_app, reporter_app, env, config
):
    person = people["pemeriksa2"]
    signed = signed_in(staff_app, person)
    name = "sibuk-" + uuid.uuid4().hex[:6]
    activation = cli(env, "user", "create", "--username", name, "--role", "auditor")
    activation = re.search(r"activation: (/activate/\S+)", activation).group(1)
    enrolled = "baru-" + uuid.uuid4().hex[:6]
    cli(
        env,
        "user",
        "create",
        "--username",
        enrolled,
        "--role",
        "auditor",
        "--password-stdin",
        stdin="jendela kerupuk lama sekali\n",
    )
    enrollment = cli(env, "user", "link", "--username", enrolled).strip()

    with every_slot_held(config, "staff"):
        # A full reporter pool is another pool: staff are never starved by a reporter flood.
        client = staff_app.test_client()
        started = time.monotonic()
        response = sign_in(client, person)
        refused_as_busy(response, started, person.username, secrets=(person.password,))

        for link, password in ((activation, "sandi baru yang panjang"), (enrollment, None)):
            client = staff_app.test_client()
            body = client.get(link).get_data(as_text=True)
            secret = totp_key(body)
            data = {
                "csrf_token": csrf(client, link),
                "totp": pyotp.TOTP(secret).now(),
                "password": password or "jendela kerupuk lama sekali",
            }
            if password:
                data["password_confirm"] = password
            started = time.monotonic()
            page = refused_as_busy(
                client.post(link, data=data), started, secrets=(data["password"],)
            )
            assert totp_key(page) == secret  # the same key: an app that scanned it still works

        started = time.monotonic()
        response = signed.post(
            "/account",
            data={
                "csrf_token": csrf(signed, "/account"),
                "current": person.password,
                "password": "sandi yang benar-benar baru",
                "password_confirm": "sandi yang benar-benar baru",
            },
        )
        refused_as_busy(response, started, secrets=(person.password, "sandi yang benar-benar baru"))

    # Nothing was changed or spent: the link still opens, the password is the old one.
    assert staff_app.test_client().get(activation).status_code == 200
    assert sign_in(staff_app.test_client(), person).status_code == 303


def test_a_busy_answer_never_uses_up_the_hours_new_reports(people, env):
    """The ceiling on new reports (SIPADU_REPORTS_PER_HOUR) is taken only once the
    submission holds a derivation slot: a reporter sent back as "busy" still finds the
    hour's place free when they send again."""
    config = load_config({**env, "SIPADU_REPORTS_PER_HOUR": "1"})
    app = create_app("reporter", config)
    app.config["TESTING"] = True
    try:
        client = app.test_client()
        form = {"category": "kkn", "title": "Satu-satunya", "what": "Kejadian"}
        with every_slot_held(config, "reporter"):
            busy = client.post("/report", data={**form, **form_tokens(client, "/report")})
            assert busy.status_code == 503
        sent = client.post("/report", data={**form, **form_tokens(client, "/report")})
        assert sent.status_code == 200 and 'id="report-code"' in sent.text
        again = client.post("/report", data={**form, **form_tokens(client, "/report")})
        assert again.status_code == 429  # the ceiling itself still holds
    finally:
        dispose(app)


def test_a_full_queue_is_refused_without_waiting(people, env, reporter_app):
    """No queue place: the answer does not even wait the short wait."""
    config = load_config({**env, "SIPADU_KDF_QUEUE": "0", "SIPADU_KDF_WAIT_MS": "5000"})
    app = create_app("reporter", config)
    app.config["TESTING"] = True
    try:
        code, passphrase, _ = submit(reporter_app.test_client())
        with every_slot_held(config, "reporter"):
            started = time.monotonic()
            response = login(app.test_client(), code, passphrase)
            assert response.status_code == 503
            assert time.monotonic() - started < 1.5
    finally:
        dispose(app)


def test_every_derivation_on_a_request_path_runs_through_the_pool_at_low_priority(
    people, env, reporter_app, staff_app, monkeypatch
):
    """Each Argon2id call of every route (submission, mailbox login and its re-hash,
    staff sign-in and its re-hash, activation, TOTP re-enrollment, password change)
    runs on a derivation thread whose nice value is raised."""
    seen: list[tuple[str, int]] = []
    real = kdf_module.argon2id

    def recording(secret: bytes, salt: bytes, params):
        import threading

        priority = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
        seen.append((threading.current_thread().name, priority))
        return real(secret, salt, params)

    person = people["auditor"]
    code, passphrase, _ = submit(reporter_app.test_client())  # before the patch: setup
    monkeypatch.setattr(kdf_module, "argon2id", recording)

    submit(reporter_app.test_client())
    assert login(reporter_app.test_client(), code, "wrong passphrase!").status_code == 400
    stronger = {**env, **STRONGER}
    apps = [create_app(portal, load_config(stronger)) for portal in ("reporter", "staff")]
    try:
        assert login(apps[0].test_client(), code, passphrase).status_code == 303  # re-hash
        assert sign_in(apps[1].test_client(), person).status_code == 303  # re-hash
    finally:
        for app in apps:
            dispose(app)
    assert sign_in(staff_app.test_client(), person, password="wrong password!").status_code == 400

    name = "prio-" + uuid.uuid4().hex[:6]
    link = re.search(
        r"activation: (/activate/\S+)",
        cli(env, "user", "create", "--username", name, "--role", "auditor"),
    ).group(1)
    client = staff_app.test_client()
    secret = totp_key(client.get(link).text)
    activated = client.post(
        link,
        data={
            "csrf_token": csrf(client, link),
            "totp": pyotp.TOTP(secret).now(),
            "password": "sandi aktivasi panjang kerupuk",
            "password_confirm": "sandi aktivasi panjang kerupuk",
        },
    )
    assert activated.status_code == 200, activated.text[:500]
    enroll = cli(env, "user", "link", "--username", name).strip()
    client = staff_app.test_client()
    secret = totp_key(client.get(enroll).text)
    enrolled = client.post(
        enroll,
        data={
            "csrf_token": csrf(client, enroll),
            # The next step: activation spent this half-minute's step a moment ago.
            "totp": pyotp.TOTP(secret).generate_otp(int(time.time()) // 30 + 1),
            "password": "sandi aktivasi panjang kerupuk",
        },
    )
    assert enrolled.status_code == 200, enrolled.text[:500]
    signed = signed_in(staff_app, people["pemeriksa1"])
    changed = signed.post(
        "/account",
        data={
            "csrf_token": csrf(signed, "/account"),
            "current": people["pemeriksa1"].password,
            "password": "sandi pemeriksa yang baru",
            "password_confirm": "sandi pemeriksa yang baru",
        },
    )
    assert changed.status_code == 200, changed.text[:500]
    people["pemeriksa1"].password = "sandi pemeriksa yang baru"

    # submission 2, wrong login 2, login + re-hash 3, sign-in + re-hash 2, wrong sign-in
    # 1, activation 1, enrollment 1, password change 2 (and the sign-in before it 1)
    assert len(seen) == 15, seen
    assert {name.startswith(THREAD_PREFIX) for name, _ in seen} == {True}, seen
    assert {priority for _, priority in seen} == {10}  # SIPADU_KDF_NICE's default
