"""The shoot-out on the real kernel: sweep and latency records, placements, early stop, the
``bench`` command (JSON, table, Ctrl-C) and bad input. Tiny sizes: no timing is asserted."""

import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time

import psutil
import pytest

from ipclab import throughput
from ipclab._resources import SHM_TAG_ENV
from ipclab.errors import UnsupportedPlatformError
from ipclab.throughput import LatencyPoint, ThroughputPoint, latency, sweep

ALL = ("pipe", "fifo", "shm", "unix")
HAS_AFFINITY = hasattr(os, "sched_setaffinity")
TWO_CPUS = HAS_AFFINITY and len(os.sched_getaffinity(0)) >= 2


def _check_point(p, mechanism, size, placement, repeats):
    assert isinstance(p, ThroughputPoint)
    assert (p.mechanism, p.message_bytes, p.placement, p.repeats) == (mechanism, size,
                                                                      placement, repeats)
    assert 0 < p.min_bytes_per_s <= p.median_bytes_per_s <= p.max_bytes_per_s


# -- sweep -------------------------------------------------------------------------------
def test_sweep_yields_one_point_per_size_and_mechanism_sizes_outer():
    points = list(sweep(ALL, (64, 4096), repeats=2, total_bytes=64 * 1024))
    assert [(p.message_bytes, p.mechanism) for p in points] == [
        (s, m) for s in (64, 4096) for m in ALL]
    for p in points:
        _check_point(p, p.mechanism, p.message_bytes, "free", 2)


@pytest.mark.parametrize("size", [pytest.param(1, marks=pytest.mark.slow),  # 150,001 messages: 1.6 s
                                  7, 100, 70_000])
def test_sweep_handles_awkward_sizes(size):
    # 1 and 7 bytes: too small for a sequence number; 70,000: more than a pipe holds; the
    # total is not a multiple of the size (rounded up to whole messages).
    points = list(sweep(ALL, (size,), repeats=1, total_bytes=150_001))
    assert [p.mechanism for p in points] == list(ALL)
    for p in points:
        _check_point(p, p.mechanism, size, "free", 1)


@pytest.mark.skipif(not HAS_AFFINITY, reason="no sched_setaffinity: only 'free' placement")
def test_sweep_same_cpu_placement():
    (p,) = sweep(("pipe",), (4096,), repeats=1, placement="same", total_bytes=1 << 20)
    _check_point(p, "pipe", 4096, "same", 1)


@pytest.mark.skipif(not TWO_CPUS, reason="needs two CPUs")
def test_sweep_split_placement():
    points = list(sweep(("shm", "unix"), (512,), repeats=1, placement="split",
                        total_bytes=1 << 18))
    assert [p.placement for p in points] == ["split", "split"]


def test_sweep_stopped_early_leaves_nothing_behind():
    points = sweep(ALL, (4096, 65536), repeats=1, total_bytes=1 << 18)
    first = next(points)
    assert first.mechanism == "pipe"
    points.close()  # the autouse fixture checks children, FIFOs, fds, /dev/shm


def test_sweep_in_a_helper_process(monkeypatch):
    # As in a Jupyter kernel: the experiment runs in a single-threaded helper process and
    # the points come back one by one.
    monkeypatch.setenv("IPCLAB_ISOLATE", "always")
    points = list(sweep(("pipe", "shm"), (512,), repeats=1, total_bytes=1 << 16))
    assert [type(p) for p in points] == [ThroughputPoint, ThroughputPoint]


def test_sweep_in_a_helper_process_stopped_early_leaves_nothing_behind(monkeypatch):
    monkeypatch.setenv("IPCLAB_ISOLATE", "always")
    points = sweep(("shm", "fifo"), (65536, 1 << 20), repeats=3, total_bytes=1 << 22)
    assert next(points).mechanism == "shm"
    points.close()  # the helper is stopped mid-measurement; its finally blocks clean up


def test_a_fixed_total_is_whole_messages_per_run():
    points = list(sweep(("pipe", "shm"), (100,), repeats=1, total_bytes=150_001))
    assert [p.messages_per_run for p in points] == [1501, 1501]


@pytest.mark.slow  # timed runs: 0.5 s
def test_runs_are_time_based_by_default():
    # No count given: a probe picks the messages per run (timing itself is not asserted).
    points = list(sweep(("pipe", "unix"), (4096,), repeats=3, run_s=0.01))
    for p in points:
        _check_point(p, p.mechanism, 4096, "free", 3)
        assert isinstance(p.messages_per_run, int) and p.messages_per_run >= 1
    (lp,) = latency(("fifo",), 1, repeats=2, run_s=0.01)
    assert isinstance(lp.round_trips_per_run, int) and lp.round_trips_per_run >= 1
    assert 0 < lp.min_s <= lp.median_s <= lp.max_s


def test_the_count_is_scaled_from_the_probe():
    # A stand-in for the clock's answer (the probe is arithmetic once the run is timed).
    asked = []

    def run(seconds_each):
        def time_run(n):
            asked.append(n)
            return n * seconds_each
        return time_run

    assert throughput._scaled_count(run(1e-6), 5000, 0.05, 10**9) == 50_000
    assert asked == [5000]
    asked.clear()  # too short to time (0.1 µs each): grows tenfold until the probe is 2 ms+
    assert throughput._scaled_count(run(1e-7), 10, 0.05, 10**9) == 500_000
    assert asked == [10, 100, 1000, 10_000, 100_000]
    assert throughput._scaled_count(run(1e-9), 10, 0.05, 1234) == 1234  # capped
    assert throughput._scaled_count(run(1.0), 1, 0.05, 10) == 1  # never below one


def test_default_total_bytes_is_whole_messages():
    for size in (1, 64, 1000, 65536, 1 << 20, 1 << 30):
        total = throughput.default_total_bytes(size)
        assert total % size == 0 and total >= size


# -- latency -----------------------------------------------------------------------------
def test_latency_yields_one_point_per_mechanism():
    points = list(latency(ALL, 1, repeats=2, round_trips=50))
    assert [p.mechanism for p in points] == list(ALL)
    for p in points:
        assert isinstance(p, LatencyPoint)
        assert (p.message_bytes, p.placement, p.repeats) == (1, "free", 2)
        assert 0 < p.min_s <= p.median_s <= p.max_s


def test_latency_with_a_message_larger_than_a_pipe_does_not_deadlock():
    points = list(latency(ALL, 200_000, repeats=1, round_trips=3))
    assert len(points) == 4


# -- placement ---------------------------------------------------------------------------
def test_placement_cpus():
    assert throughput.placement_cpus("free") is None
    if HAS_AFFINITY:
        a, b = throughput.placement_cpus("same")
        assert a == b and a in os.sched_getaffinity(0)
    if TWO_CPUS:
        a, b = throughput.placement_cpus("split")
        assert a != b


_SWEEP_IN_A_PROGRAM = (
    "import sys\n"
    "from ipclab.throughput import sweep\n"
    "for p in sweep(('pipe',), (4096,), repeats=1, placement=sys.argv[1], run_s=0.05):\n"
    "    print(p.placement, flush=True)\n"
)


def _cpus_seen_while(proc: subprocess.Popen) -> dict:
    """Poll ``proc``'s descendants until it ends: for each pid, the CPUs its affinity mask
    allowed when it held one CPU only, and the CPUs the kernel last ran it on then
    (``/proc/PID/stat`` field 39, psutil's ``cpu_num``), as ``{pid: (masks, ran_on)}``."""
    seen: dict = {}
    while proc.poll() is None:
        try:
            children = psutil.Process(proc.pid).children(recursive=True)
        except psutil.NoSuchProcess:
            break
        for child in children:
            try:
                mask = frozenset(child.cpu_affinity())
                ran_on = child.cpu_num()
            except psutil.NoSuchProcess:
                continue
            if len(mask) == 1:  # pinned (a child starts with its parent's mask, then pins)
                masks, cpus = seen.setdefault(child.pid, (set(), set()))
                masks.add(mask)
                cpus.add(ran_on)
        time.sleep(0.002)
    return seen


@pytest.mark.skipif(not TWO_CPUS, reason="pinning to two CPUs needs sched_setaffinity and two")
@pytest.mark.parametrize("placement", [pytest.param("same", marks=pytest.mark.slow), "split"])
def test_placement_pins_the_children_to_the_cpus_asked_for(placement):
    # Watched from outside, on the real children of a sweep: their affinity masks and the
    # CPU each was last scheduled on, not just that sched_setaffinity was accepted.
    writer_cpu, reader_cpu = throughput.placement_cpus(placement)
    proc = subprocess.Popen([sys.executable, "-c", _SWEEP_IN_A_PROGRAM, placement],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        seen = _cpus_seen_while(proc)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, err
    assert out.split() == [placement]
    assert seen, "no child of the sweep was ever seen pinned to one CPU"
    for pid, (masks, ran_on) in seen.items():
        assert len(masks) == 1, f"child {pid} was pinned to {masks}: moved after pinning"
        (mask,) = masks
        assert mask <= {writer_cpu, reader_cpu}, f"child {pid} pinned to {set(mask)}"
        assert ran_on == set(mask), f"child {pid}, pinned to {set(mask)}, ran on {ran_on}"
    pinned_to = {cpu for masks, _ in seen.values() for mask in masks for cpu in mask}
    assert pinned_to == {writer_cpu, reader_cpu}


@pytest.mark.skipif(not HAS_AFFINITY, reason="no sched_setaffinity")
def test_split_placement_on_one_cpu_is_a_clear_error():
    allowed = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {min(allowed)})  # this process may now run on one CPU only
    try:
        with pytest.raises(ValueError, match="split.*two CPUs"):
            sweep(("pipe",), (64,), placement="split")
        with pytest.raises(ValueError, match="two CPUs"):
            latency(("pipe",), placement="split")
    finally:
        os.sched_setaffinity(0, allowed)


@pytest.mark.skipif(HAS_AFFINITY, reason="this system can pin processes")
def test_pinning_without_affinity_is_a_clear_error():  # pragma: no cover - macOS
    with pytest.raises(UnsupportedPlatformError, match="free"):
        sweep(placement="same")


# -- bad input ---------------------------------------------------------------------------
@pytest.mark.parametrize("kwargs, error, words", [
    (dict(sizes_bytes=(0,)), ValueError, r"sizes_bytes\[0\]"),
    (dict(sizes_bytes=(64, -1)), ValueError, r"sizes_bytes\[1\]"),
    (dict(sizes_bytes=(2**30 + 1,)), ValueError, "1 GiB"),
    (dict(sizes_bytes=()), ValueError, "sizes_bytes"),
    (dict(sizes_bytes=64), TypeError, "sizes_bytes"),
    (dict(sizes_bytes=(64.0,)), TypeError, "sizes_bytes"),
    (dict(repeats=0), ValueError, "repeats"),
    (dict(repeats=1001), ValueError, "repeats"),
    (dict(repeats=2.5), TypeError, "repeats"),
    (dict(mechanisms=("pipe", "carrier pigeon")), ValueError, r"mechanisms\[1\]"),
    (dict(mechanisms=()), ValueError, "mechanisms"),
    (dict(mechanisms=("pipe", "pipe")), ValueError, "repeat"),
    (dict(mechanisms=5), TypeError, "mechanisms"),
    (dict(placement="anywhere"), ValueError, "placement"),
    (dict(total_bytes=0), ValueError, "total_bytes"),
    (dict(total_bytes=-5), ValueError, "total_bytes"),
    (dict(total_bytes=2**34 + 1), ValueError, "total_bytes"),
    (dict(run_s=0), ValueError, "run_s"),
    (dict(run_s=10.5), ValueError, "run_s"),
    (dict(run_s="1"), TypeError, "run_s"),
    (dict(total_bytes=1 << 20, run_s=0.1), ValueError, "not both"),
])
def test_sweep_rejects_bad_input_before_anything_starts(kwargs, error, words):
    with pytest.raises(error, match=words):
        sweep(**kwargs)  # raises at the call, not at the first next()


@pytest.mark.parametrize("kwargs, error, words", [
    (dict(message_bytes=0), ValueError, "message_bytes"),
    (dict(message_bytes=-1), ValueError, "message_bytes"),
    (dict(message_bytes=2**30 + 1), ValueError, "message_bytes"),
    (dict(repeats=0), ValueError, "repeats"),
    (dict(round_trips=0), ValueError, "round_trips"),
    (dict(round_trips=1_000_000, repeats=10), ValueError, "10,000,000"),
    (dict(mechanisms=("socket",)), ValueError, "mechanisms"),
    (dict(placement="elsewhere"), ValueError, "placement"),
    (dict(run_s=-1), ValueError, "run_s"),
    (dict(round_trips=100, run_s=0.1), ValueError, "not both"),
])
def test_latency_rejects_bad_input_before_anything_starts(kwargs, error, words):
    with pytest.raises(error, match=words):
        latency(**kwargs)


def test_a_single_mechanism_name_is_accepted():
    (p,) = sweep("unix", (4096,), repeats=1, total_bytes=1 << 16)
    assert p.mechanism == "unix"


# -- the bench command -------------------------------------------------------------------
def _bench(*args, timeout=120):
    return subprocess.run([sys.executable, "-m", "ipclab", "bench", *args],
                          capture_output=True, text=True, timeout=timeout)


def test_bench_json_prints_every_point():
    done = _bench("--json", "--mechanisms", "pipe,shm", "--sizes", "64,4096", "--repeats", "1",
                  "--total-bytes", "65536", "--latency", "--round-trips", "20")
    assert done.returncode == 0, done.stderr
    records = json.loads(done.stdout)
    thr = [r for r in records if r["kind"] == "throughput"]
    lat = [r for r in records if r["kind"] == "latency"]
    assert [(r["mechanism"], r["message_bytes"]) for r in thr] == [
        ("pipe", 64), ("shm", 64), ("pipe", 4096), ("shm", 4096)]
    for r in thr:
        assert r["placement"] == "free"
        assert 0 < r["min_bytes_per_s"] <= r["median_bytes_per_s"] <= r["max_bytes_per_s"]
    assert [r["mechanism"] for r in lat] == ["pipe", "shm"]
    assert all(r["median_s"] > 0 for r in lat)


def test_bench_table_is_readable():
    done = _bench("--mechanisms", "fifo", "--sizes", "512", "--repeats", "1",
                  "--total-bytes", "65536")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.strip().splitlines()
    assert len(lines) == 2 and "MB/s" in lines[1] and lines[1].startswith("fifo")
    assert "128 messages × 1 runs" in lines[1]


@pytest.mark.slow  # 0.8 s
def test_bench_runs_are_time_based_unless_told_otherwise():
    done = _bench("--json", "--mechanisms", "pipe", "--sizes", "4096", "--repeats", "2",
                  "--run-s", "0.01", "--latency")
    assert done.returncode == 0, done.stderr
    thr, lat = json.loads(done.stdout)
    assert thr["messages_per_run"] >= 1 and lat["round_trips_per_run"] >= 1


# A command each (0.3-0.5 s): three stay in the fast tier.
@pytest.mark.parametrize("args, words", [
    (["--sizes", "0"], "sizes_bytes"),
    pytest.param(["--sizes", "-64"], "sizes_bytes", marks=pytest.mark.slow),
    pytest.param(["--sizes", str(2**30 + 1)], "1 GiB", marks=pytest.mark.slow),
    (["--sizes", "big"], "--sizes"),
    pytest.param(["--repeats", "0"], "repeats", marks=pytest.mark.slow),
    (["--mechanisms", "pipe,telegraph"], "telegraph"),
    pytest.param(["--placement", "moon"], "placement", marks=pytest.mark.slow),
    pytest.param(["--total-bytes", "0"], "total_bytes", marks=pytest.mark.slow),
    pytest.param(["--latency", "--round-trips", "0"], "round_trips", marks=pytest.mark.slow),
    pytest.param(["--run-s", "0"], "run_s", marks=pytest.mark.slow),
])
def test_bench_rejects_bad_options(args, words):
    done = _bench(*args, timeout=30)
    assert done.returncode == 2
    assert words in done.stderr
    option = next(a for a in args if a.startswith("--") and a != "--latency")
    assert f"{option}" in done.stderr  # the message names the option that was wrong
    assert done.stdout.strip() == ""  # nothing was measured


def test_bench_stops_cleanly_on_ctrl_c():
    tag = "t" + secrets.token_hex(4)  # its segments' names start with ipclab_<tag>
    env = dict(os.environ, **{SHM_TAG_ENV: tag})
    proc = subprocess.Popen([sys.executable, "-m", "ipclab", "bench", "--sizes", "1048576",
                             "--repeats", "200"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True, env=env)
    try:
        header = proc.stdout.readline()  # printed once the measuring starts
        assert "median" in header
        deadline = time.monotonic() + 10
        started = []
        while not started and time.monotonic() < deadline:  # wait for the experiment's children
            time.sleep(0.05)
            started = psutil.Process(proc.pid).children(recursive=True)
        assert started
        os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C in a terminal sends to its group
        out, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert proc.returncode == 130, err
    assert "interrupted" in err
    with pytest.raises(ProcessLookupError):  # nothing of its process group is left
        os.killpg(proc.pid, 0)
    for child in started:  # nor any child it had started (they lead groups of their own)
        assert not child.is_running() or child.status() == psutil.STATUS_ZOMBIE
    if os.path.isdir("/dev/shm"):
        assert not [n for n in os.listdir("/dev/shm") if n.startswith(f"ipclab_{tag}")]


# -- the C references (benchmarks/) ------------------------------------------------------
@pytest.mark.slow  # builds and runs the C references: 0.4 s
@pytest.mark.skipif(not shutil.which("cc") or not sys.platform.startswith("linux"),
                    reason="needs cc on Linux")
def test_c_references_build_and_report_their_runs(tmp_path):
    # The notebooks and benchmarks/run.py read these programs' JSON; check its shape.
    bench = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                         "benchmarks")
    for name in ("bw_stream", "bw_shm", "lat_stream", "lat_shm"):
        subprocess.run(["cc", "-O2", "-o", str(tmp_path / name),
                        os.path.join(bench, f"{name}.c"), "-pthread", "-lrt"],
                       check=True, capture_output=True, timeout=120)
    runs = [
        ["bw_stream", "pipe", "4096", "16", "3", "-1", "-1"],
        ["bw_stream", "fifo", "100", "50", "2", "-1", "-1"],
        ["bw_stream", "unix", "70000", "3", "2", "-1", "-1"],
        ["bw_shm", "64", "100", "2", "-1", "-1"],
        ["lat_stream", "pipe", "1", "20", "2", "-1", "-1"],
        ["lat_stream", "fifo", "1", "20", "2", "-1", "-1"],
        ["lat_shm", "1", "20", "2", "-1", "-1"],
    ]
    for argv in runs:
        done = subprocess.run([str(tmp_path / argv[0]), *argv[1:]], capture_output=True,
                              text=True, timeout=60)
        assert done.returncode == 0, (argv, done.stderr)
        report = json.loads(done.stdout)
        runs_asked = int(argv[-3])
        assert len(report["seconds"]) == runs_asked
        assert all(t > 0 for t in report["seconds"])
    bad = subprocess.run([str(tmp_path / "bw_stream"), "pipe", "0", "1", "1", "-1", "-1"],
                         capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "MESSAGE_BYTES" in bad.stderr
