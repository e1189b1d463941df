"""Content-free notifications to staff, never to reporters (issue 19, item 1), end to end:
staff register an address on their account page (CSRF, refused input kept), admins see
only whether one is set, the digest is on the home page while no SMTP server is set, and
``sipadu notify`` sends it through a real SMTP server (aiosmtpd, STARTTLS and implicit
TLS with a certificate made here, a login from the environment): what arrives holds
counts only, in bodies of one size; nothing twice a day; no address or password in any
output, log or audit entry; ``sipadu check`` tells a bad server. A reporter's submission
sends nothing, and the reporter portal's code cannot."""

import ast
import email
import html
import json
import logging
import re
from datetime import datetime, timedelta
from email import policy
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select, update

from sipadu import create_app
from sipadu.persistence.models import AuditEvent, Report, StaffNotification
from sipadu.services.dates import today
from sipadu.services.digest import BODY_BYTES, SUBJECT
from sipadu.settings.config import ConfigError, load_config
from sipadu.web.context import dispose
from tests.helpers import account_of, csrf, database, invoke, signed_in, submit
from tests.mailserver import SMTP_PASSWORD, SMTP_USER, make_certificates, smtp_server

ROOT = Path(__file__).resolve().parent.parent / "sipadu"
ADDRESSES = {
    "pemeriksa1": "pemeriksa.satu@inspektorat.jakarta.go.id",
    "pemeriksa2": "p2@jakarta.go.id",
    "inspektur": "inspektur@inspektorat.jakarta.go.id",
    "admin": "admin.sipadu@jakarta.go.id",
}


def digest_form(client, **values) -> dict:
    return {"csrf_token": csrf(client, "/account"), "action": "save", **values}


def save(client, **values):
    return client.post("/account/digest?lang=en", data=digest_form(client, **values))


@pytest.fixture(scope="module")
def certificates(tmp_path_factory):
    return make_certificates(tmp_path_factory.mktemp("mail-tls"))


@pytest.fixture(scope="module")
def registered(clients, reporter_app, database_url):
    """Addresses registered on the account page: pemeriksa2 and the admin want a digest
    every day; reports waiting for the demo investigators (routed every category)."""
    for name, address in ADDRESSES.items():
        always = "y" if name in ("pemeriksa2", "admin") else ""
        answer = save(clients[name], address=address, always_send=always)
        assert answer.status_code == 303, answer.get_data(as_text=True)[:300]
    for _ in range(2):
        submit(reporter_app.test_client(), title="Laporan untuk ringkasan")
    with database(database_url) as session:
        session.execute(update(Report).values(ack_due_on=today() - timedelta(days=1)))
        # As if each had typed the code mailed to them (tested below, and in
        # tests/services/test_confirmation.py).
        session.execute(update(StaffNotification).values(confirmed=True))
        session.commit()
    return ADDRESSES


def new_day(database_url) -> None:
    """As if a day had passed since the last run (each test sends its own digests)."""
    with database(database_url) as session:
        session.execute(update(StaffNotification).values(sent_on=None))
        session.commit()


# --- the account page ---------------------------------------------------------------------


def test_the_form_needs_its_csrf_token(clients, database_url):
    """Without the form's token (a forged post from another site) nothing is stored: the
    portal's 400 page for a refused form, as for every staff form."""
    client = clients["auditor"]
    refused = client.post("/account/digest", data={"action": "save", "address": "x@jakarta.go.id"})
    assert refused.status_code == 400
    with database(database_url) as session:
        assert session.scalars(select(StaffNotification)).all() == []


@pytest.mark.parametrize(
    ("values", "kept", "said"),
    [
        ({"address": "bukan alamat"}, 'value="bukan alamat"', "Write one e-mail address"),
        ({"address": ""}, 'id="address"', "Write your e-mail address first"),
        (
            {"address": "ok@jakarta.go.id", "openpgp_key": "kunci palsu", "always_send": "y"},
            "kunci palsu",
            "This is not one OpenPGP public key",
        ),
    ],
)
def test_refused_input_comes_back_whole_with_the_reason_beside_it(clients, values, kept, said):
    answer = save(clients["auditor"], **values)
    assert answer.status_code == 400
    page = html.unescape(answer.get_data(as_text=True))
    assert kept in page and said in page
    if values.get("always_send"):
        assert re.search(r'id="always_send"[^>]*checked|checked[^>]*id="always_send"', page)


def test_the_page_in_english_and_indonesian_says_how_the_digest_comes(clients):
    client = clients["auditor"]
    indonesian = client.get("/account").get_data(as_text=True)
    english = client.get("/account?lang=en").get_data(as_text=True)
    assert "Ringkasan harian" in indonesian and "Daily digest" in english
    assert 'id="digest-how"' in english and "home page" in english


def test_an_openpgp_key_is_taken_shown_by_fingerprint_and_dropped(clients):
    import pysequoia

    client = clients["auditor"]
    cert = pysequoia.Tsk.generate("Auditor <auditor@jakarta.go.id>").extract_certificate()
    assert save(client, address="auditor@jakarta.go.id", openpgp_key=str(cert)).status_code == 303
    page = client.get("/account?digest=saved").get_data(as_text=True)
    assert cert.fingerprint.lower() in page and 'id="digest-saved"' in page
    assert 'value="auditor@jakarta.go.id"' in page  # the owner sees their own address
    assert save(client, address="auditor@jakarta.go.id", drop_openpgp="y").status_code == 303
    assert cert.fingerprint.lower() not in client.get("/account").get_data(as_text=True)
    removed = client.post("/account/digest", data=digest_form(client, action="remove"))
    assert removed.status_code == 303
    assert "auditor@jakarta.go.id" not in client.get("/account").get_data(as_text=True)


@pytest.mark.parametrize("address", ["auditor@jakarta.go.id", "bukan alamat"])
def test_a_private_key_pasted_is_refused_and_never_shown_back(clients, address):
    """A private key pasted in the key field is refused beside it and not rendered back
    into the page, whatever else is wrong (as an export's age recipient field)."""
    import pysequoia

    secret = str(pysequoia.Tsk.generate("Auditor <auditor@jakarta.go.id>"))
    answer = save(clients["auditor"], address=address, openpgp_key=secret)
    assert answer.status_code == 400
    page = html.unescape(answer.get_data(as_text=True))
    assert "This is a private (secret) key" in page
    assert "PRIVATE KEY BLOCK" not in page
    assert not any(line in page for line in secret.splitlines()[2:-2] if len(line) > 20)
    assert f'value="{address}"' in page  # the rest is kept


def test_after_the_server_s_key_changed_the_page_leads_out_of_the_unreadable_state(
    clients, database_url
):
    """Sealed under another key (the staff session key was changed): the page says so,
    writing the address alone is refused while a key no longer opens (it would fail
    every digest), and dropping the key (its box is offered) makes the digest work."""
    import pysequoia

    from sipadu.services import notifications

    client = clients["auditor"]
    cert = pysequoia.Tsk.generate("Auditor <auditor@jakarta.go.id>").extract_certificate()
    address = "auditor@jakarta.go.id"
    assert save(client, address=address, openpgp_key=str(cert)).status_code == 303
    old_key = notifications.sealing_key(b"\x33" * 32)
    with database(database_url) as session:
        row = session.get(StaffNotification, account_of(database_url, "auditor").id)
        for purpose, column, value in (
            ("notify.address", "sealed_address", address.encode()),
            ("notify.openpgp", "sealed_openpgp_key", str(cert).encode()),
        ):
            sealed = notifications._seal(old_key, row.account_id, purpose, value, 4096)
            setattr(row, column, sealed)
        session.commit()
    try:
        page = client.get("/account?lang=en").get_data(as_text=True)
        assert 'id="digest-unreadable"' in page and 'id="drop_openpgp"' in page
        again = save(client, address=address)
        assert again.status_code == 400
        said = html.unescape(again.get_data(as_text=True))
        assert "Paste your public key again" in said and f'value="{address}"' in said
        assert save(client, address=address, drop_openpgp="y").status_code == 303
        page = client.get("/account?lang=en").get_data(as_text=True)
        assert 'id="digest-unreadable"' not in page and f'value="{address}"' in page
    finally:
        client.post("/account/digest", data=digest_form(client, action="remove"))


def confirm_form(client, **values) -> dict:
    return {"csrf_token": csrf(client, "/account"), "action": "confirm", **values}


def not_due_yet() -> dict[str, str]:
    """A digest hour (and the zone it is read in) still ahead of now, by two hours at least
    so that a test crossing the hour stays before it: Jakarta's time, or at 22:00-23:59
    there (where no later hour is left in the day), UTC's, seven hours behind."""
    for zone in ("Asia/Jakarta", "UTC"):
        hour = datetime.now(ZoneInfo(zone)).hour
        if hour <= 21:
            return {"SIPADU_TIME_ZONE": zone, "SIPADU_DIGEST_HOUR": str(hour + 2)}
    raise AssertionError("Jakarta and UTC cannot both be past 21:00")


def test_a_new_address_is_confirmed_with_the_code_any_run_mailed_to_it(clients, env, database_url):
    """No digest until confirmed; any ``sipadu notify`` run (hours before the digest's)
    mails the code; the account page takes it with its CSRF token, keeps a wrong code
    typed with the reason beside it (both languages), counts the try, and confirms."""
    client = clients["auditor"]
    address = "baru.sekali@jakarta.go.id"
    assert save(client, address=address).status_code == 303
    page = client.get("/account?lang=en").get_data(as_text=True)
    assert 'id="digest-waiting"' in page and 'id="digest-code-form"' not in page
    me = account_of(database_url, "auditor").id
    try:
        with smtp_server() as server:
            result = invoke({**env, **server.env, **not_due_yet()}, "notify")
            assert result.exit_code == 0, result.output
            assert "confirmation codes: 1 sent" in result.output and "not due" in result.output
            (arrived,) = server.inbox.to(address)
        text = email.message_from_bytes(arrived.data, policy=policy.default).get_content()
        code = "".join(re.search(r"Your code: (\d{4}) (\d{4})", text).groups())
        page = client.get("/account?lang=en").get_data(as_text=True)
        assert 'id="digest-code-sent"' in page and 'id="digest-code-form"' in page
        wrong = f"{(int(code) + 1) % 10**8:08d}"
        forged = client.post("/account/digest/confirm", data={"action": "confirm", "code": code})
        assert forged.status_code == 400
        english = client.post(
            "/account/digest/confirm?lang=en", data=confirm_form(client, code=wrong)
        )
        indonesian = client.post("/account/digest/confirm", data=confirm_form(client, code="12"))
        assert english.status_code == indonesian.status_code == 400
        said = html.unescape(english.get_data(as_text=True))
        assert "This is not the code mailed to your address" in said and "4 tries left" in said
        assert f'value="{wrong}"' in said  # kept as typed
        said = html.unescape(indonesian.get_data(as_text=True))
        assert "Ketik 8 angka" in said and 'value="12"' in said
        with database(database_url) as session:
            row = session.get(StaffNotification, me)
            assert not row.confirmed and row.code_attempts == 1  # forged and "12": no try
        right = client.post(
            "/account/digest/confirm", data=confirm_form(client, code=f"{code[:4]} {code[4:]}")
        )
        assert right.status_code == 303
        page = client.get("/account?lang=en&digest=confirmed").get_data(as_text=True)
        assert 'id="digest-confirmed"' in page and 'id="digest-confirmed-now"' in page
        admin = clients["admin2"].get("/admin?lang=en").get_data(as_text=True)
        assert "address set, confirmed" in admin
        with database(database_url) as session:
            actions = [e.action for e in session.scalars(select(AuditEvent))]
            assert actions.count("notify.confirmed") == 1
            assert "notify.confirmation_sent" in actions
    finally:
        client.post("/account/digest", data=digest_form(client, action="remove"))


def test_admins_see_whether_an_address_is_set_never_which(clients, registered):
    page = clients["admin2"].get("/admin?lang=en").get_data(as_text=True)
    assert "jakarta.go.id" not in page and "@" not in re.sub(r"<[^>]*>", "", page)
    assert page.count("address set, confirmed") >= len(registered)


def test_without_smtp_the_digest_is_on_the_home_page(clients, registered):
    page = clients["pemeriksa1"].get("/?lang=en").get_data(as_text=True)
    section = page[page.index('id="digest"') :]
    assert "Reports that need your action: 2; overdue: 2" in section
    custodian = clients["inspektur"].get("/?lang=en").get_data(as_text=True)
    assert "Identity requests waiting for your decision: 0" in custodian
    assert "overdue for acknowledgement: 2" in custodian
    assert 'id="digest"' not in clients["auditor"].get("/").get_data(as_text=True)


def test_with_smtp_the_digest_is_mailed_not_on_the_home_page(env, people, registered):
    """With SIPADU_SMTP_URL set on the staff portal, the home page shows no digest (it
    is mailed), and the account page says it is mailed at the hour."""
    with smtp_server() as server:
        app = create_app("staff", load_config({**env, **server.env, "SIPADU_DIGEST_HOUR": "6"}))
        app.config["TESTING"] = True
        try:
            client = signed_in(app, people["inspektur"])
            home = client.get("/?lang=en").get_data(as_text=True)
            account = client.get("/account?lang=en").get_data(as_text=True)
        finally:
            dispose(app)
    assert 'id="digest"' not in home and "overdue for acknowledgement" not in home
    assert "Your account" in account and "at 06:00" in account
    assert server.inbox.messages == []  # and a page view sends nothing


# --- sending ------------------------------------------------------------------------------


def arrived(server, address: str) -> email.message.EmailMessage:
    found = server.inbox.to(address)
    assert len(found) == 1, [m.recipients for m in server.inbox.messages]
    return email.message_from_bytes(found[0].data, policy=policy.default)


def raw_body(data: bytes) -> bytes:
    return data.split(b"\r\n\r\n", 1)[1]


@pytest.mark.parametrize("mode", ["starttls", "tls"])
def test_notify_sends_content_free_digests_of_one_size_over_tls(
    env, database_url, registered, certificates, mode, caplog
):
    new_day(database_url)
    caplog.set_level(logging.DEBUG)
    with smtp_server(mode, certificates, login=True) as server:
        result = invoke({**env, **server.env, "SIPADU_DIGEST_HOUR": "0"}, "notify")
        again = invoke({**env, **server.env, "SIPADU_DIGEST_HOUR": "0"}, "notify")
    assert result.exit_code == 0, result.output
    assert "4 sent" in result.output and "0 sent" in again.output  # nothing twice
    assert server.inbox.logins == [SMTP_USER] * 4
    messages = {name: arrived(server, address) for name, address in registered.items()}
    for message in messages.values():
        assert message["Subject"] == SUBJECT
        assert message["From"] == "sipadu@inspektorat.example.go.id"
        assert len(message.get_content().encode()) == BODY_BYTES
    texts = {name: message.get_content() for name, message in messages.items()}
    assert "Reports that need your action: 2; overdue: 2." in texts["pemeriksa1"]
    assert "overdue for acknowledgement: 2" in texts["inspektur"]
    assert "Proposals waiting for a second admin" in texts["admin"]
    for text in texts.values():
        assert "Laporan untuk ringkasan" not in text and "kkn" not in text
        assert not re.search(r"[0-9a-f]{8}-[0-9a-f]{4}", text) and str(today()) not in text
    # Bodies of one size whatever the counts and roles.
    sizes = {len(raw_body(m.data)) for m in server.inbox.messages}
    assert len(sizes) == 1
    # Nothing of an address or the SMTP login in the output, our logs or the audit log.
    ours = [r.getMessage() for r in caplog.records if not r.name.startswith("mail.log")]
    with database(database_url) as session:
        details = [e.detail or "" for e in session.scalars(select(AuditEvent))]
    for text in [result.output, again.output, *ours, *details]:
        assert "@jakarta.go.id" not in text and SMTP_PASSWORD not in text and "relay" not in text
    sent = [json.loads(d) for d in details if '"encrypted"' in d]
    told = {tuple(sorted(entry)) for entry in sent[-4:]}  # the counts of each role mix
    assert any({"need_action", "overdue"} <= set(keys) for keys in told)
    assert any({"pending_requests", "late_feedback"} <= set(keys) for keys in told)


def test_a_person_with_nothing_waiting_gets_a_digest_only_if_they_asked(
    env, database_url, registered
):
    """pemeriksa2 asked for every day's digest; a custodian with nothing waiting did not."""
    new_day(database_url)
    with database(database_url) as session:
        session.execute(update(Report).values(ack_due_on=today() + timedelta(days=60)))
        session.commit()
    try:
        with smtp_server() as server:
            result = invoke({**env, **server.env, "SIPADU_DIGEST_HOUR": "0"}, "notify")
        assert result.exit_code == 0, result.output
        got = sorted(r for m in server.inbox.messages for r in m.recipients)
        assert got == sorted([registered["pemeriksa2"], registered["admin"]])
        empty = arrived(server, registered["pemeriksa2"]).get_content()
        assert "Reports that need your action: 0; overdue: 0." in empty
    finally:
        with database(database_url) as session:
            session.execute(update(Report).values(ack_due_on=today() - timedelta(days=1)))
            session.commit()


def test_a_refused_recipient_fails_the_run_and_is_sent_next_time(env, database_url, registered):
    new_day(database_url)
    with smtp_server() as server:
        server.inbox.refuse.add(registered["pemeriksa1"])
        failed = invoke({**env, **server.env, "SIPADU_DIGEST_HOUR": "0"}, "notify")
        assert failed.exit_code == 1 and "3 sent" in failed.output and "1 failed" in failed.output
        server.inbox.refuse.clear()
        retried = invoke({**env, **server.env, "SIPADU_DIGEST_HOUR": "0"}, "notify")
    assert retried.exit_code == 0 and "1 sent" in retried.output
    assert len(server.inbox.to(registered["pemeriksa1"])) == 1


def test_without_smtp_notify_sends_nothing_and_says_where_the_digest_is(env):
    result = invoke(env, "notify")
    assert result.exit_code == 0 and "home page" in result.output


def test_a_reporter_s_submission_sends_no_mail(config, env, registered):
    """Even with SMTP configured on the reporter portal's host, a report sends nothing."""
    with smtp_server() as server:
        app = create_app("reporter", load_config({**env, **server.env}))
        app.config["TESTING"] = True
        try:
            submit(app.test_client(), title="Tidak memicu surel")
        finally:
            dispose(app)
        assert server.inbox.messages == []


def _imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            found |= {node.module, *(f"{node.module}.{a.name}" for a in node.names)}
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
    return found


def test_only_the_notify_command_sends_mail():
    """Nothing on a request path can send: the SMTP client and the run are imported by
    the CLI alone (and ``sipadu check``, which connects and sends nothing)."""
    senders = {
        "sipadu.hosting.mail",
        "sipadu.services.notifications.send_digests",
        "sipadu.services.confirmation.send_confirmations",
        "smtplib",
    }
    users = {
        str(path.relative_to(ROOT))
        for path in ROOT.rglob("*.py")
        if _imports(path) & senders and path.name not in ("mail.py",)
    }
    assert users == {"cli.py", "hosting/deploycheck.py"}


# --- configuration and sipadu check ---------------------------------------------------------


@pytest.mark.parametrize(
    ("values", "said"),
    [
        ({"SIPADU_SMTP_URL": "http://mail.example.go.id"}, "must start with smtp://"),
        ({"SIPADU_SMTP_URL": "smtp+plain://mail.example.go.id"}, "this host only"),
        ({"SIPADU_SMTP_URL": "smtps://u:p@mail.example.go.id"}, "SIPADU_SMTP_USERNAME"),
        ({"SIPADU_SMTP_URL": "smtp://mail.example.go.id"}, "SIPADU_SMTP_FROM"),
        (
            {
                "SIPADU_SMTP_URL": "smtp://mail.example.go.id",
                "SIPADU_SMTP_FROM": "a@b.go.id",
                "SIPADU_SMTP_USERNAME": "u",
            },
            "go together",
        ),
        ({"SIPADU_DIGEST_HOUR": "24"}, "from 0 to 23"),
        ({"SIPADU_TIME_ZONE": "Mars/Olympus"}, "not a time zone"),
    ],
)
def test_bad_mail_settings_are_refused_by_name(values, said):
    with pytest.raises(ConfigError, match=said):
        load_config(values)


def test_the_password_is_never_in_the_config_s_repr():
    config = load_config(
        {
            "SIPADU_SMTP_URL": "smtps://mail.example.go.id",
            "SIPADU_SMTP_FROM": "sipadu@example.go.id",
            "SIPADU_SMTP_USERNAME": "relay",
            "SIPADU_SMTP_PASSWORD": "sangat-rahasia",
        }
    )
    assert "sangat-rahasia" not in repr(config) and config.mail.port == 465


def test_tls_below_1_2_is_refused_with_verification_on(certificates):
    """The SMTP client's TLS is Python's default context: the certificate and host name
    checked, and TLS 1.2 at least, so a relay that speaks only TLS 1.1 is refused
    (while a client allowing 1.1 does talk to it: the server is really 1.1-only)."""
    import smtplib
    import ssl
    import warnings

    from sipadu.hosting import mail

    with smtp_server("starttls", certificates, legacy_tls=True) as server:
        settings = load_config(server.env).mail
        context = mail._tls(settings)
        assert context.verify_mode is ssl.CERT_REQUIRED and context.check_hostname
        assert context.minimum_version >= ssl.TLSVersion.TLSv1_2
        with pytest.raises(ssl.SSLError):
            mail.check(settings)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            permissive = ssl.create_default_context(cafile=str(certificates.ca_file))
            permissive.minimum_version = ssl.TLSVersion.TLSv1_1
        permissive.set_ciphers("DEFAULT:@SECLEVEL=0")
        with smtplib.SMTP("127.0.0.1", server.port, timeout=5) as client:
            client.starttls(context=permissive)
            assert client.sock.version() == "TLSv1.1"


def check_line(env, extra) -> str:
    result = invoke({**env, **extra}, "check")
    return next(line for line in result.output.splitlines() if "e-mail digest" in line)


def test_check_tells_a_working_and_a_broken_smtp_server(env, certificates, tmp_path):
    with smtp_server("starttls", certificates, login=True) as server:
        good = check_line(env, server.env)
        # (aiosmtpd answers smtplib's last try at a wrong login by waiting: 2 s, not 30)
        bad_login = check_line(
            env,
            {**server.env, "SIPADU_SMTP_PASSWORD": "salah", "SIPADU_SMTP_TIMEOUT_SECONDS": "2"},
        )
        untrusted = check_line(env, {k: v for k, v in server.env.items() if "CA_FILE" not in k})
    with smtp_server() as plain:
        no_starttls = check_line(
            env, {**plain.env, "SIPADU_SMTP_URL": f"smtp://127.0.0.1:{plain.port}"}
        )
    down = check_line(env, server.env)
    assert good.startswith("OK") and "login accepted" in good
    assert bad_login.startswith("FAIL") and re.search(r"SMTP\w+(Error|Disconnected)", bad_login)
    assert untrusted.startswith("FAIL") and "SSLCertVerificationError" in untrusted
    assert no_starttls.startswith("FAIL") and "MailRefused" in no_starttls
    assert down.startswith("FAIL") and "ConnectionRefusedError" in down
    for line in (good, bad_login, untrusted, no_starttls, down):
        assert SMTP_PASSWORD not in line and "salah" not in line
    assert check_line(env, {}).startswith("OK")  # not configured: the home page shows it


def test_check_counts_registered_addresses_outside_the_institution_s_domains(env, registered):
    def domains_line(value: str) -> str:
        result = invoke({**env, "SIPADU_NOTIFY_DOMAINS": value}, "check")
        return next(line for line in result.output.splitlines() if "digest domains" in line)

    narrow = domains_line("inspektorat.jakarta.go.id")
    both = domains_line("inspektorat.jakarta.go.id;jakarta.go.id")
    assert narrow.startswith("FAIL") and "2 registered address(es)" in narrow
    assert both.startswith("OK")
    assert "@" not in narrow + both and "p2" not in narrow
