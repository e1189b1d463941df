"""The public transparency report (issue 19, item 3; docs/transparency.md): every figure
of a known history (tests/transparency_history.py) as published, its suppression, the
signed document and its checkpoint, the audit entries, the reporter pages in both
languages, and the offline recipe of the docs run against a real publication.

One instance for the module (``sipadu init``, the history, one publication); the tests
that publish again come last."""

import hashlib
import json
import re
import subprocess
import sys
import uuid
from datetime import date, timedelta
from pathlib import Path

import pytest
import rfc8785
from sqlalchemy import select

from sipadu.accountability.audit import CHECKPOINT_LABEL, Checkpoint
from sipadu.crypto import CryptoError, sign, verify_signature
from sipadu.persistence.models import AuditCheckpoint, AuditEvent, Report, TransparencyReport
from sipadu.services.statistics import CaseFacts, case_facts
from sipadu.services.suppression import COUNT_COLUMNS, suppress
from sipadu.services.transparency import (
    COLUMNS,
    FACT_FIELDS,
    SIGNATURE_LABEL,
    check_signature,
    figures,
    settled,
    signed_message,
)
from sipadu.settings.config import ConfigError, load_config
from sipadu.settings.instance import load_secret
from tests import transparency_history as history
from tests.helpers import database, invoke, submit

DOCS = Path(__file__).parents[2] / "docs" / "transparency.md"
MONTH = history.MONTH


@pytest.fixture(scope="module")
def published(env):
    """The module's instance with the history, its November 2025 published."""
    assert invoke(env, "init").exit_code == 0
    with database(env["SIPADU_DATABASE_URL"]) as session:
        history.seed(session)
        session.commit()
    result = invoke(env, "transparency", "publish", "--month", MONTH)
    assert result.exit_code == 0, result.output
    assert re.fullmatch(rf"published {MONTH} sha256 [0-9a-f]{{64}}\n", result.output)
    return env


def stored(env, month: str = MONTH) -> TransparencyReport:
    with database(env["SIPADU_DATABASE_URL"]) as session:
        row = session.scalar(select(TransparencyReport).where(TransparencyReport.month == month))
        assert row is not None
        session.expunge(row)
        return row


def entries(env, action: str) -> list[AuditEvent]:
    with database(env["SIPADU_DATABASE_URL"]) as session:
        found = list(
            session.scalars(
                select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.seq)
            )
        )
        session.expunge_all()
        return found


def pinned(env) -> str:
    return invoke(env, "audit", "public-key").stdout.strip()


def rows_of(document: dict) -> list[dict]:
    return [*document["categories"], document["total"]]


# --- the figures --------------------------------------------------------------------------


def test_every_figure_of_the_known_history_is_published_as_worked_out(published):
    document = json.loads(stored(published).document)
    assert document["format"] == "sipadu-transparency-report-v1"
    assert document["month"] == MONTH and document["threshold"] == 5
    assert [row["category"] for row in document["categories"]] == history.ROWS
    assert document["categories"][-1]["label"] == dict(
        zip(("id", "en"), history.PUNGLI_LABELS, strict=True)
    )
    assert document["categories"][2]["label"] == {
        "id": "Korupsi, kolusi, atau nepotisme (KKN)",
        "en": "Corruption, collusion or nepotism (KKN)",
    }
    for row, expected in zip(rows_of(document), history.EXPECTED, strict=True):
        assert row["figures"] == expected
        assert row["suppressed"] == [c for c in history.C if expected[c] is None]
    assert document["columns"] == list(history.C)


def test_before_suppression_the_figures_are_the_history_s(published):
    """The same computation with nothing hidden (threshold 0): every count."""
    with database(published["SIPADU_DATABASE_URL"]) as session:
        facts = case_facts(session, date(2025, 11, 1), date(2025, 12, 1))
    rows = figures(facts, history.ROWS, date(2026, 11, 30), 0)
    assert [row["figures"] for row in rows] == history.COUNTS
    assert all(row["suppressed"] == [] for row in rows)
    assert len(facts) == 27  # not the reports of October and December


def test_the_threshold_is_configured(published):
    assert load_config({}).transparency_threshold == 5
    assert load_config({"SIPADU_TRANSPARENCY_THRESHOLD": "2"}).transparency_threshold == 2
    for wrong in ("1", "0", "five"):
        with pytest.raises(ConfigError, match="SIPADU_TRANSPARENCY_THRESHOLD"):
            load_config({"SIPADU_TRANSPARENCY_THRESHOLD": wrong})
    with database(published["SIPADU_DATABASE_URL"]) as session:
        facts = case_facts(session, date(2025, 11, 1), date(2025, 12, 1))
    low = figures(facts, history.ROWS, date(2026, 11, 30), 2)
    # Four not confirmed in all: shown at 2, not at 5.
    assert low[-1]["figures"]["closed_unsubstantiated"] == 4
    # Administrative violations' received (2) is hidden, lest the 0s of staff
    # discipline show.
    assert low[1]["figures"]["received"] is None
    for row, counts in zip(low, history.COUNTS, strict=True):
        assert all(row["figures"][c] is None for c in history.C if counts[c] in (0, 1))


def test_no_median_is_published(published, reporter_client):
    """Whether a median could be shown depends on how many reports have its day, so its
    presence or absence would pin hidden counts (5 received with medians to acknowledge
    and to answer shown: none pending), and a median of a few is an individual's delay.
    So the public report has none: not in its columns, figures or suppressed lists, not
    on its pages, not in the recipe's recomputation; five reports acknowledged in a
    category whose received is hidden leave no trace of their days."""
    assert COLUMNS == COUNT_COLUMNS
    day = date(2026, 10, 5)
    facts = [
        CaseFacts("kkn", day, date(2026, 10, 20), date(2026, 10, 6 + i), None, None, None,
                  "in_review", False)
        for i in range(5)
    ]  # fmt: skip
    for threshold in (0, 5):
        for row in figures(facts, ["abuse_of_authority", "kkn", "staff_discipline"], day,
                           threshold):  # fmt: skip
            assert list(row["figures"]) == list(COUNT_COLUMNS)
            assert set(row["suppressed"]) <= set(COUNT_COLUMNS)
    document = json.loads(stored(published).document)
    assert document["columns"] == list(COUNT_COLUMNS)
    for row in rows_of(document):  # canonical JSON: keys sorted
        assert sorted(row["figures"]) == sorted(COUNT_COLUMNS)
    assert "median" not in stored(published).document.decode().lower()
    for lang in ("id", "en"):
        for path in (f"/transparansi/{MONTH}", "/transparansi"):
            page = reporter_client.get(f"{path}?lang={lang}").get_data(as_text=True)
            assert "median" not in page.lower()
    assert "median" not in recipe().lower()


def test_the_zeros_the_day_of_publication_settles_are_held_in_the_audit():
    """Published on 20 December, November's acknowledgement deadlines (+7) have all
    passed and no feedback deadline (+90) has: everyone knows no acknowledgement is "not
    yet due" and no feedback late, and the suppression holds those zeros (not free to
    range) in its audit. One report due on the day itself settles neither of its kind;
    one without deadlines (stored before they were kept) is never late and always "not
    yet due" until done."""
    received = date(2026, 11, 3)

    def fact(category: str, ack_due: date | None, feedback_due: date | None, late: bool):
        acknowledged = received + timedelta(days=9 if late else 1)
        return CaseFacts(category, received, ack_due, acknowledged, feedback_due, None, None,
                         "in_review", False)  # fmt: skip

    due = (received + timedelta(days=7), received + timedelta(days=90))
    today = date(2026, 12, 20)
    month = [fact("abuse", *due, late=i >= 5) for i in range(9)] + [fact("kkn", *due, late=True)]
    assert settled(month, today) == {"ack_pending", "feedback_late"}
    assert settled([*month, fact("kkn", today, today, False)], today) == {"feedback_late"}
    assert settled([*month, fact("kkn", None, None, False)], today) == {"feedback_late"}
    assert settled([], today) == {"ack_pending", "ack_late", "feedback_pending", "feedback_late"}
    # abuse: 5 on time, 4 late; kkn: 1 late; both all pending feedback
    rows = figures(month, ["abuse", "kkn"], today, 5)
    truth = [dict.fromkeys(COUNT_COLUMNS, 0) for _ in range(3)]
    for row, (on_time, late) in zip(truth, [(5, 4), (0, 1), (5, 5)], strict=True):
        row.update(received=on_time + late, ack_on_time=on_time, ack_late=late)
        row.update(feedback_pending=on_time + late)
    namespace: dict = {"__name__": "recipe"}
    exec(compile(recipe(), "check_transparency.py", "exec"), namespace)
    for facts in (month, [*month, fact("kkn", today, today, False)], []):
        as_read = [{name: getattr(f, name) for name in FACT_FIELDS} for f in facts]
        assert namespace["settled"](as_read, today) == settled(facts, today)
    hidden = suppress(truth, 5, {"ack_pending", "feedback_late"})
    assert hidden != suppress(truth, 5)  # the case where it matters
    for index, row in enumerate(rows):
        assert set(row["suppressed"]) == {c for c in COUNT_COLUMNS if (index, c) in hidden}


# --- the signed document ------------------------------------------------------------------


def test_the_document_is_signed_canonical_and_bound_to_a_stored_checkpoint(published):
    raw = stored(published).document
    document = check_signature(raw, pinned(published))
    assert rfc8785.dumps(document) == raw  # served as canonical JSON
    stdlib = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert stdlib.encode() == raw  # what the offline recipe computes, non-ASCII labels too
    with pytest.raises(CryptoError):
        check_signature(raw, bytes(32).hex())
    forged = raw.replace(b'"received":27', b'"received":28')
    assert forged != raw
    with pytest.raises(CryptoError):
        check_signature(forged, pinned(published))
    # Domain-separated: the document's signature is no checkpoint signature.
    signature = bytes.fromhex(document["signature"])
    with pytest.raises(CryptoError):
        verify_signature(
            bytes.fromhex(pinned(published)), CHECKPOINT_LABEL, signed_message(document), signature
        )
    checkpoint = Checkpoint(**document["checkpoint"])
    checkpoint.verify()
    assert checkpoint.public_key == pinned(published)
    with database(published["SIPADU_DATABASE_URL"]) as session:
        row = session.scalar(select(AuditCheckpoint).where(AuditCheckpoint.seq == checkpoint.seq))
        assert row is not None and row.hash == checkpoint.hash


def test_publishing_is_audited_with_the_document_s_digest(published):
    raw = stored(published).document
    (entry,) = entries(published, "transparency.publish")
    assert entry.actor == "operator" and entry.report_id is None
    assert json.loads(entry.detail) == {
        "month": MONTH,
        "sha256": hashlib.sha256(raw).hexdigest(),
        "replaces": None,
    }
    assert entry.seq == json.loads(raw)["checkpoint"]["seq"] + 1  # same transaction
    assert invoke(published, "audit", "verify").stdout.startswith("OK")


def test_the_document_holds_no_report_content_id_or_fine_date(published, reporter_client):
    """A report sent through the portal with a marked title, dated (by its stored day)
    into September 2025, then September published: neither its title, its id, nor any
    day of any report is in the document; its only dates are its own."""
    marker = f"JUDUL-RAHASIA-{uuid.uuid4().hex[:8]}"
    submit(reporter_client, title=marker)
    with database(published["SIPADU_DATABASE_URL"]) as session:
        report = session.scalar(select(Report).where(Report.received_on >= date(2026, 1, 1)))
        report.received_on = date(2025, 9, 15)
        session.commit()
        ids = [str(i) for i in session.scalars(select(Report.id))]
        names = ("received_on", "ack_due_on", "feedback_due_on", "acknowledged_on", "closed_on")
        days = {
            getattr(r, n).isoformat()
            for r in session.scalars(select(Report))
            for n in names
            if getattr(r, n) is not None
        }
    assert invoke(published, "transparency", "publish", "--month", "2025-09").exit_code == 0
    for month in ("2025-09", MONTH):
        row = stored(published, month)
        text = row.document.decode()
        assert marker not in text and marker.encode() not in row.facts
        assert not any(i in text or i.encode() in row.facts for i in ids)
        document = json.loads(text)
        found = set(re.findall(r"\d{4}-\d{2}-\d{2}", text))
        assert found == {document["generated_on"], document["checkpoint"]["at"][:10]}
        assert not found & days
        assert document["generated_on"] == date.today().isoformat()
        assert set(document) == {
            "format", "month", "generated_on", "threshold", "columns", "categories",
            "total", "facts", "checkpoint", "signature",
        }  # fmt: skip
    september = json.loads(stored(published, "2025-09").document)
    assert september["total"]["figures"]["received"] is None  # one report: hidden
    assert stored(published, "2025-09").facts.count(b"\r\n") == 2  # header and one row


def test_the_facts_file_is_the_contract_s_csv(published, tmp_path):
    result = invoke(published, "transparency", "facts", "--month", MONTH, "--out", str(tmp_path))
    assert result.exit_code == 0
    salt = re.fullmatch(r"salt ([0-9a-f]{64})\n", result.output).group(1)
    facts = (tmp_path / f"facts-{MONTH}.csv").read_bytes()
    document = (tmp_path / f"transparency-{MONTH}.json").read_bytes()
    assert document == stored(published).document
    lines = facts.decode().split("\r\n")
    assert lines[0] == ",".join(FACT_FIELDS) and lines[-1] == "" and len(lines) == 29
    assert lines[1:-1] == sorted(
        lines[1:-1], key=lambda row: [(v != "", v) for v in row.split(",")]
    )
    assert "kkn,2025-11-10,,,,,,received,0" not in lines  # k12 has its 2099 deadlines
    assert "kkn,2025-11-10,2099-01-01,,2099-01-01,,,received,0" in lines
    commitment = hashlib.sha256(bytes.fromhex(salt) + facts).hexdigest()
    assert json.loads(document)["facts"]["salted_sha256"] == commitment
    assert hashlib.sha256(facts).hexdigest() not in document.decode()  # never unsalted
    (entry,) = entries(published, "transparency.facts")
    assert json.loads(entry.detail) == {"month": MONTH}
    unknown = invoke(published, "transparency", "facts", "--month", "2020-01")
    assert unknown.exit_code != 0 and "No transparency report is published" in unknown.output


# --- the reporter portal ------------------------------------------------------------------


def test_the_json_is_served_byte_for_byte(published, reporter_client):
    response = reporter_client.get(f"/transparansi/{MONTH}.json")
    assert response.status_code == 200 and response.mimetype == "application/json"
    assert response.get_data() == stored(published).document
    for missing in ("/transparansi/2024-01.json", "/transparansi/2025-13.json", "/transparansi/x"):
        assert reporter_client.get(missing).status_code == 404


@pytest.mark.parametrize("lang", ["id", "en"])
def test_the_pages_in_both_languages(published, reporter_client, lang):
    listing = reporter_client.get(f"/transparansi?lang={lang}")
    assert listing.status_code == 200
    assert f'href="/transparansi/{MONTH}' in listing.get_data(as_text=True)
    response = reporter_client.get(f"/transparansi/{MONTH}?lang={lang}")
    page = response.get_data(as_text=True)
    assert response.status_code == 200 and len(response.get_data()) <= 100_000
    assert "<script" not in page and " style=" not in page and "<style" not in page
    assert "script-src" in response.headers["Content-Security-Policy"]
    label = history.PUNGLI_LABELS[0 if lang == "id" else 1]
    assert label.replace("“", "&#8220;") in page or label in page
    words = {
        "id": ("Laporan transparansi", "Semua kategori", "Diterima tepat waktu"),
        "en": ("Transparency report", "All categories", "Acknowledged on time"),
    }[lang]
    for word in words[:2]:
        assert word in page
    table = page.split('id="figures"', 1)[1].split("</table>", 1)[0]
    hidden = sum(row[c] is None for row in history.EXPECTED for c in history.C)
    assert table.count('class="suppressed"') == hidden
    assert 'id="suppression"' in page
    cells = re.findall(r"<td>([^<]*)</td>", table)
    shown = sum(row[c] is not None for row in history.EXPECTED for c in history.C)
    assert len(cells) == shown and "27" in cells and "22" in cells and "14" in cells
    assert hashlib.sha256(stored(published).document).hexdigest() in page
    for internal in ("abuse_of_authority", "kkn_", "median_days", "ack_on_time", "null"):
        assert internal not in page


def test_the_home_page_links_the_report(published, reporter_client):
    page = reporter_client.get("/").get_data(as_text=True)
    assert 'href="/transparansi"' in page


# --- the offline recipe -------------------------------------------------------------------


def recipe() -> str:
    block = DOCS.read_text().split("```python\n", 1)[1].split("```", 1)[0]
    assert "from cryptography" in block and "import sipadu" not in block
    return block


def check(script: Path, *args: object) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-I", str(script), *map(str, args)],
        capture_output=True,
        text=True,
        check=False,
    )


def test_the_documented_recipe_checks_a_real_publication_and_catches_tampering(published, tmp_path):
    out = tmp_path / "auditor"
    salt = invoke(published, "transparency", "facts", "--month", MONTH, "--out", str(out))
    salt = salt.output.split()[1]
    export = tmp_path / "audit.jsonl"
    assert invoke(published, "audit", "export", "--out", str(export)).exit_code == 0
    script = tmp_path / "check_transparency.py"
    script.write_text(recipe())
    document, facts = out / f"transparency-{MONTH}.json", out / f"facts-{MONTH}.csv"
    key = pinned(published)
    digest = hashlib.sha256(document.read_bytes()).hexdigest()
    run = check(script, document, facts, salt, export, key)
    assert run.returncode == 0, run.stderr
    assert run.stdout == f"OK {MONTH} {digest}\n"

    # (1) a tampered figure: the signature fails
    raw = document.read_bytes()
    tampered = tmp_path / "tampered.json"
    tampered.write_bytes(raw.replace(b'"received":27', b'"received":28'))
    run = check(script, tampered, facts, salt, export, key)
    assert run.returncode != 0 and "the document is not signed by the pinned key" in run.stderr
    # ... and one signed with the real key (a dishonest publisher): the figures fail,
    # and no transparency.publish entry has its digest
    body = json.loads(raw)
    body["total"]["figures"]["received"] = 28
    seed = load_secret(load_config(published), "audit_signing_key")
    body["signature"] = sign(seed, SIGNATURE_LABEL, signed_message(body)).hex()
    tampered.write_bytes(rfc8785.dumps(body))
    run = check(script, tampered, facts, salt, export, key)
    assert run.returncode != 0 and "no transparency.publish entry" in run.stderr
    # (4) with the audit step passed (a publisher who also wrote the entry), the
    # recomputation is what refuses it
    source = recipe().replace("    check_audit(export_path,", "    # check_audit(export_path,")
    lenient = tmp_path / "without_audit.py"
    lenient.write_text(source)
    run = check(lenient, tampered, facts, salt, export, key)
    assert run.returncode != 0 and "the figures of all categories are not" in run.stderr
    hidden = dict(body)
    hidden["total"] = {**body["total"], "figures": {**body["total"]["figures"], "received": 27}}
    hidden["total"]["suppressed"] = [*body["total"]["suppressed"]]
    hidden["categories"] = [dict(r) for r in body["categories"]]
    pungli = body["categories"][4]
    assert pungli["figures"]["closed_substantiated"] == 6
    hidden["categories"][4] = {
        **pungli,
        "figures": {**pungli["figures"], "closed_substantiated": None},
        "suppressed": [
            c for c in history.C if c in pungli["suppressed"] or c.startswith("closed_")
        ],
    }
    hidden["signature"] = sign(seed, SIGNATURE_LABEL, signed_message(hidden)).hex()
    tampered.write_bytes(rfc8785.dumps(hidden))
    run = check(lenient, tampered, facts, salt, export, key)  # over-suppressed
    assert run.returncode != 0 and f"the figures of {history.PUNGLI}" in run.stderr

    # (3) a tampered facts file
    lines = facts.read_bytes().split(b"\r\n")
    lines[1] = lines[1].replace(b"rejected", b"closed_substantiated", 1)
    changed = tmp_path / "facts.csv"
    changed.write_bytes(b"\r\n".join(lines))
    run = check(script, document, changed, salt, export, key)
    assert run.returncode != 0 and "not the one the document commits to" in run.stderr
    run = check(script, document, facts, "00" * 32, export, key)
    assert run.returncode != 0 and "not the one the document commits to" in run.stderr

    # a wrong key
    other = hashlib.sha256(b"not the audit key").digest()
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    wrong = Ed25519PrivateKey.from_private_bytes(other).public_key().public_bytes_raw().hex()
    run = check(script, document, facts, salt, export, wrong)
    assert run.returncode != 0 and "not signed by the pinned key" in run.stderr

    # (2) an export that ends before the publication
    lines = export.read_text().splitlines()
    published_at = next(
        i for i, line in enumerate(lines) if '"action": "transparency.publish"' in line
    )
    short = tmp_path / "short.jsonl"
    short.write_text("\n".join(lines[:published_at]) + "\n")
    run = check(script, document, facts, salt, short, key)
    assert run.returncode != 0 and "no transparency.publish entry" in run.stderr
    altered = tmp_path / "altered.jsonl"
    lines[3] = lines[3].replace('"role": "operator"', '"role": "admin"')
    altered.write_text("\n".join(lines) + "\n")
    run = check(script, document, facts, salt, altered, key)
    assert run.returncode != 0 and "audit entry 3: altered" in run.stderr


# --- publishing again (last: they change the publication) ----------------------------------


def test_a_month_is_not_published_twice_unless_replaced(published):
    first = stored(published).document
    again = invoke(published, "transparency", "publish", "--month", MONTH)
    assert again.exit_code != 0 and "published already" in again.output
    assert stored(published).document == first
    current = date.today().strftime("%Y-%m")  # never over while it is today's
    not_over = invoke(published, "transparency", "publish", "--month", current)
    assert not_over.exit_code != 0 and "cannot be published yet" in not_over.output
    for wrong in ("November", "2025-11\n", "9999-12", "0000-01"):
        malformed = invoke(published, "transparency", "publish", "--month", wrong)
        assert malformed.exit_code == 2 and "YYYY-MM" in malformed.output, wrong
    assert len(entries(published, "transparency.publish")) == 2  # November, September

    lower = {**published, "SIPADU_TRANSPARENCY_THRESHOLD": "2"}
    replaced = invoke(lower, "transparency", "publish", "--month", MONTH, "--replace")
    assert replaced.exit_code == 0 and replaced.output.startswith(f"replaced {MONTH} sha256 ")
    row = stored(published)
    document = json.loads(row.document)
    assert document["threshold"] == 2
    assert document["total"]["figures"]["closed_unsubstantiated"] == 4  # hidden at 5
    last = entries(published, "transparency.publish")[-1]
    assert json.loads(last.detail) == {
        "month": MONTH,
        "sha256": hashlib.sha256(row.document).hexdigest(),
        "replaces": hashlib.sha256(first).hexdigest(),
    }
    assert invoke(published, "audit", "verify").stdout.startswith("OK")
