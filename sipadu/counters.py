"""The counters behind the documented limits: failed mailbox logins per code, failed
staff sign-ins per typed name, new reports per hour (DESIGN.md G7, G8; issue 13).

Each limit is a moving window (``limits``' :class:`~limits.RateLimitItem`, e.g. "10 per
hour"): :meth:`Counters.test` says whether one more is allowed (nothing is taken),
:meth:`Counters.hit` takes one atomically and says whether it could. Keys are already
keyed hashes (of a code, a name, an instance): no counter ever holds a code, a name or
an address.

Where they live:

- **Redis** when ``SIPADU_REDIS_URL`` is set: shared by every worker and host
  (``limits``' moving window).
- Otherwise **a small SQLite database on the instance's memory file system** (next to
  the mailbox sessions, :func:`sipadu.volatile.volatile_base`), shared by every worker
  process of the host. It outlives a worker: gunicorn restarts a worker after a crash
  or a missed heartbeat, and a deploy restarts them all. Counts in process memory did
  not, so whoever could crash or restart a worker got fresh budgets (issue 13 review).
  Never the main database: an entry holds the exact moment of an attempt or of a
  submission (G2 allows exact times in volatile memory only), and nothing here survives
  a reboot.

Memory: one row (~100 bytes) per counted event still inside its window. Events are
counted only after Argon2id work or a stored report, so the rate they arrive at is
bounded by the derivation pool; expired rows are deleted on every ``hit``.
"""

import sqlite3
import time
from contextlib import closing
from pathlib import Path
from typing import Protocol

from limits import RateLimitItem
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter

from sipadu.config import Config
from sipadu.volatile import require_memory_filesystem, volatile_base

_BUSY_SECONDS = 10  # SQLite's wait for the write lock; each holder keeps it microseconds


class Counters(Protocol):
    def test(self, item: RateLimitItem, key: str) -> bool:
        """True if one more event under ``key`` stays within ``item`` (takes nothing)."""
        ...

    def hit(self, item: RateLimitItem, key: str) -> bool:
        """Count one event under ``key`` if it stays within ``item``; False (and nothing
        counted) if the window is full."""
        ...


class RedisCounters:
    def __init__(self, url: str, prefix: str) -> None:
        self._window = MovingWindowRateLimiter(storage_from_string(url))
        self._prefix = prefix

    def test(self, item: RateLimitItem, key: str) -> bool:
        return self._window.test(item, self._prefix, key)

    def hit(self, item: RateLimitItem, key: str) -> bool:
        return self._window.hit(item, self._prefix, key)


class MemoryFileCounters:
    """Moving windows in SQLite on tmpfs: one row per counted event, ``expires`` its
    moment plus the window. A connection per call, so forked and restarted workers
    never share one."""

    def __init__(self, path: Path, prefix: str) -> None:
        require_memory_filesystem(path.parent)
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        self._path = path
        self._prefix = prefix
        with closing(self._connect()) as db:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute(
                "CREATE TABLE IF NOT EXISTS events (key TEXT NOT NULL, expires REAL NOT NULL)"
            )
            db.execute("CREATE INDEX IF NOT EXISTS events_key ON events (key, expires)")
            db.execute("CREATE INDEX IF NOT EXISTS events_expires ON events (expires)")

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self._path, timeout=_BUSY_SECONDS, isolation_level=None)
        db.execute("PRAGMA synchronous=OFF")  # memory anyway: nothing to make durable
        return db

    def _key(self, item: RateLimitItem, key: str) -> str:
        return item.key_for(self._prefix, key)

    def test(self, item: RateLimitItem, key: str) -> bool:
        with closing(self._connect()) as db:
            (count,) = db.execute(
                "SELECT count(*) FROM events WHERE key = ? AND expires > ?",
                (self._key(item, key), time.time()),
            ).fetchone()
        return count < item.amount

    def hit(self, item: RateLimitItem, key: str) -> bool:
        name, now = self._key(item, key), time.time()
        with closing(self._connect()) as db:
            db.execute("BEGIN IMMEDIATE")  # one writer at a time: no overshoot
            db.execute("DELETE FROM events WHERE expires <= ?", (now,))
            (count,) = db.execute(
                "SELECT count(*) FROM events WHERE key = ? AND expires > ?", (name, now)
            ).fetchone()
            allowed = count < item.amount
            if allowed:
                db.execute(
                    "INSERT INTO events (key, expires) VALUES (?, ?)",
                    (name, now + item.get_expiry()),
                )
            db.execute("COMMIT")
        return allowed


def make_counters(config: Config, prefix: str) -> Counters:
    """The counters of one portal (``prefix``) of this instance."""
    if config.redis_url:
        return RedisCounters(config.redis_url, f"sipadu-{prefix}")
    return MemoryFileCounters(volatile_base(config) / "counters.sqlite3", f"sipadu-{prefix}")
