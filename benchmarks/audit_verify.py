"""Audit log verification speed and memory; append throughput under 4 writers.

    .venv/bin/python benchmarks/audit_verify.py [--entries 1000000] [--postgres URL]

1. Builds a SQLite log of ENTRIES realistic entries (bulk, outside the timing).
2. Times ``sipadu.accountability.audit.verify_chain`` over it, against a bare loop of ``sqlite3`` +
   ``hashlib`` recomputing the same hashes over the same rows in the same run
   (``ratio_vs_bare``).
3. Peak RSS of the verification, in its own fresh process (VmHWM).
4. Appends per second with 4 concurrent writer processes (each append its own
   transaction, as staff actions are), on PostgreSQL and on SQLite.

Last line: key=value figures.
"""

import argparse
import hashlib
import json
import multiprocessing
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from measure import throwaway_postgres

from sipadu.accountability import audit
from sipadu.persistence.db import make_engine, make_sessionmaker
from sipadu.persistence.migrate import upgrade

ACTIONS = ["report.read", "attachment.download", "message.send", "status.change", "login.success"]


def build(path: Path, entries: int) -> None:
    url = f"sqlite:///{path}"
    upgrade(url)
    connection = sqlite3.connect(path)
    prev = audit.GENESIS
    staff = [str(uuid.uuid4()) for _ in range(20)]
    batch = []
    for seq in range(1, entries + 1):
        report = uuid.uuid4()
        detail = {"page": seq % 50, "fingerprint": hashlib.sha256(report.bytes).hexdigest()}
        at = f"2026-11-{1 + seq % 28:02d}T{seq % 24:02d}:00:00.{seq % 1000000:06d}Z"
        record = {
            "seq": seq,
            "at": at,
            "actor": staff[seq % 20],
            "role": "investigator",
            "action": ACTIONS[seq % 5],
            "report_id": str(report),
            "detail": detail,
        }
        digest = audit.entry_hash(prev, audit.fast_canonical(record))
        batch.append(
            (
                seq,
                at,
                record["actor"],
                "investigator",
                record["action"],
                report.hex,
                audit.fast_canonical(detail).decode(),
                prev,
                digest,
            )
        )
        prev = digest
        if len(batch) == 50_000:
            connection.executemany("INSERT INTO audit_event VALUES (?,?,?,?,?,?,?,?,?)", batch)
            batch.clear()
    connection.executemany("INSERT INTO audit_event VALUES (?,?,?,?,?,?,?,?,?)", batch)
    connection.execute("UPDATE audit_head SET seq = ?, hash = ?", (entries, prev))
    connection.commit()
    connection.close()


def bare_verify(path: Path) -> int:
    """The floor: sqlite3 and hashlib, nothing else."""
    connection = sqlite3.connect(path)
    prev, count = audit.GENESIS, 0
    rows = connection.execute(
        "SELECT seq, at, actor, role, action, report_id, detail, prev_hash, hash"
        " FROM audit_event ORDER BY seq"
    )
    for seq, at, actor, role, action, report_id, detail, prev_hash, digest in rows:
        report = str(uuid.UUID(report_id)) if report_id else None
        record = {
            "seq": seq,
            "at": at,
            "actor": actor,
            "role": role,
            "action": action,
            "report_id": report,
            "detail": json.loads(detail) if detail else None,
        }
        canonical = json.dumps(
            record, sort_keys=True, separators=(",", ":"), ensure_ascii=False
        ).encode()
        if (
            prev_hash != prev
            or hashlib.sha256(bytes.fromhex(prev) + canonical).hexdigest() != digest
        ):
            raise SystemExit(f"bare loop: bad entry {seq}")
        prev, count = digest, count + 1
    connection.close()
    return count


def sipadu_verify(path: Path) -> audit.Verdict:
    engine = make_engine(f"sqlite:///{path}")
    with engine.connect() as connection:
        verdict = audit.verify_chain(connection)
    engine.dispose()
    return verdict


def peak_rss_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


def _writer(url: str, count: int) -> None:
    engine = make_engine(url)
    sessionmaker = make_sessionmaker(engine, write=True)
    actor = str(uuid.uuid4())
    for i in range(count):
        with sessionmaker() as session:
            audit.append(
                session,
                actor,
                "investigator",
                audit.Action.REPORT_READ,
                report_id=uuid.uuid4(),
                detail={"page": i},
            )
            session.commit()
    engine.dispose()


def appends_per_second(url: str, per_writer: int) -> float:
    upgrade(url)
    context = multiprocessing.get_context("spawn")
    writers = [context.Process(target=_writer, args=(url, per_writer)) for _ in range(4)]
    start = time.perf_counter()
    for process in writers:
        process.start()
    for process in writers:
        process.join()
    elapsed = time.perf_counter() - start
    engine = make_engine(url)
    with engine.connect() as connection:
        verdict = audit.verify_chain(connection)
    engine.dispose()
    assert verdict.ok and verdict.count == 4 * per_writer, verdict.line()
    return 4 * per_writer / elapsed


def postgres_appends(admin_url: str, per_writer: int) -> float:
    with throwaway_postgres(admin_url) as url:
        return appends_per_second(url, per_writer)


def main() -> None:
    if sys.argv[1:2] == ["--child-verify"]:
        verdict = sipadu_verify(Path(sys.argv[2]))
        print(verdict.line(), peak_rss_kib())
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--appends", type=int, default=2500, help="per writer")
    parser.add_argument("--postgres", default="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    args = parser.parse_args()
    figures: dict[str, float | str] = {"entries": args.entries}
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "audit.db"
        start = time.perf_counter()
        build(path, args.entries)
        figures["build_s"] = time.perf_counter() - start

        start = time.perf_counter()
        bare_count = bare_verify(path)
        bare = time.perf_counter() - start
        start = time.perf_counter()
        verdict = sipadu_verify(path)
        ours = time.perf_counter() - start
        assert verdict.ok and verdict.count == bare_count == args.entries, verdict.line()
        figures["verify_entries_s"] = args.entries / ours
        figures["bare_entries_s"] = args.entries / bare
        figures["ratio_vs_bare"] = bare / ours

        child = subprocess.run(
            [sys.executable, __file__, "--child-verify", str(path)],
            capture_output=True,
            text=True,
            check=True,
        )
        figures["verify_peak_rss_mib"] = int(child.stdout.split()[-1]) / 1024
        idle = subprocess.run(
            [
                sys.executable,
                "-c",
                "import sipadu.accountability.audit, sipadu.persistence.db;"
                "from pathlib import Path;"
                "print([l for l in Path('/proc/self/status').read_text()"
                ".splitlines() if l.startswith('VmHWM')][0].split()[1])",
            ],
            capture_output=True,
            text=True,
            check=True,
        )
        figures["idle_rss_mib"] = int(idle.stdout) / 1024

        figures["sqlite_appends_s"] = appends_per_second(
            f"sqlite:///{tmp}/appends.db", args.appends
        )
    try:
        figures["pg_appends_s"] = postgres_appends(args.postgres, args.appends)
    except Exception as exc:  # noqa: BLE001 — a benchmark reports what it could not measure
        print(f"PostgreSQL part skipped: {exc}", file=sys.stderr)
        figures["pg_appends_s"] = "na"
    for key, value in figures.items():
        print(f"{key:24} {value:>14.2f}" if isinstance(value, float) else f"{key:24} {value:>14}")
    print(
        " ".join(f"{k}={v:.2f}" if isinstance(v, float) else f"{k}={v}" for k, v in figures.items())
    )


if __name__ == "__main__":
    main()
