"""Shared memory on the real kernel: segments, a verified transfer with a blocking handoff,
and the race on a shared counter (lost without a lock, exact with one)."""

import os
import secrets

import psutil
import pytest

from ipclab import shm
from ipclab._resources import SHM_TAG_ENV
from ipclab.shm import Segment


def _shm_names() -> set:
    return set(os.listdir("/dev/shm")) if os.path.isdir("/dev/shm") else set()


def _no_resource_tracker():
    for p in psutil.Process().children(recursive=True):
        try:
            assert "resource_tracker" not in " ".join(p.cmdline())
        except psutil.NoSuchProcess:
            pass


# -- segments ----------------------------------------------------------------------------
@pytest.mark.skipif(not os.path.isdir("/dev/shm"), reason="segments are not files here")
def test_segment_has_a_name_while_open_and_none_after_close():
    with Segment.create(4096) as seg:
        assert seg.name.startswith("ipclab_")
        assert seg.name in _shm_names()
        other = Segment.attach(seg.name, 4096)  # as another process would: by name
        other.map[:5] = b"hello"
        assert seg.map[:5] == b"hello"  # one memory, two mappings
        other.close()
    assert seg.name not in _shm_names()
    seg.close()  # twice is fine


def test_segment_attach_to_a_missing_name_fails():
    with pytest.raises(FileNotFoundError):
        Segment.attach("ipclab_no_such_segment", 4096)


# -- transfer ----------------------------------------------------------------------------
@pytest.mark.parametrize("total, message, slots", [
    (1 << 20, 4096, 2),  # 256 messages through 2 slots
    (10_001, 100, 1),  # rounded up to 101 messages; one slot: strict ping-pong
    (1000, 5, 3),  # messages too small for a sequence number: CRC only
])
def test_transfer_delivers_the_same_bytes(total, message, slots, monkeypatch):
    tag = "t" + secrets.token_hex(4)  # our segments' names start with ipclab_<tag>
    monkeypatch.setenv(SHM_TAG_ENV, tag)
    r = shm.shm_transfer(total, message, slots)
    assert r.messages == -(-total // message)
    assert r.total_bytes == r.messages * message
    assert r.writer_crc32 == r.reader_crc32
    assert r.content_verified
    assert r.wall_s > 0 and r.bytes_per_s > 0
    assert r.writer_cpu_s >= 0 and r.reader_cpu_s >= 0
    assert 0 <= r.writer_waits <= r.messages and 0 <= r.reader_waits <= r.messages
    assert not [n for n in _shm_names() if n.startswith(f"ipclab_{tag}")]  # unlinked
    _no_resource_tracker()


@pytest.mark.parametrize("kwargs, error, words", [
    (dict(total_bytes=0), ValueError, "total_bytes"),
    (dict(total_bytes=-1), ValueError, "total_bytes"),
    (dict(total_bytes=1.5), TypeError, "total_bytes"),
    (dict(message_bytes=0), ValueError, "message_bytes"),
    (dict(message_bytes=65 * 1024 * 1024), ValueError, "message_bytes"),
    (dict(slots=0), ValueError, "slots"),
    (dict(slots=1025), ValueError, "slots"),
    (dict(message_bytes=64 * 1024 * 1024, slots=17), ValueError, "1 GiB"),
    (dict(deadline_s=0), ValueError, "deadline_s"),
])
def test_transfer_rejects_bad_input(kwargs, error, words):
    with pytest.raises(error, match=words):
        shm.shm_transfer(**kwargs)


# -- the race ----------------------------------------------------------------------------
def test_counter_without_lock_loses_updates():
    # Unpinned, the processes run at once on different CPUs (2 here) and their load-add-store
    # sequences overlap all the time: tens of thousands lost. (Pinned to one CPU, only a
    # switch between a load and its store loses one, which may not happen in a short run.)
    r = shm.counter_race(processes=4, increments=200_000, lock=False)
    assert r.expected_count == 800_000
    assert r.lost_updates > 0
    assert r.final_count + r.lost_updates == r.expected_count
    assert 0 < r.final_count < r.expected_count
    assert not r.locked


def test_counter_with_lock_loses_nothing():
    r = shm.counter_race(processes=3, increments=20_000, lock=True)
    assert r.final_count == r.expected_count == 60_000
    assert r.lost_updates == 0 and r.locked
    _no_resource_tracker()


def test_one_process_cannot_race():
    r = shm.counter_race(processes=1, increments=50_000)
    assert r.final_count == 50_000 and r.lost_updates == 0


@pytest.mark.parametrize("kwargs, error, words", [
    (dict(processes=0), ValueError, "processes"),
    (dict(processes=65), ValueError, "processes"),
    (dict(processes="4"), TypeError, "processes"),
    (dict(increments=0), ValueError, "increments"),
    (dict(increments=10_000_001), ValueError, "increments"),
    (dict(lock="yes"), TypeError, "lock"),
    (dict(lock=1), TypeError, "lock"),
    (dict(deadline_s=601), ValueError, "deadline_s"),
])
def test_counter_race_rejects_bad_input(kwargs, error, words):
    with pytest.raises(error, match=words):
        shm.counter_race(**kwargs)


# -- one lost update, forced -------------------------------------------------------------
def test_forced_interleaving_loses_exactly_one_update_every_time():
    for _ in range(3):  # not luck: the same steps and the same count on every run
        r = shm.forced_lost_update()
        assert r.steps == ("A loads 0", "B loads 0", "B stores 1", "A stores 1")
        assert (r.expected_count, r.final_count, r.lost_updates) == (2, 1, 1)
    _no_resource_tracker()


@pytest.mark.parametrize("deadline_s, error", [(0, ValueError), (601, ValueError),
                                               ("1", TypeError)])
def test_forced_lost_update_rejects_bad_input(deadline_s, error):
    with pytest.raises(error, match="deadline_s"):
        shm.forced_lost_update(deadline_s)


def test_a_one_slot_ring_makes_someone_wait():
    # One slot: after each message the writer needs the reader to free it, and the reader
    # needs the writer to fill it; the two cannot both always find their turn ready.
    # Strictly alternating, each message is a handoff and some side must sleep for it.
    r = shm.shm_transfer(total_bytes=64 * 200, message_bytes=64, slots=1)
    assert r.content_verified
    assert r.writer_waits + r.reader_waits > 0
