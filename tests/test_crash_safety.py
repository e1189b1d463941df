"""Crash safety (G6), through the named fault-injection points of ``sipadu.settings.faults``:
the reporter portal's worker is SIGKILLed in the middle of a large upload and between
inserting a report and committing it, and (PostgreSQL) its database connection is cut
in the middle of the transaction. Afterwards no half report is visible, ``sipadu purge``
leaves no orphan chunk, the database's integrity checks pass, and the next submissions
succeed. Run on SQLite and on PostgreSQL (which runs on every developer and CI machine).
"""

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select, text, update

from sipadu.accountability import audit
from sipadu.cli import main as cli
from sipadu.persistence.models import (
    Attachment,
    Blob,
    BlobChunk,
    Mailbox,
    Report,
    ReportField,
    ReportKey,
)
from tests.helpers import (
    ALWAYS_POSTGRES_URL,
    Postgres,
    config_env,
    database,
    init_demo,
    post_report,
    serving,
)

MIB = 1024 * 1024


@pytest.fixture(params=["sqlite", "postgresql"])
def instance(request, tmp_path, redis_url):
    yield from _instance(request.param, tmp_path, redis_url)


@pytest.fixture
def postgres_instance(tmp_path, redis_url):
    yield from _instance("postgresql", tmp_path, redis_url)


def _instance(backend: str, tmp_path, redis_url):
    if backend == "sqlite":
        url, server, name = f"sqlite:///{tmp_path / 'crash.db'}", None, None
    else:
        server = Postgres(ALWAYS_POSTGRES_URL)
        name = server.create()
        url = server.url_for(name)
    env = config_env(tmp_path / "instance", url, redis_url, SIPADU_WORKERS="1", SIPADU_THREADS="4")
    init_demo(env)
    try:
        yield env, url
    finally:
        if server is not None:
            server.drop(name)
            server.admin.dispose()


def counts(url: str) -> dict[str, int]:
    with database(url) as session:
        count = lambda model, *where: session.scalar(  # noqa: E731
            select(func.count()).select_from(model).where(*where)
        )
        return {
            "reports": count(Report),
            "mailboxes": count(Mailbox),
            "fields": count(ReportField),
            "keys": count(ReportKey),
            "staged": count(Blob, Blob.linked.is_(False)),
            "linked_without_attachment": count(
                Blob, Blob.linked.is_(True), Blob.id.not_in(select(Attachment.blob_id))
            ),
            "chunks_without_blob": count(BlobChunk, BlobChunk.blob_id.not_in(select(Blob.id))),
        }


def integrity(url: str) -> None:
    with database(url) as session:
        if url.startswith("sqlite"):
            assert session.execute(text("PRAGMA integrity_check")).scalar() == "ok"
            assert session.execute(text("PRAGMA foreign_key_check")).all() == []
        assert audit.verify_chain(session.connection()).ok
        # Every report is whole: a mailbox, all its fields, keys for every purpose.
        broken = session.execute(
            text(
                "SELECT r.id FROM report r WHERE NOT EXISTS (SELECT 1 FROM mailbox m WHERE "
                "m.report_id = r.id) OR (SELECT count(*) FROM report_field f WHERE "
                "f.report_id = r.id) < 8 OR (SELECT count(DISTINCT purpose) FROM report_key k "
                "WHERE k.report_id = r.id) < 3"
            )
        ).all()
        assert broken == []


def purge_after_an_hour(env: dict, url: str) -> None:
    """Make the staged blobs look an hour idle, then run the timer's purge."""
    with database(url) as session:
        session.execute(update(Blob).where(Blob.linked.is_(False)).values(active_bucket=0))
        session.commit()
    assert CliRunner().invoke(cli, ["purge"], env=env).exit_code == 0


def test_a_worker_killed_mid_upload_or_before_commit_leaves_nothing_half_done(instance):
    env, url = instance
    before = counts(url)

    with serving("reporter", {**env, "SIPADU_FAULTS": "kill-mid-upload"}) as (_p, base):
        status, _ = post_report(base, file_size=10 * MIB)
        assert status is None  # the worker died with the connection
        assert post_report(base)[0] == 200  # a new worker answers the next reporter
    after_kill = counts(url)
    assert after_kill["reports"] == before["reports"] + 1  # only the one without a file
    assert after_kill["staged"] >= 1  # the dead upload's committed batch, unlinked

    with serving("reporter", {**env, "SIPADU_FAULTS": "kill-before-commit"}) as (_p, base):
        status, _ = post_report(base, file_size=MIB)
        assert status is None
    assert counts(url)["reports"] == after_kill["reports"]  # nothing of it is visible

    purge_after_an_hour(env, url)
    left = counts(url)
    assert left["staged"] == 0 and left["chunks_without_blob"] == 0
    assert left["linked_without_attachment"] == 0
    assert left["reports"] == left["mailboxes"]
    integrity(url)

    with serving("reporter", env) as (_p, base):
        for size in (0, 2 * MIB):
            status, body = post_report(base, file_size=size)
            assert status == 200 and b'id="report-code"' in body
    assert counts(url)["reports"] == after_kill["reports"] + 2
    integrity(url)


def test_a_connection_cut_mid_transaction_loses_only_that_request(postgres_instance):
    """PostgreSQL: the connection dies between the inserts and the commit (SQLite has no
    connection to cut; its crash cases are the test above)."""
    env, url = postgres_instance
    before = counts(url)
    with serving("reporter", {**env, "SIPADU_FAULTS": "drop-connection-before-commit"}) as (
        _p,
        base,
    ):
        status, body = post_report(base, file_size=MIB)
        assert status == 500 and b"Traceback" not in body and b'id="report-code"' not in body
    assert counts(url)["reports"] == before["reports"]
    purge_after_an_hour(env, url)
    assert counts(url)["staged"] == 0
    integrity(url)
    with serving("reporter", env) as (_p, base):
        assert post_report(base, file_size=MIB)[0] == 200
    integrity(url)


def test_fault_injection_is_refused_in_production_and_names_are_checked():
    from sipadu.settings.config import ConfigError, load_config

    with pytest.raises(ConfigError, match="refused in production"):
        load_config({"SIPADU_FAULTS": "kill-before-commit"})
    with pytest.raises(ConfigError, match="unknown point"):
        load_config({"SIPADU_ENV": "development", "SIPADU_FAULTS": "kill-everything"})
    assert load_config({"SIPADU_ENV": "development"}).faults == frozenset()
