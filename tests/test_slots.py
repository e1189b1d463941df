"""Host-wide slot pools bound expensive work across threads and processes."""

import subprocess
import sys
import threading
import time

import pytest

from sipadu.persistence.slots import Busy, SlotPool


def test_a_pool_never_has_more_holders_than_slots(tmp_path):
    pool = SlotPool(tmp_path / "pool", size=2, waiting=8)
    inside, peak, lock = [0], [0], threading.Lock()

    def work():
        with pool.slot(wait_seconds=10):
            with lock:
                inside[0] += 1
                peak[0] = max(peak[0], inside[0])
            time.sleep(0.05)
            with lock:
                inside[0] -= 1

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert peak[0] == 2


def test_a_full_queue_is_refused_at_once_and_a_wait_ends_in_busy(tmp_path):
    pool = SlotPool(tmp_path / "pool", size=1, waiting=0, retry_after=30)
    with pool.slot(wait_seconds=1):
        started = time.monotonic()
        with pytest.raises(Busy) as refused, pool.slot(wait_seconds=5):
            pass
        assert time.monotonic() - started < 0.5  # no place in the queue: no waiting
        assert refused.value.retry_after == 30
    queued = SlotPool(tmp_path / "queued", size=1, waiting=1)
    with queued.slot(wait_seconds=1):
        started = time.monotonic()
        with pytest.raises(Busy), queued.slot(wait_seconds=0.3):
            pass
        assert 0.3 <= time.monotonic() - started < 2


def test_slots_are_shared_with_other_processes_and_freed_when_they_die(tmp_path):
    directory = tmp_path / "pool"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time, pathlib\n"
            "from sipadu.persistence.slots import SlotPool\n"
            f"pool = SlotPool(pathlib.Path({str(directory)!r}), size=1, waiting=0)\n"
            "with pool.slot(wait_seconds=1):\n"
            "    print('held', flush=True); time.sleep(60)\n",
        ],
        stdout=subprocess.PIPE,
    )
    try:
        assert holder.stdout.readline().strip() == b"held"
        pool = SlotPool(directory, size=1, waiting=0)
        assert pool.in_use() == 1
        with pytest.raises(Busy), pool.slot(wait_seconds=0.1):
            pass
        holder.kill()  # SIGKILL: no cleanup runs, the kernel releases the lock
        holder.wait()
        with pool.slot(wait_seconds=1):
            assert pool.in_use() == 1
        assert pool.in_use() == 0
    finally:
        holder.kill()


def test_lanes_reserve_their_own_slots_and_share_the_rest_within_the_total(tmp_path):
    from sipadu.persistence.slots import lanes

    pools = lanes(tmp_path / "lanes", total=3, waiting=0, reserved={"a": 1, "b": 1})
    with pools["a"].slot(0), pools["a"].slot(0):  # a's own slot and the shared one
        with pytest.raises(Busy):
            with pools["a"].slot(0):
                pass
        with pools["b"].slot(0):  # b's reserved slot is still free
            assert pools["a"].in_use() + pools["b"].in_use() - 1 == 3  # shared counted twice
            with pytest.raises(Busy):
                with pools["b"].slot(0):
                    pass
    with pytest.raises(ValueError):
        lanes(tmp_path / "over", total=1, waiting=0, reserved={"a": 1, "b": 1})
