"""Failure budgets that hold exactly under concurrency: a place is *taken* before the
expensive check and *given back* when the check succeeded.

A counter that is tested before an Argon2id derivation and incremented after it lets
every attempt already deriving slip past the limit: with 2 workers, 16 staff sign-in
failures were counted for one name where 10 an hour is documented (review of issue 13).
Here :meth:`Budget.take` tests and counts in one atomic step, so at most ``limit``
attempts are ever in flight or failed within the window; a success gives its place back
(:meth:`Budget.give_back`), so only failures use up the budget.

Shape: a moving window of ``window`` seconds per key; each place is a random token with
its time. Two stores: Redis (one sorted set per key, changed by a Lua script, so every
worker and host shares it) when ``SIPADU_REDIS_URL`` is set, else this process's memory
(the configuration then allows one worker process: :mod:`sipadu.config`). Keys are
already keyed hashes (never a typed name); nothing else is stored.
"""

import secrets
import threading
import time
from collections import deque

from limits import RateLimitItem

_TAKE = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', tonumber(ARGV[1]) - tonumber(ARGV[2]))
if ARGV[5] == '1' or redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[3]) then
  redis.call('ZADD', KEYS[1], ARGV[1], ARGV[4])
  redis.call('EXPIRE', KEYS[1], math.ceil(tonumber(ARGV[2])))
  return 1
end
return 0
"""
_SWEEP_EVERY = 1024  # memory store: forget expired keys every this many takes


class Budget:
    """``limit`` places per key in any ``window`` seconds (from a limit such as
    ``10 per hour``), named ``namespace`` in the store."""

    def __init__(self, item: RateLimitItem, namespace: str, redis_url: str | None) -> None:
        self.limit = item.amount
        self.window = float(item.get_expiry())
        # Keyed by the limit too (as Flask-Limiter keys its counters): apps of one
        # instance with different limits never share places.
        self.namespace = f"{namespace}-{item.amount}-{int(self.window)}"
        self._redis = None
        if redis_url:
            import redis

            self._redis = redis.Redis.from_url(redis_url)
            self._take_script = self._redis.register_script(_TAKE)
        self._lock = threading.Lock()
        self._places: dict[str, deque[tuple[float, str]]] = {}
        self._takes = 0

    def _key(self, key: str) -> str:
        return f"sipadu-budget-{self.namespace}-{key}"

    def left(self, key: str) -> bool:
        """Whether a place is free now (a test: nothing is taken)."""
        now = time.time()
        if self._redis is not None:
            count = self._redis.zcount(self._key(key), now - self.window, "+inf")
            return count < self.limit
        with self._lock:
            places = self._places.get(key, ())
            return sum(1 for at, _ in places if at > now - self.window) < self.limit

    def take(self, key: str, *, force: bool = False) -> str | None:
        """Take a place atomically: its token, or None when the budget is spent. With
        ``force`` the place is counted even over the limit (an attempt that is allowed
        anyway but still counts)."""
        token = secrets.token_hex(8)
        now = time.time()
        if self._redis is not None:
            taken = self._take_script(
                keys=[self._key(key)],
                args=[repr(now), repr(self.window), self.limit, token, "1" if force else "0"],
            )
            return token if taken == 1 else None
        with self._lock:
            self._takes += 1
            if self._takes % _SWEEP_EVERY == 0:
                self._sweep(now)
            places = self._places.setdefault(key, deque())
            while places and places[0][0] <= now - self.window:
                places.popleft()
            if not force and len(places) >= self.limit:
                return None
            places.append((now, token))
            return token

    def give_back(self, key: str, token: str) -> None:
        """Return a place taken by an attempt that succeeded."""
        if self._redis is not None:
            self._redis.zrem(self._key(key), token)
            return
        with self._lock:
            places = self._places.get(key)
            if places is not None:
                self._places[key] = deque(p for p in places if p[1] != token)

    def _sweep(self, now: float) -> None:
        # Random names each leave a key: bounded by how many attempts the derivation
        # pool lets through in a window, and forgotten once their places expire.
        for key in [k for k, v in self._places.items() if not v or v[-1][0] <= now - self.window]:
            del self._places[key]
