"""Glue between Flask and the layers below: config and a database session per request.

Views call :func:`db_session`; services receive that session and plain values, never
a request. The session is closed (rolled back if uncommitted) when the request ends.
"""

from flask import Flask, current_app, g
from sqlalchemy.orm import Session

from sipadu.config import Config
from sipadu.db import make_engine, make_sessionmaker


def init_db(app: Flask, config: Config) -> None:
    engine = make_engine(config.database_url)
    app.extensions["sipadu.engine"] = engine
    app.extensions["sipadu.sessionmaker"] = make_sessionmaker(engine)
    app.teardown_appcontext(_close_session)


def app_config() -> Config:
    return current_app.extensions["sipadu.config"]


def db_session() -> Session:
    if "db_session" not in g:
        g.db_session = current_app.extensions["sipadu.sessionmaker"]()
    return g.db_session


def _close_session(_exc: BaseException | None) -> None:
    session = g.pop("db_session", None)
    if session is not None:
        session.close()
