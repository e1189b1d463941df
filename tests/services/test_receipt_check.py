"""The server's receipt check and docs/receipt.md's offline recipe are the same check
(issue 20 item 2, review faults F4 to F6): both are run on one real receipt and on the
same forgeries, and must give the same answer, the same ``OK`` line or the same
``FAIL:`` reason. The forgeries: every part changed in turn, members added, dropped or
given twice, numbers and hex written other than canonically, a foreign note, and
receipts re-signed with the instance's own key (what only a key holder can make) whose
period is not one SIPADU dates by or whose checkpoint is later than the sealing window.

The recipe runs here as the docs print it, in this process (as a module of its own, so
each of many files costs no new interpreter); tests/test_receipt_download.py and
tests/test_review_receipts.py run it as a separate ``python3 -I`` too. Real database,
real keys; nothing mocked."""

import contextlib
import copy
import io
import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from sipadu.accountability import audit
from sipadu.crypto import new_keypair, sign, signing_public_key
from sipadu.persistence.models import Role
from sipadu.services import key_ring, receipt_check, receipts
from sipadu.services.receipts import ReceiptInvalid
from sipadu.settings.config import DatePrecision
from tests.helpers import database
from tests.services.helpers import person, route, service_submit
from tests.services.test_receipts import forgeries
from tests.test_receipt_download import recipe

SEED = bytes(range(32))
PINNED = signing_public_key(SEED).hex()
DAY = DatePrecision.DAY
RECEIVED = datetime.now(UTC).date() - timedelta(days=2)


@pytest.fixture(scope="module")
def verify() -> dict:
    """The recipe's names, its ``main`` among them, run from the docs' text."""
    names: dict = {"__name__": "verify_receipt"}
    exec(compile(recipe(), "verify_receipt.py", "exec"), names)
    return names


@pytest.fixture(scope="module")
def good(database_url) -> dict:
    """A real receipt of a day sealed now, two days after it (three reports)."""
    recovery = new_keypair()
    with database(database_url) as session:
        route(session, person(session, "penyidik.periksa", Role.INVESTIGATOR))
        reports = [service_submit(session, recovery.public_key(), day=RECEIVED) for _ in "abc"]
        assert receipts.seal_finished_days(session, SEED, datetime.now(UTC), DAY) is not None
        keys = key_ring.mailbox_keys(
            session, reports[0].report_id, reports[0].mailbox_id, reports[0].mailbox_private
        )
        document = receipts.receipt_json(session, keys, pinned=PINNED)
        session.rollback()
    assert document is not None
    return json.loads(document)


def recipe_says(verify: dict, tmp_path: Path, text: str | bytes) -> str:
    """What the recipe prints for a file holding ``text``: its ``OK`` line, or the
    ``FAIL:`` line it exits with."""
    path = tmp_path / "receipt.json"
    path.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8", "surrogatepass"))
    printed = io.StringIO()
    try:
        with contextlib.redirect_stdout(printed):
            verify["main"](str(path), PINNED)
    except SystemExit as exit_:
        assert printed.getvalue() == ""
        return str(exit_.code)
    return printed.getvalue().rstrip("\n")


def server_says(text: str | bytes) -> str:
    """The same answer from sipadu.services.receipt_check, in the recipe's words."""
    try:
        checked = receipts.check(receipts.load(text), PINNED)
    except ReceiptInvalid as refused:
        return f"FAIL: {refused}"
    period = checked.day if checked.last == checked.day else f"{checked.day} to {checked.last}"
    which = f"report {checked.report_id}" if checked.report_id else "a report, which one not shown"
    return f"OK {period} {which} (sealed {checked.sealed_at}, checkpoint {checked.checkpoint_seq})"


def resigned(good: dict, *, detail: dict | None = None, entry: dict | None = None, at=None):
    """``good`` with its first entry changed (``detail`` replacing its detail, ``entry``
    merged into it) and its checkpoint's time set to ``at``, the chain re-hashed and
    the checkpoint signed again with the instance's key: what only a key holder (or a
    sealer that ignores the rules) can make."""
    forged = copy.deepcopy(good)
    entries = forged["entries"]
    if detail is not None:
        entries[0]["detail"] = detail
    entries[0].update(entry or {})
    previous = entries[0]["prev_hash"]
    for item in entries:
        item["prev_hash"] = previous
        record = {name: item[name] for name in receipt_check.ENTRY_MEMBERS[:7]}
        item["hash"] = previous = audit.entry_hash(previous, audit.canonical(record))
    checkpoint = forged["checkpoint"]
    checkpoint["hash"] = previous
    if at is not None:
        checkpoint["at"] = at
    message = audit.canonical(
        {"seq": checkpoint["seq"], "hash": checkpoint["hash"], "at": checkpoint["at"]}
    )
    checkpoint["signature"] = sign(SEED, audit.CHECKPOINT_LABEL, message).hex()
    return forged


def moment(when: datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def changed(good: dict, path: tuple, value) -> dict:
    forged = copy.deepcopy(good)
    target = forged
    for step in path[:-1]:
        target = target[step]
    if value is DROP:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return forged


DROP = object()


def dict_forgeries(good: dict) -> list[dict]:
    """Files the server never makes, as JSON objects."""
    detail = good["entries"][0]["detail"]
    window_end = datetime.combine(RECEIVED + timedelta(days=1), datetime.min.time(), UTC)
    window_end += receipt_check.SEAL_WINDOW
    spaced = " ".join(good["commitment"][i : i + 2] for i in range(0, 64, 2))
    return [
        *forgeries(good),
        # members the format does not have, and members missing (F4)
        {**good, "title": "Wali kota menerima suap Rp 5 miliar"},
        changed(good, ("checkpoint", "comment"), "diperiksa"),
        changed(good, ("opening", "title"), "Suap"),
        changed(good, ("entries", 0, "note"), "x"),
        changed(good, ("root",), DROP),
        changed(good, ("checkpoint", "at"), DROP),
        changed(good, ("opening", "nonce"), DROP),
        changed(good, ("note", "en"), good["note"]["en"] + " It proves the report is true."),
        changed(good, ("note",), {"id": "Bukti", "en": "Proof"}),
        # numbers and hex other than canonical (F6)
        changed(good, ("leaf_index",), str(good["leaf_index"])),
        changed(good, ("leaf_index",), good["leaf_index"] + 0.5),
        changed(good, ("tree_size",), float(good["tree_size"])),
        changed(good, ("tree_size",), True),
        changed(good, ("checkpoint", "seq"), str(good["checkpoint"]["seq"])),
        changed(good, ("commitment",), spaced.upper()),
        changed(good, ("commitment",), good["commitment"].upper()),
        changed(good, ("commitment",), good["commitment"][:62]),
        changed(good, ("root",), "0x" + good["root"][2:]),
        changed(good, ("checkpoint", "signature"), good["checkpoint"]["signature"].upper()),
        changed(good, ("opening", "nonce"), good["opening"]["nonce"].upper()),
        changed(good, ("opening", "report_id"), good["opening"]["report_id"].upper()),
        changed(good, ("opening", "report_id"), "{" + good["opening"]["report_id"] + "}"),
        changed(good, ("day",), good["day"].replace("-", "")),
        changed(good, ("checkpoint", "at"), good["checkpoint"]["at"][:19] + "Z"),
        # shapes
        changed(good, ("inclusion_proof",), {"0": "00" * 32}),
        changed(good, ("entries",), good["entries"][0]),
        changed(good, ("opening",), None),
        changed(good, ("checkpoint",), None),
        changed(good, ("entries", 0, "detail"), None),
        # re-signed with the instance's key: a period SIPADU does not date by, an old
        # detail, a first entry that is not the system's, and the window (F1)
        resigned(good, detail={**detail, "last": (RECEIVED + timedelta(days=2)).isoformat()}),
        resigned(good, detail={k: v for k, v in detail.items() if k != "last"}),
        resigned(good, detail={**detail, "size": str(detail["size"])}),
        resigned(good, detail={**detail, "title": "Suap"}),
        resigned(good, entry={"actor": "operator", "role": "operator"}),
        resigned(good, entry={"at": good["entries"][0]["at"][:19] + "Z"}),
        resigned(good, at=moment(window_end)),
        resigned(good, at=moment(window_end + timedelta(days=400))),
        [good],
    ]


def text_forgeries(good: dict) -> list[str | bytes]:
    """Files the server never makes, as text (what a JSON object cannot show)."""
    text = json.dumps(good, indent=1)
    twice = '{\n "day": "2024-12-01",\n "format"'
    return [
        text.replace('{\n "format"', twice, 1),  # F5: a member twice (the first is read)
        text.replace('"opening": {', '"opening": {"report_id": "0", ', 1),
        text.replace('"checkpoint": {', '"checkpoint": {"seq": 1, ', 1),
        text.replace(
            f'"leaf_index": {good["leaf_index"]}', f'"leaf_index": {good["leaf_index"]}.0'
        ),
        text.replace(f'"tree_size": {good["tree_size"]}', f'"tree_size": {good["tree_size"]}e0'),
        text.replace(f'"tree_size": {good["tree_size"]}', '"tree_size": NaN'),
        text.replace('"actor": "system"', '"actor": "\\ud800"', 1),
        "\ufeff" + text,
        text.encode() + b"\xff",
        text + "{}",
        "[" * 100_000 + "]" * 100_000,
        "",
    ]


def test_check_and_the_recipe_accept_the_real_receipt_alike(good, verify, tmp_path):
    text = json.dumps(good, indent=1)
    said = recipe_says(verify, tmp_path, text)
    assert said.startswith(f"OK {RECEIVED.isoformat()} report {good['opening']['report_id']} ")
    assert server_says(text) == said
    # Without the note or the opening (a holder may drop them): still the same answers.
    for dropped in ("note", "opening"):
        lighter = json.dumps({k: v for k, v in good.items() if k != dropped})
        assert recipe_says(verify, tmp_path, lighter) == server_says(lighter)
        assert server_says(lighter).startswith("OK ")
    # Signed a moment before the window closes: both accept it.
    window_end = datetime.combine(RECEIVED + timedelta(days=8), datetime.min.time(), UTC)
    inside = json.dumps(resigned(good, at=moment(window_end - timedelta(microseconds=1))))
    assert recipe_says(verify, tmp_path, inside) == server_says(inside)
    assert server_says(inside).startswith("OK ")


def test_check_and_the_recipe_refuse_every_forgery_alike(good, verify, tmp_path):
    cases: list[str | bytes] = [json.dumps(forged) for forged in dict_forgeries(good)]
    cases += text_forgeries(good)
    assert len(cases) > 60
    for case in cases:
        recipe_answer = recipe_says(verify, tmp_path, case)
        assert recipe_answer.startswith("FAIL: "), (recipe_answer, str(case)[:300])
        assert server_says(case) == recipe_answer, str(case)[:300]


def test_the_window_is_counted_from_the_end_of_the_period_a_week_or_a_month():
    monday, sunday = date(2025, 3, 10), date(2025, 3, 16)
    assert receipt_check.is_period(monday, sunday)
    assert not receipt_check.is_period(date(2025, 3, 11), date(2025, 3, 17))
    assert receipt_check.is_period(date(2024, 2, 1), date(2024, 2, 29))
    assert not receipt_check.is_period(date(2024, 2, 1), date(2024, 2, 28))
    assert receipt_check.window_end(sunday) == datetime(2025, 3, 24, tzinfo=UTC)


def test_the_recipe_states_the_servers_window_and_note(verify):
    assert verify["WINDOW"] == receipt_check.SEAL_WINDOW == timedelta(days=7)
    assert verify["NOTE_SHA256"] == receipt_check.NOTE_SHA256
    assert verify["RECEIPT"] == receipt_check.RECEIPT_MEMBERS
    assert verify["CHECKPOINT"] == receipt_check.CHECKPOINT_MEMBERS
    assert verify["ENTRY"] == receipt_check.ENTRY_MEMBERS


def test_the_note_says_the_day_is_a_utc_date_and_what_is_proven():
    """F7: not "hari ini" (today); the day is a UTC date (sipadu.services.dates.today),
    and the note says what is proven: the report had reached the inspectorate by the
    sealing, at most 7 days after the period."""
    for text in receipt_check.NOTE.values():
        assert "UTC" in text and ("07.00 WIB" in text or "07:00 WIB" in text)
        assert "7 " in text
    assert "hari ini" not in receipt_check.NOTE["id"]
    assert "disegel" in receipt_check.NOTE["id"] and "sealed" in receipt_check.NOTE["en"]
