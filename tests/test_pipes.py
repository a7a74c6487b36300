"""Pipe experiments (ipclab.pipes) against the real kernel: capacity, the page rule for what
fits, F_SETPIPE_SZ rounding and its limit, blocking readers and writers, EOF, EPIPE and
SIGPIPE, PIPE_BUF atomicity and the live fill level."""

from __future__ import annotations

import errno
import fcntl
import os

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from ipclab import pipes
from ipclab.errors import LimitError

linux_only = pytest.mark.skipif(not hasattr(fcntl, "F_GETPIPE_SZ"), reason="needs F_GETPIPE_SZ")

PAGE = os.sysconf("SC_PAGE_SIZE")


def _raw_capacity() -> int:
    """F_GETPIPE_SZ of a new pipe, asked without ipclab."""
    r, w = os.pipe()
    try:
        return fcntl.fcntl(r, fcntl.F_GETPIPE_SZ)
    finally:
        os.close(r)
        os.close(w)


def _kernel_allows_above_max() -> bool:
    """Try F_SETPIPE_SZ above pipe-max-size ourselves: only a process with CAP_SYS_RESOURCE
    (in the initial user namespace) may. Root in a container usually may not."""
    r, w = os.pipe()
    try:
        fcntl.fcntl(r, fcntl.F_SETPIPE_SZ, pipes.pipe_max_size_bytes() + 1)
        return True
    except PermissionError:
        return False
    finally:
        os.close(r)
        os.close(w)


# -- limits and capacity -------------------------------------------------------------------
@linux_only
def test_capacity_is_65536_by_fcntl_and_by_filling():
    assert pipes.new_pipe_capacity_bytes() == _raw_capacity() == 65536
    filled = pipes.fill_pipe(1)
    assert filled.capacity_bytes == 65536
    assert filled.filled_bytes == 65536
    assert filled.writes == 65536 and filled.last_write_bytes == 1


def test_limits():
    assert pipes.pipe_buf_bytes() == 4096
    with open("/proc/sys/fs/pipe-max-size") as f:
        assert pipes.pipe_max_size_bytes() == int(f.read())


@linux_only
@pytest.mark.parametrize("write_size, filled, writes, last", [
    (100, 64_000, 640, 100),
    (4096, 65_536, 16, 4096),
    (4097, 45_066, 11, 4096),  # the last write is partial
    (2049, 32_784, 16, 2049),  # stack notes
    (4095, 65_520, 16, 4095),  # stack notes
    (1 << 20, 65_536, 1, 65_536),  # one write fills the pipe, partially
])
def test_fill_amounts(write_size, filled, writes, last):
    result = pipes.fill_pipe(write_size)
    assert result == pipes.FillResult(write_size, 65536, filled, writes, last)


@linux_only
@settings(max_examples=30, deadline=None, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.integers(1, 4096))
@example(1)
@example(100)
@example(2049)
@example(4095)
@example(4096)
def test_fill_follows_the_page_rule(size):
    """A write of up to PIPE_BUF shares a page only when it fits in the page's free space."""
    result = pipes.fill_pipe(size)
    capacity = result.capacity_bytes
    pages = capacity // PAGE
    assert result.filled_bytes == pages * (PAGE // size) * size
    assert result.filled_bytes <= capacity
    if PAGE % size == 0:
        assert result.filled_bytes == capacity


@linux_only
@settings(max_examples=15, deadline=None, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.integers(4097, 300_000))
def test_large_writes_never_overfill(size):
    result = pipes.fill_pipe(size)
    assert 0 < result.filled_bytes <= result.capacity_bytes
    assert result.last_write_bytes <= size


@linux_only
def test_fill_a_resized_pipe():
    result = pipes.fill_pipe(4096, pipe_size_bytes=5000)
    assert result.capacity_bytes == 8192  # rounded up to two pages
    assert result.filled_bytes == 8192


# -- resizing --------------------------------------------------------------------------------
@linux_only
@pytest.mark.parametrize("requested, granted", [
    (1, 4096), (4096, 4096), (4097, 8192), (65536, 65536), (65537, 131072),
    (3 * 4096, 4 * 4096),
])
def test_resize_rounds_up_to_power_of_two_pages(requested, granted):
    result = pipes.resize_pipe(requested)
    assert result.granted_bytes == granted
    assert result.error is None
    pages = granted // PAGE
    assert pages & (pages - 1) == 0
    assert ("granted as asked" in result.explanation) == (requested == granted)


@linux_only
def test_resize_up_to_the_limit_is_granted():
    limit = pipes.pipe_max_size_bytes()
    assert pipes.resize_pipe(limit).granted_bytes == limit


@linux_only
def test_resize_above_the_limit():
    limit = pipes.pipe_max_size_bytes()
    result = pipes.resize_pipe(limit + 1)
    if _kernel_allows_above_max():  # privileged: the kernel grants it, and ipclab says so
        assert result.error is None and result.granted_bytes >= limit + 1
    else:
        assert result.error == "EPERM"
        assert result.granted_bytes is None
        assert "/proc/sys/fs/pipe-max-size" in result.explanation
        assert str(limit) in result.explanation or f"{limit:,}" in result.explanation


@linux_only
def test_pipe_size_above_the_limit_is_a_value_error():
    limit = pipes.pipe_max_size_bytes()
    for call in (lambda: pipes.fill_pipe(1, pipe_size_bytes=limit + 1),
                 lambda: pipes.full_pipe_blocks_writer(pipe_size_bytes=limit + 1),
                 lambda: pipes.watch_pipe_fill(pipe_size_bytes=limit + 1)):
        with pytest.raises(ValueError, match=r"pipe_size_bytes .*/proc/sys/fs/pipe-max-size"):
            call()


def test_limit_error_is_an_oserror():
    assert issubclass(LimitError, OSError)


# -- blocking ----------------------------------------------------------------------------------
def test_empty_pipe_blocks_the_reader():
    delay = 0.3
    result = pipes.empty_pipe_blocks_reader(writer_delay_s=delay)
    assert result.state_while_waiting == "sleeping"
    assert result.blocked_seconds >= 0.8 * delay
    assert result.voluntary_switches_while_waiting <= 3  # asleep, not polling
    assert result.bytes_read == len(b"hello, reader")
    assert result.writer_delay_seconds == delay
    assert result.wait_channel == "" or "pipe" in result.wait_channel


@pytest.mark.parametrize("write_size", [4096, 1, 100, 4097])
def test_full_pipe_blocks_the_writer(write_size):
    result = pipes.full_pipe_blocks_writer(reader_delay_s=0.1, write_size_bytes=write_size)
    assert result.state_while_blocked == "sleeping"
    assert result.capacity_bytes == _raw_capacity()
    # A blocking writer stops where non-blocking writes get EAGAIN: the page rule again.
    assert result.bytes_before_block == pipes.fill_pipe(write_size).filled_bytes
    if write_size in (1, 4096):  # 1-byte writes pack pages as full as page-sized ones
        assert result.bytes_before_block == result.capacity_bytes
    assert result.total_bytes == result.capacity_bytes + 2 * write_size
    assert result.blocked_seconds >= 0.8 * 0.1
    assert result.wait_channel == "" or "pipe" in result.wait_channel


@linux_only
def test_full_resized_pipe_blocks_the_writer_at_its_size():
    result = pipes.full_pipe_blocks_writer(reader_delay_s=0.05, pipe_size_bytes=4096)
    assert result.capacity_bytes == 4096
    assert result.bytes_before_block == 4096


# -- EOF, EPIPE, SIGPIPE -------------------------------------------------------------------
def test_eof_when_every_write_end_is_closed():
    result = pipes.read_without_writer(close_unused_write_end=True)
    assert result.eof
    assert result.bytes_before_eof == len(b"last words")
    assert not result.parent_kept_write_end


def test_no_eof_while_the_parent_keeps_its_write_end():
    result = pipes.read_without_writer(close_unused_write_end=False, wait_s=0.2)
    assert not result.eof
    assert result.bytes_before_eof == len(b"last words")
    assert result.parent_kept_write_end
    assert result.waited_seconds >= 0.8 * 0.2


def test_write_without_reader_is_broken_pipe_error():
    result = pipes.write_without_reader("ignore")
    assert result.exception == "BrokenPipeError"
    assert result.errno_name == errno.errorcode[errno.EPIPE] == "EPIPE"
    assert result.exit_status == 0
    assert result.killed_by is None


def test_sigpipe_kills_a_writer_with_the_default_action():
    result = pipes.write_without_reader("default")
    assert result.exit_status == -13
    assert result.killed_by == "SIGPIPE"
    assert result.exception is None and result.errno_name is None


# -- PIPE_BUF -------------------------------------------------------------------------------
@pytest.mark.parametrize("record_bytes", [1, 512, 4096])
def test_writes_up_to_pipe_buf_never_tear(record_bytes):
    result = pipes.pipe_buf_atomicity(record_bytes, writers=4, records_per_writer=200)
    assert result.records_received == 800
    assert result.records_torn == 0
    assert result.pipe_buf_bytes == 4096


def test_writes_above_pipe_buf_tear_with_small_reads():
    # 4 writers, 4096-byte reads: in the stack notes' runs 4,097-byte records always tore
    # (about a quarter of them). 800 records make a run with none torn implausible.
    result = pipes.pipe_buf_atomicity(4097, writers=4, records_per_writer=200,
                                      read_size_bytes=4096)
    assert result.records_received == 800
    assert result.records_torn > 0


# -- fill level over time -------------------------------------------------------------------
def test_watch_pipe_fill_samples():
    samples = list(pipes.watch_pipe_fill(duration_s=0.6, reader_chunk_bytes=8192,
                                         reader_interval_s=0.1, sample_interval_s=0.01))
    assert len(samples) >= 10
    times = [s.t_seconds for s in samples]
    assert times == sorted(times) and len(set(times)) == len(times)
    assert all(0 <= s.t_seconds <= 0.6 + 0.5 for s in samples)
    capacity = samples[0].capacity_bytes
    assert capacity == _raw_capacity()
    assert all(0 <= s.fill_bytes <= s.capacity_bytes == capacity for s in samples)
    reads = [s.read_bytes for s in samples]
    assert reads == sorted(reads) and reads[-1] > 0
    assert any(s.writer_blocked for s in samples), "the writer never blocked on a slow reader"
    assert max(s.fill_bytes for s in samples) >= capacity - 4096
