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
"""

import contextlib
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


@dataclass(frozen=True)
class Confinement:
    """A child's limits: address space (bytes), CPU time (seconds), and the largest file
    it may write (bytes; 0: none at all)."""

    memory_bytes: int
    cpu_seconds: int
    file_bytes: int = 0

    def argv(self) -> list[str]:
        return [str(self.memory_bytes), str(self.cpu_seconds), str(self.file_bytes)]

    @classmethod
    def from_argv(cls, args: list[str]) -> "Confinement":
        memory, cpu, files = (int(arg) for arg in args[:3])
        return cls(memory, cpu, files)


@dataclass(frozen=True)
class Finished:
    """How a child ended: its exit status (negative: killed by that signal) and the
    first :data:`STDERR_BYTES` of what it wrote on stderr."""

    status: int
    report: bytes


def confine(confinement: Confinement) -> None:
    """Child side, before any parser is imported: lower the priority, cap address space,
    CPU time and file size, no core dumps. Limits hold for the child's own children."""
    os.nice(10)  # cleaning yields the CPU to the portal's own requests
    memory, cpu = confinement.memory_bytes, confinement.cpu_seconds
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu))
    resource.setrlimit(resource.RLIMIT_FSIZE, (confinement.file_bytes, confinement.file_bytes))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def run(
    module: str,
    args: list[str],
    pieces: Iterable[bytes | memoryview],
    confinement: Confinement,
    write: Callable[[bytes], object],
    env: dict[str, str] | None = None,
) -> Finished:
    """Run ``python -m module *args`` (the child calls :func:`confine` with
    ``confinement``, passed after ``args``), feed it ``pieces`` on stdin, and pass its
    stdout to ``write`` piece by piece (nothing of it is held here). ``env`` is the
    child's whole environment (default: empty). A wall-clock watchdog ends a child that
    waits instead of working (the CPU limit ends a busy one).

    The child leads a session of its own; when this returns or raises, the child and
    every process of its session (whatever it started: LibreOffice, mat2, ffmpeg, and
    what they started) are dead (:func:`end_session`), so a scratch folder handed to the
    child can be removed with nothing left to write into it.

    Whatever ``write`` raises kills the child and is raised here; so is whatever
    iterating ``pieces`` raises (a stored file that fails its integrity check,
    ``CryptoError``): the child is killed at once and the error raised once it is
    reaped, never taken for a child that ran out of time."""
    argv = [sys.executable, "-m", module, *args, *confinement.argv()]
    child = subprocess.Popen(  # noqa: S603 — fixed argv; the file goes through stdin
        argv,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env or {},
        start_new_session=True,  # its session id is its pid: end_session finds its kin
    )
    failed: list[BaseException] = []
    watchdog = threading.Timer(confinement.cpu_seconds * 3 + 5, end_session, args=(child.pid,))
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
        watchdog.cancel()
        end_session(child.pid)
        status = child.wait()
        feeder.join()
        for pipe in (child.stdin, child.stdout, child.stderr):
            with contextlib.suppress(OSError):
                pipe.close()  # type: ignore[union-attr]
    if failed:
        raise failed[0]
    return Finished(status, report)


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


SCRATCH_PREFIX = "sipadu-"
# A folder of a server that died (killed, host crash while running) is swept once it is
# this old and no live process holds its lock: far more than the moment between making
# a folder and locking it, so a folder being made is never swept.
SWEEP_AFTER_SECONDS = 30


@contextlib.contextmanager
def scratch_directory(root: str = SCRATCH_ROOT) -> Iterator[str]:
    """A new private (0700) folder under ``root`` for one child's files, deleted with
    everything in it when the block ends, whatever happened (:func:`remove_scratch`).
    Made and removed by the server around :func:`run` (never by a child, which may be
    killed before its own clean-up): the process that made it holds an exclusive
    ``flock`` on it while it is in use, so :func:`sweep_scratch` tells a folder left by
    a dead server from one in use. Folders left over are swept first."""
    sweep_scratch(root)
    path = tempfile.mkdtemp(prefix=SCRATCH_PREFIX, dir=root)
    holder = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        fcntl.flock(holder, fcntl.LOCK_EX)
        yield path
    finally:
        try:
            remove_scratch(path)
        finally:
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
    :data:`SCRATCH_PREFIX`, older than :data:`SWEEP_AFTER_SECONDS`, and whose lock no
    live process holds (the server that made it died before it could remove it; the
    reporter's file may be in it, in plaintext). Called before each new folder is made
    and when a portal starts. Returns how many were removed."""
    removed = 0
    try:
        names = os.listdir(root)
    except OSError:
        return 0
    for name in names:
        if not name.startswith(SCRATCH_PREFIX):
            continue
        path = os.path.join(root, name)
        try:
            holder = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
        except OSError:
            continue  # gone, not a folder, or not ours
        try:
            found = os.fstat(holder)
            if found.st_uid != os.getuid() or time.time() - found.st_mtime < SWEEP_AFTER_SECONDS:
                continue
            try:
                fcntl.flock(holder, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                continue  # in use
            removed += remove_scratch(path)
        finally:
            os.close(holder)
    return removed
