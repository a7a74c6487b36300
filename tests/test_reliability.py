"""Reliability on the real kernel: interrupts, crashes, system limits, two users at once,
bad input everywhere, and a soak run. The autouse ``no_leaks`` fixture (conftest.py) checks
after every test that no child, fd, FIFO, temp dir or /dev/shm segment was left behind."""

from __future__ import annotations

import inspect
import json
import math
import os
import resource
import signal
import stat
import subprocess
import sys
import time

import psutil
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import ipclab
from ipclab import pipes, process
from ipclab._resources import open_pipe, private_dir, shm_name

from .blocking import BLOCKING, SOAK
from .helpers import SLACK, keyboard_interrupt_after


@pytest.mark.slow
# -- interrupts -----------------------------------------------------------------------------
@pytest.mark.parametrize("delay_s", [0.05, 0.6])
@pytest.mark.parametrize("mode", ["never", "always"], ids=["direct", "helper"])
@pytest.mark.parametrize("name", sorted(BLOCKING))
def test_interrupt_returns_within_a_second_and_leaves_nothing(name, mode, delay_s, monkeypatch):
    """Interrupted while starting (50 ms) or while blocked (600 ms), directly or in the helper
    process a Jupyter kernel uses."""
    monkeypatch.setenv("IPCLAB_ISOLATE", mode)
    with pytest.raises(KeyboardInterrupt), keyboard_interrupt_after(delay_s) as fired:
        BLOCKING[name]()
    back = time.monotonic() - fired[0]
    assert back < 1.0, f"{name}: control came back {back:.2f} s after the interrupt"


# -- crashes --------------------------------------------------------------------------------
def _write_forever(w: int) -> None:
    chunk = bytes(65536)
    while True:
        os.write(w, chunk)


@pytest.mark.slow
def test_child_killed_mid_transfer_is_reported_as_signal_9_and_the_next_experiment_works():
    with open_pipe() as (r, w):
        with process.start_child(_write_forever, w, pass_fds=(w,), deadline_s=30) as child:
            os.close(w)
            got = len(os.read(r, 65536))
            os.kill(child.pid, signal.SIGKILL)
            while (data := os.read(r, 1 << 16)):  # EOF comes: the parent never hangs
                got += len(data)
            end = child.wait()
        w = None  # noqa: F841 (closed above)
    assert got > 0
    assert end.exit_status == -9 and end.signal_name == "SIGKILL" and not end.timed_out
    with pytest.raises(ipclab.ChildFailedError, match="SIGKILL"):
        end.value()
    assert pipes.fill_pipe(4096).filled_bytes == pipes.new_pipe_capacity_bytes()


def _kill_the_helper(signum, frame):
    for p in psutil.Process().children():
        if "ipclab.helper_process" in " ".join(p.cmdline()):
            p.kill()


@pytest.mark.slow
def test_helper_killed_by_sigkill_is_reported_and_its_children_die_with_it(monkeypatch):
    monkeypatch.setenv("IPCLAB_ISOLATE", "always")
    old = signal.signal(signal.SIGALRM, _kill_the_helper)
    signal.setitimer(signal.ITIMER_REAL, 0.5)
    try:
        with pytest.raises(ipclab.ChildFailedError) as info:
            pipes.empty_pipe_blocks_reader(writer_delay_s=30, deadline_s=60)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
    assert info.value.exit_status == -9
    # The reader the helper had forked dies with it (PR_SET_PDEATHSIG): no orphan anywhere.
    deadline = time.monotonic() + 2
    while time.monotonic() < deadline and _orphans():
        time.sleep(0.05)
    assert not _orphans()
    assert pipes.write_without_reader("default").exit_status == -13


def _orphans() -> list:
    """ipclab children re-parented to init: processes running this test's interpreter
    whose parent is gone."""
    me = psutil.Process()
    found = []
    for p in psutil.process_iter(["ppid", "exe", "create_time"]):
        try:
            if (p.info["ppid"] == 1 and p.info["exe"] == me.exe()
                    and p.info["create_time"] >= me.create_time()):
                found.append(p.pid)
        except psutil.Error:
            pass
    return found


# -- limits ----------------------------------------------------------------------------------
def test_pipe_size_above_pipe_max_size_names_the_limit():
    limit = pipes.pipe_max_size_bytes()
    with pytest.raises(ValueError, match="pipe-max-size"):
        pipes.fill_pipe(1, pipe_size_bytes=limit + 1)
    res = pipes.resize_pipe(limit * 2)
    if res.error is None:
        pytest.skip("this process may grow pipes past pipe-max-size (CAP_SYS_RESOURCE)")
    assert res.error == "EPERM"
    assert "/proc/sys/fs/pipe-max-size" in res.explanation and f"{limit:,}" in res.explanation


def _with_few_fds(limit: int):
    resource.setrlimit(resource.RLIMIT_NOFILE, (limit, resource.getrlimit(resource.RLIMIT_NOFILE)[1]))
    hog = []
    try:
        while True:
            hog.append(os.open("/dev/null", os.O_RDONLY))
    except OSError:
        pass
    errors = []
    for experiment in (lambda: pipes.fill_pipe(1), lambda: pipes.write_without_reader()):
        try:
            experiment()
            errors.append(None)
        except ipclab.LimitError as exc:
            errors.append(str(exc))
    return errors


def test_too_many_open_files_gets_a_message_naming_rlimit_nofile():
    # In a child, so that the low limit and the hogged fds die with it.
    messages = process.call_in_child(_with_few_fds, 32, deadline_s=20)
    for msg in messages:
        assert msg is not None, "the experiment did not report running out of fds"
        assert "RLIMIT_NOFILE" in msg and "ulimit -n" in msg


def _over_pipe_user_pages_soft():
    if os.geteuid() == 0:  # root is exempt from the per-user pipe limits: become nobody
        os.setgroups([])
        os.setgid(65534)
        os.setuid(65534)
    with open("/proc/sys/fs/pipe-user-pages-soft") as f:
        soft_pages = int(f.read())
    if soft_pages == 0:
        return None
    held = [os.pipe() for _ in range(soft_pages // 16 + 8)]  # 16 pages each by default
    try:
        small = pipes.new_pipe_capacity_bytes()
        try:
            pipes.fill_pipe(1, pipe_size_bytes=65536)
            message = None
        except ipclab.LimitError as exc:
            message = str(exc)
        return small, message
    finally:
        for r, w in held:
            os.close(r)
            os.close(w)


@pytest.mark.skipif(not os.path.exists("/proc/sys/fs/pipe-user-pages-soft"), reason="Linux only")
def test_pipe_pages_above_pipe_user_pages_soft_shrink_new_pipes_and_say_why():
    if os.geteuid() != 0 and resource.getrlimit(resource.RLIMIT_NOFILE)[0] < 2200:
        pytest.skip("needs about 2,100 fds to pass the per-user pipe page limit")
    outcome = process.call_in_child(_over_pipe_user_pages_soft, deadline_s=30)
    if outcome is None:
        pytest.skip("pipe-user-pages-soft is 0 (no limit) here")
    small, message = outcome
    assert small < 65536, "past the soft limit, new pipes get fewer pages"
    assert message is not None and "pipe-user-pages-soft" in message


# -- two kernels at once -------------------------------------------------------------------
_KERNEL_SCRIPT = """
import json, ipclab
print(json.dumps({
    "capacity": ipclab.new_pipe_capacity_bytes(),
    "fill_100": ipclab.fill_pipe(100).filled_bytes,
    "eof": ipclab.read_without_writer().eof,
    "sigpipe": ipclab.write_without_reader("default").exit_status,
    "torn_4096": ipclab.pipe_buf_atomicity(4096, writers=3, records_per_writer=50).records_torn,
}))
"""


@pytest.mark.slow
def test_two_kernels_running_the_same_experiments_do_not_collide():
    env = dict(os.environ, IPCLAB_ISOLATE="always")  # as inside a Jupyter kernel
    procs = [subprocess.Popen([sys.executable, "-c", _KERNEL_SCRIPT], env=env,
                              stdout=subprocess.PIPE, text=True) for _ in range(2)]
    outs = [json.loads(p.communicate(timeout=120)[0]) for p in procs]
    capacity = pipes.new_pipe_capacity_bytes()
    for out in outs:
        assert out == {"capacity": capacity, "fill_100": pipes.fill_pipe(100).filled_bytes,
                       "eof": True, "sigpipe": -13, "torn_4096": 0}


def test_private_directories_are_owner_only_and_names_unguessable():
    with private_dir() as a, private_dir() as b:
        assert a != b
        for path in (a, b):
            assert stat.S_IMODE(os.stat(path).st_mode) == 0o700
            assert os.stat(path).st_uid == os.getuid()
    names = {shm_name() for _ in range(1000)}
    assert len(names) == 1000
    assert all(n.startswith("ipclab_") and len(n) >= len("ipclab_") + 16 for n in names)


# -- bad input everywhere ---------------------------------------------------------------------
def _public_experiments():
    """Every public function of the experiment modules that takes arguments."""
    seen = {}
    for module in _experiment_modules():
        for name in getattr(module, "__all__", []):
            func = getattr(module, name)
            if inspect.isfunction(func) and inspect.signature(func).parameters:
                seen[f"{module.__name__.split('.')[-1]}.{name}"] = func
    return seen


def _experiment_modules():
    import importlib

    for name in ("pipes", "fifos", "shm", "throughput", "webserver", "isolation", "speedup",
                 "pipeline", "facts"):
        try:
            yield importlib.import_module(f"ipclab.{name}")
        except ImportError:
            continue


BAD_NUMBERS = [0, -1, -0.5, math.nan, math.inf, 10**15, "1", None, True, 1.5]
#: Parameters that count something: zero, negative, fractional and absurd values are errors.
COUNTS = {"writers", "records_per_writer", "repeats", "processes", "increments", "requests",
          "concurrency", "pool_size", "workers", "clients", "round_trips", "messages"}

#: Parameters for which zero is meaningful (an empty HTTP body, no pause).
ZERO_OK = {"body_bytes", "writer_interval_s", "service_s"}


def _numeric_params(func):
    """Parameters that are sizes (``_bytes``), durations (``_s``) or counts."""
    for p in inspect.signature(func).parameters.values():
        if isinstance(p.default, bool):
            continue
        if p.name.endswith(("_bytes", "_s")) or p.name in COUNTS:
            yield p.name, p.default


CASES = [(qual, param, bad)
         for qual, func in _public_experiments().items()
         for param, default in _numeric_params(func)
         for bad in BAD_NUMBERS
         if not (bad == 1.5 and (isinstance(default, float) or param.endswith("_s")))
         and not (bad is None and default is None)
         and not (bad == 0 and not isinstance(bad, bool) and (default == 0 or param in ZERO_OK))]


#: Valid values for parameters that have no default, so that only the bad one is wrong.
REQUIRED = {"model": "prefork", "mechanism": "pipe", "write_size_bytes": 4096,
            "requested_bytes": 4096, "message_bytes": 64, "commands": [["true"]]}


def _valid_required(func, skip: str) -> dict:
    args = {}
    for p in inspect.signature(func).parameters.values():
        if p.default is inspect.Parameter.empty and p.name != skip and p.kind in (
                p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY):
            if p.name not in REQUIRED:
                pytest.skip(f"no known valid value for required parameter {p.name!r}")
            args[p.name] = REQUIRED[p.name]
    return args


def _fast_subset(cases: list) -> set:
    """One case per experiment stays in the fast tier (``-m "not slow"``), the bad value
    rotating through BAD_NUMBERS so that each kind is refused somewhere; the other ~900 are
    slow only by their number (10 ms each)."""
    quals = sorted({q for q, _, _ in cases})
    keep = set()
    for k, qual in enumerate(quals):
        mine = [c for c in cases if c[0] == qual]
        wanted = BAD_NUMBERS[k % len(BAD_NUMBERS)]
        keep.add(next((c for c in mine if repr(c[2]) == repr(wanted)), mine[0]))
    return keep


_FAST = _fast_subset(CASES)


@pytest.mark.parametrize("qual,param,bad", [
    pytest.param(*c, id=f"{c[0]}-{c[1]}={c[2]!r}", marks=() if c in _FAST else pytest.mark.slow)
    for c in CASES])
def test_bad_numbers_are_refused_before_any_process_starts(qual, param, bad):
    func = _public_experiments()[qual]
    args = _valid_required(func, param)
    before = len(psutil.Process().children(recursive=True))
    t0 = time.monotonic()
    with pytest.raises((ValueError, TypeError)) as info:
        result = func(**args, **{param: bad})
        if hasattr(result, "close"):  # a generator that was accepted: do not run it
            result.close()
    assert param in str(info.value), f"the message does not name {param!r}: {info.value}"
    assert time.monotonic() - t0 < 0.5 * SLACK
    assert len(psutil.Process().children(recursive=True)) == before


# -- property: what fits for any write size -----------------------------------------------
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(write_size=st.one_of(st.integers(1, 70_000), st.sampled_from([1, 2, 4, 8, 512, 1024, 2048, 4096])))
def test_fill_never_exceeds_capacity_and_equals_it_for_divisors_of_the_page(write_size):
    before = psutil.Process().num_fds()
    res = pipes.fill_pipe(write_size)
    assert 0 < res.filled_bytes <= res.capacity_bytes
    if pipes.PAGE_BYTES % write_size == 0:
        assert res.filled_bytes == res.capacity_bytes
    assert psutil.Process().num_fds() == before


@pytest.mark.slow
# -- soak ----------------------------------------------------------------------------------
@pytest.mark.parametrize("mode", ["never", "always"], ids=["direct", "helper"])
def test_soak_twenty_rounds_keep_fds_children_and_memory_flat(mode, capsys, monkeypatch):
    monkeypatch.setenv("IPCLAB_ISOLATE", mode)
    me = psutil.Process()
    for step in SOAK:  # warm up: imports, caches, first-call allocations
        step()
    fds0, kids0, rss0 = me.num_fds(), len(me.children(recursive=True)), me.memory_info().rss
    t0 = time.monotonic()
    for _ in range(20):
        for step in SOAK:
            step()
    fds1, kids1, rss1 = me.num_fds(), len(me.children(recursive=True)), me.memory_info().rss
    with capsys.disabled():
        print(f"\nsoak ({mode}): 20 rounds x {len(SOAK)} experiments in {time.monotonic() - t0:.1f} s; "
              f"fds {fds0} -> {fds1}, children {kids0} -> {kids1}, "
              f"RSS {rss0 / 2**20:.1f} -> {rss1 / 2**20:.1f} MiB")
    assert fds1 == fds0 and kids1 == kids0
    assert rss1 - rss0 < 16 * 2**20, "memory grew by more than 16 MiB over 20 rounds"


# -- privacy -----------------------------------------------------------------------------------
def _during(delay_s: float, look, experiment):
    """Run ``experiment()`` and call ``look()`` once, ``delay_s`` seconds in, while it runs."""
    seen = []

    def handler(signum, frame):
        seen.append(look())

    old = signal.signal(signal.SIGALRM, handler)
    signal.setitimer(signal.ITIMER_REAL, delay_s)
    try:
        result = experiment()
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
    assert seen, "the experiment ended before it could be looked at"
    return result, seen[0]


def _private_files() -> list:
    """(path, mode, owner, is_fifo) of everything under ipclab's directories in TMPDIR."""
    import tempfile

    found = []
    for top in os.listdir(tempfile.gettempdir()):
        if not top.startswith("ipclab-"):
            continue
        for root, dirs, files in os.walk(os.path.join(tempfile.gettempdir(), top)):
            for path in [root] + [os.path.join(root, f) for f in files]:
                st = os.lstat(path)
                found.append((path, stat.S_IMODE(st.st_mode), st.st_uid, stat.S_ISFIFO(st.st_mode)))
    return found


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["never", "always"], ids=["direct", "helper"])
def test_fifos_live_in_owner_only_directories(mode, monkeypatch):
    monkeypatch.setenv("IPCLAB_ISOLATE", mode)
    _, files = _during(0.4, _private_files,
                       lambda: ipclab.fifos.blocking_open("read", delay_s=1.0))
    assert any(fifo for *_, fifo in files), f"no FIFO seen while the open blocked: {files}"
    for path, mode_bits, uid, fifo in files:
        assert uid == os.getuid(), path
        assert mode_bits & 0o077 == 0, f"{path} is open to others: {oct(mode_bits)}"
        if not fifo and os.path.isdir(path):
            assert mode_bits == 0o700, path


def _listening() -> list:
    """(pid, address) of every listening inet socket of this process and its descendants."""
    me = psutil.Process()
    found = []
    for p in [me] + me.children(recursive=True):
        try:
            conns = p.net_connections(kind="inet") if hasattr(p, "net_connections") else p.connections(kind="inet")
        except psutil.Error:
            continue
        found += [(p.pid, c.laddr.ip) for c in conns if c.status == psutil.CONN_LISTEN]
    return found


@pytest.mark.slow
@pytest.mark.parametrize("model", ["single", "fork-per-request", "prefork"])
def test_web_server_listens_on_loopback_only(model):
    requests = 200 if model == "fork-per-request" else 2000  # about a second each here
    result, listening = _during(0.15, _listening, lambda: ipclab.webserver.load_run(
        model, requests=requests, concurrency=2, pool_size=2, service_s=0.0005))
    assert result.requests == requests
    assert listening, "no listening socket seen during the load run"
    assert {ip for _, ip in listening} == {"127.0.0.1"}
