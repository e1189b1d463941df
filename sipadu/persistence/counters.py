"""The counters behind the documented limits: failed mailbox logins per code, failed
staff sign-ins per typed name and per device, new reports per hour (DESIGN.md G7, G8;
issue 13).

Each limit is a moving window (``limits``' :class:`~limits.RateLimitItem`, e.g. "10 per
hour") of *places* under a key:

- :meth:`Counters.test` says whether a place is free (nothing is taken);
- :meth:`Counters.take` takes one atomically (test and count in one step) and returns
  its token, or None when the window is full;
- :meth:`Counters.give_back` returns a place by its token;
- :meth:`Counters.hit` takes one for good (the report ceiling).

A failure limit in front of an Argon2id check takes its place *before* deriving and
gives it back when the check succeeded, so only failures use it up and it is exact under
concurrency: at most ``amount`` attempts are ever deriving or failed within the window.
Testing before the derivation and counting after it let every attempt already deriving
slip past (with 2 workers, 16 staff failures were checked for one name where 10 is
documented; a mailbox code took one extra failure per derivation slot of its lane).

Keys are already keyed hashes (of a code, a name, a device cookie, an instance): no
counter ever holds a code, a name or an address. A place is the key, a random token and
its expiry; nothing else is stored.

Where they live:

- **Redis** when ``SIPADU_REDIS_URL`` is set: one sorted set per key, changed by a Lua
  script, shared by every worker and host.
- Otherwise **a small SQLite database on the instance's memory file system** (next to
  the mailbox sessions, :func:`sipadu.persistence.volatile.volatile_base`), shared by every worker
  process of the host; a take is one write transaction (``BEGIN IMMEDIATE``). It
  outlives a worker: gunicorn restarts a worker after a crash or a missed heartbeat, and
  a deploy restarts them all. Counts in process memory did not, so whoever could crash
  or restart a worker got fresh budgets (issue 13 review), and each worker counted on
  its own. Never the main database: an expiry is the exact moment of an attempt or of a
  submission plus the window (G2 allows exact times in volatile memory only), and
  nothing here survives a reboot.

Memory: one row (~100 bytes) per place still inside its window. Places are taken only
with a derivation slot held, so the rate they arrive at is bounded by the derivation
pool; expired rows are deleted on every ``take``.
"""

import secrets
import sqlite3
import time
from contextlib import closing
from pathlib import Path
from typing import Protocol, cast

import redis
from limits import RateLimitItem

from sipadu.persistence.volatile import require_memory_filesystem, volatile_base
from sipadu.settings.config import Config

_BUSY_SECONDS = 10  # SQLite's wait for the write lock; each holder keeps it microseconds

# KEYS[1] the key; ARGV: now, window (s), amount, token, force ("1": count over the limit).
_TAKE = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', tonumber(ARGV[1]) - tonumber(ARGV[2]))
if ARGV[5] == '1' or redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[3]) then
  redis.call('ZADD', KEYS[1], ARGV[1], ARGV[4])
  redis.call('EXPIRE', KEYS[1], math.ceil(tonumber(ARGV[2])))
  return 1
end
return 0
"""


class Counters(Protocol):
    def test(self, item: RateLimitItem, key: str) -> bool:
        """True if a place under ``key`` is free within ``item`` (takes nothing)."""
        ...

    def take(self, item: RateLimitItem, key: str, *, force: bool = False) -> str | None:
        """Take a place under ``key`` atomically: its token, or None (nothing taken)
        when ``item``'s window is full. With ``force`` the place is taken even over the
        limit (an attempt that is allowed anyway but still counts)."""
        ...

    def give_back(self, item: RateLimitItem, key: str, token: str) -> None:
        """Return the place ``token`` (an attempt that succeeded)."""
        ...

    def hit(self, item: RateLimitItem, key: str) -> bool:
        """Take a place for good: False (nothing taken) when the window is full."""
        ...


def _name(prefix: str, item: RateLimitItem, key: str) -> str:
    # Keyed by the limit too (as ``limits`` keys its counters): apps of one instance
    # with different limits never share places.
    return f"{prefix}/{item.amount}/{item.get_expiry()}/{key}"


class RedisCounters:
    def __init__(self, url: str, prefix: str) -> None:
        self._redis = redis.Redis.from_url(url)
        self._take = self._redis.register_script(_TAKE)
        self._prefix = prefix

    def test(self, item: RateLimitItem, key: str) -> bool:
        since = time.time() - item.get_expiry()
        # redis-py types a reply for its sync and async clients at once (``Awaitable |
        # Any``); this client is the sync one, and ZCOUNT answers an integer.
        count = cast(int, self._redis.zcount(_name(self._prefix, item, key), f"({since}", "+inf"))
        return count < item.amount

    def take(self, item: RateLimitItem, key: str, *, force: bool = False) -> str | None:
        token = secrets.token_hex(8)
        args: list[str | int] = [
            repr(time.time()),
            item.get_expiry(),
            item.amount,
            token,
            int(force),
        ]
        taken = self._take(keys=[_name(self._prefix, item, key)], args=args)
        return token if taken == 1 else None

    def give_back(self, item: RateLimitItem, key: str, token: str) -> None:
        self._redis.zrem(_name(self._prefix, item, key), token)

    def hit(self, item: RateLimitItem, key: str) -> bool:
        return self.take(item, key) is not None


class MemoryFileCounters:
    """Places in SQLite on tmpfs: one row each, ``expires`` the moment it was taken plus
    the window. A connection per call, so forked and restarted workers never share one."""

    def __init__(self, path: Path, prefix: str) -> None:
        require_memory_filesystem(path.parent)
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        self._path = path
        self._prefix = prefix
        with closing(self._connect()) as db:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute(
                "CREATE TABLE IF NOT EXISTS places"
                " (key TEXT NOT NULL, token TEXT NOT NULL, expires REAL NOT NULL)"
            )
            db.execute("CREATE INDEX IF NOT EXISTS places_key ON places (key, expires)")
            db.execute("CREATE INDEX IF NOT EXISTS places_expires ON places (expires)")

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self._path, timeout=_BUSY_SECONDS, isolation_level=None)
        db.execute("PRAGMA synchronous=OFF")  # memory anyway: nothing to make durable
        return db

    def test(self, item: RateLimitItem, key: str) -> bool:
        with closing(self._connect()) as db:
            (count,) = db.execute(
                "SELECT count(*) FROM places WHERE key = ? AND expires > ?",
                (_name(self._prefix, item, key), time.time()),
            ).fetchone()
        return count < item.amount

    def take(self, item: RateLimitItem, key: str, *, force: bool = False) -> str | None:
        name, now, token = _name(self._prefix, item, key), time.time(), secrets.token_hex(8)
        with closing(self._connect()) as db:
            db.execute("BEGIN IMMEDIATE")  # one writer at a time: no overshoot
            db.execute("DELETE FROM places WHERE expires <= ?", (now,))
            (count,) = db.execute("SELECT count(*) FROM places WHERE key = ?", (name,)).fetchone()
            taken = force or count < item.amount
            if taken:
                db.execute(
                    "INSERT INTO places (key, token, expires) VALUES (?, ?, ?)",
                    (name, token, now + item.get_expiry()),
                )
            db.execute("COMMIT")
        return token if taken else None

    def give_back(self, item: RateLimitItem, key: str, token: str) -> None:
        with closing(self._connect()) as db:
            db.execute(
                "DELETE FROM places WHERE key = ? AND token = ?",
                (_name(self._prefix, item, key), token),
            )

    def hit(self, item: RateLimitItem, key: str) -> bool:
        return self.take(item, key) is not None


def make_counters(config: Config, prefix: str) -> Counters:
    """The counters of one portal (``prefix``) of this instance."""
    if config.redis_url:
        return RedisCounters(config.redis_url, f"sipadu-places-{prefix}")
    return MemoryFileCounters(volatile_base(config) / "counters.sqlite3", f"sipadu-{prefix}")
