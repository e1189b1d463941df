"""The machinery every converter runs under (sipadu.evidence.confinement): what a failing
source does to a child, that nothing a child started outlives it, and that scratch
folders never outlive their use. Real child processes, no mocks."""

import io
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from sipadu.crypto import CryptoError
from sipadu.evidence import docclean
from sipadu.evidence.confinement import (
    LOCK_NAME,
    SCRATCH_PREFIX,
    SERVER_GONE_EXIT,
    SWEEP_AFTER_SECONDS,
    Confinement,
    _members,
    end_session,
    run,
    scratch_directory,
    sweep_scratch,
)
from sipadu.evidence.outcome import Kind

MIB = 1024 * 1024


def test_a_source_that_fails_midway_ends_the_child_at_once_and_its_error_is_raised(
    tmp_path, monkeypatch
):
    """A stored file that fails its check half-way (the decrypting iterator raises
    CryptoError): the child, waiting for the rest, is killed at once (not by the
    watchdog, 95 s here) and run raises that very error, logged by no thread."""
    unhandled: list[BaseException | None] = []
    monkeypatch.setattr(threading, "excepthook", lambda args: unhandled.append(args.exc_value))

    def pieces():
        yield b"PK\x03\x04" + bytes(64 * 1024)
        raise CryptoError("altered")

    out = io.BytesIO()
    started = time.monotonic()
    with scratch_directory(str(tmp_path)) as scratch:
        with pytest.raises(CryptoError):
            run(
                "sipadu.evidence.docclean",
                [Kind.DOCX.value, scratch],
                pieces(),
                Confinement(512 * MIB, 30, 64 * MIB),
                out.write,
            )
    assert time.monotonic() - started < 5
    assert unhandled == []
    assert out.getvalue() == b""
    assert os.listdir(tmp_path) == []


def test_the_error_reaches_the_caller_of_a_converter_not_a_refusal(tmp_path):
    """The same through docclean.clean (uploads' cleaning): the error, not TooCostly."""

    def pieces():
        yield b"PK\x03\x04"
        raise CryptoError("altered")

    with pytest.raises(CryptoError):
        docclean.clean(
            pieces(), Kind.DOCX, Confinement(512 * MIB, 30, 64 * MIB), io.BytesIO().write,
            scratch_root=str(tmp_path),
        )  # fmt: skip
    assert os.listdir(tmp_path) == []


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            state = handle.read().rsplit(b")", 1)[1].split()[0]
    except OSError:
        return False
    return state not in (b"Z", b"X")


def test_end_session_ends_grandchildren_in_groups_of_their_own(tmp_path):
    """A child that starts a process in a group of its own (as docclean's tools and
    LibreOffice are), which starts one more: all three are dead when end_session
    returns, though the child was never killed itself first."""
    pids = tmp_path / "pids"
    script = (
        "import os, subprocess, sys, time\n"
        "tool = subprocess.Popen([sys.executable, '-c', "
        '\'import subprocess, sys, time; p = subprocess.Popen([sys.executable, "-c", '
        '"import time; time.sleep(60)"]); print(p.pid, flush=True); time.sleep(60)\'], '
        "process_group=0, stdout=subprocess.PIPE)\n"
        "inner = tool.stdout.readline().decode().strip()\n"
        f"open({str(pids)!r}, 'w').write(f'{{tool.pid}} {{inner}}')\n"
        "time.sleep(60)\n"
    )
    child = subprocess.Popen([sys.executable, "-c", script], start_new_session=True)
    deadline = time.monotonic() + 20
    while not (pids.exists() and len(pids.read_text().split()) == 2):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    tool, inner = (int(pid) for pid in pids.read_text().split())
    assert _alive(tool) and _alive(inner)
    try:
        assert end_session(child.pid)
        assert not _alive(child.pid) and not _alive(tool) and not _alive(inner)
    finally:
        child.kill()
        child.wait()


def test_a_folder_left_by_a_dead_server_is_swept_and_one_in_use_is_not(tmp_path):
    root = str(tmp_path)
    old = time.time() - SWEEP_AFTER_SECONDS - 60
    left = tmp_path / f"{SCRATCH_PREFIX}left"
    left.mkdir()
    (left / "document.docx").write_bytes(b"the reporter's file")
    os.utime(left, (old, old))
    young = tmp_path / f"{SCRATCH_PREFIX}young"  # being made: not yet locked
    young.mkdir()
    other = tmp_path / "not-ours"
    other.mkdir()
    os.utime(other, (old, old))
    with scratch_directory(root) as in_use:
        os.utime(in_use, (old, old))
        assert not left.exists()  # swept when a new folder was made
        assert sweep_scratch(root) == 0
        assert os.path.isdir(in_use) and young.exists() and other.exists()
    assert not os.path.exists(in_use)


def test_a_folder_whose_server_died_is_swept_at_once_however_lately_it_was_written(tmp_path):
    """The age that protects a folder being made is its lock file's (made before
    anything is written), not the folder's: a folder its dead server wrote into a
    moment ago goes at the next sweep; one whose lock file was just made, or that has
    none yet and was just made, stays."""
    root = str(tmp_path)
    old = time.time() - SWEEP_AFTER_SECONDS - 1
    left = tmp_path / f"{SCRATCH_PREFIX}left"
    left.mkdir()
    (left / LOCK_NAME).touch()
    os.utime(left / LOCK_NAME, (old, old))
    (left / "input.docx").write_bytes(b"the reporter's file, written just now")
    just_locked = tmp_path / f"{SCRATCH_PREFIX}just-locked"
    just_locked.mkdir()
    (just_locked / LOCK_NAME).touch()
    just_made = tmp_path / f"{SCRATCH_PREFIX}just-made"
    just_made.mkdir()
    unlocked = tmp_path / f"{SCRATCH_PREFIX}unlocked"  # its server died before making its lock file
    unlocked.mkdir()
    os.utime(unlocked, (old, old))
    # The portals' volatile folder (sessions, counters, slot pools) lives beside them
    # and is never swept, however old.
    volatile = tmp_path / "sipadu-1335f4a29312"
    volatile.mkdir()
    os.utime(volatile, (old, old))
    assert sweep_scratch(root) == 2
    assert not left.exists() and not unlocked.exists()
    assert just_locked.exists() and just_made.exists() and volatile.exists()


SERVER = """
import sys
from sipadu.evidence import docclean
from sipadu.evidence.confinement import Confinement
from sipadu.evidence.outcome import Kind
data = sys.stdin.buffer.read()
docclean.clean([data], Kind.PDF, Confinement(1024 << 20, 60, 256 << 20), lambda piece: None,
               scratch_root=sys.argv[1])
"""


def slow_pdf() -> bytes:
    """A PDF of 3,000 pages, which keeps mat2 busy for seconds (an office file no
    longer runs any tool: officeclean cleans it in the child itself)."""
    from tests.test_document_cleaning import make_pdf

    return make_pdf(pages=3000)


def test_a_server_killed_mid_cleaning_leaves_no_process_and_no_folder(tmp_path):
    """The server (a gunicorn worker) is killed hard while mat2 works: its child gets
    its death signal, kills its tools and removes the scratch folder before it exits;
    nothing of the session is left running."""
    server = subprocess.Popen(
        [sys.executable, "-c", SERVER, str(tmp_path)],
        stdin=subprocess.PIPE,
        env={"PATH": os.environ.get("PATH", "/usr/bin:/bin")},
    )
    child = None
    try:
        server.stdin.write(slow_pdf())
        server.stdin.close()
        deadline = time.monotonic() + 20
        while child is None or not _busy(child):  # mat2 started: the file is in the folder
            assert time.monotonic() < deadline, "mat2 never started"
            time.sleep(0.05)
            children = Path(f"/proc/{server.pid}/task/{server.pid}/children").read_text()
            child = int(children.split()[0]) if children.split() else None
        assert [p.name for p in tmp_path.iterdir()]  # the scratch folder
        server.kill()
        server.wait()
        deadline = time.monotonic() + 10
        while (_members(child) or list(tmp_path.iterdir())) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert _members(child) == [] and list(tmp_path.iterdir()) == []
    finally:
        server.kill()
        server.wait()
        if child is not None:
            end_session(child)


def _busy(child: int) -> bool:
    """Whether the child started a tool (a process of its session besides itself)."""
    return any(pid != child for pid in _members(child))


def test_a_child_whose_server_died_before_it_started_removes_its_folder_and_ends(tmp_path):
    """The death signal cannot be set before the child runs: a child whose parent is
    no longer the server it was started by ends at once, its folder removed."""
    folder = tmp_path / "sipadu-x"
    folder.mkdir()
    (folder / "input.docx").write_bytes(b"the reporter's file")
    limits = Confinement(512 * MIB, 10, 64 * MIB)
    done = subprocess.run(
        # Started by "the server" of pid 1, not by this test: its server is gone.
        [
            sys.executable,
            "-m",
            "sipadu.evidence.docclean",
            "docx",
            str(folder),
            *limits.argv(),
            "1",
        ],
        input=b"PK",
        env={},
        capture_output=True,
        timeout=30,
        start_new_session=True,  # as run starts it: the session it ends is its own
    )
    assert done.returncode == SERVER_GONE_EXIT and done.stdout == b""
    assert not folder.exists()


def test_a_childs_tools_together_stay_within_its_cpu_limit():
    """Two tools burning CPU at once, each under the child's RLIMIT_CPU of 1 s: the
    watchdog counts the session's CPU time, so together they get about 1 s (not 2 s, nor
    the 8 s of the wall-clock watchdog), and the cost says so."""
    finished = run("tests.cpu_burner", [], [b""], Confinement(512 * MIB, 1, 0), lambda _: None)
    assert finished.status < 0  # killed
    assert 1.0 <= finished.cpu_seconds <= 1.6, finished
    assert finished.seconds < 4 and finished.cost == max(finished.seconds, finished.cpu_seconds)


def test_a_child_ends_at_its_wall_clock_deadline():
    finished = run(
        "tests.cpu_burner", [], [b""], Confinement(512 * MIB, 60, 0), lambda _: None, seconds=0.5
    )
    assert finished.status < 0 and 0.5 <= finished.seconds < 2
