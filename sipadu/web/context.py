"""Glue between Flask and the layers below: config and a database session per request.

Views own their transactions, and only through :func:`transaction`: a block that
commits when it ends and rolls back if anything in it raises (a refusal, an abort).
Services receive that session and plain values, never a request, and never commit
(the convention is in :mod:`sipadu.services`). The request's sessions are closed
(rolled back if uncommitted) when the request ends.

A streamed response (a file, an export) outlives its request: Flask ends the request,
closing its sessions, before the server sends the first byte. So "record, commit, then
stream" has one owner, :func:`stream`: the view records the download through its
service in a :func:`transaction`, and :func:`stream` then refuses to begin while that
transaction is still open (G4), reads on a session of its own, in short transactions
(:func:`_short_reads`), and closes it however the stream ends (:func:`_closing`): a
reader that stops reading holds no lock, no snapshot and no pooled connection while it
dawdles (G8).
"""

import threading
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from functools import wraps
from typing import Any, TypeVar
from urllib.parse import quote

from flask import Flask, current_app, g
from sqlalchemy import Connection, event
from sqlalchemy.orm import Session, SessionTransaction, sessionmaker
from werkzeug.exceptions import ServiceUnavailable
from werkzeug.wsgi import ClosingIterator

from sipadu.persistence.db import make_engine, make_sessionmaker, scope_to_report
from sipadu.settings.config import Config
from sipadu.web import stalled


def init_db(app: Flask, config: Config) -> None:
    engine = make_engine(config.database_url)
    app.extensions["sipadu.engine"] = engine
    app.extensions["sipadu.sessionmaker"] = make_sessionmaker(engine)
    app.extensions["sipadu.write_sessionmaker"] = make_sessionmaker(engine, write=True)
    app.teardown_appcontext(close_sessions)


def dispose(app: Flask) -> None:
    """Close every database connection the app holds (tests, shutdown)."""
    app.extensions["sipadu.engine"].dispose()


DOWNLOADS_RETRY_AFTER = 60  # seconds, in the busy page's Retry-After


def init_downloads(app: Flask, config: Config) -> None:
    app.extensions["sipadu.downloads"] = threading.BoundedSemaphore(config.download_slots)
    app.extensions["sipadu.download_handoff"] = threading.Lock()


def download(view: Callable[..., Any]) -> Callable[..., Any]:
    """For a view that answers with a streamed download (a file, an export): at most
    ``SIPADU_DOWNLOAD_SLOTS`` such answers at once per worker (the page pool has that
    many threads beyond ``SIPADU_THREADS``, :func:`sipadu.hosting.serve.portal_asgi`), because
    each holds a thread for as long as its reader takes to read it (at least ~48 KiB
    per ``SIPADU_SEND_TIMEOUT_SECONDS``, :func:`sipadu.hosting.front.deadline_protocol`).
    Readers that never finish can so hold only the download slots, never the threads
    every page needs, and not for long while others wait: with no slot free, the reader
    stalled longest (:mod:`sipadu.web.stalled`) is closed and its slot awaited. Past the
    limit the answer is the "busy" page (503 with ``Retry-After``), given before
    anything is read or recorded in the access log; the slot is given back when the
    answer is read to its end or closed, however it ends."""

    @wraps(view)
    def limited(*args: Any, **kwargs: Any) -> Any:
        slots: threading.BoundedSemaphore = current_app.extensions["sipadu.downloads"]
        if not slots.acquire(blocking=False) and not _handed_a_slot(slots):
            raise ServiceUnavailable(retry_after=DOWNLOADS_RETRY_AFTER)
        try:
            response = current_app.make_response(view(*args, **kwargs))
        except BaseException:
            slots.release()
            raise
        if not response.is_streamed:  # a page (the export form) or a refusal
            slots.release()
            return response
        release = _once(slots.release)
        body = response.response
        response.response = _then(response.iter_encoded(), release)  # read to its end, or
        response.call_on_close(release)  # ... closed (by the server, however it ended)
        # Closing the wrapper closes the body only once it has started: a body never
        # read (a HEAD) must still close its reader, or it holds its transaction open.
        if hasattr(body, "close"):
            response.call_on_close(body.close)
        return response

    return limited


def _handed_a_slot(slots: threading.BoundedSemaphore) -> bool:
    """With every slot taken: one download at a time (per worker) has the longest-stalled
    reader closed and waits for its slot, on the one thread the page pool keeps for it
    (:func:`sipadu.hosting.serve.portal_asgi`); any other gets the busy page at once."""
    waiting: threading.Lock = current_app.extensions["sipadu.download_handoff"]
    if not waiting.acquire(blocking=False):
        return False
    try:
        return stalled.close_one() and slots.acquire(timeout=stalled.HANDOFF_SECONDS)
    finally:
        waiting.release()


def _once(action: Callable[[], object]) -> Callable[[], None]:
    done = threading.Lock()

    def once() -> None:
        if done.acquire(blocking=False):
            action()

    return once


def _then(pieces: Iterable[bytes], action: Callable[[], None]) -> Iterator[bytes]:
    try:
        yield from pieces
    finally:
        action()


def has_database() -> bool:
    """Whether this app has a database (an app made for a test of words may not)."""
    return "sipadu.sessionmaker" in current_app.extensions


def app_config() -> Config:
    return current_app.extensions["sipadu.config"]


def db_session(*, write: bool = False) -> Session:
    """This request's session; ``write=True`` for a use case that writes (on SQLite it
    takes the write lock when its transaction begins). Views end its transactions with
    :func:`transaction`."""
    name = "db_write_session" if write else "db_session"
    if name not in g:
        setattr(g, name, (write_sessions() if write else read_sessions())())
    return getattr(g, name)


@contextmanager
def transaction(*, write: bool = False) -> Iterator[Session]:
    """One transaction of this request's session, owned by the view: ``write=True``
    commits when the block ends (the action and its audit entry together, before the
    page is shown, G4); a read ends by rolling back, so no snapshot is held through
    what follows (a derivation, a write). Anything raised in the block (a refusal, an
    abort) rolls back, and nothing of the action is kept."""
    session = db_session(write=write)
    try:
        yield session
    except BaseException:
        session.rollback()
        raise
    if write:
        session.commit()
    else:
        session.rollback()


def write_sessions() -> sessionmaker[Session]:
    """Write sessions for code that owns its transactions (staged uploads, and their
    discarding once the request has ended)."""
    return current_app.extensions["sipadu.write_sessionmaker"]


def read_sessions() -> sessionmaker[Session]:
    """Reading sessions apart from the request's (on SQLite deferred: they never take the
    write lock), for code that owns its transactions (reading back a staged upload, a
    safe copy's conversion)."""
    return current_app.extensions["sipadu.sessionmaker"]


_read_sessions = read_sessions


def close_sessions(_exc: BaseException | None = None) -> None:
    """Close this request's sessions, rolling back what was not committed (and so
    releasing SQLite's write lock). Runs when the app context ends; call it earlier to
    write on another connection after the view (a teardown)."""
    for name in ("db_session", "db_write_session"):
        session = g.pop(name, None)
        if session is not None:
            session.close()


def content_disposition(name: str) -> str:
    """``attachment`` with an ASCII fallback and the exact UTF-8 name (RFC 6266/5987).
    The name was cleaned when stored; quotes, backslashes and controls never pass."""
    fallback = "".join(ch if 32 <= ord(ch) < 127 and ch not in '"\\;' else "_" for ch in name)
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(name, safe='')}"


T = TypeVar("T")


def stream(
    begin: Callable[[Session], tuple[T, Iterable[bytes]]],
    *,
    report_id: uuid.UUID | None = None,
    around: Callable[[Iterator[bytes]], Iterable[bytes]] | None = None,
) -> tuple[T, Iterable[bytes]]:
    """The body of a streamed response, begun only once its audit entry is committed:
    while this request's write session still has a transaction open, this raises
    (RuntimeError), so no plaintext can leave before the record of it (G4).

    ``begin(reader)`` reads what the response's headers need and returns it with the
    body's pieces (lazy: read while the body is sent). ``reader`` is a reading session
    apart from the request's: on SQLite its transactions are deferred (``BEGIN``), so it
    never takes the write lock nor, in WAL mode, waits for a writer; with ``report_id``
    every transaction it begins is scoped to that report (:func:`sipadu.persistence.db.
    scope_to_report`: PostgreSQL's row-level security for the reporter portal's role is
    per transaction, and :func:`_short_reads` begins many). The pieces are read in short
    transactions; ``around`` wraps them where they are read (the export's age
    encryption runs in a thread of its own, and the reader is used only there). The
    reader is closed however the body ends, or at once if ``begin`` raises (a file
    shredded since the commit)."""
    writing = g.get("db_write_session")
    if writing is not None and writing.in_transaction():
        raise RuntimeError("commit the download's audit entry before streaming it")
    reader = read_sessions()()
    if report_id is not None:

        def scope(
            _session: Session, _transaction: SessionTransaction, connection: Connection
        ) -> None:
            scope_to_report(connection, report_id)

        event.listen(reader, "after_begin", scope)
    try:
        details, pieces = begin(reader)
    except BaseException:
        reader.close()
        raise
    body = _short_reads(reader, pieces)
    return details, _closing(reader, around(body) if around is not None else body)


def _short_reads(reader: Session, pieces: Iterable[bytes]) -> Iterator[bytes]:
    """Hand on ``pieces``, ending ``reader``'s transaction before each one leaves: the
    code producing them reads a batch in a transaction of its own, and none is open
    while the client (or anything else downstream) takes its time. A transaction held
    through a paused download would pin its snapshot: on SQLite the WAL could be
    neither checkpointed past it nor restarted, so it grows with every write for as
    long as the reader dawdles; on PostgreSQL it keeps table locks that stop DDL and
    queue every later query behind that DDL, and it pins a pooled connection. Run this
    in the thread that produces the pieces: a session is never used by two threads at
    once (the encrypted export builds its archive in age's thread)."""
    for piece in pieces:
        if reader.in_transaction():
            reader.commit()  # reads only; commit keeps loaded objects (no expiry)
        yield piece
    if reader.in_transaction():
        reader.commit()


def _closing(reader: Session, pieces: Iterable[bytes]) -> Iterable[bytes]:
    """The response body: ``pieces``, and ``reader`` closed however the stream ends —
    finished, broken by a failed chunk, abandoned by the client, or never started (the
    server calls ``close()`` on every response body; ``pieces`` is closed first, so a
    thread producing them has stopped before its session goes)."""
    return ClosingIterator(pieces, [reader.close])
