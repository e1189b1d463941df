"""``sipadu audit ...`` and the foundation commands' own audit entries."""

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import delete, func, select, text

from sipadu.persistence.models import AuditCheckpoint, AuditEvent
from tests.helpers import config_env, forge_history, invoke, open_session

DOCS = Path(__file__).parents[1] / "docs" / "audit.md"


@pytest.fixture
def demo_env(new_database_url, tmp_path, redis_url):
    env = config_env(tmp_path / "instance", new_database_url, redis_url)
    assert invoke(env, "init", "--demo").exit_code == 0
    return env


def events(env) -> list[AuditEvent]:
    engine, session = open_session(env)
    try:
        return list(session.scalars(select(AuditEvent).order_by(AuditEvent.seq)))
    finally:
        session.close()
        engine.dispose()


def test_init_records_itself_categories_accounts_keys_and_routing(demo_env):
    actions = [e.action for e in events(demo_env)]
    assert actions[0] == "system.init"
    assert actions.count("category.create") == 4
    assert actions.count("account.create") == 7
    assert actions.count("key.register") == 7
    assert actions.count("account.activate") == 7  # the operator's accounts start active
    assert actions.count("route.add") == 8  # two investigators x four categories
    assert {e.actor for e in events(demo_env)} == {"operator"}


def test_user_create_and_routing_record_key_fingerprints(demo_env):
    invoke(
        demo_env,
        "user",
        "create",
        "--username",
        "ani",
        "--role",
        "investigator",
        "--password-stdin",
        stdin="correct horse battery\n",
    )
    invoke(demo_env, "route", "add", "kkn", "ani")
    invoke(demo_env, "route", "remove", "kkn", "ani")
    tail = events(demo_env)[-5:]
    assert [e.action for e in tail] == [
        "account.create",
        "key.register",
        "account.activate",
        "route.add",
        "route.remove",
    ]
    keyed = [tail[1], tail[3], tail[4]]
    fingerprints = {json.loads(e.detail)["fingerprint"] for e in keyed}
    assert len(fingerprints) == 1 and re.fullmatch(r"[0-9a-f]{64}", fingerprints.pop())
    assert json.loads(tail[3].detail)["category"] == "kkn"


def test_checkpoint_verify_and_tamper_through_the_cli(demo_env, tmp_path):
    kept = tmp_path / "kept.json"
    length = len(events(demo_env))
    result = invoke(demo_env, "audit", "checkpoint", "--out", str(kept))
    assert result.exit_code == 0
    document = json.loads(kept.read_text())
    assert document["format"] == "sipadu-audit-checkpoint-v1" and document["seq"] == length
    assert document["public_key"] == invoke(demo_env, "audit", "public-key").stdout.strip()
    not_due = invoke(demo_env, "audit", "checkpoint", "--every", "1h")
    assert not_due.exit_code == 0 and "not due" in not_due.output
    ok = invoke(demo_env, "audit", "verify", "--checkpoint", str(kept))
    assert ok.exit_code == 0 and ok.stdout == f"OK {length} {document['hash']}\n"
    engine, session = open_session(demo_env)
    with engine.begin() as connection:
        connection.execute(text("UPDATE audit_event SET role = 'admin' WHERE seq = 9"))
    engine.dispose()
    session.close()
    failed = invoke(demo_env, "audit", "verify", "--checkpoint", str(kept))
    assert failed.exit_code == 1 and failed.stdout.startswith("FAIL entry 9:")


def test_bad_duration_and_unreadable_checkpoint_are_clear_errors(demo_env, tmp_path):
    assert invoke(demo_env, "audit", "checkpoint", "--every", "soon").exit_code != 0
    junk = tmp_path / "junk.json"
    junk.write_text('{"format": "something else"}')
    result = invoke(demo_env, "audit", "verify", "--checkpoint", str(junk))
    assert result.exit_code != 0 and "unreadable checkpoint" in result.output


def recipe() -> str:
    block = DOCS.read_text().split("```python\n", 1)[1].split("```", 1)[0]
    assert "from cryptography" in block and "import sipadu" not in block
    return block


def test_the_documented_offline_recipe_verifies_a_real_export(demo_env, tmp_path):
    kept = tmp_path / "kept.json"
    invoke(demo_env, "audit", "checkpoint", "--out", str(kept))
    export = tmp_path / "audit.jsonl"
    assert (
        invoke(demo_env, "audit", "export", "--format", "jsonl", "--out", str(export)).exit_code
        == 0
    )
    script = tmp_path / "verify_export.py"
    script.write_text(recipe())
    pinned = invoke(demo_env, "audit", "public-key").stdout.strip()
    run = subprocess.run(
        [sys.executable, "-I", str(script), str(export), pinned, str(kept)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    last = json.loads(export.read_text().splitlines()[-1])
    assert run.stdout == f"OK {last['seq']} {last['hash']}\n"
    assert last["action"] == "audit.export"  # the export recorded itself
    # and the recipe catches an altered line
    lines = export.read_text().splitlines()
    lines[5] = lines[5].replace('"role": "operator"', '"role": "admin"')
    export.write_text("\n".join(lines) + "\n")
    run = subprocess.run(
        [sys.executable, "-I", str(script), str(export), pinned, str(kept)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.returncode != 0 and "FAIL entry 5: altered" in run.stderr


def offline_check(script: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-I", str(script), *args], capture_output=True, text=True, check=False
    )


def test_a_forged_history_re_signed_with_another_key_fails_every_check(demo_env, tmp_path):
    """Issue 15, item 8: with write access to the database but not the signing key, one
    rewrites an entry, re-chains, deletes the stored checkpoints and stores one signed by
    a key of their own. `sipadu audit verify`, and the offline script on `sipadu audit
    export` with the pinned key, both report it; the export names the instance's key,
    never the forged row's."""
    pinned = invoke(demo_env, "audit", "public-key").stdout.strip()
    assert invoke(demo_env, "audit", "checkpoint").exit_code == 0
    engine, session = open_session(demo_env)
    try:
        forge_history(session, 3)
        session.commit()
    finally:
        session.close()
        engine.dispose()

    verified = invoke(demo_env, "audit", "verify")
    assert verified.exit_code == 1
    assert "signed by another key" in verified.stdout
    pinned_verify = invoke(demo_env, "audit", "verify", "--public-key", pinned)
    assert pinned_verify.exit_code == 1 and pinned_verify.stdout.startswith("FAIL")

    export = tmp_path / "audit.jsonl"
    assert invoke(demo_env, "audit", "export", "--out", str(export)).exit_code == 0
    header = json.loads(export.read_text().splitlines()[0])
    assert header["public_key"] == pinned != header["checkpoint"]["public_key"]
    script = tmp_path / "verify_export.py"
    script.write_text(recipe())
    run = offline_check(script, str(export), pinned)
    assert run.returncode != 0 and "not signed by the pinned key" in run.stderr
    # The key is required: a run without one is a usage error, not an OK.
    assert offline_check(script, str(export)).returncode != 0


def test_a_forged_history_without_any_checkpoint_is_shown_as_unvouched_for(demo_env):
    """Found in review of issue 15: the same forgery, with every stored checkpoint
    deleted and none stored, verified OK: nothing signed by the pinned key covers the
    rewritten entries any more. The chain is still whole, so it is OK, but `verify` now
    says which entries no pinned-key checkpoint vouches for."""
    assert invoke(demo_env, "audit", "checkpoint").exit_code == 0
    assert "covered by no checkpoint" not in invoke(demo_env, "audit", "verify").stdout
    engine, session = open_session(demo_env)
    try:
        forge_history(session, 3)
        session.execute(delete(AuditCheckpoint))
        session.commit()
        count = session.scalar(select(func.count()).select_from(AuditEvent))
    finally:
        session.close()
        engine.dispose()
    verified = invoke(demo_env, "audit", "verify")
    assert verified.stdout.startswith("OK")
    assert f"entries 1 to {count} are covered by no checkpoint signed by the pinned key" in (
        verified.stdout
    )


def test_verify_refuses_without_a_key_to_check_checkpoints_against(demo_env):
    secret = Path(demo_env["SIPADU_INSTANCE_PATH"]) / "secrets" / "audit_signing_key"
    key = invoke(demo_env, "audit", "public-key").stdout.strip()
    secret.unlink()  # as on a host where only the timer's user reads it
    refused = invoke(demo_env, "audit", "verify")
    assert refused.exit_code != 0 and "--public-key" in refused.output
    assert invoke(demo_env, "audit", "public-key").exit_code != 0
    configured = {**demo_env, "SIPADU_AUDIT_PUBLIC_KEY": key}
    assert invoke(configured, "audit", "public-key").stdout.strip() == key
    verified = invoke(configured, "audit", "verify")
    assert verified.exit_code == 0 and verified.stdout.startswith("OK")
    assert invoke(demo_env, "audit", "verify", "--public-key", key).exit_code == 0


def test_export_formats_and_since(demo_env, tmp_path):
    length = len(events(demo_env))
    csv_out = invoke(demo_env, "audit", "export", "--format", "csv", "--since", "20").stdout
    lines = csv_out.splitlines()
    assert lines[0].startswith("# {") and json.loads(lines[0][2:])["since"] == 20
    assert lines[1] == "seq,at,actor,role,action,report_id,detail,prev_hash,hash"
    # The export records itself first: it is its own last line.
    assert [line.split(",")[0] for line in lines[2:]] == [str(s) for s in range(21, length + 2)]
    jsonl = invoke(demo_env, "audit", "export", "--since", "22").stdout.splitlines()
    assert [json.loads(line)["seq"] for line in jsonl[1:]] == list(range(23, length + 3))
