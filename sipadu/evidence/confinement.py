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
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
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
    waits instead of working (the CPU limit ends a busy one). Whatever ``write`` raises
    kills the child and is raised here."""
    argv = [sys.executable, "-m", module, *args, *confinement.argv()]
    child = subprocess.Popen(  # noqa: S603 — fixed argv; the file goes through stdin
        argv,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env or {},
    )
    watchdog = threading.Timer(confinement.cpu_seconds * 3 + 5, child.kill)
    feeder = threading.Thread(target=_feed, args=(child, pieces), daemon=True)
    watchdog.start()
    feeder.start()
    try:
        while piece := child.stdout.read(READ_BYTES):  # type: ignore[union-attr]
            write(piece)
        status = child.wait()
        report = child.stderr.read(STDERR_BYTES)  # type: ignore[union-attr]
    finally:
        watchdog.cancel()
        if child.poll() is None:
            child.kill()
            child.wait()
        feeder.join()
        for pipe in (child.stdin, child.stdout, child.stderr):
            with contextlib.suppress(OSError):
                pipe.close()  # type: ignore[union-attr]
    return Finished(status, report)


def _feed(child: "subprocess.Popen[bytes]", pieces: Iterable[bytes | memoryview]) -> None:
    try:
        for piece in pieces:
            child.stdin.write(piece)  # type: ignore[union-attr]
        child.stdin.close()  # type: ignore[union-attr]
    except (BrokenPipeError, ValueError, OSError):
        pass  # the child stopped reading (or was killed): its exit status says why


# A memory file system: what a child writes there never reaches a disk (unless the host
# swaps). docs/deploy.md asks for /dev/shm or another tmpfs.
SCRATCH_ROOT = "/dev/shm"  # noqa: S108 — a private 0700 folder is made inside it


@contextlib.contextmanager
def scratch_directory(root: str = SCRATCH_ROOT) -> Iterator[str]:
    """A new private (0700) folder under ``root`` for one child's files, deleted with
    everything in it when the block ends, whatever happened."""
    path = tempfile.mkdtemp(prefix="sipadu-", dir=root)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)
