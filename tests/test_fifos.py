"""Named pipes on the real kernel: unrelated programs, blocking and non-blocking open, many
writers and PIPE_BUF, a client/server with a reply FIFO per client, and bad input."""

import os
import select
import subprocess
import sys
import time

import pytest

from ipclab import fifos
from ipclab.fifo_peer import SERVER_FIFO


# -- facts -------------------------------------------------------------------------------
def test_nonblocking_open_for_writing_without_reader_fails_with_enxio():
    r = fifos.nonblocking_open()
    assert r.write_without_reader_errno == "ENXIO"
    assert r.read_without_writer_errno is None  # O_RDONLY|O_NONBLOCK succeeds
    assert r.read_without_writer_bytes == 0  # no writer yet: end of file, not EAGAIN
    assert r.write_with_reader_errno is None  # with a reader, the same open succeeds


@pytest.mark.parametrize("side", [
    pytest.param("read", marks=pytest.mark.slow),  # the other end opens after 0.3 s
    "write",
])
def test_open_blocks_until_the_other_end_opens(side):
    r = fifos.blocking_open(side, delay_s=0.3)
    assert r.side == side
    assert r.state_while_waiting == "sleeping"
    # The child's open() returned only once the parent opened the other end, which it did
    # 0.3 s after it saw the child asleep in open().
    assert r.other_end_delay_s == 0.3
    assert r.blocked_s >= 0.3
    if sys.platform.startswith("linux") and r.wait_channel:
        assert r.wait_channel == "wait_for_partner"


# -- unrelated programs ------------------------------------------------------------------
def test_unrelated_programs_exchange_a_message():
    r = fifos.unrelated_exchange("hello, stranger")
    assert r.received == b"hello, stranger"
    assert r.received_equals_sent and r.sent_bytes == r.received_bytes == 15
    assert r.writer_pid != r.reader_pid
    # Neither is the other's parent: both were started by this process, as programs.
    assert r.writer_parent_pid == r.reader_parent_pid == os.getpid()
    assert r.writer_parent_pid != r.reader_pid and r.reader_parent_pid != r.writer_pid


def test_unrelated_exchange_carries_binary_data_larger_than_a_pipe():
    message = bytes(range(256)) * 1000  # 256,000 bytes: several pipe-fulls
    r = fifos.unrelated_exchange(message)
    assert r.received_equals_sent and r.received == message


# -- several writers ---------------------------------------------------------------------
def test_records_up_to_pipe_buf_never_tear():
    size = select.PIPE_BUF  # from the C library's <limits.h>
    r = fifos.fifo_atomicity(size, writers=4, records_per_writer=100, read_size_bytes=size)
    assert r.pipe_buf_bytes == size
    assert r.records_received == 400
    assert r.records_torn == 0


def test_records_above_pipe_buf_tear_with_a_small_read_reader():
    size = select.PIPE_BUF + 1
    r = fifos.fifo_atomicity(size, writers=4, records_per_writer=200, read_size_bytes=size - 1)
    assert r.records_received == 800  # every byte arrived (how many tore is up to luck)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux's page rule")
def test_a_tear_forced_step_by_step_happens_every_time():
    page = os.sysconf("SC_PAGE_SIZE")
    for _ in range(3):
        t = fifos.forced_tear()
        assert t.capacity_bytes == page and t.record_bytes == page + 1 > t.pipe_buf_bytes
        assert t.records[0] == f"A×{page + 1}"  # split, but nobody else wrote in between
        assert t.records[1].startswith("B×1 C×1 ")  # the odd bytes of B and C, merged
        assert t.records_torn == 2 and len(t.records) == 3
        letters = "".join(run.split("×")[0] * int(run.split("×")[1])
                          for rec in t.records for run in rec.split())
        assert sorted(letters) == sorted("A" * (page + 1) + "B" * (page + 1) + "C" * (page + 1))


@pytest.mark.parametrize("bad, error", [(0, ValueError), (-1, ValueError), ("5", TypeError),
                                        (None, TypeError), (float("nan"), ValueError)])
def test_forced_tear_rejects_bad_input(bad, error):
    with pytest.raises(error, match="deadline_s"):
        fifos.forced_tear(deadline_s=bad)


# -- client/server -----------------------------------------------------------------------
def test_each_client_gets_its_own_replies():
    r = fifos.client_server(clients=3, requests_per_client=2, text="ping me")
    assert r.requests_served == 6
    assert r.replies_correct == 6 and len(r.replies) == 6
    pids = {reply.client_pid for reply in r.replies}
    assert len(pids) == 3 and r.server_pid not in pids
    for reply in r.replies:
        assert reply.reply.startswith(f"{reply.client_pid} ")  # addressed to this client
        assert reply.reply.endswith("PING ME")


# -- the peer program --------------------------------------------------------------------
def _peer(*args):
    return subprocess.run([sys.executable, "-m", "ipclab.fifo_peer", "--deadline", "5", *args],
                          capture_output=True, text=True, timeout=30)


def test_peer_rejects_a_fifo_in_a_missing_directory(tmp_path):
    done = _peer("read", str(tmp_path / "nowhere" / "x.fifo"))
    assert done.returncode == 2
    assert "does not exist" in done.stderr


def test_peer_rejects_a_directory_that_is_a_file(tmp_path):
    (tmp_path / "plain").write_text("")
    done = _peer("server", str(tmp_path / "plain"), "1")
    assert done.returncode == 2
    assert "not a directory" in done.stderr


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write into any directory")
def test_peer_rejects_a_directory_that_is_not_writable(tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    try:
        done = _peer("client", str(locked), "1", "hi")
        assert done.returncode == 2
        assert "not writable" in done.stderr
    finally:
        locked.chmod(0o700)


def test_peer_rejects_a_path_that_is_not_a_fifo(tmp_path):
    (tmp_path / "plain").write_text("")
    done = _peer("write", str(tmp_path / "plain"))
    assert done.returncode == 2
    assert "is not a FIFO" in done.stderr


def test_peer_server_needs_its_well_known_fifo(tmp_path):
    done = _peer("server", str(tmp_path), "1")
    assert done.returncode == 2
    assert SERVER_FIFO in done.stderr


# -- bad input ---------------------------------------------------------------------------
@pytest.mark.parametrize("kwargs, error, words", [
    (dict(message=b""), ValueError, "message"),
    (dict(message=123), TypeError, "message"),
    (dict(message=b"x" * (1024 * 1024 + 1)), ValueError, "1 MiB"),
    (dict(deadline_s=0), ValueError, "deadline_s"),
    (dict(deadline_s="10"), TypeError, "deadline_s"),
])
def test_unrelated_exchange_rejects_bad_input(kwargs, error, words):
    with pytest.raises(error, match=words):
        fifos.unrelated_exchange(**kwargs)


@pytest.mark.parametrize("kwargs, error, words", [
    (dict(side="both"), ValueError, "side"),
    (dict(delay_s=0), ValueError, "delay_s"),
    (dict(delay_s=61), ValueError, "delay_s"),
    (dict(delay_s=None), TypeError, "delay_s"),
    (dict(delay_s=2.0, deadline_s=1.0), ValueError, "deadline_s"),
])
def test_blocking_open_rejects_bad_input(kwargs, error, words):
    with pytest.raises(error, match=words):
        fifos.blocking_open(**kwargs)


@pytest.mark.parametrize("kwargs, error, words", [
    (dict(record_bytes=0), ValueError, "record_bytes"),
    (dict(record_bytes=4.5), TypeError, "record_bytes"),
    (dict(writers=0), ValueError, "writers"),
    (dict(writers=65), ValueError, "writers"),
    (dict(records_per_writer=0), ValueError, "records_per_writer"),
    (dict(read_size_bytes=0), ValueError, "read_size_bytes"),
    (dict(deadline_s=-1), ValueError, "deadline_s"),
    (dict(record_bytes=4 * 1024 * 1024, writers=64, records_per_writer=100), ValueError, "1 GiB"),
])
def test_fifo_atomicity_rejects_bad_input(kwargs, error, words):
    with pytest.raises(error, match=words):
        fifos.fifo_atomicity(**kwargs)


@pytest.mark.parametrize("kwargs, error, words", [
    (dict(clients=0), ValueError, "clients"),
    (dict(clients=17), ValueError, "clients"),
    (dict(requests_per_client=0), ValueError, "requests_per_client"),
    (dict(text=""), ValueError, "text"),
    (dict(text="two\nlines"), ValueError, "text"),
    (dict(text="x" * 1000), ValueError, "text"),
    (dict(text=b"bytes"), TypeError, "text"),
    (dict(deadline_s=0.5), ValueError, "deadline_s"),
])
def test_client_server_rejects_bad_input(kwargs, error, words):
    with pytest.raises(error, match=words):
        fifos.client_server(**kwargs)


# -- starting unrelated programs (ipclab.process.start_program) --------------------------
@pytest.mark.slow  # waits for the deadline: 0.5 s
def test_program_past_its_deadline_is_killed_with_its_group():
    import psutil

    from ipclab.errors import ChildTimeoutError
    from ipclab.process import run_program

    end = run_program(["sh", "-c", "sleep 30 & echo $!; wait"], deadline_s=0.5)
    assert end.timed_out and end.exit_status == -9
    grandchild = int(end.stdout.split()[0])

    def gone():  # killed with the group (a zombie until init reaps it)
        try:
            return psutil.Process(grandchild).status() == psutil.STATUS_ZOMBIE
        except psutil.NoSuchProcess:
            return True

    deadline = time.monotonic() + 5
    while not gone() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert gone()
    with pytest.raises(ChildTimeoutError):
        end.check()


def test_program_exit_status_and_output():
    from ipclab.errors import ChildFailedError
    from ipclab.process import run_program

    end = run_program([sys.executable, "-c",
                       "import sys; sys.stdout.write(sys.stdin.read()[::-1]); sys.exit(3)"],
                      deadline_s=20, input=b"abc")
    assert (end.exit_status, end.stdout, end.timed_out) == (3, b"cba", False)
    with pytest.raises(ChildFailedError, match="exit status 3"):
        end.check()
    assert run_program(["true"], deadline_s=20).check().exit_status == 0


@pytest.mark.parametrize("argv, kwargs, error", [
    ("sleep 1", {}, TypeError),
    ([], {}, TypeError),
    (["sleep", 1], {}, TypeError),
    (["true"], dict(deadline_s=0), ValueError),
    (["true"], dict(input="text"), TypeError),
])
def test_start_program_rejects_bad_input(argv, kwargs, error):
    from ipclab.process import start_program

    with pytest.raises(error):
        start_program(argv, **kwargs)
