"""Argon2id derivations on request paths: a bounded number at once per host, each on a
low-priority thread (issue 13, item 4).

Every route of either portal that stretches a secret (mailbox login, report submission,
staff sign-in, activation, TOTP re-enrollment, password change) first takes a slot of
its *lane* of the portal's host-wide pool (:func:`sipadu.persistence.slots.lanes`, ``kdf-reporter``
or ``kdf-staff``: a flood of reporter logins never takes the slots staff need to sign
in), with :meth:`Derivations.slot` around the service call. Without a slot within a
short wait it raises :class:`sipadu.persistence.slots.Busy` at once, and the view answers 503 with
``Retry-After`` and the same form, typed text kept. A request never queues longer.

The lanes (``SIPADU_KDF_SLOTS`` in all per portal and host; each lane its own queue of
``SIPADU_KDF_QUEUE``):

- reporter: :data:`LOGIN` (mailbox logins) and :data:`REPORT` (new reports) have one
  slot each to themselves, the rest shared: a flood of wrong logins never makes a
  submission busy, nor a flood of junk reports a login (review of issue 13: 8 clients
  flooding logins had made 10 of 11 real submissions busy).
- staff: :data:`KNOWN` (sign-ins that show a valid device cookie for the typed account,
  and the routes only a holder of a session or a one-time link reaches) has one slot to
  itself; :data:`OPEN` (every other sign-in) only the shared ones. Strangers guessing
  passwords can fill only the open lane (32 of them had made 8 of 10 real sign-ins
  busy); see :mod:`sipadu.investigator.devices`.

With a slot, each Argon2id derivation (the service calls the runner it was given,
:data:`sipadu.services.Derive`) runs on one of this process's dedicated derivation
threads, whose nice value is raised (``SIPADU_KDF_NICE``, 10) when the thread starts.
Argon2's lane threads are created by that thread and inherit it, so a flood of
derivations takes only the CPU that ordinary requests (``GET /``, reading a case) leave
idle. Only the derivation runs there: the service's database work stays on the
request's thread at normal priority (a low-priority thread in a busy process also waits
long for the GIL). The price, measured (docs/performance.md): when ordinary work keeps
the CPU busy, derivations wait for it, and more requests get the busy page.

What an attacker could do if this changed: without the pool, 32 concurrent wrong
mailbox logins held 64 Argon2id runs (64 MiB each) at once; a real login took 21 s and
``GET /`` 7.7 s. Without the nice value, the derivations that do run would still slow
every other page.
"""

import os
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any, ParamSpec, TypeVar

from flask import current_app

from sipadu.persistence.slots import Busy, SlotPool, lanes, pool_directory
from sipadu.settings.config import Config

P = ParamSpec("P")
T = TypeVar("T")

THREAD_PREFIX = "sipadu-kdf"
RETRY_AFTER_SECONDS = 60  # what the busy page asks: "try again in a minute"

LOGIN, REPORT = "login", "report"  # the reporter portal's lanes
KNOWN, OPEN = "known", "open"  # the staff portal's lanes
# Slots each lane has to itself; the rest of SIPADU_KDF_SLOTS (at least 2) are shared.
RESERVED = {"reporter": {LOGIN: 1, REPORT: 1}, "staff": {KNOWN: 1, OPEN: 0}}


def _lower_priority(nice: int) -> None:
    # On Linux a thread id is a valid PRIO_PROCESS target and the value is per thread;
    # raising one's own nice value needs no privilege (and cannot be undone without it).
    # Never on the process's main thread: under a server whose "threads" are green
    # (monkey-patched), that would lower the priority of every request it serves.
    native = threading.get_native_id()
    if nice and native != os.getpid():
        os.setpriority(os.PRIO_PROCESS, native, nice)


class Derivations:
    """One portal's bounded derivations: ``size`` at once per host over all its lanes,
    each lane with ``waiting`` more queued for at most ``wait_seconds``; each runs on a
    low-priority thread."""

    def __init__(
        self, lanes: dict[str, SlotPool], size: int, wait_seconds: float, nice: int = 10
    ) -> None:
        self.lanes = lanes
        self.size = size
        self.wait_seconds = wait_seconds
        self.nice = nice
        self._lock = threading.Lock()
        self._executor: ThreadPoolExecutor | None = None
        self._pid = 0

    @classmethod
    def for_portal(cls, config: Config, portal: str) -> "Derivations":
        pools = lanes(
            pool_directory(config, f"kdf-{portal}"),
            config.kdf_slots,
            config.kdf_queue,
            RESERVED[portal],
            RETRY_AFTER_SECONDS,
        )
        return cls(pools, config.kdf_slots, config.kdf_wait_ms / 1000, config.kdf_nice)

    def _threads(self) -> ThreadPoolExecutor:
        # Per process: gunicorn forks workers from a master that built the app, and
        # threads do not survive a fork. A process never runs more derivations at once
        # than the host-wide pool has slots.
        with self._lock:
            if self._executor is None or self._pid != os.getpid():
                self._executor = ThreadPoolExecutor(
                    max_workers=self.size,
                    thread_name_prefix=THREAD_PREFIX,
                    initializer=_lower_priority,
                    initargs=(self.nice,),
                )
                self._pid = os.getpid()
            return self._executor

    @contextmanager
    def slot(self, lane: str) -> Iterator[Callable[..., Any]]:
        """Hold one slot of ``lane`` for the ``with`` block and yield a runner,
        ``run(fn, *args)``, that calls ``fn`` on a derivation thread and returns its
        result (or raises what it raised): the ``derive`` a service is given for each of
        its derivations. Raises :class:`~sipadu.persistence.slots.Busy` when no slot is free within
        the wait, KeyError for a lane the portal does not have."""
        with self.lanes[lane].slot(self.wait_seconds):
            yield self._call

    def _call(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
        return self._threads().submit(fn, *args, **kwargs).result()


def derivations() -> Derivations:
    """The current portal's :class:`Derivations`."""
    return current_app.extensions["sipadu.derivations"]


def busy_page(page: str, busy: Busy) -> tuple[str, int, dict[str, str]]:
    """A view's answer when no derivation slot was free: the same form page (typed text
    kept, with a notice), 503, and ``Retry-After`` in seconds."""
    return page, 503, {"Retry-After": str(busy.retry_after)}
