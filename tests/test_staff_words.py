"""No staff page shows an internal value (issue 17 item 1): every page each role can reach,
in Bahasa Indonesia and English, with something in every list, names categories,
statuses, account states, roles, proposals, identity requests and audit actions in
words, never ``kkn``, ``active`` or ``login.success``. The values stay where nobody
reads them: attributes, form values and the auditor's folded technical detail.

The pages are found as people find them: from the home page, following every link of
every page reached (a page no role can reach by a link fails the coverage check)."""

import ast
import enum
import html
import inspect
import re
import uuid
from pathlib import Path
from urllib.parse import urlsplit

import pyrage
import pytest
from babel.messages.pofile import read_po
from sqlalchemy import select
from werkzeug.exceptions import NotFound

import sipadu
from sipadu.accountability import audit
from sipadu.persistence import models
from sipadu.persistence.models import AuditEvent, IdentityRequest, Proposal, StaffAccount
from sipadu.services import case_record
from sipadu.services.intake import Channel
from tests.helpers import (
    StaffWorld,
    database,
    page_forms,
    post,
    report_id_of,
    signed_in,
    staff_pages,
    staff_world,
    submit,
    without_summary,
)

CATALOG = Path(sipadu.__file__).parent / "translations" / "id" / "LC_MESSAGES" / "messages.po"
LANGUAGES = ("id", "en")
ROLES = ("pemeriksa1", "inspektur", "admin", "auditor", "petugas1")


def internal_values() -> set[str]:
    """Every value of every enum of the models and of the services whose values pages
    show (a case's priority, a link's kind: sealed in the case record), the audit log's
    actions, roles and actors, and the reporter metrics."""
    enums = [
        member
        for module in (models, case_record)
        for _name, member in inspect.getmembers(module, inspect.isclass)
        if issubclass(member, enum.Enum) and member.__module__ == module.__name__
    ]
    values = {
        str(m.value) for e in [*enums, audit.Action, audit.ReporterMetric, Channel] for m in e
    }
    return values | set(audit.ROLES) | set(audit.ACTORS)


def strip(text: str, names: set[str]) -> str:
    """``text`` without the ``names`` (as whole words)."""
    for name in names:
        text = re.sub(rf"(?<![\w.-]){re.escape(name)}(?![\w-])", " ", text)
    return text


def words_of(lang: str) -> set[str]:
    """The words the language's own texts use, with their case: a value that is one of
    them ("admin", "auditor"; in English "active", "approved") may stand in a sentence.
    A value with ``_`` or ``.`` is never a word."""
    with CATALOG.open("rb") as handle:
        catalog = read_po(handle, locale="id")
    texts: list[str] = []
    for message in catalog:
        if not message.id:
            continue
        chosen = message.string if lang == "id" else message.id
        texts.extend([chosen] if isinstance(chosen, str) else list(chosen))
    return {w for text in texts for w in re.findall(r"[A-Za-z]+", re.sub(r"%\(\w+\)s", " ", text))}


def visible_text(page: str) -> str:
    """What a person reads: no tags or attribute values, no script or style, and not the
    auditor's technical-detail block (folded, labelled technical: the entry exactly as it
    is hashed, to compare with an export)."""
    page = re.sub(r'<details class="technical">.*?</details>', " ", page, flags=re.S)
    page = re.sub(r"<(script|style)\b.*?</\1>", " ", page, flags=re.S)
    return html.unescape(re.sub(r"<[^>]*>", " ", page))


def shown(text: str, values: set[str], allowed: set[str]) -> list[str]:
    return sorted(
        v for v in values - allowed if re.search(rf"(?<![\w.-]){re.escape(v)}(?![\w-])", text)
    )


@pytest.fixture(scope="module")
def world(staff_app, reporter_app, people, database_url) -> StaffWorld:
    """Something on every page, made by demo staff none of whom is then named like an
    internal value: the check takes usernames (and names, which the demo sets to the
    username) out of the text, and would take out a raw role "auditor" with the demo
    auditor's name. Renamed in the database, as no page can: a test shortcut."""
    made = staff_world(staff_app, reporter_app, people, database_url)
    raw = internal_values() - words_of("id") - words_of("en")
    with database(database_url) as session:
        for person in people.values():
            if person.username in raw:
                account = session.scalar(
                    select(StaffAccount).where(StaffAccount.username == person.username)
                )
                account.username = account.display_name = f"akun-{person.username}"
                person.username = account.username
        session.commit()
    return made


def test_no_staff_page_shows_an_internal_value_to_any_role_in_either_language(
    staff_app, people, world, database_url
):
    values = internal_values()
    with database(database_url) as session:
        usernames = set(session.scalars(select(StaffAccount.username)))
    assert usernames & values == {"admin"}  # a word of both languages: hides nothing
    former = set(people) - usernames  # the demo's names (people are keyed by them)
    adapter = staff_app.url_map.bind("localhost")
    visited: set[str] = set()
    found: dict[str, list[str]] = {}
    for lang in LANGUAGES:
        allowed = words_of(lang)
        clients = [(user, signed_in(staff_app, people[user])) for user in ROLES]
        clients.append(("nobody", staff_app.test_client()))
        for user, client in clients:
            seeds = ["/"] + (
                [world.activation_link, world.enrollment_link] if user == "nobody" else []
            )
            for path, response in staff_pages(client, lang, seeds):
                try:
                    endpoint, _args = adapter.match(urlsplit(path).path)
                except NotFound:
                    raise AssertionError(f"a link to nowhere: {path}") from None
                assert response.status_code < 400, (user, lang, path, response.status_code)
                visited.add(endpoint)
                if response.mimetype != "text/html":
                    continue  # a download: a file, not a page
                page = response.get_data(as_text=True)
                # The log keeps the username an entry was made with: a renamed demo
                # account's former name in the words of its old entries.
                page = re.sub(
                    r'(<td[^>]*class="words"[^>]*>)(.*?)(</td>)',
                    lambda m: m[1] + strip(m[2], former) + m[3],
                    page,
                    flags=re.S,
                )
                text = visible_text(page)
                # Usernames are the names people chose (none is an internal value here).
                text = strip(text, usernames)
                if values_shown := shown(text, values, allowed):
                    found[f"{user} {lang} {path}"] = values_shown
    assert found == {}
    pages = {
        rule.endpoint
        for rule in staff_app.url_map.iter_rules()
        if "GET" in rule.methods and rule.endpoint != "static"
    }
    assert sorted(pages - visited) == [], "pages no link leads to"


def test_the_check_sees_a_raw_value(staff_app):
    """The check itself: a page that says ``kkn`` or ``login.success`` fails it, in both
    languages; an ordinary word of the language does not."""
    values = internal_values()
    assert {"kkn", "login.success", "in_review", "account_activate", "active"} <= values
    assert {"high", "low", "duplicate", "related"} <= values  # services' enums too
    for lang in LANGUAGES:
        allowed = words_of(lang)
        page = visible_text("<td>kkn</td><td title='in_review'>x</td><p>login.success</p>")
        assert shown(page, values, allowed) == ["kkn", "login.success"]
    assert shown("Status: active", values, words_of("id")) == ["active"]


# --- buttons that take something away or give access ask first --------------------------

# Every staff action that takes something away or widens who can read: its form has a
# box to tick, and the server refuses it without the tick (no JavaScript needed).
CONFIRMED = {
    "staff.report_grant",
    "staff.report_revoke",
    "staff.report_spam",
    "staff.report_unlink",
    "staff.identity_decide",
    "staff.admin_deactivate",
    "staff.admin_reactivate",
    "staff.admin_link",
    "staff.admin_grant_role",
    "staff.admin_revoke_role",
    "staff.admin_may_grant",
    "staff.admin_decide",
    "staff.admin_propose_hold",
    "staff.admin_propose_route",
    "staff.report_refer",  # an agency can then read the report (issue 20)
}
DECISIONS = {"staff.admin_decide", "staff.identity_decide"}
READS = {"report.read", "report.list", "identity.read", "identity_request.read", "audit.view"}
NOT_CONFIRMED = "centang kotak di samping tombol untuk memastikan"


def changes(database_url: str) -> int:
    """Audit entries of everything but reads: every change is recorded (G4)."""
    with database(database_url) as session:
        return sum(
            1 for action in session.scalars(select(AuditEvent.action)) if action not in READS
        )


def test_every_form_that_takes_away_or_gives_access_has_a_box_to_tick(staff_app, people, world):
    adapter = staff_app.url_map.bind("localhost")
    checked: set[str] = set()
    for user in (*ROLES, "admin2"):  # the second admin decides the first one's proposals
        client = signed_in(staff_app, people[user])
        for _path, response in staff_pages(client, "id", ["/"]):
            if response.mimetype != "text/html":
                continue
            page = response.get_data(as_text=True)
            for form in re.findall(r'<form method="post".*?</form>', page, re.S):
                actions = re.findall(r'(?:action|formaction)="([^"]+)"', form)
                for action in actions:
                    endpoint, _ = adapter.match(urlsplit(html.unescape(action)).path, "POST")
                    if endpoint in CONFIRMED:
                        checked.add(endpoint)
                        boxes = [
                            tag
                            for tag in re.findall(r"<input\b[^>]*>", form)
                            if 'type="checkbox"' in tag and 'name="confirm"' in tag
                        ]
                        assert boxes, form
                # One box names one consequence (review 17b: "Ya, ubah akses" confirmed a
                # password reset, an authenticator reset and a deactivation alike; one
                # box proposed a legal hold and its end): a form with a box has one
                # button, but for a decision on one item (approve it or not).
                if 'name="confirm"' in form:
                    does = {
                        adapter.match(urlsplit(html.unescape(a)).path, "POST")[0] for a in actions
                    }
                    buttons = re.findall(r'<button type="submit"', form)
                    assert len(does) == 1, form
                    assert len(buttons) == 1 or does <= DECISIONS, form
    assert sorted(CONFIRMED - checked) == [], "forms the crawl did not find"


def _referable(staff_app, reporter_app, people, database_url) -> tuple[str, str]:
    """A report of its own (the world's keep their status) and an agency two admins
    registered: the referral's path and the agency's id (issue 20)."""
    marker = f"Untuk dilimpahkan {uuid.uuid4().hex[:6]}"
    submit(reporter_app.test_client(), title=marker)
    investigator = signed_in(staff_app, people["pemeriksa1"])
    report_id = report_id_of(database_url, marker, investigator)
    agency = str(pyrage.x25519.Identity.generate().to_public())
    name = f"Kejaksaan {uuid.uuid4().hex[:4]}"
    admin, admin2 = signed_in(staff_app, people["admin"]), signed_in(staff_app, people["admin2"])
    assert post(admin, "/admin/recipients", "/admin/recipients", name=name, recipient=agency)
    with database(database_url) as session:
        row = session.scalar(
            select(models.ExportRecipient).where(models.ExportRecipient.name == name)
        )
        proposal = session.scalar(select(Proposal).where(Proposal.recipient_id == row.id))
        row_id, proposal_id = str(row.id), proposal.id
    approved = post(admin2, f"/admin/proposals/{proposal_id}/approve", "/", confirm="y")
    assert approved.status_code == 303
    return f"/reports/{report_id}", row_id


def test_without_the_tick_nothing_changes_and_the_page_says_why(
    staff_app, reporter_app, people, world, database_url
):
    referable, agency = _referable(staff_app, reporter_app, people, database_url)
    with database(database_url) as session:
        ids = {a.username: a.id for a in session.scalars(select(StaffAccount))}
        pending = [p for p in session.scalars(select(Proposal)) if p.state == "pending"]
        request = session.scalar(
            select(IdentityRequest).where(
                IdentityRequest.report_id == world.reports["received"],
                IdentityRequest.state == "pending",
            )
        )
    case = f"/reports/{world.reports['in_review']}"
    linked = f"/reports/{world.reports['received']}"  # linked to in_review (staff_world)
    colleague = ids["pemeriksa2"]
    watcher = next(name for name in ids if name.startswith("pengamat-"))
    account = f"/admin/accounts/{ids[watcher]}"
    gone = f"/admin/accounts/{ids[next(n for n in ids if n.startswith('mantan-'))]}"
    attempts = {
        "pemeriksa1": [
            # Each then sent again with the tick: it works (the revoke makes the grant
            # possible again).
            (f"{case}/grants/{colleague}/revoke", case, {}),
            (f"{case}/grants", case, {"colleague": str(colleague)}),
            (f"{case}/spam", case, {}),
            (f"{linked}/links/{world.reports['in_review']}/remove", linked, {}),
            (f"{referable}/referrals", referable, {"to": agency, "include": "field:title"}),
        ],
        "inspektur": [
            (f"/identity-requests/{request.id}/{d}", "/identity-requests", {})
            for d in ("approve", "refuse")
        ],
        "admin2": [
            (f"{account}/deactivate", account, {}),
            (f"{gone}/reactivate", gone, {}),
            (f"{account}/reset-password", account, {}),
            (f"{account}/roles", account, {"role": "admin"}),
            (f"{account}/roles/revoke", account, {"role": "auditor"}),
            (f"/admin/accounts/{colleague}/may-grant", account, {"allowed": "yes"}),
            *[
                (f"/admin/proposals/{p.id}/{d}", "/admin/proposals", {})
                for p in pending[:1]
                for d in ("approve", "reject")
            ],
            (
                "/admin/holds",
                "/admin/holds",
                {"report": str(world.reports["received"]), "change": "set"},
            ),
            (
                "/admin/categories/kkn/routes",
                "/admin/categories",
                {"change": "remove", "account": str(colleague)},
            ),
        ],
    }
    # What was typed or chosen comes back chosen (review 17b: a 409 page lost it).
    kept = {
        "/admin/holds": f'value="{world.reports["received"]}"',
        f"{account}/roles": '<option selected value="admin">',
        f"{account}/roles/revoke": '<option selected value="auditor">',
        "/admin/categories/kkn/routes": f'<option value="{colleague}" selected>',
    }
    tried = set()
    adapter = staff_app.url_map.bind("localhost")
    for user, posts in attempts.items():
        client = signed_in(staff_app, people[user])
        for path, page, fields in posts:
            tried.add(adapter.match(path, "POST")[0])
            before = changes(database_url)
            response = post(client, path, page, **fields)
            where = f"{user} {path}"
            # The same page again, not a dead end (review 17b): 400, the reason said once,
            # inside the form whose button was used, beside its box.
            assert response.status_code == 400, where
            body = response.get_data(as_text=True)
            said = visible_text(without_summary(body))
            assert said.count(NOT_CONFIRMED) + said.count("Centang kotaknya untuk") == 1, where
            [refused] = [f for f in page_forms(body) if "error-text" in f]
            assert f'"{path}"' in refused, where
            assert kept.get(path, "") in refused, where
            assert changes(database_url) == before, where
            if user == "pemeriksa1":
                response = post(client, path, page, confirm="y", **fields)
                assert response.status_code == 303, where
                assert changes(database_url) > before, where
    assert sorted(CONFIRMED - tried) == []


def test_closing_a_report_asks_for_the_tick_and_the_usual_next_step_is_chosen(
    staff_app, people, world, database_url
):
    """The status select offers the usual next step first, chosen (received → in review
    → followed up), and never chooses a closing status for the reader; closing or
    rejecting without the tick changes nothing."""
    investigator = signed_in(staff_app, people["pemeriksa1"])

    def chosen(status: str) -> str | None:
        page = investigator.get(f"/reports/{world.reports[status]}").get_data(as_text=True)
        select_ = re.search(r'<select id="status-select".*?</select>', page, re.S).group(0)
        options = re.findall(r'<option value="([^"]*)"( selected)?', select_)
        marked = [value for value, selected in options if selected]
        return marked[0] if marked else options[0][0]

    assert chosen("received") == "in_review"
    assert chosen("in_review") == "investigating"
    assert chosen("investigating") == ""  # "Choose the new status": no closing default
    case = f"/reports/{world.reports['investigating']}"
    before = changes(database_url)
    refused = post(investigator, f"{case}/status", case, status="closed_substantiated", reason="x")
    assert refused.status_code == 400
    assert "Untuk menutup atau menolak laporan, centang kotak" in refused.get_data(as_text=True)
    empty = post(investigator, f"{case}/status", case, status="", reason="x")
    assert empty.status_code == 400 and "Pilih status baru." in empty.get_data(as_text=True)
    assert changes(database_url) == before


def test_pages_use_the_words_of_the_field_and_buttons_say_what_they_do(
    staff_app, people, world, database_url
):
    """Issue 17: "Penahanan hukum" (legal detention) for a legal hold, "Penerusan" for
    routing, "tahan rekayasa" for tamper-evident, and a button "Perubahan"."""
    admin = signed_in(staff_app, people["admin"])
    investigator = signed_in(staff_app, people["pemeriksa1"])
    pages = [admin.get(p) for p in ("/", "/admin/holds", "/admin/categories", "/routing")]
    pages.append(admin.get(f"/admin/accounts/{account_id(database_url, 'pemeriksa1')}"))
    pages.append(investigator.get("/"))
    text = " ".join(visible_text(p.get_data(as_text=True)) for p in pages)
    for stumble in ("Penahanan hukum", "enahanan", "Penerusan", "enerusan", "tahan rekayasa"):
        assert stumble not in text
    assert "Penangguhan penghapusan" in text and "Rute laporan" in text
    assert "tidak dapat diubah tanpa ketahuan" in text
    assert "Cabut izin berbagi" in text  # pemeriksa1 may share: the button takes it away
    buttons = re.findall(
        r"<button[^>]*>([^<]*)</button>", " ".join(p.get_data(as_text=True) for p in pages)
    )
    assert not {"Perubahan", "Usulkan", "Berikan", "Cabut"} & {b.strip() for b in buttons}


def account_id(database_url: str, username: str):
    with database(database_url) as session:
        return session.scalar(select(StaffAccount.id).where(StaffAccount.username == username))


def test_every_refusal_reason_shown_to_people_is_translated():
    """Review 17b: ``abort(409, description="the audit signing key is not on this
    server…")`` put English on Indonesian pages. A description a page shows is never a
    bare string: it goes through gettext (or is a refusal's message)."""
    bare = []
    for path in Path(sipadu.__file__).parent.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "abort":
                texts = [k.value for k in node.keywords if k.arg == "description"]
                texts += node.args[1:]
                bare += [
                    f"{path.name}:{node.lineno}"
                    for t in texts
                    if isinstance(t, (ast.Constant, ast.JoinedStr))
                ]
    assert bare == []


def test_audit_times_and_fingerprints_read_as_on_the_other_pages():
    """Review 17b: the log showed ``2026-11-30T14:21:56.019511Z`` and fingerprints in
    lower case without spaces, while the proposals page groups them."""
    from datetime import UTC, datetime

    from sipadu.investigator.words import grouped, when_said

    assert when_said("2026-11-30T14:21:56.019511Z") == "2026-11-30 14:21:56 UTC"
    assert when_said("2026-11-30T14:21:56+00:00") == "2026-11-30 14:21:56 UTC"
    assert when_said(datetime(2026, 11, 30, 14, 21, 56, tzinfo=UTC)) == "2026-11-30 14:21:56 UTC"
    assert grouped("3f2a9b10c0de") == "3F2A 9B10 C0DE"
    assert grouped("3F2A 9B10 C0DE") == "3F2A 9B10 C0DE"
    assert grouped(None) == "—" and grouped("not hex") == "not hex"


def test_a_hold_sent_with_a_wrong_id_or_none_comes_back_with_what_was_typed(
    staff_app, people, world, database_url
):
    """Review 17b: a refused hold answered a dead-end page and the typed id was gone. A
    mistyped id, or an empty one without the tick, comes back beside its field (400),
    in the form of the button used; nothing is proposed."""
    admin = signed_in(staff_app, people["admin"])
    before = changes(database_url)
    typo = str(world.reports["received"])[:-1] + "x"
    mistyped = post(
        admin, "/admin/holds", "/admin/holds", report=typo, change="release", confirm="y"
    )
    body = mistyped.get_data(as_text=True)
    assert mistyped.status_code == 400 and "Ini bukan id laporan" in body
    [release] = [f for f in page_forms(body) if 'value="release"' in f]
    assert f'value="{typo}"' in release and 'id="hold-release-report-error"' in release
    empty = post(admin, "/admin/holds", "/admin/holds", report="", change="set")
    said = visible_text(empty.get_data(as_text=True))
    assert empty.status_code == 400 and NOT_CONFIRMED in said and "Kolom ini wajib diisi." in said
    assert changes(database_url) == before


def test_a_sealed_weeks_entry_names_its_period_and_a_days_its_day(staff_app):
    """A ``receipt.day`` entry states its period's first and last days (docs/receipt.md):
    with week or month precision the auditor reads "from ... to ...", not "on" a day."""
    from sipadu.investigator.words import SENTENCES

    sentence = SENTENCES[audit.Action.RECEIPT_DAY.value]
    week = {"day": "2026-11-23", "last": "2026-11-29", "root": "ef" * 32, "size": 2}
    with staff_app.test_request_context("/"):  # Bahasa Indonesia, the first language
        said = sentence(week, "")
        assert "dari 2026-11-23 sampai 2026-11-29" in said and "2 laporan" in said
        said = sentence({**week, "last": "2026-11-23", "size": 1}, "")
        assert "diterima pada 2026-11-23" in said and "sampai" not in said
