"""The machinery every converter runs under (sipadu.evidence.confinement): what a failing
source does to a child, that nothing a child started outlives it, and that scratch
folders never outlive their use. Real child processes, no mocks."""

import io
import os
import subprocess
import sys
import threading
import time

import pytest

from sipadu.crypto import CryptoError
from sipadu.evidence import docclean
from sipadu.evidence.confinement import (
    SWEEP_AFTER_SECONDS,
    Confinement,
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
    left = tmp_path / "sipadu-left"
    left.mkdir()
    (left / "document.docx").write_bytes(b"the reporter's file")
    os.utime(left, (old, old))
    young = tmp_path / "sipadu-young"  # being made: not yet locked
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
