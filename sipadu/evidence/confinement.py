"""Child processes that parse hostile files, and the limits they run under.

Every converter of evidence (metadata cleaning, safe copies) runs as a child process of
its own: the server's environment (and so its secrets) never reaches it, it lowers its
priority, and it caps its own address space, CPU time, core dumps and the size of any
file it writes before it imports a parser. A malicious file, a decompression bomb or a
parser bug costs one short-lived, contained process.

Server side: :func:`run` starts ``python -m MODULE ARGS…``, feeds it the file as pieces
(from another thread, so a child that writes while it reads cannot dead-lock) and hands
what it writes on stdout to ``write`` as it comes. Child side: :func:`confine`, first
thing in ``main``. :func:`scratch_directory` gives a child that needs files (mat2,
LibreOffice) a private folder on a memory file system, removed whatever happens.

A server that dies hard (SIGKILL after gunicorn's graceful stop, the OOM killer) leaves
nothing behind for long: its child gets a death signal (``PR_SET_PDEATHSIG``, set by
:func:`confine`), ends what it started and removes its scratch folder (the reporter's
file, in plaintext) before it exits; a folder whose holder is gone anyway (the child
was killed too) is removed by :func:`sweep_scratch`, which runs when a portal starts,
before each new folder is made, and in ``sipadu purge``.
"""

import contextlib
import ctypes
import fcntl
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

READ_BYTES = 64 * 1024
STDERR_BYTES = 4096  # what a child may report on stderr; more is not read
PR_SET_PDEATHSIG = 1  # linux/prctl.h
SERVER_GONE_EXIT = 6  # a child that ended because its server died (no one reads it)


@dataclass(frozen=True)
class Confinement:
    """A child's limits: address space (bytes), CPU time (seconds), and the largest file
    it may write (bytes; 0: none at all). In the child, ``server_pid`` is the pid of
    the server that started it (:func:`run` passes it after the limits; 0: unknown): a
    child whose parent is no longer that process when it starts ends at once."""

    memory_bytes: int
    cpu_seconds: int
    file_bytes: int = 0
    server_pid: int = 0

    def argv(self) -> list[str]:
        return [str(self.memory_bytes), str(self.cpu_seconds), str(self.file_bytes)]

    @classmethod
    def from_argv(cls, args: list[str]) -> "Confinement":
        memory, cpu, files = (int(arg) for arg in args[:3])
        server = int(args[3]) if len(args) > 3 else 0
        return cls(memory, cpu, files, server)


@dataclass(frozen=True)
class Finished:
    """How a child ended: its exit status (negative: killed by that signal), the first
    :data:`STDERR_BYTES` of what it wrote on stderr, and what it cost: ``seconds`` of
    wall-clock time and ``cpu_seconds`` of CPU time, its whole session's (the child's
    and every process it started)."""

    status: int
    report: bytes
    seconds: float = 0.0
    cpu_seconds: float = 0.0

    @property
    def cost(self) -> float:
        """Seconds charged to a request's budget (:class:`TimeBudget`): the longer of its
        wall-clock and CPU times."""
        return max(self.seconds, self.cpu_seconds)


@dataclass
class TimeBudget:
    """Seconds of cleaning one request may still spend (``seconds_left``): a child is
    given at most what is left as its CPU limit and its wall-clock deadline, and
    charged its :attr:`Finished.cost`. See ``SIPADU_DOCUMENT_SECONDS_PER_REQUEST``."""

    seconds_left: float

    def charge(self, seconds: float) -> None:
        self.seconds_left -= seconds


def confine(confinement: Confinement, scratch: str | None = None) -> None:
    """Child side, before any parser is imported: die with the server (:func:`die_with_
    server`, removing ``scratch``, the folder the server made for it, if any), lower the
    priority, cap address space, CPU time and file size, no core dumps. Limits hold for
    the child's own children."""
    die_with_server(confinement.server_pid, scratch)
    os.nice(10)  # cleaning yields the CPU to the portal's own requests
    memory, cpu = confinement.memory_bytes, confinement.cpu_seconds
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu))
    resource.setrlimit(resource.RLIMIT_FSIZE, (confinement.file_bytes, confinement.file_bytes))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def die_with_server(server: int, scratch: str | None = None) -> None:
    """Child side: when the server that started it (its parent, pid ``server``) dies,
    the child gets SIGTERM (Linux ``PR_SET_PDEATHSIG``), ends
    every other process of its session (the tools it started), removes ``scratch`` and
    exits (:func:`_server_gone`). If the server died before this was set, that is done
    now. A SIGTERM while the server lives (a service manager stopping every process of
    the unit) is ignored: the server ends its child itself."""

    def on_term(_signal: int, _frame: object) -> None:
        if os.getppid() != server:
            _server_gone(scratch)

    signal.signal(signal.SIGTERM, on_term)
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    if server and os.getppid() != server:
        _server_gone(scratch)


def _server_gone(scratch: str | None) -> None:
    """In a child whose server died: kill the rest of its session (its tools, and what
    they started) if it leads one (as :func:`run` starts it: a process started
    otherwise shares its starter's session, which is not its own to end), wait until
    none is alive, remove ``scratch``, and exit."""
    me, session = os.getpid(), os.getsid(0)
    deadline = time.monotonic() + SESSION_END_SECONDS
    while session == me and time.monotonic() < deadline:
        others = [pid for pid in _members(session) if pid != me]
        if not others:
            break
        for pid in others:
            _kill(pid, session)
        time.sleep(0.005)
    if scratch:
        with contextlib.suppress(OSError):
            remove_scratch(scratch)
    os._exit(SERVER_GONE_EXIT)


def run(
    module: str,
    args: list[str],
    pieces: Iterable[bytes | memoryview],
    confinement: Confinement,
    write: Callable[[bytes], object],
    env: dict[str, str] | None = None,
    seconds: float | None = None,
) -> Finished:
    """Run ``python -m module *args`` (the child calls :func:`confine` with
    ``confinement``, passed after ``args`` with this process's id: the child dies with
    it, :func:`die_with_server`), feed it ``pieces`` on stdin, and pass its
    stdout to ``write`` piece by piece (nothing of it is held here). ``env`` is the
    child's whole environment (default: empty).

    A watchdog ends the child (and its session) once its session's CPU time, all its
    processes' together (:func:`session_cpu_seconds`, read every
    :data:`WATCH_SECONDS`), passes ``confinement.cpu_seconds`` (each process's own
    RLIMIT_CPU holds it alone, not mat2, exiftool and ffmpeg together), or after
    ``seconds`` of wall-clock time (default three times the CPU limit and 5 s: a child
    that waits instead of working).

    The child leads a session of its own; when this returns or raises, the child and
    every process of its session (whatever it started: LibreOffice, mat2, ffmpeg, and
    what they started) are dead (:func:`end_session`), so a scratch folder handed to the
    child can be removed with nothing left to write into it.

    Whatever ``write`` raises kills the child and is raised here; so is whatever
    iterating ``pieces`` raises (a stored file that fails its integrity check,
    ``CryptoError``): the child is killed at once and the error raised once it is
    reaped, never taken for a child that ran out of time."""
    argv = [sys.executable, "-m", module, *args, *confinement.argv(), str(os.getpid())]
    child = subprocess.Popen(  # noqa: S603 — fixed argv; the file goes through stdin
        argv,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env or {},
        start_new_session=True,  # its session id is its pid: end_session finds its kin
    )
    started = time.monotonic()
    failed: list[BaseException] = []
    used = [0.0]  # the session's CPU seconds, as last read
    stop = threading.Event()
    wall = confinement.cpu_seconds * 3 + 5 if seconds is None else seconds
    watchdog = threading.Thread(
        target=_watch, args=(child.pid, confinement.cpu_seconds, wall, stop, used), daemon=True
    )
    feeder = threading.Thread(target=_feed, args=(child, pieces, failed), daemon=True)
    watchdog.start()
    feeder.start()
    report = b""
    try:
        while piece := child.stdout.read(READ_BYTES):  # type: ignore[union-attr]
            write(piece)
        # Exited (not reaped: its pid, which is its session's id, stays its own), then
        # whatever it left running is ended, so that its stderr ends too.
        os.waitid(os.P_PID, child.pid, os.WEXITED | os.WNOWAIT)
        end_session(child.pid)
        report = child.stderr.read(STDERR_BYTES)  # type: ignore[union-attr]
    finally:
        stop.set()
        watchdog.join()  # before the child is reaped: its pid is its session's id
        end_session(child.pid)
        used[0] = max(used[0], session_cpu_seconds(child.pid))
        _, wait_status, usage = os.wait4(child.pid, 0)  # with its reaped descendants'
        child.returncode = status = os.waitstatus_to_exitcode(wait_status)
        feeder.join()
        for pipe in (child.stdin, child.stdout, child.stderr):
            with contextlib.suppress(OSError):
                pipe.close()  # type: ignore[union-attr]
    if failed:
        raise failed[0]
    cpu = max(used[0], usage.ru_utime + usage.ru_stime)
    return Finished(status, report, time.monotonic() - started, cpu)


WATCH_SECONDS = 0.1  # how often the watchdog reads a child's session's CPU time


def _watch(
    session: int, cpu_seconds: float, wall: float, stop: threading.Event, used: list[float]
) -> None:
    """End ``session`` once its CPU time passes ``cpu_seconds`` or ``wall`` seconds have
    gone by, unless ``stop`` is set first; ``used[0]`` is the CPU time last read."""
    deadline = time.monotonic() + wall
    while not stop.wait(min(WATCH_SECONDS, max(0.0, deadline - time.monotonic()))):
        used[0] = max(used[0], session_cpu_seconds(session))
        if used[0] > cpu_seconds or time.monotonic() >= deadline:
            end_session(session)
            return


_TICKS = os.sysconf("SC_CLK_TCK")


def session_cpu_seconds(session: int) -> float:
    """The CPU time (user and system, seconds) of ``session``'s processes, found in
    ``/proc`` (Linux, proc(5)): each one's own, and that of its children it reaped
    (``cutime``/``cstime``), zombies included (not yet counted by their parent). A
    process whose parent died before reaping it is counted while it lives only."""
    total = 0
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as handle:
                text = handle.read()
        except OSError:
            continue
        fields = text[text.rfind(b")") + 2 :].split()
        try:
            if int(fields[3]) == session:  # state, ppid, pgrp, session, …, utime at 11
                total += sum(int(value) for value in fields[11:15])
        except (IndexError, ValueError):
            continue
    return total / _TICKS


def _feed(
    child: "subprocess.Popen[bytes]",
    pieces: Iterable[bytes | memoryview],
    failed: list[BaseException],
) -> None:
    """Write ``pieces`` to the child's stdin and close it. What the pieces raise is kept
    in ``failed`` (for :func:`run` to raise) and ends the child at once: it would
    otherwise wait for the rest of a file that never comes."""
    try:
        for piece in pieces:
            child.stdin.write(piece)  # type: ignore[union-attr]
        child.stdin.close()  # type: ignore[union-attr]
    except (BrokenPipeError, ValueError, OSError):
        pass  # the child stopped reading (or was killed): its exit status says why
    except BaseException as exc:  # noqa: BLE001 — raised again by run, in its thread
        failed.append(exc)
        end_session(child.pid)


SESSION_END_SECONDS = 10.0  # how long end_session waits for killed processes to go


def end_session(session: int, seconds: float = SESSION_END_SECONDS) -> bool:
    """Kill (SIGKILL) every live process of ``session`` (a session id: the pid of the
    child :func:`run` started, not yet reaped) and wait until none is left alive
    (zombies write nothing), at most ``seconds``. Processes are found by their session
    in ``/proc`` (Linux), each signalled through a pidfd after its session is read again,
    so a pid reused meanwhile is never hit. A process that made a session of its own
    escapes this: the children started here do not (LibreOffice runs in bubblewrap's
    PID namespace, which ends with it). Returns whether none was left alive."""
    deadline = time.monotonic() + seconds
    while True:
        alive = _members(session)
        if not alive:
            return True
        for pid in alive:
            _kill(pid, session)
        if time.monotonic() > deadline:
            return False
        time.sleep(0.005)


def _stat(pid: int) -> tuple[str, int] | None:
    """A process's state letter and session id, or None once it is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            text = handle.read()
    except OSError:
        return None
    fields = text[text.rfind(b")") + 2 :].split()  # after "pid (name) "
    try:
        return fields[0].decode(), int(fields[3])  # state, ppid, pgrp, session
    except (IndexError, ValueError):
        return None


def _members(session: int) -> list[int]:
    alive = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            stat = _stat(int(name))
            if stat is not None and stat[1] == session and stat[0] not in ("Z", "X"):
                alive.append(int(name))
    return alive


def _kill(pid: int, session: int) -> None:
    try:
        handle = os.pidfd_open(pid)
    except OSError:
        return  # gone already
    try:
        stat = _stat(pid)
        if stat is not None and stat[1] == session:
            signal.pidfd_send_signal(handle, signal.SIGKILL)
    except OSError:
        pass
    finally:
        os.close(handle)


# A memory file system: what a child writes there never reaches a disk (unless the host
# swaps). docs/deploy.md asks for /dev/shm or another tmpfs.
SCRATCH_ROOT = "/dev/shm"  # noqa: S108 — a private 0700 folder is made inside it


# Only folders named so are ever swept: the portals' volatile folder lives beside them
# (/dev/shm/sipadu-<hash>, sipadu.persistence.volatile) and must never be taken for one.
SCRATCH_PREFIX = "sipadu-scratch-"
# The file in each scratch folder whose flock its server holds while the folder is used.
LOCK_NAME = ".lock"
# A folder of a server that died is swept once no live process holds its lock and its
# lock file (or, without one, the folder) is this old: far more than the moment between
# making the folder, making its lock file and locking it, so a folder being made is
# never swept, and little enough that a dead server's folder goes at the next sweep.
SWEEP_AFTER_SECONDS = 5


@contextlib.contextmanager
def scratch_directory(root: str = SCRATCH_ROOT) -> Iterator[str]:
    """A new private (0700) folder under ``root`` for one child's files, deleted with
    everything in it when the block ends, whatever happened (:func:`remove_scratch`).
    Made and removed by the server around :func:`run` (a child removes it only when its
    server died: :func:`die_with_server`). Before anything is written in it, the server
    makes its lock file (:data:`LOCK_NAME`) and holds an exclusive ``flock`` on it
    while the folder is in use (the descriptor is closed on exec: no child holds it), so
    :func:`sweep_scratch` tells a folder left by a dead server from one in use. Folders
    left over are swept first."""
    sweep_scratch(root)
    path = tempfile.mkdtemp(prefix=SCRATCH_PREFIX, dir=root)
    holder = -1
    try:
        holder = os.open(
            os.path.join(path, LOCK_NAME),
            os.O_RDONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC,
            0o600,
        )
        fcntl.flock(holder, fcntl.LOCK_EX)
        yield path
    finally:
        try:
            remove_scratch(path)
        finally:
            if holder >= 0:
                os.close(holder)


def remove_scratch(path: str, seconds: float = 5.0) -> bool:
    """Remove the folder ``path`` and everything in it, again while something still
    appears in it (at most ``seconds``), making its sub-folders writable first if a
    child took that away. Once the folder itself is gone nothing can be made in it
    again. Returns whether it is gone."""
    deadline = time.monotonic() + seconds
    while True:
        shutil.rmtree(path, onerror=_writable_again)
        if not os.path.lexists(path) or time.monotonic() > deadline:
            return not os.path.lexists(path)
        time.sleep(0.01)


def _writable_again(function: Callable[..., object], path: str, _exc: object) -> None:
    with contextlib.suppress(OSError):
        os.chmod(os.path.dirname(path), 0o700)
        if os.path.isdir(path) and not os.path.islink(path):
            os.chmod(path, 0o700)
        function(path)


def sweep_scratch(root: str = SCRATCH_ROOT) -> int:
    """Remove the scratch folders under ``root`` that nobody uses any more: named
    :data:`SCRATCH_PREFIX`, ours, whose lock no live process holds (the server that
    made it died before it could remove it; the reporter's file may be in it, in
    plaintext), and whose lock file (or, if it has none, the folder itself) is older
    than :data:`SWEEP_AFTER_SECONDS` (so one being made is left alone). Called when a
    portal starts, before each new folder is made and by ``sipadu purge``. Returns how
    many were removed."""
    removed = 0
    try:
        names = os.listdir(root)
    except OSError:
        return 0
    for name in names:
        if name.startswith(SCRATCH_PREFIX):
            removed += _sweep(os.path.join(root, name))
    return removed


def _sweep(path: str) -> bool:
    """Remove the scratch folder ``path`` if it is left over (see :func:`sweep_scratch`)."""
    try:
        folder = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError:
        return False  # gone, not a folder, or not ours
    lock = -1
    try:
        if os.fstat(folder).st_uid != os.getuid():
            return False
        with contextlib.suppress(FileNotFoundError):
            lock = os.open(LOCK_NAME, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=folder)
        try:
            # The folder itself: what servers locked before lock files.
            for holder in (folder, lock) if lock >= 0 else (folder,):
                fcntl.flock(holder, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            return False  # in use
        made = os.fstat(lock if lock >= 0 else folder).st_mtime
        if time.time() - made < SWEEP_AFTER_SECONDS:
            return False  # being made: its server is about to lock it
        return remove_scratch(path)
    finally:
        if lock >= 0:
            os.close(lock)
        os.close(folder)
