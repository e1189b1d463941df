"""The audit chain (G4, G5): appended atomically with the action, nothing forbidden in
it, every kind of tampering detected, one chain under concurrent writers."""

import hashlib
import multiprocessing
import uuid
from datetime import date

import pytest
import rfc8785
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select, text

from sipadu.accountability import audit
from sipadu.accountability.audit import GENESIS, Action, AuditError, Checkpoint
from sipadu.persistence.db import make_engine, make_sessionmaker
from sipadu.persistence.models import AuditEvent, ReporterDailyCount
from sipadu.settings.config import DatePrecision

SEED = bytes(range(32))
OTHER_SEED = bytes(range(1, 33))
STAFF = str(uuid.UUID("7d1e0c39-55a2-4c59-9c8e-2f4f6f3d8a01"))


@pytest.fixture
def db(new_database_url):
    """A fresh, migrated database of its own: tampering tests corrupt it."""
    engine = make_engine(new_database_url)
    yield engine, make_sessionmaker(engine, write=True)
    engine.dispose()


def fill(sessionmaker, n: int, start: int = 0) -> None:
    with sessionmaker() as session:
        for i in range(start, start + n):
            audit.append(
                session,
                STAFF,
                "investigator",
                Action.REPORT_READ,
                report_id=uuid.uuid4(),
                detail={"page": i, "fingerprint": "ab" * 32},
            )
        session.commit()


def checkpoint(sessionmaker, seed: bytes = SEED) -> Checkpoint:
    with sessionmaker() as session:
        made = audit.make_checkpoint(session, seed)
        session.commit()
    return made


def verify(engine, kept=(), expected=None) -> audit.Verdict:
    with engine.connect() as connection:
        return audit.verify_chain(connection, list(kept), expected)


def execute(engine, sql: str, **params) -> None:
    with engine.begin() as connection:
        connection.execute(text(sql), params)


# --- append ---------------------------------------------------------------------------


def test_entries_chain_with_sha256_over_rfc8785(db):
    engine, sessionmaker = db
    fill(sessionmaker, 3)
    with sessionmaker() as session:
        events = session.scalars(select(AuditEvent).order_by(AuditEvent.seq)).all()
    prev = GENESIS
    for seq, event in enumerate(events, start=1):
        record = {
            "seq": seq,
            "at": event.at,
            "actor": event.actor,
            "role": event.role,
            "action": event.action,
            "report_id": str(event.report_id),
            "detail": {"page": seq - 1, "fingerprint": "ab" * 32},
        }
        assert event.prev_hash == prev
        assert event.hash == hashlib.sha256(bytes.fromhex(prev) + rfc8785.dumps(record)).hexdigest()
        prev = event.hash
    assert verify(engine).line() == f"OK 3 {prev}"


def test_a_rolled_back_transaction_leaves_no_entry(db):
    engine, sessionmaker = db
    fill(sessionmaker, 2)
    before = verify(engine)
    with sessionmaker() as session:
        audit.append(session, STAFF, "investigator", Action.REPORT_EXPORT)
        session.rollback()
    assert verify(engine) == before
    fill(sessionmaker, 1)  # and the chain goes on from the same head
    assert verify(engine).count == 3


def test_an_action_whose_entry_cannot_be_written_does_not_happen(db):
    """The entry is written in the action's transaction: a refused entry aborts both."""
    engine, sessionmaker = db
    with sessionmaker() as session, pytest.raises(AuditError):
        execute_in = session.execute
        execute_in(
            text("INSERT INTO category (id, slug, active) VALUES (:i, 'x', true)"),
            {"i": uuid.uuid4().hex if engine.dialect.name == "sqlite" else uuid.uuid4()},
        )
        audit.append(session, STAFF, "admin", Action.ROUTE_ADD, detail={"password": "x"})
        session.commit()
    with engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM category")).scalar() == 0


def test_unknown_action_is_a_programming_error(db):
    _, sessionmaker = db
    with sessionmaker() as session, pytest.raises(AuditError, match="unknown audit action"):
        audit.append(session, STAFF, "admin", "report.delete")


@pytest.mark.parametrize(
    "actor",
    ["budi", "admin@inspektorat", "correct horse battery staple", ""],
)
def test_typed_usernames_are_never_recorded_as_actors(db, actor):
    _, sessionmaker = db
    with sessionmaker() as session, pytest.raises(AuditError, match="never a typed username"):
        audit.append(session, actor, "none", Action.LOGIN_FAILURE)


def test_failed_login_records_the_matched_account_or_unknown(db):
    engine, sessionmaker = db
    with sessionmaker() as session:
        audit.append(session, "unknown", "none", Action.LOGIN_FAILURE)
        audit.append(session, STAFF, "investigator", Action.LOGIN_FAILURE)
        session.commit()
    assert verify(engine).count == 2


@pytest.mark.parametrize(
    "detail, why",
    [
        ({"client": "203.0.113.9"}, "IP"),
        ({"client": "seen from 10.1.2.3, twice"}, "IP"),
        ({"via": "2001:db8::1"}, "IP"),
        ({"via": "[fe80::1%eth0]"}, "IP"),
        ({"note": "::1"}, "IP"),
        ({"password": "hunter2"}, "must not be logged"),
        ({"new_passphrase": "x"}, "must not be logged"),
        ({"totp_secret": "ABC"}, "must not be logged"),
        ({"report_code": "x"}, "must not be logged"),
        ({"ip": "x"}, "must not be logged"),
        ({"remote_addr": "x"}, "must not be logged"),
        ({"user_agent": "Mozilla"}, "must not be logged"),
        ({"message_body": "x"}, "must not be logged"),
        ({"typed_username": "budi"}, "must not be logged"),
        ({"session_key": "x"}, "must not be logged"),
        ({"lookup": "4821 0937 5561 2048"}, "report code"),
        ({"lookup": "4821093755612048"}, "report code"),
        ({"lookup": 4821093755612048}, "report code"),
        ({"what": "x" * 201}, "longer"),
        ({"ratio": 0.5}, "only strings"),
        ({"nested": {"a": 1}}, "only strings"),
        ({"list": [["a"]]}, "only strings"),
        ({"Bad-Key": 1}, "lower-case"),
        ({"big": 2**60}, "out of range"),
    ],
)
def test_forbidden_detail_is_refused(db, detail, why):
    _, sessionmaker = db
    with sessionmaker() as session, pytest.raises(AuditError, match=why):
        audit.append(session, STAFF, "admin", Action.ROUTE_ADD, detail=detail)


@given(st.uuids(), st.binary(min_size=32, max_size=32))
def test_ids_and_fingerprints_are_always_accepted(value, digest):
    """No false alarms on what staff features record all the time."""
    audit.check_detail(
        {"account": str(value), "report": value.hex, "fingerprint": digest.hex(), "n": 12}
    )


DOMAIN_SCALARS = (
    st.none() | st.booleans() | st.integers(-(2**53) + 1, 2**53 - 1) | st.text(max_size=40)
)


@given(
    st.dictionaries(
        st.from_regex(r"[a-z][a-z0-9_]{0,10}", fullmatch=True),
        DOMAIN_SCALARS | st.lists(DOMAIN_SCALARS, max_size=4),
        max_size=6,
    )
)
def test_stdlib_canonical_json_equals_rfc8785_on_everything_append_writes(detail):
    record = {
        "seq": 7,
        "at": "2026-11-28T04:00:00.000000Z",
        "actor": STAFF,
        "role": "admin",
        "action": "route.add",
        "report_id": None,
        "detail": detail,
    }
    assert audit.fast_canonical(record) == audit.canonical(record)


# --- tampering ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "column, value",
    [
        ("at", "2026-01-01T00:00:00.000000Z"),
        ("actor", "unknown"),
        ("role", "auditor"),
        ("action", "report.list"),
        ("detail", '{"fingerprint":"ab","page":4}'),
    ],
)
def test_editing_any_field_is_detected(db, column, value):
    engine, sessionmaker = db
    fill(sessionmaker, 10)
    execute(engine, f"UPDATE audit_event SET {column} = :v WHERE seq = 5", v=value)
    verdict = verify(engine)
    assert not verdict.ok and verdict.bad_seq == 5 and "altered" in verdict.reason


def test_editing_a_report_id_is_detected(db):
    engine, sessionmaker = db
    fill(sessionmaker, 10)
    other = uuid.uuid4()
    execute(
        engine,
        "UPDATE audit_event SET report_id = :v WHERE seq = 4",
        v=other.hex if engine.dialect.name == "sqlite" else other,
    )
    assert verify(engine).bad_seq == 4


def test_deleting_a_middle_entry_is_detected(db):
    engine, sessionmaker = db
    fill(sessionmaker, 10)
    execute(engine, "DELETE FROM audit_event WHERE seq = 6")
    verdict = verify(engine)
    assert not verdict.ok and verdict.bad_seq == 6 and "missing" in verdict.reason


def test_deleting_the_tail_is_detected_by_the_head_and_by_a_kept_checkpoint(db):
    engine, sessionmaker = db
    fill(sessionmaker, 10)
    kept = checkpoint(sessionmaker)
    execute(engine, "DELETE FROM audit_event WHERE seq > 7")
    assert not verify(engine).ok  # head row still says 10
    # An attacker who also fixes the head row and deletes the stored checkpoint:
    with engine.connect() as connection:
        seventh = connection.execute(text("SELECT hash FROM audit_event WHERE seq = 7")).scalar()
    execute(engine, "UPDATE audit_head SET seq = 7, hash = :h", h=seventh)
    execute(engine, "DELETE FROM audit_checkpoint")
    assert verify(engine).ok  # nothing in the database can tell any more...
    verdict = verify(engine, [kept])  # ...but the auditor's kept checkpoint can
    assert not verdict.ok and verdict.bad_seq == 8 and "truncated" in verdict.reason


def test_reordering_entries_is_detected(db):
    engine, sessionmaker = db
    fill(sessionmaker, 10)
    execute(engine, "UPDATE audit_event SET seq = 1000 WHERE seq = 3")
    execute(engine, "UPDATE audit_event SET seq = 3 WHERE seq = 4")
    execute(engine, "UPDATE audit_event SET seq = 4 WHERE seq = 1000")
    verdict = verify(engine)
    assert not verdict.ok and verdict.bad_seq == 3


def relink_from(engine, first_seq: int, new_detail: str) -> None:
    """What an attacker with write access does: rewrite an entry, then recompute every
    later hash so the chain is internally consistent again."""
    with engine.begin() as connection:
        rows = connection.execute(
            text(f"SELECT {audit.EVENT_COLUMNS} FROM audit_event WHERE seq >= :s ORDER BY seq"),
            {"s": first_seq},
        ).all()
        prev = (
            connection.execute(
                text("SELECT hash FROM audit_event WHERE seq = :s"), {"s": first_seq - 1}
            ).scalar()
            or GENESIS
        )
        for row in rows:
            seq, at, actor, role, action, report_id, detail, _, _ = row
            detail = new_detail if seq == first_seq else detail
            record = audit._record(
                seq,
                at,
                actor,
                role,
                action,
                audit._report_id_text(report_id),
                audit.json.loads(detail),
            )
            digest = audit.entry_hash(prev, audit.canonical(record))
            connection.execute(
                text(
                    "UPDATE audit_event SET detail = :d, prev_hash = :p, hash = :h WHERE seq = :s"
                ),
                {"d": detail, "p": prev, "h": digest, "s": seq},
            )
            prev = digest
        connection.execute(text("UPDATE audit_head SET hash = :h"), {"h": prev})


def test_a_forged_relinked_history_is_detected_by_a_kept_checkpoint(db):
    engine, sessionmaker = db
    fill(sessionmaker, 20)
    kept = checkpoint(sessionmaker)
    fill(sessionmaker, 10, start=20)
    relink_from(engine, 12, '{"fingerprint":"cd","page":11}')
    execute(engine, "DELETE FROM audit_checkpoint")  # the attacker also removes stored ones
    assert verify(engine).ok  # internally consistent...
    verdict = verify(engine, [kept])
    assert not verdict.ok and verdict.bad_seq == 20 and "kept" in verdict.reason


def test_a_forged_suffix_after_a_kept_checkpoint_breaks_the_signed_stored_one(db):
    """Rewriting after the auditor's last kept checkpoint: a signed checkpoint stored
    later still catches it, unless the attacker also holds the signing key."""
    engine, sessionmaker = db
    fill(sessionmaker, 10)
    kept = checkpoint(sessionmaker)
    fill(sessionmaker, 10, start=10)
    checkpoint(sessionmaker)  # stored at 20, signed
    relink_from(engine, 15, '{"fingerprint":"cd","page":14}')
    verdict = verify(engine, [kept])
    assert not verdict.ok and verdict.bad_seq == 20 and "signed stored checkpoint" in verdict.reason


def test_a_stored_checkpoint_signed_by_another_key_is_detected(db):
    engine, sessionmaker = db
    fill(sessionmaker, 5)
    checkpoint(sessionmaker, seed=OTHER_SEED)
    expected = audit.signing_public_key(SEED).hex()
    verdict = verify(engine, expected=expected)
    assert not verdict.ok and "another key" in verdict.reason


def test_a_stored_checkpoint_with_a_forged_signature_is_detected(db):
    engine, sessionmaker = db
    fill(sessionmaker, 5)
    checkpoint(sessionmaker)
    execute(engine, "UPDATE audit_checkpoint SET signature = :s", s="00" * 64)
    assert "bad signature" in verify(engine).reason


def test_a_kept_checkpoint_with_a_bad_signature_is_refused(db):
    engine, sessionmaker = db
    fill(sessionmaker, 5)
    kept = checkpoint(sessionmaker)
    forged = Checkpoint(kept.seq, "ff" * 32, kept.at, kept.public_key, kept.signature)
    assert "bad signature" in verify(engine, [forged]).reason


def test_checkpoint_round_trips_through_its_file_format(db):
    _, sessionmaker = db
    fill(sessionmaker, 3)
    made = checkpoint(sessionmaker)
    assert Checkpoint.from_json(made.to_json()) == made
    made.verify()


# --- concurrency ----------------------------------------------------------------------


def _append_many(url: str, worker: int, count: int) -> None:
    engine = make_engine(url)
    sessionmaker = make_sessionmaker(engine, write=True)
    for i in range(count):
        with sessionmaker() as session:
            audit.append(
                session,
                STAFF,
                "investigator",
                Action.REPORT_READ,
                detail={"worker": worker, "i": i},
            )
            session.commit()
    engine.dispose()


def test_four_concurrent_writers_make_one_valid_chain_of_10000(db, new_database_url):
    engine, _ = db
    context = multiprocessing.get_context("spawn")
    workers = [
        context.Process(target=_append_many, args=(new_database_url, w, 2500)) for w in range(4)
    ]
    for process in workers:
        process.start()
    for process in workers:
        process.join(timeout=600)
    assert [p.exitcode for p in workers] == [0, 0, 0, 0]
    verdict = verify(engine)
    assert verdict.ok and verdict.count == 10_000
    with engine.connect() as connection:
        per_worker = connection.execute(
            text("SELECT count(DISTINCT detail) FROM audit_event")
        ).scalar()
    assert per_worker == 10_000


# --- reporter counts ------------------------------------------------------------------


def test_reporter_activity_is_only_a_daily_count_outside_the_chain(db):
    engine, sessionmaker = db
    day = date(2026, 11, 28)
    with sessionmaker() as session:
        for _ in range(3):
            audit.count_reporter_event(session, "report_submitted", day, DatePrecision.DAY)
        audit.count_reporter_event(session, "mailbox_login", day, DatePrecision.DAY)
        session.commit()
    with sessionmaker() as session:
        counts = {(c.day, c.metric): c.count for c in session.scalars(select(ReporterDailyCount))}
    assert counts == {(day, "report_submitted"): 3, (day, "mailbox_login"): 1}
    assert verify(engine).count == 0  # nothing entered the chain
    with sessionmaker() as session, pytest.raises(ValueError):
        audit.count_reporter_event(session, "report_read_by_someone", day, DatePrecision.DAY)
