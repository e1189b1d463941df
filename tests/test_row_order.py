"""G2: the database keeps no order of reporter rows relative to staff rows (issue 15).

Reporter rows are dated to the day, staff actions to the microsecond in the audit log.
The review placed, from the SQLite file alone, a reporter's message between two staff
replies 7 s apart (the rowids of ``message``) and a submission between two status
changes of another report; PostgreSQL's physical order (``ctid``, which is also
``pg_dump``'s order) and ``xmin`` tell the same to anyone with a backup. Here staff and
reporter actions are interleaved through the real services, each committed on its own
as on a live instance, then the daily rewrite runs (``sipadu purge``'s
:func:`sipadu.services.retention.reshuffle_if_due`), and the attacker reads everything a
copy of the database shows: every order found must be the order of the random primary
keys, which owes nothing to time. On SQLite: rowids, the page a row is on and its place
in the page (parsed from the file itself), overflow pages, the write-ahead log and the
free pages. On PostgreSQL (when the suite runs there): ``xmin``, ``ctid``, the rows of a
``pg_dump`` and the TOAST value ids and rows of large values.
"""

import os
import re
import sqlite3
import subprocess
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from sqlalchemy import LargeBinary, Uuid, make_url, select, text
from sqlalchemy.orm import Session, sessionmaker

from sipadu.crypto import new_keypair
from sipadu.persistence.checked import stored_type
from sipadu.persistence.db import make_engine, make_sessionmaker
from sipadu.persistence.models import AuditEvent, Mailbox, Report, Role
from sipadu.persistence.row_order import reporter_side_tables
from sipadu.services import cases, key_ring, reports, retention
from sipadu.services.attachments import UploadedFile
from sipadu.settings.config import DatePrecision
from tests.services.helpers import person, route, service_submit, stored

TODAY = date(2025, 3, 14)
BIG = 300_000  # three chunks of 128 KiB: stored out of line (overflow pages, TOAST)


@dataclass
class History:
    """What happened, in order: (who, what) for each committed action."""

    steps: list[tuple[str, str]] = field(default_factory=list)
    # (table, primary key as text) -> the index of the step that first wrote the row
    born: dict[tuple[str, tuple[str, ...]], int] = field(default_factory=dict)
    report_id: uuid.UUID | None = None
    investigator_id: uuid.UUID | None = None

    def note(self, session: Session, who: str, what: str) -> None:
        """Record a committed step, and which rows it was the first to write."""
        self.steps.append((who, what))
        for table in reporter_side_tables():
            keys = ", ".join(f"CAST({c.name} AS TEXT)" for c in table.primary_key.columns)
            for row in session.execute(text(f"SELECT {keys} FROM {table.name}")):
                self.born.setdefault((table.name, tuple(row)), len(self.steps) - 1)


def _upload(database_url: str, marker: int) -> list[UploadedFile]:
    (blob,) = stored(database_url, os.urandom(BIG) + bytes([marker]))
    return [UploadedFile(blob, f"bukti-{marker}.pdf", "application/pdf")]


@pytest.fixture(scope="module")
def history(database_url) -> History:
    """Staff replies and status changes interleaved with a reporter's messages (with
    files) and new submissions (with files), committed one by one; then the rewrite."""
    engine = make_engine(database_url)
    sessions: sessionmaker[Session] = make_sessionmaker(engine, write=True)
    recovery = new_keypair()
    done = History()
    try:
        with sessions.begin() as session:
            investigator = person(session, "penyidik", Role.INVESTIGATOR)
            route(session, investigator)
        with sessions.begin() as session:
            case = service_submit(session, recovery.public_key(), files=_upload(database_url, 0))
        others = []
        for _ in range(4):
            with sessions.begin() as session:
                others.append(service_submit(session, recovery.public_key()).report_id)
        done.report_id, done.investigator_id = case.report_id, investigator.id

        def step(who: str, what: str) -> None:
            with sessions() as session:
                done.note(session, who, what)

        step("reporter", "setup")

        def staff_keys(session: Session, report_id: uuid.UUID) -> key_ring.HeldKeys:
            return key_ring.staff_keys(session, report_id, investigator.id, investigator.private)

        for n in range(4):
            with sessions.begin() as session:
                files = _upload(database_url, 10 + n) if n == 0 else ()
                cases.reply(
                    session,
                    staff_keys(session, case.report_id),
                    investigator.id,
                    f"Balasan {n}a",
                    TODAY,
                    DatePrecision.DAY,
                    files,
                )
            step("staff", "reply")
            with sessions.begin() as session:
                keys = key_ring.mailbox_keys(
                    session, case.report_id, case.mailbox_id, case.mailbox_private
                )
                reports.add_reporter_message(
                    session,
                    keys,
                    case.report_id,
                    f"Tambahan {n}",
                    TODAY,
                    DatePrecision.DAY,
                    _upload(database_url, 20 + n),
                )
            step("reporter", "message")
            with sessions.begin() as session:
                cases.reply(
                    session,
                    staff_keys(session, case.report_id),
                    investigator.id,
                    f"Balasan {n}b",
                    TODAY,
                    DatePrecision.DAY,
                )
            step("staff", "reply")
            if n == 1:  # the investigator reads the case: a timed report.read
                with sessions.begin() as session:
                    cases.open_case(session, staff_keys(session, case.report_id), investigator.id)
                step("staff", "read")
            with sessions.begin() as session:
                cases.change_status(
                    session, staff_keys(session, others[n]), investigator.id, "in_review", "", TODAY
                )
            step("staff", "status")
            with sessions.begin() as session:
                service_submit(session, recovery.public_key(), files=_upload(database_url, 30 + n))
            step("reporter", "submission")
            with sessions.begin() as session:
                cases.change_status(
                    session,
                    staff_keys(session, others[n]),
                    investigator.id,
                    "investigating",
                    "",
                    TODAY,
                )
            step("staff", "status")
        with _snapshot_held_for(engine, seconds=1.0):
            retention.reshuffle_if_due(sessions, datetime.now(UTC), force=True)
    finally:
        engine.dispose()
    return done


@contextmanager
def _snapshot_held_for(engine, seconds: float) -> Iterator[None]:
    """On PostgreSQL, a transaction of another session of this database holds a snapshot
    (on a table the rewrite leaves alone) for ``seconds`` of the rewrite, as an
    autovacuum ANALYZE may: ``CLUSTER`` must not run until it is gone, or it keeps the
    old row versions' TOAST values under their arrival-ordered ids (CI found this)."""
    if engine.dialect.name != "postgresql":
        yield
        return
    holder = engine.connect().execution_options(isolation_level="REPEATABLE READ")
    holder.begin()
    holder.execute(text("SELECT count(*) FROM staff_account"))
    timer = threading.Timer(seconds, holder.rollback)
    timer.start()
    try:
        yield
    finally:
        timer.join()
        holder.close()


def _key_columns(table_name: str) -> list[str]:
    table = next(t for t in reporter_side_tables() if t.name == table_name)
    return [column.name for column in table.primary_key.columns]


TABLES = [table.name for table in reporter_side_tables()]


def test_every_table_a_reporter_writes_is_reshuffled():
    """A submission, a mailbox message with a file and a staff reply write these (and
    change ``report`` and ``reporter_daily_count``): each is in the rewritten set."""
    assert set(TABLES) >= {
        "report",
        "report_field",
        "report_key",
        "report_grant",
        "mailbox",
        "message",
        "blob",
        "blob_chunk",
        "attachment",
        "reporter_daily_count",
    }


# --- SQLite: the file ------------------------------------------------------------------


def _varint(data: bytes, at: int) -> tuple[int, int]:
    value = 0
    for i in range(9):
        byte = data[at + i]
        if i == 8:
            return (value << 8) | byte, at + 9
        value = (value << 7) | (byte & 0x7F)
        if byte < 0x80:
            return value, at + i + 1
    raise AssertionError("unreachable")


def _record_values(payload: bytes, count: int) -> tuple:
    """The first ``count`` values of a SQLite record (the primary key comes first in a
    WITHOUT ROWID table's records)."""
    header_size, at = _varint(payload, 0)
    types = []
    while at < header_size and len(types) < count:
        serial, at = _varint(payload, at)
        types.append(serial)
    at, values = header_size, []
    for serial in types:
        if serial in (8, 9):
            values.append(serial - 8)
            continue
        if 1 <= serial <= 6:
            size = (1, 2, 3, 4, 6, 8)[serial - 1]
            values.append(int.from_bytes(payload[at : at + size], "big", signed=True))
        else:
            size = (serial - 12) // 2 if serial >= 12 else 0
            raw = payload[at : at + size]
            values.append(raw.decode() if serial % 2 else raw)
        at += size
    return tuple(values)


@dataclass(frozen=True)
class Cell:
    page: int
    offset: int  # where its bytes start in the page: SQLite fills a page from the end
    key: tuple
    overflow: int | None  # the first page of its overflow chain


def _cells_of(path: Path, table: str, keys: int) -> list[Cell]:
    """Every row of ``table`` as the file holds it: its leaf page, its place in the page
    and its key, parsed from the raw bytes (as an attacker with the file does)."""
    data = path.read_bytes()
    page_size = int.from_bytes(data[16:18], "big") or 65536
    usable = page_size - data[20]
    with sqlite3.connect(path) as db:
        pages = [
            pageno
            for (pageno,) in db.execute(
                "SELECT pageno FROM dbstat WHERE name = ? AND pagetype = 'leaf'", (table,)
            )
        ]
    cells = []
    for pageno in pages:
        page = data[(pageno - 1) * page_size : pageno * page_size]
        head = 100 if pageno == 1 else 0
        kind = page[head]
        assert kind == 0x0A, f"{table}: page {pageno} is not a WITHOUT ROWID leaf ({kind:#x})"
        count = int.from_bytes(page[head + 3 : head + 5], "big")
        for i in range(count):
            pointer = int.from_bytes(page[head + 8 + 2 * i : head + 10 + 2 * i], "big")
            size, at = _varint(page, pointer)
            most, least = ((usable - 12) * 64 // 255) - 23, ((usable - 12) * 32 // 255) - 23
            local = size
            if size > most:
                spill = least + (size - least) % (usable - 4)
                local = spill if spill <= most else least
            overflow = None
            if local < size:
                overflow = int.from_bytes(page[at + local : at + local + 4], "big")
            key = _record_values(page[at : at + local], keys)
            cells.append(Cell(pageno, pointer, key, overflow))
    return cells


def _sqlite_path(database_url: str) -> Path:
    return Path(make_url(database_url).database or "")


@pytest.fixture
def sqlite_file(database_url, history) -> Path:
    if make_url(database_url).get_backend_name() != "sqlite":
        pytest.skip("the SQLite file: this run is on PostgreSQL")
    return _sqlite_path(database_url)


@pytest.mark.parametrize("table", TABLES)
def test_sqlite_reporter_tables_have_no_rowid(sqlite_file, table):
    with sqlite3.connect(sqlite_file) as db, pytest.raises(sqlite3.OperationalError, match="rowid"):
        db.execute(f"SELECT rowid FROM {table}").fetchall()


@pytest.fixture
def rebuilt_in_random_order(sqlite_file, tmp_path) -> Path:
    """The same rows, written in another order: a copy of the database in which every
    reporter-side table is emptied and filled again in random order, then rewritten as
    the timer does. If the file kept any trace of the order rows came in, the two files
    would differ."""
    copy = tmp_path / "shuffled.db"
    with sqlite3.connect(sqlite_file) as db:
        db.execute("VACUUM INTO ?", (str(copy),))
    db = sqlite3.connect(copy, isolation_level=None)
    try:
        db.execute("PRAGMA foreign_keys=OFF")
        db.execute("BEGIN")
        for table in TABLES:
            db.execute(f"CREATE TEMP TABLE kept AS SELECT * FROM {table}")
            db.execute(f"DELETE FROM {table}")
            db.execute(f"INSERT INTO {table} SELECT * FROM kept ORDER BY random()")
            db.execute("DROP TABLE kept")
        db.execute("COMMIT")
        db.execute("VACUUM")
    finally:
        db.close()
    return copy


def _pages(path: Path) -> dict[str, list[tuple[int, str, str, bytes]]]:
    """Each reporter-side table's and index's pages (leaves, interior and overflow
    pages) with their bytes, as they lie in the file."""
    data = path.read_bytes()
    page_size = int.from_bytes(data[16:18], "big") or 65536
    with sqlite3.connect(path) as db:
        names = [
            name
            for (name,) in db.execute(
                f"SELECT name FROM sqlite_master WHERE tbl_name IN ({','.join('?' * len(TABLES))})",
                TABLES,
            )
        ]
        found: dict[str, list[tuple[int, str, str, bytes]]] = {}
        for name in names:
            found[name] = [
                (pageno, kind, where, data[(pageno - 1) * page_size : pageno * page_size])
                for pageno, kind, where in db.execute(
                    "SELECT pageno, pagetype, path FROM dbstat WHERE name = ? ORDER BY path",
                    (name,),
                )
            ]
    return found


def test_sqlite_file_is_the_same_whatever_order_rows_came_in(sqlite_file, rebuilt_in_random_order):
    """Every page of every reporter-side table and index, byte for byte and at the same
    place in the file, whether the rows came in the order they did or in a random one:
    the file's layout is a function of the rows' random keys alone."""
    ours, theirs = _pages(sqlite_file), _pages(rebuilt_in_random_order)
    assert ours.keys() == theirs.keys()
    assert sum(1 for pages in ours.values() for page in pages if page[1] == "overflow") >= 8 * 2
    for name in ours:
        assert ours[name] == theirs[name], name


def test_sqlite_keeps_no_log_and_no_free_page(sqlite_file):
    """The write-ahead log would hold the last writes in the order they came, and free
    pages the order pages were given back in."""
    wal = sqlite_file.with_name(sqlite_file.name + "-wal")
    assert not wal.exists() or wal.stat().st_size == 0
    with sqlite3.connect(sqlite_file) as db:
        assert db.execute("PRAGMA freelist_count").fetchone()[0] == 0


# --- PostgreSQL: the heap, xmin, TOAST and pg_dump -------------------------------------


@pytest.fixture
def postgres_session(database_url, history):
    if make_url(database_url).get_backend_name() != "postgresql":
        pytest.skip("PostgreSQL's physical order: this run is on SQLite")
    engine = make_engine(database_url)
    try:
        with engine.connect() as connection:
            yield connection
    finally:
        engine.dispose()


def _order(keys: list[str]) -> str:
    return ", ".join(keys)


def test_postgres_rows_share_one_xmin(postgres_session):
    """Transaction ids count up, and the audit log dates staff transactions: a row's
    ``xmin`` would date it. After the rewrite every row has the rewrite's."""
    found = set()
    for table in TABLES:
        found |= {
            row[0]
            for row in postgres_session.execute(text(f"SELECT DISTINCT xmin::text FROM {table}"))
        }
    assert len(found) == 1


@pytest.mark.parametrize("table", TABLES)
def test_postgres_heap_order_is_key_order(postgres_session, table):
    keys = _order(_key_columns(table))
    by_place = postgres_session.execute(text(f"SELECT {keys} FROM {table} ORDER BY ctid")).all()
    by_key = postgres_session.execute(text(f"SELECT {keys} FROM {table} ORDER BY {keys}")).all()
    assert by_place == by_key


def test_postgres_large_values_are_numbered_and_stored_in_key_order(postgres_session):
    """A large value lives in the TOAST table under a value id handed out from a counter
    when it was written, in rows with their own ``xmin`` and place."""
    toast = postgres_session.execute(
        text(
            "SELECT reltoastrelid::regclass::text FROM pg_class WHERE oid = 'blob_chunk'::regclass"
        )
    ).scalar_one()
    ids_in_key_order = (
        postgres_session.execute(
            text(
                f"SELECT t.chunk_id::text::bigint FROM blob_chunk c JOIN {toast} t"
                " ON t.chunk_seq = 0 AND substring(t.chunk_data for 64) = substring(c.data for 64)"
                " ORDER BY c.blob_id, c.seq"
            )
        )
        .scalars()
        .all()
    )
    assert len(ids_in_key_order) >= 8 * 3
    assert ids_in_key_order == sorted(ids_in_key_order)
    placed = (
        postgres_session.execute(text(f"SELECT chunk_id::text::bigint FROM {toast} ORDER BY ctid"))
        .scalars()
        .all()
    )
    assert placed == sorted(placed)
    assert (
        postgres_session.execute(
            text(f"SELECT count(DISTINCT xmin::text) FROM {toast}")
        ).scalar_one()
        == 1
    )


def test_postgres_dump_lists_rows_in_key_order(postgres_session, database_url):
    url = make_url(database_url).set(drivername="postgresql")
    dump = subprocess.run(
        ["pg_dump", "--data-only", *(f"--table={t}" for t in TABLES), url.render_as_string(False)],
        check=True,
        capture_output=True,
    ).stdout.decode()
    copy = r"^COPY public\.(\w+) \(([^)]*)\) FROM stdin;\n(.*?)^\\\.$"
    blocks = re.findall(copy, dump, re.M | re.S)
    assert {name for name, _, _ in blocks} == set(TABLES)
    for table, columns, body in blocks:
        keys = _key_columns(table)
        names = [c.strip().strip('"') for c in columns.split(",")]
        at = [names.index(k) for k in keys]
        dumped = [tuple(line.split("\t")[i] for i in at) for line in body.splitlines()]
        cast = ", ".join(f"{k}::text" for k in keys)
        by_key = postgres_session.execute(
            text(f"SELECT {cast} FROM {table} ORDER BY {_order(keys)}")
        ).all()
        assert dumped == [tuple(row) for row in by_key], table


# --- the attack, as it was reported ---------------------------------------------------


def _revealed_message_order(path: Path) -> list[str]:
    """The messages in the order a SQLite file gives away: rowids where there are any
    (what the review read), else the places the rows take in the file."""
    with sqlite3.connect(path) as db:
        try:
            return [row[0] for row in db.execute("SELECT id FROM message ORDER BY rowid")]
        except sqlite3.OperationalError:
            cells = _cells_of(path, "message", 1)
            return [c.key[0] for c in sorted(cells, key=lambda c: (c.page, -c.offset))]


def _case_messages(history: History) -> None:
    happened = [who for who, what in history.steps if what in ("reply", "message")]
    assert happened == ["staff", "reporter", "staff"] * 4


def test_sqlite_a_reporter_message_cannot_be_placed_between_two_staff_replies(
    sqlite_file, rebuilt_in_random_order, history
):
    """The review's reading. The case's 12 messages came as staff, reporter, staff, four
    times; the order the file gives away is the same had they come in any other order."""
    _case_messages(history)
    revealed = _revealed_message_order(sqlite_file)
    assert len(revealed) == 12
    assert revealed == _revealed_message_order(rebuilt_in_random_order)


def test_postgres_a_reporter_message_cannot_be_placed_between_two_staff_replies(
    postgres_session, history
):
    _case_messages(history)
    revealed = postgres_session.execute(text("SELECT id FROM message ORDER BY ctid")).scalars()
    ids = [row.hex for row in revealed]
    assert len(ids) == 12
    assert ids == sorted(ids)


def test_the_rewrite_runs_once_a_day_from_the_purge_timer(database_url, history):
    engine = make_engine(database_url)
    sessions = make_sessionmaker(engine, write=True)
    try:
        now = datetime.now(UTC)
        assert retention.reshuffle_if_due(sessions, now) is None  # done today (above)
        tomorrow = now.replace(hour=0, minute=5) + (datetime(2025, 1, 2) - datetime(2025, 1, 1))
        done = retention.reshuffle_if_due(sessions, tomorrow)
        assert done is not None and done.tables == len(TABLES)
        with sessions() as session:
            entries = session.scalars(
                select(AuditEvent.detail).where(AuditEvent.action == "db.reshuffle")
            ).all()
        assert len(entries) == 2 and all('"tables":' in entry for entry in entries)
        with sessions() as session:  # nothing lost: the case still opens
            assert session.scalar(select(Mailbox.id).limit(1)) is not None
            assert session.scalar(select(Report.id).limit(1)) is not None
    finally:
        engine.dispose()


# --- plaintext values: no column orders a reporter's row (issue 15, second review) ------


def _rows(session_or_connection, table: str) -> list[dict]:
    return [
        dict(row._mapping) for row in session_or_connection.execute(text(f"SELECT * FROM {table}"))
    ]


@pytest.fixture
def connection(database_url, history):
    engine = make_engine(database_url)
    try:
        with engine.connect() as conn:
            yield conn
    finally:
        engine.dispose()


def test_the_reviewers_attack_no_plaintext_orders_the_thread(connection, history):
    """The second review: after the rewrite, ``SELECT position, author FROM message
    ORDER BY position`` gave staff, reporter, staff, and the audit log's ``message.send``
    entries (exact times, and ``{"position": N}``) placed the reporter's message between
    two staff replies. Now every column of a message but its sealed body is the same for
    all the reporter's messages of a day, and the same for all of one investigator's:
    nothing in the row says where in the thread it stands. And no staff entry counts
    the thread."""
    _case_messages(history)
    rows = [
        row
        for row in _rows(connection, "message")
        if str(row["report_id"]).replace("-", "") == history.report_id.hex
    ]
    assert len(rows) == 12
    by_author: dict[str, set] = {}
    for row in rows:
        shown = tuple((k, v) for k, v in sorted(row.items()) if k not in ("id", "body"))
        by_author.setdefault(row["author"], set()).add(shown)
    assert {author: len(kinds) for author, kinds in by_author.items()} == {
        "staff": 1,
        "reporter": 1,
    }, "a plaintext column tells the reporter's messages (or the staff's) apart"
    sends = connection.execute(
        select(AuditEvent.detail).where(
            AuditEvent.action == "message.send", AuditEvent.report_id == history.report_id
        )
    ).scalars()
    assert all("position" not in (detail or "") for detail in sends)


def test_a_read_leaves_no_plaintext_count_of_the_reporters_messages(connection, history):
    """The investigator read the case between the reporter's second and third messages:
    a plaintext "messages seen" on the grant, with the ``report.read`` entry's exact
    time, said the reporter had sent two messages at that second. The grant keeps
    only its keys and a sealed mark."""
    assert ("staff", "read") in history.steps
    binary = {
        c.name
        for t in reporter_side_tables()
        if t.name == "report_grant"
        for c in t.columns
        if isinstance(stored_type(c.type), LargeBinary)
    }
    for row in _rows(connection, "report_grant"):
        plain = {k for k in row if k not in ("report_id", "account_id")} - binary
        assert plain == set(), f"report_grant keeps {sorted(plain)} in plaintext"
        assert not isinstance(row.get("read_mark"), int)


def _kendall(pairs: list[tuple[int, object]]) -> float:
    """Kendall's tau-a between write order and value over ``pairs`` (ties count 0)."""
    concordant = discordant = 0
    for i, (step_a, value_a) in enumerate(pairs):
        for step_b, value_b in pairs[i + 1 :]:
            if step_a == step_b or value_a == value_b:
                continue
            if (step_a < step_b) == (value_a < value_b):  # type: ignore[operator]
                concordant += 1
            else:
                discordant += 1
    total = len(pairs) * (len(pairs) - 1) / 2
    return (concordant - discordant) / total if total else 0.0


@pytest.mark.parametrize("table", TABLES)
def test_no_plaintext_column_follows_the_order_rows_were_written_in(connection, history, table):
    """For each reporter-side table, each column that is neither a random id nor a
    sealed value: over the rows written on the day (all dated the same), its values do
    not rise or fall with the order the rows came in (|Kendall's tau| < 0.5 where the
    column varies at all). A counter, a position, an epoch, a "seen so far" would."""
    keys = _key_columns(table)
    meta = next(t for t in reporter_side_tables() if t.name == table)
    plain = [
        c.name
        for c in meta.columns
        if not isinstance(stored_type(c.type), (LargeBinary, Uuid)) and c.name not in keys
    ]
    rows = connection.execute(
        text(f"SELECT {', '.join(f'CAST({k} AS TEXT)' for k in keys)}, * FROM {table}")
    ).all()
    for name in plain:
        pairs = []
        for row in rows:
            born = history.born.get((table, tuple(row[: len(keys)])))
            value = row._mapping[name]
            if born is not None and value is not None and not isinstance(value, bool):
                pairs.append((born, value))
        if len({v for _, v in pairs}) < 3:
            continue  # constant, or two-valued (an author, a flag): no order to follow
        tau = _kendall(pairs)
        assert abs(tau) < 0.5, f"{table}.{name} follows the write order (tau {tau:.2f})"
