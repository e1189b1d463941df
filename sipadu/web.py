"""Glue between Flask and the layers below: config and a database session per request.

Views call :func:`db_session`; services receive that session and plain values, never
a request. The session is closed (rolled back if uncommitted) when the request ends.
"""

from collections.abc import Iterator
from urllib.parse import quote

from flask import Flask, current_app, g
from sqlalchemy.orm import Session

from sipadu.config import Config
from sipadu.db import make_engine, make_sessionmaker


def init_db(app: Flask, config: Config) -> None:
    engine = make_engine(config.database_url)
    app.extensions["sipadu.engine"] = engine
    app.extensions["sipadu.sessionmaker"] = make_sessionmaker(engine)
    app.extensions["sipadu.write_sessionmaker"] = make_sessionmaker(engine, write=True)
    app.teardown_appcontext(close_sessions)


def dispose(app: Flask) -> None:
    """Close every database connection the app holds (tests, shutdown)."""
    app.extensions["sipadu.engine"].dispose()


def app_config() -> Config:
    return current_app.extensions["sipadu.config"]


def db_session(*, write: bool = False) -> Session:
    """This request's session; ``write=True`` for a use case that writes (on SQLite it
    takes the write lock when its transaction begins)."""
    name = "db_write_session" if write else "db_session"
    if name not in g:
        maker = "sipadu.write_sessionmaker" if write else "sipadu.sessionmaker"
        setattr(g, name, current_app.extensions[maker]())
    return getattr(g, name)


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


def closing(session: Session, pieces: Iterator[bytes]) -> Iterator[bytes]:
    """Stream ``pieces``, then close ``session`` however the stream ends (finished,
    broken by a failed chunk, or abandoned by the client: the server closes it)."""
    try:
        yield from pieces
    finally:
        session.close()
