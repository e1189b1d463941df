"""Volatile storage for reporter mailbox sessions and the one-time submission tokens
(:mod:`sipadu.web.submissions`): never the database, never a disk.

Redis (run with persistence off, see docs) when ``SIPADU_REDIS_URL`` is set, so every
worker and host shares sessions; otherwise files on a memory-backed file system (tmpfs,
``/dev/shm``) shared by the workers of one host. Entries expire after an idle timeout
that each read (and each :meth:`~VolatileStore.touch`) renews; nothing survives a reboot.
"""

import fcntl
import hashlib
import os
import time
from pathlib import Path
from typing import Protocol, cast

import redis

from sipadu.settings.config import Config, ConfigError

_MEMORY_FILESYSTEMS = {"tmpfs", "ramfs"}


class VolatileStore(Protocol):
    def put(self, key: str, value: bytes, ttl: int) -> None: ...
    def get(self, key: str, ttl: int) -> bytes | None: ...
    def touch(self, key: str, ttl: int) -> None:
        """Renew an entry's idle timeout without reading it; an entry that expired or
        was deleted stays gone (never brought back)."""

    def delete(self, key: str) -> None: ...
    def claim(self, key: str, value: bytes, ttl: int) -> bool:
        """Store ``value`` under ``key`` only if nothing live is there, in one atomic step
        over every worker and host sharing the store: True if this call stored it."""
        ...


class RedisStore:
    def __init__(self, url: str, prefix: str) -> None:
        self._redis = redis.Redis.from_url(url)
        self._prefix = prefix

    def put(self, key: str, value: bytes, ttl: int) -> None:
        self._redis.set(self._prefix + key, value, ex=ttl)

    def get(self, key: str, ttl: int) -> bytes | None:
        # redis-py types a command's reply for its sync and async clients at once
        # (``Awaitable | Any``); this client is the sync one, and GETEX answers bytes or nil.
        return cast(bytes | None, self._redis.getex(self._prefix + key, ex=ttl))

    def touch(self, key: str, ttl: int) -> None:
        self._redis.expire(self._prefix + key, ttl)  # EXPIRE of a missing key: nothing

    def delete(self, key: str) -> None:
        self._redis.delete(self._prefix + key)

    def claim(self, key: str, value: bytes, ttl: int) -> bool:
        return bool(self._redis.set(self._prefix + key, value, ex=ttl, nx=True))


class MemoryFileStore:
    """One file per entry on tmpfs; the modification time is the last use."""

    def __init__(self, directory: Path) -> None:
        require_memory_filesystem(directory.parent)
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        self._dir = directory

    def _path(self, key: str) -> Path:
        return self._dir / hashlib.sha256(key.encode()).hexdigest()

    def put(self, key: str, value: bytes, ttl: int) -> None:
        self._purge(ttl)
        path = self._path(key)
        temporary = path.with_suffix(".new")
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(value)
        temporary.replace(path)

    def get(self, key: str, ttl: int) -> bytes | None:
        path = self._path(key)
        try:
            if time.time() - path.stat().st_mtime > ttl:
                path.unlink(missing_ok=True)
                return None
            value = path.read_bytes()
            os.utime(path)
            return value
        except FileNotFoundError:
            return None

    def touch(self, key: str, ttl: int) -> None:
        path = self._path(key)
        try:
            if time.time() - path.stat().st_mtime > ttl:
                path.unlink(missing_ok=True)
            else:
                os.utime(path)
        except FileNotFoundError:
            pass

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)

    def claim(self, key: str, value: bytes, ttl: int) -> bool:
        # One lock file beside the folder (a purge never removes it) serialises claims
        # between the workers of this host; a read under it does not renew the entry.
        with open(self._dir.with_name(self._dir.name + ".lock"), "ab") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                if time.time() - self._path(key).stat().st_mtime <= ttl:
                    return False
            except FileNotFoundError:
                pass
            self.put(key, value, ttl)
            return True

    def _purge(self, ttl: int) -> None:
        cutoff = time.time() - ttl
        for path in self._dir.iterdir():
            try:
                if path.stat().st_mtime < cutoff:
                    path.unlink(missing_ok=True)
            except FileNotFoundError:
                continue


def require_memory_filesystem(directory: Path) -> None:
    """Raise :class:`ConfigError` unless ``directory`` is on tmpfs (or ramfs): what is
    kept there (mailbox sessions, the moments counted by the limits) must never reach a
    disk."""
    if filesystem_type(directory) not in _MEMORY_FILESYSTEMS:
        raise ConfigError(
            f"{directory} is not a memory-backed file system (tmpfs): mailbox sessions and "
            "limit counters must never reach a disk. Set SIPADU_REDIS_URL or "
            "SIPADU_VOLATILE_PATH."
        )


def filesystem_type(path: Path) -> str:
    """The type of the file system ``path`` lives on, from /proc/mounts."""
    path = path.resolve()
    best, kind = "", ""
    for line in Path("/proc/mounts").read_text().splitlines():
        fields = line.split()
        mount_point = fields[1].replace("\\040", " ")
        if (
            str(path) == mount_point or str(path).startswith(mount_point.rstrip("/") + "/")
        ) and len(mount_point) > len(best):
            best, kind = mount_point, fields[2]
    return kind


def volatile_base(config: Config) -> Path:
    """This instance's folder on the memory file system, shared by its workers on a host."""
    shm = Path("/dev/shm")  # noqa: S108 — the memory-backed file system, by design
    suffix = hashlib.sha256(str(config.instance_path).encode()).hexdigest()[:12]
    return config.volatile_path or shm / f"sipadu-{suffix}"


def make_store(config: Config, name: str) -> VolatileStore:
    if config.redis_url:
        return RedisStore(config.redis_url, prefix=f"sipadu:{name}:")
    return MemoryFileStore(volatile_base(config) / name)
