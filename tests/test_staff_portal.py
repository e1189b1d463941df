"""The staff portal: who may do what, sign-in with TOTP that counts once, sessions that
end, enrollment by one-time links, the two-person rule, and the auditor's view."""

import html
import io
import json
import re
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import select, text, update

from sipadu.accountability import audit
from sipadu.crypto import CryptoError, open_private_key, signing_public_key
from sipadu.crypto import kdf as kdf_module
from sipadu.investigator.policy import ALLOWED, Policy, policy_of
from sipadu.persistence.models import (
    AccountState,
    AuditEvent,
    Category,
    CategoryRoute,
    CategorySlug,
    IdentityRequestState,
    Proposal,
    ProposalKind,
    ProposalState,
    ReportGrant,
    ReportKey,
    ReportStatus,
    Role,
    StaffAccount,
    StaffSession,
)
from sipadu.services.case_record import LinkKind, Priority
from sipadu.web.context import dispose
from tests.helpers import (
    Person,
    account_of,
    create_account,
    csrf,
    database,
    every_database_value,
    forge_history,
    form_tokens,
    init_demo,
    invoke,
    post,
    redis_contents,
    report_id_of,
    sample_audit_details,
    sample_path,
    sign_in,
    signed_in,
    submit,
    totp_key,
)


@pytest.fixture(scope="module")
def people(env) -> dict[str, Person]:
    return init_demo(env)


def entries(database_url: str, action: str | None = None) -> list[AuditEvent]:
    with database(database_url) as session:
        query = select(AuditEvent).order_by(AuditEvent.seq)
        if action:
            query = query.where(AuditEvent.action == action)
        return list(session.scalars(query))


# --- the authorization matrix -------------------------------------------------------------

ROLE_USERS = {
    Role.ADMIN: "admin",
    Role.INVESTIGATOR: "pemeriksa1",
    Role.CUSTODIAN: "inspektur",
    Role.AUDITOR: "auditor",
    Role.OPERATOR: "petugas1",
}


def test_every_staff_route_declares_a_policy(staff_app):
    undeclared = [
        rule.rule
        for rule in staff_app.url_map.iter_rules()
        if rule.endpoint != "static" and policy_of(staff_app.view_functions[rule.endpoint]) is None
    ]
    assert undeclared == []


def test_authorization_matrix(staff_app, people):
    """Every staff route x every role and anonymous: allowed, refused (403) or sent to
    sign in. A route without a policy would fail here too (refused to everybody)."""
    clients = {role: signed_in(staff_app, people[user]) for role, user in ROLE_USERS.items()}
    staff_app.config["WTF_CSRF_ENABLED"] = False  # the policy, not the token, is tested
    try:
        clients[None] = staff_app.test_client()
        checked = 0
        # Signing out last: it ends the session the other rows need.
        rules = sorted(
            staff_app.url_map.iter_rules(), key=lambda r: r.endpoint == "staff.logout_view"
        )
        for rule in rules:
            if rule.endpoint == "static":
                continue
            policy = policy_of(staff_app.view_functions[rule.endpoint])
            assert policy is not None, rule.rule
            allowed = ALLOWED[policy]
            path = sample_path(rule)
            for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
                for role, client in clients.items():
                    response = client.open(path, method=method, data={})
                    where = f"{method} {rule.rule} as {role}"
                    if rule.endpoint == "staff.logout_view" and role is not None:
                        assert response.status_code == 303, where
                        assert client.get("/account").status_code == 303, where  # ended
                    elif allowed is None or (role is not None and role in allowed):
                        assert response.status_code not in (401, 403), where
                        assert not response.headers.get("Location", "").endswith("/login"), where
                        assert response.status_code < 500, where
                    elif role is None:
                        assert response.status_code == 303, where
                        assert response.headers["Location"].endswith("/login"), where
                    else:
                        assert response.status_code == 403, where
                    checked += 1
        assert checked > 100
    finally:
        staff_app.config["WTF_CSRF_ENABLED"] = True


def test_the_matrix_knows_every_policy():
    assert set(ALLOWED) == set(Policy)


# --- sign-in ------------------------------------------------------------------------------


def test_sign_in_needs_username_password_and_a_fresh_totp_code(staff_app, people, database_url):
    person = people["auditor"]
    client = staff_app.test_client()
    assert sign_in(client, person, code="000000").status_code == 400
    code = person.code()
    assert sign_in(client, person, code=code).status_code == 303
    # The same code again, on another browser: refused, it counts once.
    replay = sign_in(staff_app.test_client(), person, code=code)
    assert replay.status_code == 400
    reasons = [e.detail for e in entries(database_url, "login.failure")]
    assert '{"reason":"second_factor"}' in reasons


def test_unknown_user_wrong_password_and_wrong_totp_cost_the_same_and_look_the_same(
    staff_app, people, monkeypatch
):
    calls: list = []
    real = kdf_module.argon2id

    def recording(secret, salt, params):
        calls.append(params)
        return real(secret, salt, params)

    monkeypatch.setattr(kdf_module, "argon2id", recording)
    person = people["inspektur"]
    pages = {}
    for label, (username, password, code) in {
        "unknown user": ("nobody-here", person.password, person.code()),
        "wrong password": (person.username, person.password + "x", person.code()),
        "wrong totp": (person.username, person.password, "123456"),
    }.items():
        calls.clear()
        client = staff_app.test_client()
        response = client.post(
            "/login",
            data={
                "csrf_token": csrf(client, "/login"),
                "username": username,
                "password": password,
                "totp": code,
            },
        )
        body = re.sub(r'value="[^"]*"', "", response.get_data(as_text=True))
        pages[label] = (response.status_code, body, tuple(calls))
        assert len(calls) == 1, label
    assert len(set(pages.values())) == 1


def test_a_failed_sign_in_never_stores_the_typed_username(
    staff_app, people, database_url, redis_url
):
    typed = f"typed-{uuid.uuid4().hex}"
    client = staff_app.test_client()
    response = client.post(
        "/login",
        data={
            "csrf_token": csrf(client, "/login"),
            "username": typed,
            "password": "x" * 12,
            "totp": "1",
        },
    )
    assert response.status_code == 400
    # Someone typing a password into the username box: a real account's name + junk.
    assert typed.encode() not in b"\0".join(every_database_value(database_url))
    assert typed.encode() not in b"\0".join(redis_contents(redis_url))
    failures = entries(database_url, "login.failure")
    assert failures[-1].actor == "unknown"
    assert typed not in (failures[-1].detail or "")


# --- sessions -----------------------------------------------------------------------------


def _cookie(client, app) -> str:
    return client.get_cookie(app.config["SESSION_COOKIE_NAME"]).value


def test_the_session_id_rotates_at_sign_in_and_a_database_copy_opens_nothing(
    staff_app, people, database_url
):
    client = staff_app.test_client()
    client.get("/login")
    before = _cookie(client, staff_app)
    assert sign_in(client, people["pemeriksa2"]).status_code == 303
    after = _cookie(client, staff_app)
    assert after != before
    content = staff_app.session_interface.get_signing_serializer(staff_app).loads(after)
    import base64

    session_id = base64.urlsafe_b64decode(content["staff_session"])
    session_key = base64.urlsafe_b64decode(content["staff_key"])
    stored = b"\0".join(every_database_value(database_url))
    assert session_id not in stored and session_key not in stored
    assert session_id.hex().encode() not in stored and session_key.hex().encode() not in stored
    # The row's key opens only with the cookie's key.
    account = account_of(database_url, "pemeriksa2")
    with database(database_url) as session:
        rows = session.scalars(select(StaffSession).where(StaffSession.account_id == account.id))
        sealed = [row.sealed_private_key for row in rows]
    owner = f"staff-session/{account.id}"
    opened = [open_private_key(s, session_key, owner=owner, purpose="session") for s in sealed[-1:]]
    assert opened[0].public_key().to_bytes() == account.public_key
    with pytest.raises(CryptoError):
        open_private_key(sealed[-1], bytes(32), owner=owner, purpose="session")


def test_logout_ends_the_session_even_for_a_kept_cookie(staff_app, people):
    client = signed_in(staff_app, people["auditor"])
    kept = _cookie(client, staff_app)
    assert client.get("/audit").status_code == 200
    assert post(client, "/logout").status_code == 303
    thief = staff_app.test_client()
    thief.set_cookie(staff_app.config["SESSION_COOKIE_NAME"], kept)
    response = thief.get("/audit")
    assert response.status_code == 303 and response.headers["Location"].endswith("/login")


@pytest.mark.parametrize("column, age", [("last_seen_at", 31 * 60), ("created_at", 10 * 3600 + 60)])
def test_sessions_expire_when_idle_or_too_old(staff_app, people, database_url, column, age):
    client = signed_in(staff_app, people["auditor"])
    assert client.get("/audit/activity").status_code == 200
    with database(database_url) as session:
        session.execute(
            update(StaffSession).values({column: datetime.now(UTC) - timedelta(seconds=age)})
        )
        session.commit()
    response = client.get("/audit/activity")
    assert response.status_code == 303 and response.headers["Location"].endswith("/login")


def test_password_change_keeps_the_key_and_ends_every_session(staff_app, people, database_url):
    person = people["pemeriksa2"]
    other_browser = signed_in(staff_app, person)
    client = signed_in(staff_app, person)
    before = account_of(database_url, person.username)
    new_password = "kata sandi baru yang panjang " + uuid.uuid4().hex[:6]
    response = post(
        client,
        "/account",
        "/account",
        current=person.password,
        password=new_password,
        password_confirm=new_password,
    )
    assert response.status_code == 200 and "silakan masuk lagi" in response.get_data(as_text=True)
    assert other_browser.get("/routing").status_code == 303
    assert client.get("/routing").status_code == 303
    after = account_of(database_url, person.username)
    assert after.public_key == before.public_key  # same key: grants survive
    assert after.sealed_private_key != before.sealed_private_key
    assert sign_in(staff_app.test_client(), person).status_code == 400  # old password
    person.password = new_password
    assert sign_in(staff_app.test_client(), person).status_code == 303


@pytest.mark.parametrize(
    ("weak", "why"),
    [
        ("111111111111", "mengulang satu karakter"),
        ("passwordpassword", "mengulang satu karakter"),
        ("jakarta12345", "nama kantor ini"),
        ("inspektorat1", "nama kantor ini"),
    ],
)
def test_an_easily_guessed_new_password_is_refused_saying_why_and_how(
    staff_app, people, database_url, weak, why
):
    """Issue 15 item 7: 12 characters outside the common list were enough."""
    person = people["pemeriksa2"]
    client = signed_in(staff_app, person)
    before = account_of(database_url, person.username)
    response = post(
        client,
        "/account",
        "/account",
        current=person.password,
        password=weak,
        password_confirm=weak,
    )
    page = response.get_data(as_text=True)
    assert response.status_code == 400, page
    assert why in page and "empat kata atau lebih" in page
    assert account_of(database_url, person.username).password_record == before.password_record
    assert client.get("/routing").status_code == 200  # still signed in: nothing changed


# --- enrollment and the two-person rule -----------------------------------------------------


def _activate(app, path: str, password: str) -> tuple[str, str]:
    import pyotp

    client = app.test_client()
    page = client.get(path)
    assert page.status_code == 200
    body = page.get_data(as_text=True)
    assert "<svg" in body  # the QR code, drawn server-side
    secret = totp_key(body)
    response = client.post(
        path,
        data={
            "csrf_token": csrf(client, path),
            "password": password,
            "password_confirm": password,
            "totp": pyotp.TOTP(secret).now(),
        },
    )
    assert response.status_code == 200, response.get_data(as_text=True)[:800]
    return secret, response.get_data(as_text=True)


def test_a_new_investigator_works_only_after_a_second_admin_approves(
    staff_app, people, database_url
):
    admin = signed_in(staff_app, people["admin"])
    username = "baru-" + uuid.uuid4().hex[:6]
    link = create_account(admin, username, "investigator")
    password = "sandi panjang untuk " + username
    secret, page = _activate(staff_app, link, password)
    fingerprint = re.search(r'id="fingerprint">([^<]+)<', page).group(1)
    assert "admin kedua" in page
    # The link worked once.
    assert staff_app.test_client().get(link).status_code == 404
    newcomer = Person(username, password, secret, 0, database_url)
    # Found in review: a waiting account was told "check your username, password and
    # code", and each try used up the name's budget until two codes were asked for. The
    # holder of both secrets is told why, and trying again costs nothing.
    for _ in range(12):
        waiting = sign_in(staff_app.test_client(), newcomer)
        assert waiting.status_code == 400
        page = waiting.get_data(as_text=True)
        assert "menunggu persetujuan admin kedua" in page and 'name="totp_next"' not in page
    stranger = sign_in(staff_app.test_client(), Person(username, "salah", secret, 0, database_url))
    assert "menunggu" not in stranger.get_data(as_text=True)  # only with both secrets
    account = account_of(database_url, username)
    assert account.state == AccountState.PENDING
    with database(database_url) as session:
        proposal = session.scalar(select(Proposal).where(Proposal.account_id == account.id))
    assert proposal.state == "pending"
    assert proposal.fingerprint == fingerprint.replace(" ", "").lower()
    # The inviting admin cannot approve; the proposals page shows the fingerprint.
    listing = admin.get("/admin/proposals").get_data(as_text=True)
    assert fingerprint in listing
    refused = post(
        admin, f"/admin/proposals/{proposal.id}/approve", "/admin/proposals", confirm="y"
    )
    assert refused.status_code == 409
    # The proposals page again (review 17b: a dead-end error page), its reason at the top.
    page = refused.get_data(as_text=True)
    assert re.search(r'</h1>\s*<p class="error-text" role="alert">Admin kedua yang harus', page)
    assert f'id="proposal-{proposal.id}"' in page
    assert account_of(database_url, username).state == AccountState.PENDING
    second = signed_in(staff_app, people["admin2"])
    assert (
        post(
            second, f"/admin/proposals/{proposal.id}/approve", "/admin/proposals", confirm="y"
        ).status_code
        == 303
    )
    assert account_of(database_url, username).state == AccountState.ACTIVE
    assert sign_in(staff_app.test_client(), newcomer).status_code == 303
    actions = [e.action for e in entries(database_url) if username in (e.detail or "")]
    assert actions[:2] == ["account.create", "key.register"]
    assert "proposal.create" in actions and "proposal.approve" in actions
    assert actions[-1] == "account.activate"


def test_an_account_made_at_the_shell_takes_two_admins_besides_the_shell(
    staff_app, env, people, database_url
):
    """Issue 15: ``sipadu user create`` without a password recorded its proposal as the
    operator's, so the admin who ran it (holding the activation link) could enroll the
    account and approve it alone. Now a shell's proposal takes two distinct admins."""
    username = "shell-" + uuid.uuid4().hex[:6]
    created = invoke(env, "user", "create", "--username", username, "--role", "investigator")
    assert created.exit_code == 0, created.output
    link = re.search(r"activation: (/activate/\S+)", created.output).group(1)
    _activate(staff_app, link, "sandi panjang untuk " + username)
    account = account_of(database_url, username)
    with database(database_url) as session:
        proposal = session.scalar(select(Proposal).where(Proposal.account_id == account.id))
    assert proposal.proposed_by == "operator"
    # The admin who was at the shell approves: it is not enough.
    admin = signed_in(staff_app, people["admin"])
    approve = f"/admin/proposals/{proposal.id}/approve"
    assert post(admin, approve, "/admin/proposals", confirm="y").status_code == 303
    assert account_of(database_url, username).state == AccountState.PENDING
    listing = admin.get("/admin/proposals").get_data(as_text=True)
    assert f'id="two-approvals-{proposal.id}"' in listing and "admin kedua yang berbeda" in listing
    assert post(admin, approve, "/admin/proposals", confirm="y").status_code == 409
    assert account_of(database_url, username).state == AccountState.PENDING
    second = signed_in(staff_app, people["admin2"])
    assert post(second, approve, "/admin/proposals", confirm="y").status_code == 303
    assert account_of(database_url, username).state == AccountState.ACTIVE


def test_an_auditor_account_needs_no_second_admin(staff_app, people, database_url):
    admin = signed_in(staff_app, people["admin"])
    username = "audit-" + uuid.uuid4().hex[:6]
    link = create_account(admin, username, "auditor")
    _secret, page = _activate(staff_app, link, "sandi panjang untuk " + username)
    assert "Anda sekarang dapat masuk" in page
    assert account_of(database_url, username).state == AccountState.ACTIVE


def test_a_role_grant_and_a_routing_change_are_inert_until_approved(
    staff_app, people, database_url
):
    admin, second = signed_in(staff_app, people["admin"]), signed_in(staff_app, people["admin2"])
    auditor = account_of(database_url, "auditor")
    response = post(
        admin,
        f"/admin/accounts/{auditor.id}/roles",
        f"/admin/accounts/{auditor.id}",
        role="custodian",
        confirm="y",
    )
    assert response.status_code == 303 and "proposed" in response.headers["Location"]
    assert Role.CUSTODIAN not in account_of(database_url, "auditor").role_set
    # Routing: remove pemeriksa1 from kkn, proposed; still routed until approved.
    investigator = account_of(database_url, "pemeriksa1")
    with database(database_url) as session:
        kkn = session.scalar(select(Category).where(Category.slug == "kkn"))
        assert session.get(CategoryRoute, (kkn.id, investigator.id)) is not None
    response = post(
        admin,
        "/admin/categories/kkn/routes",
        "/admin/categories",
        change="remove",
        account=str(investigator.id),
        confirm="y",
    )
    assert response.status_code == 303
    with database(database_url) as session:
        assert session.get(CategoryRoute, (kkn.id, investigator.id)) is not None
        waiting = list(session.scalars(select(Proposal).where(Proposal.state == "pending")))
    mine = [p for p in waiting if p.proposed_by == str(account_of(database_url, "admin").id)]
    assert {p.kind for p in mine} >= {"role_grant", "route_remove"}
    for proposal in mine:
        assert (
            post(
                admin, f"/admin/proposals/{proposal.id}/approve", "/admin/proposals", confirm="y"
            ).status_code
            == 409
        )
        assert (
            post(
                second, f"/admin/proposals/{proposal.id}/approve", "/admin/proposals", confirm="y"
            ).status_code
            == 303
        )
    assert Role.CUSTODIAN in account_of(database_url, "auditor").role_set
    with database(database_url) as session:
        assert session.get(CategoryRoute, (kkn.id, investigator.id)) is None
    removal = entries(database_url, "route.remove")[-1]
    assert json.loads(removal.detail)["fingerprint"]  # audited with the key fingerprint
    # Put things back for the other tests (again two admins).
    post(
        admin,
        "/admin/categories/kkn/routes",
        "/admin/categories",
        change="add",
        account=str(investigator.id),
        confirm="y",
    )
    with database(database_url) as session:
        back = session.scalar(
            select(Proposal).where(Proposal.state == "pending", Proposal.kind == "route_add")
        )
    assert (
        post(
            second, f"/admin/proposals/{back.id}/approve", "/admin/proposals", confirm="y"
        ).status_code
        == 303
    )
    post(
        admin,
        f"/admin/accounts/{auditor.id}/roles/revoke",
        f"/admin/accounts/{auditor.id}",
        role="custodian",
        confirm="y",
    )


def test_deactivation_is_immediate_and_ends_sessions(staff_app, people, database_url):
    admin = signed_in(staff_app, people["admin"])
    username = "pergi-" + uuid.uuid4().hex[:6]
    link = create_account(admin, username, "auditor")
    secret, _page = _activate(staff_app, link, "sandi panjang untuk " + username)
    leaving = Person(username, "sandi panjang untuk " + username, secret, 0, database_url)
    client = signed_in(staff_app, leaving)
    assert client.get("/audit").status_code == 200
    account = account_of(database_url, username)
    assert (
        post(
            admin,
            f"/admin/accounts/{account.id}/deactivate",
            f"/admin/accounts/{account.id}",
            confirm="y",
        ).status_code
        == 303
    )
    assert client.get("/audit").status_code == 303
    assert sign_in(staff_app.test_client(), leaving).status_code == 400
    with database(database_url) as session:
        assert (
            session.scalar(select(StaffSession).where(StaffSession.account_id == account.id))
            is None
        )
    # An auditor comes back at once (no sensitive role); an investigator would need two.
    page = f"/admin/accounts/{account.id}"
    response = post(admin, f"{page}/reactivate", page, confirm="y")
    assert response.status_code == 303 and "reactivated" in response.headers["Location"]
    assert sign_in(staff_app.test_client(), leaving).status_code == 303


def test_the_sharing_switch_sets_what_the_admin_chose_even_when_sent_twice(
    staff_app, people, database_url
):
    """A double click, or a form resent after a timeout, used to flip the switch back."""
    admin = signed_in(staff_app, people["admin"])
    target = account_of(database_url, "pemeriksa2")
    page = f"/admin/accounts/{target.id}"
    assert target.may_grant is False
    assert 'name="allowed" value="yes"' in admin.get(page).get_data(as_text=True)
    before = len(entries(database_url, audit.Action.PERMISSION_CHANGE.value))
    for _twice in range(2):
        response = post(admin, f"{page}/may-grant", page, allowed="yes", confirm="y")
        assert response.status_code == 303
        assert account_of(database_url, "pemeriksa2").may_grant is True
    changes = entries(database_url, audit.Action.PERMISSION_CHANGE.value)[before:]
    # The repeat changed nothing, and logged nothing.
    assert [json.loads(c.detail)["may_grant"] for c in changes] == [True]
    assert 'name="allowed" value="no"' in admin.get(page).get_data(as_text=True)
    for _twice in range(2):
        post(admin, f"{page}/may-grant", page, allowed="no", confirm="y")
        assert account_of(database_url, "pemeriksa2").may_grant is False
    for missing_or_odd in ({}, {"allowed": "toggle"}):
        assert (
            post(admin, f"{page}/may-grant", page, **missing_or_odd, confirm="y").status_code == 400
        )
    assert account_of(database_url, "pemeriksa2").may_grant is False


def test_an_admin_reset_drops_the_key_and_its_grants_and_says_so(
    staff_app, reporter_app, people, database_url
):
    submit(reporter_app.test_client(), category="kkn")  # wrapped to pemeriksa1 and 2
    admin = signed_in(staff_app, people["admin"])
    target = account_of(database_url, "pemeriksa1")
    page = admin.get(f"/admin/accounts/{target.id}").get_data(as_text=True)
    assert "kehilangan akses ke setiap laporan" in page
    with database(database_url) as session:
        held = session.scalars(select(ReportKey).where(ReportKey.recipient_id == target.id)).all()
        granted = session.scalars(
            select(ReportGrant).where(ReportGrant.account_id == target.id)
        ).all()
    assert held and granted
    response = post(
        admin,
        f"/admin/accounts/{target.id}/reset-password",
        f"/admin/accounts/{target.id}",
        confirm="y",
    )
    assert response.status_code == 200
    link = re.search(r'id="link">http://[^/]+([^<]+)<', response.get_data(as_text=True)).group(1)
    after = account_of(database_url, "pemeriksa1")
    assert after.public_key is None and after.state == AccountState.INVITED
    with database(database_url) as session:
        assert not session.scalars(
            select(ReportKey).where(ReportKey.recipient_id == target.id)
        ).all()
        assert not session.scalars(
            select(ReportGrant).where(ReportGrant.account_id == target.id)
        ).all()  # its list is empty too: nothing to open without keys
    detail = json.loads(entries(database_url, "password.reset")[-1].detail)
    assert detail["wraps_dropped"] == len(held) and detail["old_fingerprint"]
    assert detail["grants_dropped"] == len(granted)
    # The person re-activates with a new key; a second admin approves again.
    people["pemeriksa1"].password = "sandi baru pemeriksa satu"
    secret, _ = _activate(staff_app, link, people["pemeriksa1"].password)
    people["pemeriksa1"].totp_secret = secret
    people["pemeriksa1"].step = 0
    assert account_of(database_url, "pemeriksa1").public_key not in (None, target.public_key)
    with database(database_url) as session:
        proposal = session.scalar(
            select(Proposal).where(Proposal.account_id == target.id, Proposal.state == "pending")
        )
    second = signed_in(staff_app, people["admin2"])
    assert (
        post(
            second, f"/admin/proposals/{proposal.id}/approve", "/admin/proposals", confirm="y"
        ).status_code
        == 303
    )


def _propose_totp_reset(staff_app, people, database_url, username: str):
    """The first admin presses "reset authenticator": a proposal, no link."""
    admin = signed_in(staff_app, people["admin"])
    target = account_of(database_url, username)
    page = f"/admin/accounts/{target.id}"
    response = post(admin, f"{page}/reset-totp", page, confirm="y")
    assert response.status_code == 303 and "proposed" in response.headers["Location"]
    with database(database_url) as session:
        proposal = session.scalar(
            select(Proposal).where(
                Proposal.account_id == target.id,
                Proposal.state == "pending",
                Proposal.kind == "totp_reset",
            )
        )
    return admin, proposal


def test_a_totp_reset_of_a_sensitive_role_takes_two_admins_and_keeps_password_and_key(
    staff_app, people, database_url
):
    """Issue 15: one admin pressed "reset authenticator" for a custodian and got the
    link at once. Now that admin's press is a proposal (the old app still works); the
    proposer cannot approve it, and the second admin who does is the one shown the link.
    The enrolment is recorded as the link's, naming both admins, in plain words."""
    import pyotp

    person = people["inspektur"]
    target = account_of(database_url, person.username)
    admin, proposal = _propose_totp_reset(staff_app, people, database_url, person.username)
    assert proposal is not None
    assert account_of(database_url, person.username).sealed_totp == target.sealed_totp
    assert sign_in(staff_app.test_client(), person).status_code == 303  # nothing changed yet
    refused = post(
        admin, f"/admin/proposals/{proposal.id}/approve", "/admin/proposals", confirm="y"
    )
    assert refused.status_code == 409 and 'id="link"' not in refused.get_data(as_text=True)
    second = signed_in(staff_app, people["admin2"])
    response = post(
        second, f"/admin/proposals/{proposal.id}/approve", "/admin/proposals", confirm="y"
    )
    assert response.status_code == 200
    link = re.search(r'id="link">http://[^/]+([^<]+)<', response.get_data(as_text=True)).group(1)
    assert sign_in(staff_app.test_client(), person).status_code == 400  # old app is gone
    client = staff_app.test_client()
    body = client.get(link).get_data(as_text=True)
    secret = totp_key(body)
    data = {
        "csrf_token": csrf(client, link),
        "totp": pyotp.TOTP(secret).now(),
    }
    wrong = client.post(link, data={**data, "password": "wrong wrong wrong"})
    # A wrong current password is called that, not "choose a better password".
    assert wrong.status_code == 400 and "Kata sandi tidak benar." in wrong.get_data(as_text=True)
    assert "Pilih kata sandi minimal" not in wrong.get_data(as_text=True)
    assert client.post(link, data={**data, "password": person.password}).status_code == 200
    person.totp_secret, person.step = secret, 0
    assert account_of(database_url, person.username).public_key == target.public_key
    assert sign_in(staff_app.test_client(), person).status_code == 303

    # Who completed it: the link, issued by both admins; never the owner.
    completed = [
        e
        for e in entries(database_url, "totp.reset")
        if json.loads(e.detail).get("completed")
        and json.loads(e.detail)["account"] == str(target.id)
    ][-1]
    detail = json.loads(completed.detail)
    admins = [str(account_of(database_url, n).id) for n in ("admin", "admin2")]
    assert completed.actor == "link" and completed.actor != str(target.id)
    assert detail["via"] == "link" and detail["issued_by"] == admins
    # The auditor reads it in plain words, without internal values.
    auditor = signed_in(staff_app, people["auditor"])
    log = auditor.get("/audit?action=totp.reset").get_data(as_text=True)
    row = next(r for r in log.split("<tr>") if re.search(rf"<td[^>]*>{completed.seq}</td>", r))
    assert "melalui tautan sekali pakai yang diterbitkan oleh admin dan admin2" in row
    assert f"belum tentu {person.username}" in row
    assert "siapa pun pemegang tautan sekali pakai" in row
    # Its role column names the link's holder (the review: "Akun sendiri", own account)
    assert ">Pemegang tautan sekali pakai</td>" in row and "Akun sendiri" not in row
    words = _visible_text(row)  # the raw detail is folded away, labelled technical
    assert '"via"' not in words and "issued_by" not in words and "totp.reset" not in words


def test_the_enrolling_person_cannot_choose_the_totp_seed(staff_app, people, database_url):
    """Issue 15: the seed came back from a hidden form field, so whoever held the link
    set the account's second factor to one of their choosing. Now the server keeps it:
    a posted seed is ignored, and a code of it is refused."""
    import pyotp

    person = people["inspektur"]
    _admin, proposal = _propose_totp_reset(staff_app, people, database_url, person.username)
    response = post(
        signed_in(staff_app, people["admin2"]),
        f"/admin/proposals/{proposal.id}/approve",
        "/admin/proposals",
        confirm="y",
    )
    link = re.search(r'id="link">http://[^/]+([^<]+)<', response.get_data(as_text=True)).group(1)
    client = staff_app.test_client()
    shown = totp_key(client.get(link).get_data(as_text=True))
    assert 'name="totp_secret"' not in client.get(link).get_data(as_text=True)
    chosen = pyotp.random_base32()
    refused = client.post(
        link,
        data={
            "csrf_token": csrf(client, link),
            "totp_secret": chosen,
            "totp": pyotp.TOTP(chosen).now(),
            "password": person.password,
        },
    )
    assert refused.status_code == 400
    assert "Kode tidak cocok" in refused.get_data(as_text=True)
    assert account_of(database_url, person.username).sealed_totp is None
    # A browser that was never shown a seed for the link cannot post one either.
    stranger = staff_app.test_client()
    token = csrf(stranger, "/login")
    blind = stranger.post(
        link,
        data={
            "csrf_token": token,
            "totp_secret": chosen,
            "totp": pyotp.TOTP(chosen).now(),
            "password": person.password,
        },
    )
    assert blind.status_code == 400
    # The seed the server showed works, and it is the one sealed for the account.
    person._forget_last_step()  # earlier tests spent this half-minute's steps
    done = client.post(
        link,
        data={
            "csrf_token": csrf(client, link),
            "totp": pyotp.TOTP(shown).now(),
            "password": person.password,
        },
    )
    assert done.status_code == 200, done.get_data(as_text=True)[:500]
    person.totp_secret, person.step = shown, int(time.time()) // 30
    assert sign_in(staff_app.test_client(), person).status_code == 303


def test_totp_seeds_and_link_tokens_are_not_stored_in_the_clear(staff_app, people, database_url):
    stored = b"\0".join(every_database_value(database_url))
    for person in people.values():
        assert person.totp_secret.encode() not in stored
    admin = signed_in(staff_app, people["admin"])
    link = create_account(admin, "rahasia-" + uuid.uuid4().hex[:6], "auditor")
    token = link.rsplit("/", 1)[1]
    assert token.encode() not in b"\0".join(every_database_value(database_url))


def test_an_expired_link_does_not_open(staff_app, people, database_url):
    admin = signed_in(staff_app, people["admin"])
    username = "lama-" + uuid.uuid4().hex[:6]
    link = create_account(admin, username, "auditor")
    with database(database_url) as session:
        session.execute(
            update(StaffAccount)
            .where(StaffAccount.username == username)
            .values(enrollment_expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )
        session.commit()
    assert staff_app.test_client().get(link).status_code == 404


def test_routing_shows_recipients_with_fingerprints_to_investigators_and_auditors(
    staff_app, people, database_url
):
    fingerprint = account_of(database_url, "pemeriksa2").public_key
    from sipadu.crypto import PublicKey
    from sipadu.crypto import fingerprint as fp

    shown = fp(PublicKey.from_bytes(fingerprint))
    for user in ("pemeriksa2", "auditor"):
        page = signed_in(staff_app, people[user]).get("/routing").get_data(as_text=True)
        assert "pemeriksa2" in page and shown in page


# --- the auditor ---------------------------------------------------------------------


def verify_with(auditor, kept: bytes):
    """Upload one kept checkpoint file to the web verification."""
    return auditor.post(
        "/audit/verify",
        data={
            "csrf_token": csrf(auditor, "/audit/verify"),
            "checkpoints": [(io.BytesIO(kept), "kept.json")],
        },
        content_type="multipart/form-data",
    )


def test_the_auditor_filters_pages_verifies_and_exports(staff_app, people, database_url):
    auditor = signed_in(staff_app, people["auditor"])
    page = auditor.get("/audit?action=login.success")
    assert page.status_code == 200
    rows = re.findall(r"<td[^>]*>Masuk</td>", page.get_data(as_text=True))  # in words
    assert rows and ">Gagal masuk</td>" not in page.get_data(as_text=True)
    by_actor = auditor.get("/audit?actor=admin2").get_data(as_text=True)
    assert "admin2" in by_actor and ">pemeriksa2</td>" not in by_actor
    today = datetime.now(UTC).date()
    assert "Tidak ada entri yang cocok" in auditor.get(
        f"/audit?since={today + timedelta(days=1)}"
    ).get_data(as_text=True)
    assert auditor.get("/audit?report=not-a-uuid").status_code == 400
    # Pages: 50 per page, then older ones.
    first = auditor.get("/audit").get_data(as_text=True)
    older = re.search(r'href="([^"]+before=\d+[^"]*)" rel="next"', first).group(1)
    assert auditor.get(older.replace("&amp;", "&")).status_code == 200

    # A checkpoint made now and kept by the auditor verifies; the export streams.
    made = post(auditor, "/audit/checkpoints", "/audit/checkpoints")
    assert made.status_code == 200
    kept = made.get_data()
    response = verify_with(auditor, kept)
    assert response.status_code == 200 and "Utuh:" in response.get_data(as_text=True)
    export = auditor.get("/audit/export.jsonl")
    lines = export.get_data(as_text=True).splitlines()
    header = json.loads(lines[0])
    assert header["public_key"] == json.loads(kept)["public_key"]
    assert json.loads(lines[-1])["action"] == "audit.export"  # recorded before it streamed
    assert auditor.get("/audit/export.csv").status_code == 200
    assert auditor.get("/audit/public-key").get_data(as_text=True).strip() == header["public_key"]
    assert auditor.get("/audit/activity").status_code == 200

    # Rewrite history: the kept checkpoint catches it even though the server's own
    # checkpoints are rewritten along (here: simply deleted).
    with database(database_url) as session:
        seq = json.loads(kept)["seq"]
        session.execute(text("DELETE FROM audit_checkpoint"))
        session.execute(
            update(AuditEvent).where(AuditEvent.seq == seq - 3).values(detail='{"forged":true}')
        )
        session.commit()
    response = verify_with(auditor, kept)
    body = response.get_data(as_text=True)
    assert "TIDAK utuh" in body and f"adalah {seq - 3}." in body


def test_the_older_entries_link_carries_the_filters_and_nothing_else(
    staff_app, people, monkeypatch
):
    """The query string is not url_for's options: ``?endpoint=``, ``?_method=POST`` or a
    lone ``?_scheme=`` made the page a 500, ``?_external=1&_anchor=`` changed the link.
    The link keeps the list's filters and its own position only."""
    from sipadu.services import audit_log

    monkeypatch.setattr(audit_log, "PAGE_SIZE", 1)
    signed_in(staff_app, people["auditor"])  # two sign-ins: more than one page
    auditor = signed_in(staff_app, people["auditor"])
    query = "action=login.success&_external=1&_scheme=https&_anchor=x&_method=POST"
    page = auditor.get(f"/audit?{query}")
    assert page.status_code == 200
    older = re.search(r'href="([^"]+)" rel="next"', page.get_data(as_text=True)).group(1)
    link = urlsplit(html.unescape(older))
    assert (link.scheme, link.netloc, link.path, link.fragment) == ("", "", "/audit", "")
    assert sorted(parse_qs(link.query)) == ["action", "before"]
    assert auditor.get("/audit?endpoint=x").status_code == 200
    assert auditor.get("/audit?_scheme=https").status_code == 200


def test_a_checkpoint_file_that_is_not_one_is_refused_clearly(staff_app, people):
    auditor = signed_in(staff_app, people["auditor"])
    response = verify_with(auditor, b"{}")
    assert response.status_code == 400 and (
        "bukan berkas titik periksa (checkpoint) SIPADU" in response.get_data(as_text=True)
    )


# --- a scripted day ------------------------------------------------------------------------


def test_the_audit_chain_verifies_after_a_day_of_staff_activity(env, people, tmp_path):
    """A fresh instance: sign-ins, a failed one, an invitation, activation, approval, a
    routing change, auditor views and exports, sign-outs. Every step is in the chain,
    and the chain verifies (web and CLI)."""
    from click.testing import CliRunner

    from sipadu import create_app
    from sipadu.cli import main as cli
    from sipadu.settings.config import load_config
    from tests.helpers import config_env

    day_env = config_env(
        tmp_path / "instance", f"sqlite:///{tmp_path / 'day.db'}", env.get("SIPADU_REDIS_URL")
    )
    crew = init_demo(day_env)
    app = create_app("staff", load_config(day_env))
    app.config["TESTING"] = True
    try:
        admin, second = signed_in(app, crew["admin"]), signed_in(app, crew["admin2"])
        assert (
            sign_in(app.test_client(), crew["auditor"], password="not it at all").status_code == 400
        )
        link = create_account(admin, "harian", "investigator")
        _activate(app, link, "sandi panjang harian kerupuk")
        with database(day_env["SIPADU_DATABASE_URL"]) as session:
            for proposal in session.scalars(select(Proposal).where(Proposal.state == "pending")):
                assert (
                    post(
                        second,
                        f"/admin/proposals/{proposal.id}/approve",
                        "/admin/proposals",
                        confirm="y",
                    ).status_code
                    == 303
                )
            harian = session.scalar(select(StaffAccount).where(StaffAccount.username == "harian"))
        post(
            admin,
            "/admin/categories/kkn/routes",
            "/admin/categories",
            change="add",
            account=str(harian.id),
            confirm="y",
        )
        with database(day_env["SIPADU_DATABASE_URL"]) as session:
            proposal = session.scalar(select(Proposal).where(Proposal.state == "pending"))
        assert (
            post(
                second, f"/admin/proposals/{proposal.id}/approve", "/admin/proposals", confirm="y"
            ).status_code
            == 303
        )
        auditor = signed_in(app, crew["auditor"])
        auditor.get("/audit")
        auditor.get("/audit/export.csv").get_data()
        for client in (admin, second, auditor):
            assert post(client, "/logout").status_code == 303
        actions = [e.action for e in entries(day_env["SIPADU_DATABASE_URL"])]
        for expected in (
            "login.success",
            "login.failure",
            "account.create",
            "key.register",
            "proposal.create",
            "proposal.approve",
            "account.activate",
            "route.add",
            "audit.view",
            "audit.export",
            "logout",
        ):
            assert expected in actions, expected
        with database(day_env["SIPADU_DATABASE_URL"]) as session:
            assert audit.verify_chain(session.connection()).ok
        result = CliRunner().invoke(cli, ["audit", "verify"], env=day_env, catch_exceptions=False)
        assert result.exit_code == 0 and result.stdout.startswith("OK")
    finally:
        dispose(app)


def test_no_staff_page_of_this_issue_shows_report_contents(
    staff_app, reporter_app, people, database_url
):
    """Admins, auditors and custodians hold no grant; none of their pages, exports or
    checkpoints carries a report's words (they could not decrypt them anyway)."""
    canary = f"CANARY-{uuid.uuid4().hex}"
    submit(reporter_app.test_client(), title=canary, what=canary, identity=canary)
    pages = []
    for user in ("admin", "auditor", "inspektur"):  # investigators are granted: they read
        client = signed_in(staff_app, people[user])
        for rule in staff_app.url_map.iter_rules():
            if "GET" in rule.methods and not rule.arguments and rule.endpoint != "static":
                pages.append(client.get(rule.rule).get_data())
        pages += [client.get(f"/audit/export.{fmt}").get_data() for fmt in ("jsonl", "csv")]
    assert len(pages) > 15 and any(b'"format": "sipadu-audit-export-v1"' in p for p in pages)
    assert not any(canary.encode() in page for page in pages)


def _propose_offered(admin, database_url: str, slug: str, offered: bool) -> Proposal:
    """The category's change proposed on its words form: its words as they are (the
    statutory ones' empty), reporters may choose it or not."""
    answer = post(
        admin,
        f"/admin/categories/{slug}/words",
        "/admin/categories",
        **({"offered": "y"} if offered else {}),
    )
    assert answer.status_code == 303, answer.get_data(as_text=True)
    with database(database_url) as session:
        (proposal,) = session.scalars(
            select(Proposal).where(Proposal.kind == "category_change", Proposal.state == "pending")
        )
        session.expunge_all()
        return proposal


def _category_report(reporter_app, title: str) -> tuple[int, str]:
    client = reporter_app.test_client()
    response = client.post(
        "/report",
        data={
            **form_tokens(client, "/report"),
            "category": "kkn",
            "title": title,
            "what": "Kejadian",
            "passphrase": "",
            "passphrase_confirm": "",
        },
    )
    return response.status_code, response.get_data(as_text=True)


def test_closing_a_category_takes_two_admins_and_then_refuses_reports_clearly(
    staff_app, reporter_app, people, database_url
):
    """Issue 18 item 2: whether reporters may choose a category is under the two-person
    rule, statutory ones included. One admin alone closes nothing: there is no
    immediate switch (review of issue 18), only a proposal a second admin approves."""
    admin, second = signed_in(staff_app, people["admin"]), signed_in(staff_app, people["admin2"])
    gone = post(admin, "/admin/categories/kkn/active", "/admin/categories", accepting="no")
    assert gone.status_code in (404, 405)
    assert "/active" not in admin.get("/admin/categories").get_data(as_text=True)
    before = len(entries(database_url, "category.update"))
    proposal = _propose_offered(admin, database_url, "kkn", False)
    assert 'value="kkn"' in reporter_app.test_client().get("/report").get_data(as_text=True)
    assert len(entries(database_url, "category.update")) == before
    own = post(admin, f"/admin/proposals/{proposal.id}/approve", "/admin/proposals", confirm="y")
    assert own.status_code == 409
    approved = post(
        second, f"/admin/proposals/{proposal.id}/approve", "/admin/proposals", confirm="y"
    )
    assert approved.status_code == 303
    try:
        assert len(entries(database_url, "category.update")) == before + 1
        detail = json.loads(entries(database_url, "category.update")[-1].detail)
        assert detail["category"] == "kkn" and detail["accepting_reports"] is False
        shown = admin.get("/admin/categories").get_data(as_text=True)
        assert 'id="accepting-kkn"' in shown
        title = "Judul yang tetap " + uuid.uuid4().hex[:6]
        status, body = _category_report(reporter_app, title)
        assert status == 400 and title in body  # typed text kept
        assert 'id="report-code"' not in body
    finally:
        reopen = _propose_offered(second, database_url, "kkn", True)
        assert (
            post(admin, f"/admin/proposals/{reopen.id}/approve", "/admin/proposals", confirm="y")
        ).status_code == 303
    submit(reporter_app.test_client(), category="kkn")


def test_a_rejected_proposal_changes_nothing_and_a_changed_key_blocks_approval(
    staff_app, people, database_url
):
    admin, second = signed_in(staff_app, people["admin"]), signed_in(staff_app, people["admin2"])
    target = account_of(database_url, "pemeriksa2")
    page = f"/admin/accounts/{target.id}"
    assert post(admin, f"{page}/roles", page, role="custodian", confirm="y").status_code == 303
    with database(database_url) as session:
        first = session.scalar(
            select(Proposal).where(Proposal.state == "pending", Proposal.account_id == target.id)
        )
    # pemeriksa2 is an investigator: the approver is warned before making them both.
    listing = second.get("/admin/proposals").get_data(as_text=True)
    assert f'id="both-roles-{first.id}"' in listing
    assert listing.count('class="warning" id="both-roles-') == 1
    assert (
        post(
            second, f"/admin/proposals/{first.id}/reject", "/admin/proposals", confirm="y"
        ).status_code
        == 303
    )
    assert Role.CUSTODIAN not in account_of(database_url, "pemeriksa2").role_set
    assert (
        post(
            second, f"/admin/proposals/{first.id}/approve", "/admin/proposals", confirm="y"
        ).status_code
        == 409
    )
    # Proposed again; then the key changes (a reset) before anyone approves.
    assert post(admin, f"{page}/roles", page, role="custodian", confirm="y").status_code == 303
    with database(database_url) as session:
        again = session.scalar(
            select(Proposal).where(Proposal.state == "pending", Proposal.account_id == target.id)
        )
    assert post(second, f"{page}/reset-password", page, confirm="y").status_code == 200
    refused = post(second, f"/admin/proposals/{again.id}/approve", "/admin/proposals", confirm="y")
    assert refused.status_code == 409 and "Kunci akun berubah" in refused.get_data(as_text=True)
    assert Role.CUSTODIAN not in account_of(database_url, "pemeriksa2").role_set


def test_every_refusal_on_a_sign_in_form_is_shown_beside_its_field_or_above_it(staff_app):
    """The sign-in pages' refusal helper, for every reason a service can give (a local
    dict once shadowed the translation function there: a 500 for any refusal but three)."""
    from sipadu.investigator.auth import _field_error
    from sipadu.investigator.forms import PasswordChangeForm
    from sipadu.services import Reason, ServiceError
    from sipadu.web.refusal_messages import message

    refusals = [
        ServiceError(
            r,
            name="x",
            role="y",
            category="z",
            old="a",
            new="b",
            max="9",
            label="l",
            kind="k",
            count="3",
            line="2",
            name_max="150",
            month="2026-11",
            domains="jakarta.go.id",
            digits="8",
            left="2",
        )
        for r in Reason
    ]
    refusals += [ServiceError(Reason.WRONG_CURRENT_PASSWORD, "current")]
    for refusal in refusals:
        with staff_app.test_request_context("/account?lang=en", method="POST"):
            form = PasswordChangeForm(meta={"csrf": False})
            _field_error(form, refusal)
            shown = form.current.errors if refusal.field else form.form_errors
            assert list(shown) == [message(refusal)] and "%(" not in message(refusal)
    assert message(refusals[-1]) == "The current password is not right."


def _own_staff_app(env: dict, tmp_path, name: str, **extra: str):
    """A fresh instance of its own (this test rewrites its log), demo staff in it."""
    from sipadu import create_app
    from sipadu.settings.config import load_config
    from tests.helpers import config_env

    own = config_env(
        tmp_path / name, f"sqlite:///{tmp_path / name}.db", env.get("SIPADU_REDIS_URL"), **extra
    )
    crew = init_demo(own)
    app = create_app("staff", load_config(own))
    app.config["TESTING"] = True
    return own, crew, app


def test_a_forged_history_re_signed_with_another_key_fails_the_auditors_check(env, tmp_path):
    """Issue 15, item 8: someone with write access to the database but not the signing
    key rewrites an entry after the auditor's kept checkpoint, re-chains, deletes the
    stored checkpoints and stores one signed by a key of their own. Verification with no
    pasted key checks against the instance's key, never the key a checkpoint carries;
    the export names the instance's key; the public-key download never comes from a row."""
    own, crew, app = _own_staff_app(env, tmp_path, "forged")
    try:
        auditor = signed_in(app, crew["auditor"])
        kept = post(auditor, "/audit/checkpoints", "/audit/checkpoints").get_data()
        instance_key = json.loads(kept)["public_key"]
        signed_in(app, crew["admin"])  # entries after the kept checkpoint
        after = json.loads(kept)["seq"] + 1
        with database(own["SIPADU_DATABASE_URL"]) as session:
            forge_history(session, after)
            session.commit()

        page = verify_with(auditor, kept)
        assert page.status_code == 200
        text_ = page.get_data(as_text=True)
        assert "Utuh:" not in text_
        # In the reader's language (the review: English from audit.py on an Indonesian
        # page): a stored checkpoint signed by a key other than the instance's.
        assert "ditandatangani dengan kunci lain" in text_ and "signed by another" not in text_
        header = json.loads(
            auditor.get("/audit/export.jsonl").get_data(as_text=True).split("\n")[0]
        )
        assert header["public_key"] == instance_key != header["checkpoint"]["public_key"]
        assert auditor.get("/audit/public-key").get_data(as_text=True).strip() == instance_key
    finally:
        dispose(app)


def test_without_the_instance_key_verification_asks_for_the_pinned_one(env, tmp_path):
    """A staff host that reads neither the signing key nor SIPADU_AUDIT_PUBLIC_KEY (in
    development a missing key would be generated, so the runtime is given none)."""
    from dataclasses import replace

    own, crew, app = _own_staff_app(env, tmp_path, "unpinned")
    runtime = app.extensions["sipadu.staff"]
    app.extensions["sipadu.staff"] = replace(runtime, signing_seed=None, audit_public_key=None)
    try:
        auditor = signed_in(app, crew["auditor"])
        with database(own["SIPADU_DATABASE_URL"]) as session:
            checkpoint = audit.make_checkpoint(session, b"\x01" * 32)  # "the timer's"
            session.commit()
        kept = json.dumps(checkpoint.to_json()).encode()
        refused = verify_with(auditor, kept)
        assert refused.status_code == 400
        assert "Tempel kunci yang Anda sematkan" in refused.get_data(as_text=True)
        assert auditor.get("/audit/public-key").status_code == 404  # never a row's key
        header = json.loads(
            auditor.get("/audit/export.jsonl").get_data(as_text=True).split("\n")[0]
        )
        assert header["public_key"] is None
        pinned = auditor.post(
            "/audit/verify",
            data={
                "csrf_token": csrf(auditor, "/audit/verify"),
                "public_key": checkpoint.public_key,
                "checkpoints": [(io.BytesIO(kept), "kept.json")],
            },
            content_type="multipart/form-data",
        )
        assert pinned.status_code == 200 and "Utuh:" in pinned.get_data(as_text=True)
    finally:
        dispose(app)


def test_reporter_counts_are_shown_per_week_with_week_precision(env, tmp_path):
    """Issue 15, item 4: with week precision a Thursday's submission is counted under its
    Monday, and the auditor's and the intake pages say the rows are weeks."""
    from sipadu.accountability.audit import ReporterMetric
    from sipadu.persistence.models import ReporterDailyCount
    from sipadu.services.dates import coarsen, today
    from sipadu.settings.config import DatePrecision

    own, crew, app = _own_staff_app(env, tmp_path, "weekly", SIPADU_DATE_PRECISION="week")
    try:
        monday = coarsen(today(), DatePrecision.WEEK)
        with database(own["SIPADU_DATABASE_URL"]) as session:
            audit.count_reporter_event(
                session,
                ReporterMetric.REPORT_SUBMITTED,
                monday + timedelta(days=3),
                DatePrecision.WEEK,
            )
            session.commit()
            assert session.scalars(select(ReporterDailyCount.day)).all() == [monday]
        auditor = signed_in(app, crew["auditor"])
        for path in ("/audit/activity", "/intake"):
            page = auditor.get(path).get_data(as_text=True)
            assert f"minggu mulai {monday.isoformat()}" in page, path
            assert 'id="period"' in page and "per minggu" in page, path
    finally:
        dispose(app)


# --- plain words, never internal values (issue 15) --------------------------------------

# Enums whose values are internal: none may reach a page's text.
INTERNAL_ENUMS = (
    audit.Action,
    Role,
    AccountState,
    ProposalKind,
    ProposalState,
    IdentityRequestState,
    CategorySlug,
    ReportStatus,
    Priority,
    LinkKind,
)


def test_every_action_role_and_state_has_plain_words_in_english_and_indonesian():
    """A new ``Action`` (or state, kind, category) without words fails here, not on the
    auditor's page; so does one whose Indonesian is missing from the catalogue."""
    from babel.messages.pofile import read_po
    from flask import Flask

    import sipadu
    from sipadu.investigator.words import SENTENCES, TABLES
    from sipadu.web.i18n import init_i18n

    PACKAGE = Path(sipadu.__file__).parent

    expected = {
        "action": {a.value for a in audit.Action},
        "role": set(audit.ROLES),
        "account_state": {s.value for s in AccountState},
        "proposal_kind": {k.value for k in ProposalKind},
        "proposal_state": {s.value for s in ProposalState},
        "request_state": {s.value for s in IdentityRequestState},
        "category": {c.value for c in CategorySlug},
        "status": {s.value for s in ReportStatus},
        "priority": {p.value for p in Priority},
        "link_kind": {k.value for k in LinkKind},
        "metric": {m.value for m in audit.ReporterMetric},
    }
    # Every action's detail as a sentence too (a wrong password proof has its own words).
    worded = set(SENTENCES) | {audit.Action.PASSWORD_PROOF_FAILURE}
    assert sorted(set(audit.Action) - worded) == []
    with (PACKAGE / "translations/id/LC_MESSAGES/messages.po").open("rb") as handle:
        translated = {m.id: m.string for m in read_po(handle, locale="id") if m.id and m.string}
    app = Flask("sipadu")  # the package's root: its translations directory
    init_i18n(app)
    for what, values in expected.items():
        table = TABLES[what]
        assert sorted(values - set(table)) == [], what
        for value in values:
            with app.test_request_context("/?lang=en"):
                english = str(table[value])  # the source text (English has no catalogue)
            with app.test_request_context("/?lang=id"):
                indonesian = str(table[value])
            # A plain English word may be its own label ("approved"); nothing else may.
            assert english.strip() and (english != value or value.isalpha()), (what, value)
            assert translated.get(english) == indonesian, (what, value, "no Indonesian")


def _visible_text(page: str) -> str:
    """What a person reads: no tags or attribute values, no technical-detail block."""
    page = re.sub(r"<details class=\"technical\">.*?</details>", " ", page, flags=re.S)
    page = re.sub(r"<(script|style)\b.*?</\1>", " ", page, flags=re.S)
    return html.unescape(re.sub(r"<[^>]*>", " ", page))


def _internal_values_shown(page: str, usernames: set[str]) -> list[str]:
    text = _visible_text(page)
    # Usernames are people's chosen names ("admin", "auditor"), not internal values.
    for name in usernames:
        text = re.sub(rf"(?<![\w.-]){re.escape(name)}(?![\w-])", " ", text)
    shown = []
    for enum in INTERNAL_ENUMS:
        for member in enum:
            if member.value == "operator":  # the intake role's value: see below
                continue
            if re.search(rf"(?<![\w.-]){re.escape(member.value)}(?![\w-])", text):
                shown.append(member.value)
    for role in audit.ROLES - {"operator"}:  # "operator" is an Indonesian word too
        if re.search(rf"(?<![\w.-]){role}(?![\w-])", text):
            shown.append(role)
    return sorted(set(shown))


def test_no_staff_page_shows_an_internal_value(
    staff_app, reporter_app, people, database_url, monkeypatch
):
    """Issue 15 item 2: the auditor's log showed ``identity.read``, ``investigator`` and raw
    JSON; the case page an identity request's ``pending``, the accounts page
    ``active``, the proposals page ``role_grant: custodian``, every page ``kkn``. Each
    staff page, with a case, an identity request, pending proposals and an entry of
    every action, now shows words only (the raw detail stays, labelled technical)."""
    from sipadu.services import audit_log

    monkeypatch.setattr(audit_log, "PAGE_SIZE", 1000)
    marker = f"Kata biasa {uuid.uuid4().hex[:8]}"
    submit(reporter_app.test_client(), title=marker, identity="Budi")
    investigator = signed_in(staff_app, people["pemeriksa1"])
    report_id = report_id_of(database_url, marker, investigator)
    case = f"/reports/{report_id}"
    assert post(investigator, f"{case}/identity-requests", case, reason="Saksi").status_code == 303
    assert (
        post(investigator, f"{case}/status", case, status="in_review", confirm="y").status_code
        == 303
    )
    admin = signed_in(staff_app, people["admin"])
    newcomer = account_of(database_url, "pemeriksa2")
    page = f"/admin/accounts/{newcomer.id}"
    post(admin, f"{page}/roles", page, role="custodian", confirm="y")  # a pending role grant
    # Refused: pemeriksa2 already receives reports of every category and holds the role.
    refusals = [
        post(
            admin,
            routes,
            "/admin/categories",
            change="add",
            account=str(newcomer.id),
            confirm="y",
        )
        for routes in ("/admin/categories/kkn/routes", "/admin/categories/staff_discipline/routes")
    ] + [post(admin, f"{page}/roles", page, role="investigator", confirm="y")]
    create_account(admin, "calon-" + uuid.uuid4().hex[:6], "auditor", "admin")  # an invited account
    with database(database_url) as session:
        ids = {a.username: str(a.id) for a in session.scalars(select(StaffAccount))}
        samples = sample_audit_details(ids)
        assert set(samples) == set(audit.Action)  # a new action needs a realistic entry here
        for action, (actor, role, detail) in samples.items():
            audit.append(session, actor, role, action, report_id=report_id, detail=detail)
        session.commit()
    usernames = set(ids)

    auditor = signed_in(staff_app, people["auditor"])
    custodian = signed_in(staff_app, people["inspektur"])
    pages = {
        "case": investigator.get(case),
        "reports": investigator.get("/reports"),
        "proposals": admin.get("/admin/proposals"),
        "accounts": admin.get("/admin"),
        "account": admin.get(page),
        "categories": admin.get("/admin/categories"),
        "holds": admin.get("/admin/holds"),
        "recipients": admin.get("/admin/recipients"),
        "routing": admin.get("/routing"),
        "requests": custodian.get("/identity-requests"),
        "audit": auditor.get("/audit"),
        "activity": auditor.get("/audit/activity"),
        "checkpoints": auditor.get("/audit/checkpoints"),
        "home": auditor.get("/"),
    }
    for name, response in pages.items():
        assert response.status_code == 200, name
    text = {name: response.get_data(as_text=True) for name, response in pages.items()}
    for number, refused in enumerate(refusals):  # a refusal names a role or category
        assert refused.status_code >= 400, refused.status_code
        text[f"refusal {number}"] = refused.get_data(as_text=True)
    assert "menerima laporan Korupsi, kolusi, atau nepotisme (KKN)" in text["refusal 0"]
    assert "Saksi" in text["requests"] and 'id="proposal-' in text["proposals"]
    shown = {name: _internal_values_shown(body, usernames) for name, body in text.items()}
    assert {name: values for name, values in shown.items() if values} == {}

    # The log: every action by its label, and a sentence for each entry's detail.
    log = text["audit"]
    rows = [r for r in log.split("<tr>")[2:] if "<td" in r]
    assert len(rows) >= len(audit.Action)
    for row in rows:
        cells = re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)
        assert _visible_text(cells[6]).strip(), row  # a sentence, not only raw JSON
    visible = _visible_text(log)
    assert "Identitas pelapor disertakan: ya" in visible  # an export, in words
    assert "Dari “Sedang ditelaah” ke “Selesai: terbukti”." in visible  # statuses, in words
    assert '"identity_included"' in html.unescape(log)  # the technical detail, folded
    # The filter offers labels; the values stay internal, in the query string.
    options = re.findall(r'<option value="([^"]*)"[^>]*>([^<]*)</option>', log)
    offered = {value: label for value, label in options if value}
    assert set(offered) >= {a.value for a in audit.Action}
    assert all(label != value for value, label in offered.items())
    filtered = auditor.get("/audit?action=identity.read").get_data(as_text=True)
    assert "identity.read" not in _visible_text(filtered)


def test_an_entry_made_through_a_one_time_link_names_its_holder_as_the_role(staff_app):
    """Issue 15 (review): the role column of such an entry (actor ``link``, role
    ``none``) said "Akun sendiri" (own account); whoever held the link made it."""
    from sipadu.investigator.words import entry_role_said
    from sipadu.services.links import LINK_ACTOR

    with staff_app.test_request_context("/?lang=id"):
        assert entry_role_said(LINK_ACTOR.id, LINK_ACTOR.role) == "Pemegang tautan sekali pakai"
        # An account acting in no role (signing in, changing its own password): review
        # 17b found "Akun sendiri" (own account) read oddly in a "Role" column.
        assert entry_role_said(str(uuid.uuid4()), "none") == "Tanpa peran (atas nama sendiri)"
    with staff_app.test_request_context("/?lang=en"):
        assert entry_role_said(LINK_ACTOR.id, LINK_ACTOR.role) == "Holder of a one-time link"


def test_verification_results_and_form_errors_speak_the_readers_language(staff_app, people):
    """Issue 15 (review): ``/audit/verify`` said "entri rusak pertama adalah None. a kept
    checkpoint is signed by another key" (English reason, a literal None), and a missing
    file got WTForms' English "This field is required."."""
    auditor = signed_in(staff_app, people["auditor"])
    kept = post(auditor, "/audit/checkpoints", "/audit/checkpoints").get_data()
    other = signing_public_key(b"\x07" * 32).hex()
    page = auditor.post(
        "/audit/verify",
        data={
            "csrf_token": csrf(auditor, "/audit/verify"),
            "public_key": other,  # pinned: the kept file is signed by another key
            "checkpoints": [(io.BytesIO(kept), "kept.json")],
        },
        content_type="multipart/form-data",
    )
    text_ = html.unescape(_visible_text(page.get_data(as_text=True)))
    assert "TIDAK utuh." in text_ and "None" not in text_
    assert "Sebuah berkas titik periksa yang Anda berikan ditandatangani dengan kunci lain" in text_
    assert "signed by another key" not in text_
    missing = auditor.post(
        "/audit/verify",
        data={"csrf_token": csrf(auditor, "/audit/verify")},
        content_type="multipart/form-data",
    )
    assert missing.status_code == 400
    assert "Kolom ini wajib diisi." in missing.get_data(as_text=True)
    assert "This field is required." not in missing.get_data(as_text=True)


def test_without_the_signing_key_a_checkpoint_is_refused_in_the_readers_words(staff_app, people):
    """Review 17b: "the signing key is not on this server; checkpoints come from the
    timer", in English on an Indonesian page."""
    import dataclasses

    auditor = signed_in(staff_app, people["auditor"])
    kept = staff_app.extensions["sipadu.staff"]
    staff_app.extensions["sipadu.staff"] = dataclasses.replace(kept, signing_seed=None)
    try:
        response = post(auditor, "/audit/checkpoints", "/audit")
    finally:
        staff_app.extensions["sipadu.staff"] = kept
    page = html.unescape(response.get_data(as_text=True))
    assert response.status_code == 409
    assert "Titik periksa (checkpoint) tidak dapat dibuat di server ini" in page
    assert "signing key" not in page and "timer" not in page
