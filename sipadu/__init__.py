"""SIPADU: whistleblowing system with strong anonymity (Sistem Pengaduan Terpadu)."""

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from flask import Flask

    from sipadu.settings.config import Config

__version__ = "0.1.0"


def create_app(portal: str = "reporter", config: "Config | None" = None) -> "Flask":
    """Build the ``reporter`` or the ``staff`` portal (see :mod:`sipadu.app`).

    Imported lazily so that ``import sipadu.crypto`` stays free of Flask and SQLAlchemy.
    """
    from sipadu.app import create_app as _create_app

    return _create_app(portal, config)
