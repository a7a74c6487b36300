"""Pipe experiments (ipclab.pipes) against the real kernel: capacity, the page rule for what
fits, F_SETPIPE_SZ rounding and its limit, blocking readers and writers, EOF, EPIPE and
SIGPIPE, PIPE_BUF atomicity and the live fill level."""

from __future__ import annotations

import errno
import fcntl
import os
import select

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from ipclab import pipes
from ipclab.errors import LimitError
from ipclab.exercises import pipe_fill_model

linux_only = pytest.mark.skipif(not hasattr(fcntl, "F_GETPIPE_SZ"), reason="needs F_GETPIPE_SZ")

# Kernel facts asked of the machine without ipclab, so the suite holds on any page size.
PAGE = os.sysconf("SC_PAGE_SIZE")
DEFAULT_PAGES = 16  # a new Linux pipe has 16 page buffers (PIPE_DEF_BUFFERS)
PIPE_BUF = select.PIPE_BUF  # from the C library's <limits.h>


def _granted(requested: int) -> int:
    """What F_SETPIPE_SZ grants: a power-of-two number of pages, one page at least."""
    pages = 1
    while pages * PAGE < requested:
        pages *= 2
    return pages * PAGE


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
def test_capacity_is_16_pages_by_fcntl_and_by_filling():
    capacity = DEFAULT_PAGES * PAGE  # 65,536 bytes with 4 KiB pages
    assert pipes.new_pipe_capacity_bytes() == _raw_capacity() == capacity
    filled = pipes.fill_pipe(1)
    assert filled.capacity_bytes == capacity
    assert filled.filled_bytes == capacity
    assert filled.writes == capacity and filled.last_write_bytes == 1


def test_limits():
    assert pipes.pipe_buf_bytes() == PIPE_BUF
    with open("/proc/sys/fs/pipe-max-size") as f:
        assert pipes.pipe_max_size_bytes() == int(f.read())


# What fits in a new pipe of 16 pages of 4 KiB (Linux 6.x; the stack notes' runs).
FILLS_WITH_4K_PAGES = [
    (100, 64_000, 640, 100),
    (4096, 65_536, 16, 4096),
    (4097, 45_066, 11, 4096),  # the last write is partial
    (2049, 32_784, 16, 2049),
    (4095, 65_520, 16, 4095),
    (1 << 20, 65_536, 1, 65_536),  # one write fills the pipe, partially
]


@pytest.mark.parametrize("write_size, filled, writes, last", FILLS_WITH_4K_PAGES)
def test_the_page_rule_model_gives_the_4k_page_amounts(write_size, filled, writes, last):
    assert pipe_fill_model(write_size, pages=16, page_bytes=4096, pipe_buf_bytes=4096) == filled


def _writes_and_last(write_size: int, filled: int) -> tuple:
    """Writes that fill ``filled`` bytes, and the size of the last: a write of at most
    PIPE_BUF is all or nothing, a larger one may be cut short."""
    if write_size <= PIPE_BUF:
        return filled // write_size, write_size
    writes = -(-filled // write_size)
    return writes, filled - (writes - 1) * write_size


@linux_only
@pytest.mark.parametrize("write_size", [row[0] for row in FILLS_WITH_4K_PAGES])
def test_fill_amounts(write_size):
    capacity = DEFAULT_PAGES * PAGE
    filled = pipe_fill_model(write_size, DEFAULT_PAGES, PAGE, PIPE_BUF)
    result = pipes.fill_pipe(write_size)
    assert result == pipes.FillResult(
        write_size, capacity, filled, *_writes_and_last(write_size, filled)
    )


@pytest.mark.slow  # 1.5 s: hypothesis over 4,096 sizes
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
    result = pipes.fill_pipe(PAGE, pipe_size_bytes=5000)
    assert result.capacity_bytes == _granted(5000)  # two pages of 4 KiB: 8,192
    assert result.filled_bytes == _granted(5000)


# -- resizing --------------------------------------------------------------------------------
@linux_only
@pytest.mark.parametrize("requested, granted", [
    (1, PAGE), (PAGE, PAGE), (PAGE + 1, 2 * PAGE), (16 * PAGE, 16 * PAGE),
    (16 * PAGE + 1, 32 * PAGE), (3 * PAGE, 4 * PAGE),
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


# -- the F_SETPIPE_SZ rule, with and without privilege ---------------------------------------
_REQUESTS = [1, PAGE - 1, PAGE, PAGE + 1, 5000, 65535, 65536, 65537, 3 * PAGE]


def _requests():
    limit = pipes.pipe_max_size_bytes()
    return _REQUESTS + [limit // 2 + 1, limit, limit + 1, 2 * limit, 4 * limit + 3]


def _measured_and_predicted(requests):
    """``[(requested, kernel's outcome, rule's outcome)]`` in the calling process."""
    out = []
    for n in requests:
        r = pipes.resize_pipe(n)
        out.append((n, r.granted_bytes if r.error is None else r.error, pipes.resize_rule(n)))
    return out


def _as_nobody(requests):
    """Drop to the unprivileged user ``nobody`` (this is a forked child), then measure."""
    import pwd

    user = pwd.getpwnam("nobody")
    os.setgroups([])
    os.setgid(user.pw_gid)
    os.setuid(user.pw_uid)
    assert os.geteuid() == user.pw_uid
    return pipes.may_exceed_pipe_max_size(), _measured_and_predicted(requests)


@linux_only
def test_the_rule_predicts_every_resize_in_this_process():
    """Whatever this process's privilege (a root grader with CAP_SYS_RESOURCE gets grants
    above pipe-max-size, root in a container gets EPERM), the rule says what happens."""
    results = _measured_and_predicted(_requests())
    assert [m for _, m, _ in results] == [p for _, _, p in results], results
    above = [m for n, m, _ in results if n > pipes.pipe_max_size_bytes()]
    assert all(m == "EPERM" for m in above) != bool(pipes.may_exceed_pipe_max_size())
    assert pipes.may_exceed_pipe_max_size() is _kernel_allows_above_max()


@linux_only
@pytest.mark.skipif(os.geteuid() != 0, reason="only root can become nobody")
def test_the_rule_predicts_every_resize_of_an_unprivileged_user():
    from ipclab.process import call_in_child

    privileged, results = call_in_child(_as_nobody, _requests(), deadline_s=20)
    assert privileged is False
    assert [m for _, m, _ in results] == [p for _, _, p in results], results
    limit = pipes.pipe_max_size_bytes()
    assert [m for n, m, _ in results if n > limit] == ["EPERM"] * 3


@linux_only
def test_the_rule_predicts_every_resize_inside_a_user_namespace():
    """Root of a user namespace (rootless containers) holds CAP_SYS_RESOURCE there, which the
    kernel ignores for pipe-max-size: the rule must not be fooled by the capability bits."""
    import shutil
    import subprocess
    import sys

    if not shutil.which("unshare"):
        pytest.skip("needs unshare(1)")
    code = ("import json; from ipclab import pipes\n"
            "caps = open('/proc/self/status').read().split('CapEff:')[1].split()[0]\n"
            f"reqs = {_requests()!r}\n"
            "out = [(pipes.resize_pipe(n).granted_bytes or pipes.resize_pipe(n).error,"
            " pipes.resize_rule(n)) for n in reqs]\n"
            "print(json.dumps([int(caps, 16) >> 24 & 1, pipes.may_exceed_pipe_max_size(), out]))\n")
    done = subprocess.run(["unshare", "--user", "--map-root-user", sys.executable, "-c", code],
                          capture_output=True, text=True, timeout=60)
    if done.returncode != 0 and "unshare" in done.stderr:
        pytest.skip(f"user namespaces unavailable here: {done.stderr.strip()[:200]}")
    import json

    cap_bit, privileged, out = json.loads(done.stdout)
    assert cap_bit == 1, "root of a new user namespace holds every capability there"
    assert privileged is False
    assert [m for m, _ in out] == [p for _, p in out], out


@pytest.mark.parametrize("requested, kwargs, expected", [
    (1, {}, 4096), (4097, {}, 8192), (65537, {}, 131072), (1 << 20, {}, 1 << 20),
    ((1 << 20) + 1, {}, "EPERM"), ((1 << 20) + 1, {"privileged": True}, 2 << 20),
    (1 << 30, {"privileged": True}, 1 << 30), ((1 << 31) + 1, {"privileged": True}, "EINVAL"),
    (8192, {"limit_bytes": 4096}, 8192),  # shrinking a 64 KiB pipe is always allowed
    (131072, {"limit_bytes": 4096}, "EPERM"),  # growing it beyond the limit is not
    (1, {"page_bytes": 16384, "current_bytes": 262144}, 16384),  # 16 KiB pages
    (100_000, {"page_bytes": 65536, "current_bytes": 1 << 20}, 131072),
])
def test_resize_rule_cases(requested, kwargs, expected):
    kw = {"page_bytes": 4096, "limit_bytes": 1 << 20, "current_bytes": 65536,
          "privileged": False, **kwargs}
    assert pipes.resize_rule(requested, **kw) == expected


def test_limit_error_is_an_oserror():
    assert issubclass(LimitError, OSError)


# -- blocking ----------------------------------------------------------------------------------
def test_empty_pipe_blocks_the_reader():
    delay = 0.3
    result = pipes.empty_pipe_blocks_reader(writer_delay_s=delay)
    assert result.state_while_waiting == "sleeping"
    assert result.blocked_s >= 0.8 * delay
    assert result.voluntary_switches_while_waiting <= 3  # asleep, not polling
    assert result.bytes_read == len(b"hello, reader")
    assert result.writer_delay_s == delay
    assert result.wait_channel == "" or "pipe" in result.wait_channel


@pytest.mark.parametrize("write_size", [
    PAGE, pytest.param(1, marks=pytest.mark.slow), 100, PAGE + 1])  # 1 byte a write: 1.25 s
def test_full_pipe_blocks_the_writer(write_size):
    result = pipes.full_pipe_blocks_writer(reader_delay_s=0.1, write_size_bytes=write_size)
    assert result.state_while_blocked == "sleeping"
    assert result.capacity_bytes == _raw_capacity()
    # A blocking writer stops where non-blocking writes get EAGAIN: the page rule again.
    assert result.bytes_before_block == pipes.fill_pipe(write_size).filled_bytes
    if write_size in (1, PAGE):  # 1-byte writes pack pages as full as page-sized ones
        assert result.bytes_before_block == result.capacity_bytes
    assert result.total_bytes == result.capacity_bytes + 2 * write_size
    assert result.blocked_s >= 0.8 * 0.1
    assert result.wait_channel == "" or "pipe" in result.wait_channel


@linux_only
def test_full_resized_pipe_blocks_the_writer_at_its_size():
    result = pipes.full_pipe_blocks_writer(reader_delay_s=0.05, pipe_size_bytes=PAGE)
    assert result.capacity_bytes == PAGE
    assert result.bytes_before_block == PAGE


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
    assert result.waited_s >= 0.8 * 0.2


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
@pytest.mark.parametrize("record_bytes", [1, 512, PIPE_BUF])
def test_writes_up_to_pipe_buf_never_tear(record_bytes):
    result = pipes.pipe_buf_atomicity(record_bytes, writers=4, records_per_writer=200)
    assert result.records_received == 800
    assert result.records_torn == 0
    assert result.pipe_buf_bytes == PIPE_BUF


def test_writes_above_pipe_buf_tear_with_small_reads():
    # 4 writers, 4096-byte reads: in the stack notes' runs 4,097-byte records always tore
    # (about a quarter of them). 800 records make a run with none torn implausible.
    result = pipes.pipe_buf_atomicity(PIPE_BUF + 1, writers=4, records_per_writer=200,
                                      read_size_bytes=PIPE_BUF)
    assert result.records_received == 800
    assert result.records_torn > 0


# -- SIGPIPE through a shell started from Python ----------------------------------------------
def test_a_shell_from_subprocess_lets_sigpipe_stop_yes():
    r = pipes.yes_head_from_python("subprocess")
    assert r.output == "y"
    assert r.shell_ignored_sigpipe is False  # subprocess reset it before exec
    assert r.yes_killed_by == "SIGPIPE" and r.yes_shell_status == 128 + 13
    assert r.yes_stderr == ""


def test_a_shell_from_os_system_keeps_sigpipe_ignored_and_yes_gets_epipe():
    r = pipes.yes_head_from_python("os.system")
    assert r.output == "y"
    assert r.shell_ignored_sigpipe is True  # inherited from Python, kept by the shell
    assert r.yes_killed_by is None and r.yes_shell_status not in (0, 128 + 13)
    assert "Broken pipe" in r.yes_stderr or "EPIPE" in r.yes_stderr or r.yes_stderr


# -- fill level over time -------------------------------------------------------------------
@pytest.mark.slow  # 0.7 s: a real fill sampled over time
def test_watch_pipe_fill_samples():
    samples = list(pipes.watch_pipe_fill(duration_s=0.6, reader_chunk_bytes=8192,
                                         reader_interval_s=0.1, sample_interval_s=0.01))
    assert len(samples) >= 10
    times = [s.t_s for s in samples]
    assert times == sorted(times) and len(set(times)) == len(times)
    assert all(0 <= s.t_s <= 0.6 + 0.5 for s in samples)
    capacity = samples[0].capacity_bytes
    assert capacity == _raw_capacity()
    assert all(0 <= s.fill_bytes <= s.capacity_bytes == capacity for s in samples)
    reads = [s.read_bytes for s in samples]
    assert reads == sorted(reads) and reads[-1] > 0
    assert any(s.writer_blocked for s in samples), "the writer never blocked on a slow reader"
    assert max(s.fill_bytes for s in samples) >= capacity - 4096  # the writer's write size
