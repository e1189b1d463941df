"""Exports people can actually encrypt (issue 17, item 7): the export form is reachable in
English (a ``lang`` in the query string is never taken as an export request, on any staff
page), and admins keep a registry of export recipients under the two-person rule, offered
on the export form; an export to a registered recipient opens with the real ``age`` tool.
"""

import hashlib
import io
import json
import re
import subprocess
import uuid
import zipfile

import pytest
from sqlalchemy import select

from sipadu.persistence.models import AuditEvent, ExportRecipient, Proposal, RecipientState
from sipadu.services.export_recipients import display_fingerprint, recipient_fingerprint
from tests.helpers import (
    csrf,
    database,
    post,
    report_id_of,
    sample_path,
    submit,
)

PRIVATE_KEY_WORDS = "Ini kunci privat, bukan penerima: anggap kunci ini sudah bocor"


@pytest.fixture(scope="module")
def report_id(reporter_app, clients, database_url) -> uuid.UUID:
    marker = f"Ekspor arsip {uuid.uuid4().hex[:8]}"
    submit(reporter_app.test_client(), title=marker)
    return report_id_of(database_url, marker, clients["pemeriksa1"])


def test_the_export_form_opens_in_english(clients, report_id):
    """Issue 17: ``GET /reports/<id>/export?lang=en`` answered 400, because any query
    argument was taken as an export request."""
    page = clients["pemeriksa1"].get(f"/reports/{report_id}/export?lang=en")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert "Export a report" in text and 'lang="en"' in text
    # The form keeps the language when it is sent: it posts to an address with it.
    assert f'action="/reports/{report_id}/export?lang=en"' in text


def test_a_language_in_the_query_is_never_taken_as_a_command(staff_app, clients, report_id):
    """Every staff GET page, as every role, answers ``?lang=en`` and ``?lang=id`` as it
    answers without them: the language chooses words, nothing else."""
    values = {"report_id": report_id}
    paths = []
    for rule in staff_app.url_map.iter_rules():
        if rule.endpoint == "static" or "GET" not in rule.methods:
            continue
        sample = {name: values.get(name) for name in rule.arguments}
        if None in sample.values():
            paths.append(sample_path(rule))
        else:
            paths.append(rule.build(sample, append_unknown=False)[1])
    assert any(p.endswith("/export") for p in paths)
    # Every GET form keeps the language it was shown in when it is sent.
    hidden = '<input type="hidden" name="lang" value="en">'
    assert hidden in clients["pemeriksa1"].get("/reports?lang=en").get_data(as_text=True)
    assert hidden in clients["auditor"].get("/audit?lang=en").get_data(as_text=True)
    assert hidden not in clients["auditor"].get("/audit").get_data(as_text=True)
    for name in ("admin", "auditor", "inspektur", "pemeriksa1"):
        client = clients[name]
        for path in paths:
            plain = client.get(path)
            plain.get_data()
            for lang in ("en", "id"):
                joined = f"{path}{'&' if '?' in path else '?'}lang={lang}"
                localized = client.get(joined)
                localized.get_data()
                assert localized.status_code == plain.status_code, f"{joined} as {name}"


# --- the registry ----------------------------------------------------------------------


def age_keygen(tmp_path, name: str) -> tuple[str, str]:
    """A key made as docs/casework.md says: ``age-keygen -o FILE``; (file, recipient)."""
    key_file = tmp_path / f"{name}.txt"
    made = subprocess.run(
        ["age-keygen", "-o", str(key_file)], capture_output=True, text=True, check=False
    )
    if made.returncode == 127:  # pragma: no cover
        pytest.fail("the age tool is not installed (apt-get install age)")
    assert made.returncode == 0, made.stderr
    recipient = re.search(r"Public key: (age1[0-9a-z]+)", made.stderr).group(1)
    return str(key_file), recipient


def trail(database_url: str, *actions: str) -> list[AuditEvent]:
    with database(database_url) as session:
        return list(
            session.scalars(
                select(AuditEvent).where(AuditEvent.action.in_(actions)).order_by(AuditEvent.seq)
            )
        )


def recipient_row(database_url: str, name: str) -> ExportRecipient:
    with database(database_url) as session:
        row = session.scalar(select(ExportRecipient).where(ExportRecipient.name == name))
        session.expunge_all()
        return row


def pending_proposal(database_url: str, recipient_id: uuid.UUID) -> Proposal:
    with database(database_url) as session:
        proposal = session.scalar(
            select(Proposal).where(
                Proposal.recipient_id == recipient_id, Proposal.state == "pending"
            )
        )
        session.expunge_all()
        return proposal


def test_a_registered_recipient_takes_two_admins_and_its_export_opens_with_age(
    clients, report_id, database_url, tmp_path
):
    admin, second, investigator = clients["admin"], clients["admin2"], clients["pemeriksa1"]
    key_file, recipient = age_keygen(tmp_path, "arsip")
    name = f"Arsip Inspektorat {uuid.uuid4().hex[:4]}"
    proposed = post(
        admin, "/admin/recipients", "/admin/recipients", name=name, recipient=f"  {recipient} "
    )
    assert proposed.status_code == 303
    row = recipient_row(database_url, name)
    assert row.recipient == recipient and row.state == RecipientState.PROPOSED
    fingerprint = hashlib.sha256(recipient.encode()).hexdigest()
    grouped = " ".join(fingerprint.upper()[i : i + 4] for i in range(0, 64, 4))
    # Not offered, and not usable, before a second admin approves.
    form = investigator.get(f"/reports/{report_id}/export").get_data(as_text=True)
    assert name not in form
    refused = investigator.get(f"/reports/{report_id}/export?to={row.id}")
    assert refused.status_code == 400 and b"PK" not in refused.get_data()[:2]
    # The proposer cannot approve; the second admin sees name, key and full fingerprint.
    proposal = pending_proposal(database_url, row.id)
    assert proposal.fingerprint == fingerprint
    page = "/admin/proposals"
    own = post(admin, f"/admin/proposals/{proposal.id}/approve", page, confirm="y")
    assert own.status_code == 409
    shown = second.get(page).get_data(as_text=True)
    assert name in shown and recipient in shown and grouped in shown
    assert (
        post(second, f"/admin/proposals/{proposal.id}/approve", page, confirm="y").status_code
        == 303
    )
    assert recipient_row(database_url, name).state == RecipientState.ACTIVE
    (added,) = [
        e
        for e in trail(database_url, "export_recipient.add")
        if json.loads(e.detail)["recipient"] == name
    ]
    assert json.loads(added.detail)["fingerprint"] == fingerprint
    # Offered on the export form with the start of its fingerprint.
    form = investigator.get(f"/reports/{report_id}/export?lang=en").get_data(as_text=True)
    assert name in form and " ".join(grouped.split(" ")[:4]) in form
    assert f'value="{row.id}"' in form

    exported = investigator.get(f"/reports/{report_id}/export?to={row.id}")
    assert exported.status_code == 200
    sealed = tmp_path / "export.zip.age"
    sealed.write_bytes(exported.get_data())
    assert sealed.read_bytes().startswith(b"age-encryption.org/v1")
    opened = subprocess.run(
        ["age", "-d", "-i", key_file, str(sealed)], capture_output=True, check=False
    )
    assert opened.returncode == 0, opened.stderr
    archive = zipfile.ZipFile(io.BytesIO(opened.stdout))
    assert json.loads(archive.read("report.json"))["report_id"] == str(report_id)
    (export,) = [e for e in trail(database_url, "report.export") if e.report_id == report_id]
    assert json.loads(export.detail) == {
        "encrypted": True,
        "identity_included": False,
        "recipient": name,
        "recipient_fingerprint": fingerprint,
    }
    # A registered and a typed recipient at once, or an id that is none: refused, and
    # nothing exported.
    both = investigator.get(f"/reports/{report_id}/export?to={row.id}&recipient={recipient}")
    assert both.status_code == 400
    assert investigator.get(f"/reports/{report_id}/export?to=nichts").status_code == 400
    assert len([e for e in trail(database_url, "report.export") if e.report_id == report_id]) == 1
    # The auditor reads it in words.
    log = clients["auditor"].get(f"/audit?report={report_id}&lang=en").get_data(as_text=True)
    # Grouped as the proposals page shows it, to compare by eye (review 17b).
    assert f"To: {name} (fingerprint {grouped})" in log

    # Removing it takes two admins too; then it is no longer offered nor accepted.
    assert (
        post(second, f"/admin/recipients/{row.id}/remove", "/admin/recipients").status_code == 303
    )
    assert name in investigator.get(f"/reports/{report_id}/export").get_data(as_text=True)
    removal = pending_proposal(database_url, row.id)
    assert removal.kind == "recipient_remove"
    assert (
        post(admin, f"/admin/proposals/{removal.id}/approve", page, confirm="y").status_code == 303
    )
    assert recipient_row(database_url, name).state == RecipientState.REMOVED
    assert name not in investigator.get(f"/reports/{report_id}/export").get_data(as_text=True)
    stale = investigator.get(f"/reports/{report_id}/export?to={row.id}&lang=en")
    assert stale.status_code == 400
    assert "not registered (any more)" in stale.get_data(as_text=True)


def test_only_an_age_recipient_can_be_proposed(clients, database_url, tmp_path):
    """A private key pasted by mistake, an SSH key or a typo is refused, with the typed
    text kept, and nothing is stored or proposed."""
    admin = clients["admin"]
    key_file, recipient = age_keygen(tmp_path, "kpk")
    secret = next(
        line for line in open(key_file).read().splitlines() if line.startswith("AGE-SECRET-KEY")
    )
    before = len(trail(database_url, "proposal.create"))
    for wrong in (
        recipient[:-1] + ("q" if recipient[-1] != "q" else "p"),
        "ssh-ed25519 AAAA",
    ):
        refused = post(admin, "/admin/recipients", "/admin/recipients", name="KPK", recipient=wrong)
        assert refused.status_code == 400
        page = refused.get_data(as_text=True)
        assert "bukan kunci publik age" in page and 'value="KPK"' in page
    # A private key: said plainly, and never shown back (review of issue 17, finding 5),
    # whether it is the only fault or the name is missing too.
    for name in ("KPK", ""):
        refused = post(admin, "/admin/recipients", "/admin/recipients", name=name, recipient=secret)
        assert refused.status_code == 400
        page = refused.get_data(as_text=True)
        assert secret not in page and secret.lower() not in page.lower()
        assert PRIVATE_KEY_WORDS in page
    assert recipient_row(database_url, "KPK") is None
    assert len(trail(database_url, "proposal.create")) == before
    # The same key twice, or the same name twice, is refused too.
    assert (
        post(
            admin, "/admin/recipients", "/admin/recipients", name="KPK", recipient=recipient
        ).status_code
        == 303
    )
    again = post(admin, "/admin/recipients", "/admin/recipients", name="BPKP", recipient=recipient)
    assert again.status_code == 400 and "KPK" in again.get_data(as_text=True)
    _other, other = age_keygen(tmp_path, "lain")
    same_name = post(admin, "/admin/recipients", "/admin/recipients", name="kpk", recipient=other)
    assert same_name.status_code == 400


def test_a_rejected_recipient_is_never_offered(clients, report_id, database_url, tmp_path):
    _key, recipient = age_keygen(tmp_path, "bpkp")
    name = f"BPKP {uuid.uuid4().hex[:4]}"
    assert (
        post(
            clients["admin"],
            "/admin/recipients",
            "/admin/recipients",
            name=name,
            recipient=recipient,
        ).status_code
        == 303
    )
    row = recipient_row(database_url, name)
    proposal = pending_proposal(database_url, row.id)
    page = "/admin/proposals"
    assert (
        post(
            clients["admin2"], f"/admin/proposals/{proposal.id}/reject", page, confirm="y"
        ).status_code
        == 303
    )
    assert recipient_row(database_url, name).state == RecipientState.REJECTED
    form = clients["pemeriksa1"].get(f"/reports/{report_id}/export").get_data(as_text=True)
    assert name not in form
    assert clients["pemeriksa1"].get(f"/reports/{report_id}/export?to={row.id}").status_code == 400


def test_the_fingerprint_is_the_sha256_of_the_recipient_as_documented():
    """docs/casework.md: ``printf '%s' age1… | sha256sum`` gives the fingerprint."""
    import pyrage

    recipient = str(pyrage.x25519.Identity.generate().to_public())
    # As printf '%s' writes it: the recipient's bytes, no newline, into sha256sum.
    summed = subprocess.run(["sha256sum"], input=recipient, capture_output=True, text=True)
    assert summed.stdout.split()[0] == recipient_fingerprint(recipient)
    assert recipient_fingerprint(recipient.upper()) == recipient_fingerprint(recipient)
    assert display_fingerprint(recipient).replace(" ", "").lower() == recipient_fingerprint(
        recipient
    )


# --- the review of issue 17 (findings 5 to 8) ---------------------------------------------


def test_a_private_key_on_the_export_form_is_refused_and_never_shown_or_addressed(
    clients, report_id, tmp_path
):
    """Finding 5: the export form was a GET, so a recipient typed in (or a private key
    pasted by mistake) went into the address, the history and the page again. The form
    posts with CSRF; a pasted key, posted or in an address, is refused in plain words and
    never rendered back."""
    investigator = clients["pemeriksa1"]
    path = f"/reports/{report_id}/export"
    form = investigator.get(path).get_data(as_text=True)
    assert re.search(r'<form method="post" action="/reports/[0-9a-f-]+/export"', form)
    assert 'name="csrf_token"' in form
    key_file, _recipient = age_keygen(tmp_path, "bocor")
    secret = next(
        line for line in open(key_file).read().splitlines() if line.startswith("AGE-SECRET-KEY")
    )
    posted = investigator.post(
        path, data={"csrf_token": csrf(investigator, path), "recipient": secret}
    )
    addressed = investigator.get(path, query_string={"recipient": secret})
    for refused in (posted, addressed):
        page = refused.get_data(as_text=True)
        assert refused.status_code == 400 and not refused.get_data().startswith(b"age-")
        assert secret not in page and secret.lower() not in page.lower()
        assert PRIVATE_KEY_WORDS in page
    # Posting without the form's CSRF token exports nothing.
    assert investigator.post(path, data={"plaintext": "y", "confirm": "y"}).status_code == 400


def test_the_export_form_posts_a_typed_recipient(clients, report_id, tmp_path):
    key_file, recipient = age_keygen(tmp_path, "ketik")
    investigator = clients["pemeriksa1"]
    path = f"/reports/{report_id}/export"
    exported = investigator.post(
        path, data={"csrf_token": csrf(investigator, path), "recipient": recipient}
    )
    assert exported.status_code == 200
    sealed = tmp_path / "typed.zip.age"
    sealed.write_bytes(exported.get_data())
    opened = subprocess.run(["age", "-d", "-i", key_file, str(sealed)], capture_output=True)
    assert opened.returncode == 0 and opened.stdout.startswith(b"PK")


@pytest.mark.parametrize(
    "name",
    [
        "KPK\u200b",  # zero-width space: also passed "name taken" beside "KPK"
        "K\u0420K",  # Cyrillic ER for P
        "\u202eKPK",  # RTL override: reverses the fingerprint shown after it
        "\u3164",  # Hangul filler: an invisible "letter"
        "KPK\u00ad",  # soft hyphen
    ],
)
def test_recipient_names_with_invisible_or_look_alike_characters_are_refused(
    clients, database_url, tmp_path, name
):
    """Finding 7."""
    _key, recipient = age_keygen(tmp_path, "mirip")
    refused = post(
        clients["admin"], "/admin/recipients", "/admin/recipients", name=name, recipient=recipient
    )
    assert refused.status_code == 400
    assert "hanya huruf Latin" in refused.get_data(as_text=True)
    assert recipient_row(database_url, name) is None


def test_recipient_names_are_isolated_from_the_text_around_them(clients, database_url, tmp_path):
    _key, recipient = age_keygen(tmp_path, "bdi")
    name = f"Arsip Kota {uuid.uuid4().hex[:4]}"
    post(clients["admin"], "/admin/recipients", "/admin/recipients", name=name, recipient=recipient)
    for path in ("/admin/recipients", "/admin/proposals"):
        assert f"<bdi>{name}</bdi>" in clients["admin2"].get(path).get_data(as_text=True), path


def _approved(clients, database_url, tmp_path, stem: str) -> tuple[ExportRecipient, str]:
    _key, recipient = age_keygen(tmp_path, stem)
    name = f"Arsip {stem} {uuid.uuid4().hex[:6]}"
    assert (
        post(
            clients["admin"],
            "/admin/recipients",
            "/admin/recipients",
            name=name,
            recipient=recipient,
        ).status_code
        == 303
    )
    row = recipient_row(database_url, name)
    proposal = pending_proposal(database_url, row.id)
    approve = f"/admin/proposals/{proposal.id}/approve"
    assert post(clients["admin2"], approve, "/admin/proposals", confirm="y").status_code == 303
    return row, recipient


def test_a_recipient_row_changed_in_the_database_breaks_no_page(
    clients, report_id, database_url, tmp_path
):
    """Finding 6: one registered row whose key no longer parses made the export form of
    every report, /admin/recipients and /admin/proposals answer 500. It is left off the
    export form, shown to admins as failing its check, and can still be removed."""
    row, recipient = _approved(clients, database_url, tmp_path, "rusak")
    with database(database_url) as session:
        session.get(ExportRecipient, row.id).recipient = "garbage-not-age"
        session.commit()
    try:
        form = clients["pemeriksa1"].get(f"/reports/{report_id}/export")
        assert form.status_code == 200 and row.name not in form.get_data(as_text=True)
        chosen = clients["pemeriksa1"].get(f"/reports/{report_id}/export?to={row.id}")
        assert chosen.status_code == 400 and not chosen.get_data().startswith(b"PK")
        for path in ("/admin/recipients", "/admin/proposals"):
            page = clients["admin"].get(path)
            assert page.status_code == 200, path
        listed = clients["admin"].get("/admin/recipients").get_data(as_text=True)
        assert f'id="altered-{row.id}"' in listed
        assert clients["auditor"].get("/audit").status_code == 200
        # Admins can still take it off the registry, under the two-person rule.
        removal = f"/admin/recipients/{row.id}/remove"
        assert post(clients["admin"], removal, "/admin/recipients").status_code == 303
        proposal = pending_proposal(database_url, row.id)
        assert clients["admin2"].get("/admin/proposals").status_code == 200
        approve = f"/admin/proposals/{proposal.id}/approve"
        assert post(clients["admin2"], approve, "/admin/proposals", confirm="y").status_code == 303
        assert recipient_row(database_url, row.name).state == RecipientState.REMOVED
    finally:
        with database(database_url) as session:
            session.get(ExportRecipient, row.id).recipient = recipient
            session.commit()


def test_approving_a_recipient_whose_key_changed_in_the_database_is_refused(
    clients, database_url, tmp_path
):
    """Finding 8 (Reason.RECIPIENT_CHANGED): the proposal pinned one key's fingerprint;
    a row changed since, to another key or to garbage, is never approved."""
    for stem, changed in (("ganti", None), ("sampah", "garbage-not-age")):
        _good, good = age_keygen(tmp_path, stem)
        name = f"Arsip {stem} {uuid.uuid4().hex[:6]}"
        proposed = post(
            clients["admin"], "/admin/recipients", "/admin/recipients", name=name, recipient=good
        )
        assert proposed.status_code == 303
        row = recipient_row(database_url, name)
        with database(database_url) as session:
            session.get(ExportRecipient, row.id).recipient = (
                changed or age_keygen(tmp_path, stem + "2")[1]
            )
            session.commit()
        proposal = pending_proposal(database_url, row.id)
        approve = f"/admin/proposals/{proposal.id}/approve"
        refused = post(clients["admin2"], approve, "/admin/proposals", confirm="y")
        assert refused.status_code == 409, refused.status_code
        assert "Kunci penerima berubah sejak usulan dibuat" in refused.get_data(as_text=True)
        assert recipient_row(database_url, name).state == RecipientState.PROPOSED
