"""The C references built on demand: compiled once into a cache, rebuilt when a source
changes, clear errors without a compiler or sources, and real runs as ipclab points."""

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time

import psutil
import pytest

from ipclab import creference
from ipclab.creference import NoCompilerError
from ipclab.errors import ExperimentInterrupted, IpclabError
from ipclab.throughput import LatencyPoint, ThroughputPoint

HAS_CC = shutil.which("cc") is not None and sys.platform.startswith("linux")
needs_cc = pytest.mark.skipif(not HAS_CC, reason="needs cc on Linux")


@pytest.fixture
def sources(tmp_path):
    """A private copy of the C sources (a test may change them)."""
    dst = tmp_path / "src"
    shutil.copytree(creference.source_dir(), dst,
                    ignore=lambda d, names: [n for n in names if not n.endswith((".c", ".h"))])
    return str(dst)


@pytest.fixture
def cache(tmp_path, monkeypatch):
    """A fresh per-user cache (the user's own is left alone)."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    return creference.cache_dir()


def test_sources_are_found_in_the_checkout():
    here = creference.source_dir()
    for program in creference.PROGRAMS:
        assert os.path.isfile(os.path.join(here, f"{program}.c"))


def test_missing_sources_are_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("IPCLAB_C_SOURCES", str(tmp_path))
    with pytest.raises(IpclabError, match="C reference sources are not in"):
        creference.source_dir()


def test_cache_dir_follows_xdg_cache_home(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert creference.cache_dir() == str(tmp_path / "ipclab" / "c")


@needs_cc
def test_build_compiles_once_then_finds_it_cached(sources, cache):
    first = creference.build("bw_stream", sources)
    assert first.built and first.build_s > 0
    assert os.access(first.path, os.X_OK) and first.path.startswith(cache)
    assert "compiled with" in creference.describe(first)
    again = creference.build("bw_stream", sources)
    assert not again.built and again.build_s == 0.0 and again.path == first.path
    assert "already built" in creference.describe(again)


@needs_cc
def test_a_changed_source_is_rebuilt_and_the_old_build_removed(sources, cache):
    old = creference.build("lat_shm", sources)
    with open(os.path.join(sources, "common.h"), "a") as f:
        f.write("\n/* changed */\n")
    new = creference.build("lat_shm", sources)
    assert new.built and new.path != old.path
    assert not os.path.exists(old.path)
    assert sorted(os.listdir(cache)) == [os.path.basename(new.path)]  # no temp files left


@needs_cc
def test_a_failing_build_says_why_and_leaves_nothing(sources, cache):
    with open(os.path.join(sources, "bw_shm.c"), "a") as f:
        f.write("\nthis is not C;\n")
    with pytest.raises(IpclabError, match="building bw_shm .* failed"):
        creference.build("bw_shm", sources)
    assert not os.path.isdir(cache) or os.listdir(cache) == []


def test_no_compiler_is_a_clear_error(tmp_path, monkeypatch):
    empty = tmp_path / "bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))  # a system where no cc can be found
    monkeypatch.delenv("CC", raising=False)
    with pytest.raises(NoCompilerError, match="no C compiler.*apt-get install gcc"):
        creference.build("bw_stream")
    monkeypatch.setenv("CC", "no-such-compiler-here")
    with pytest.raises(NoCompilerError, match="no-such-compiler-here"):
        creference.compiler()


def test_an_unknown_program_is_rejected():
    with pytest.raises(ValueError, match="program"):
        creference.build("bw_telegraph")


@pytest.mark.slow  # runs the C throughput reference: 0.4 s
@needs_cc
def test_throughput_is_a_point_of_the_same_shape(cache):
    p = creference.throughput("pipe", 4096, 200, repeats=3, placement="free")
    assert isinstance(p, ThroughputPoint)
    assert (p.mechanism, p.message_bytes, p.placement, p.repeats, p.messages_per_run) == (
        "pipe", 4096, "free", 3, 200)
    assert 0 < p.min_bytes_per_s <= p.median_bytes_per_s <= p.max_bytes_per_s
    (s,) = [creference.throughput("shm", 512, 100, repeats=1, placement="free")]
    assert s.mechanism == "shm" and s.messages_per_run == 100


@needs_cc
def test_latency_is_a_point_of_the_same_shape(cache):
    for mechanism in ("fifo", "shm"):
        p = creference.latency(mechanism, 1, 50, repeats=2, placement="free")
        assert isinstance(p, LatencyPoint)
        assert (p.mechanism, p.round_trips_per_run, p.repeats) == (mechanism, 50, 2)
        assert 0 < p.min_s <= p.median_s <= p.max_s < 0.1


@pytest.mark.parametrize("kwargs, words", [
    (dict(mechanism="pigeon"), "mechanism"),
    (dict(message_bytes=0), "message_bytes"),
    (dict(messages=0), "messages"),
    (dict(repeats=0), "repeats"),
    (dict(placement="moon"), "placement"),
])
def test_throughput_rejects_bad_input_before_building(kwargs, words, tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))  # nothing could be built: checks come first
    args = dict(mechanism="pipe", message_bytes=64, messages=10, repeats=1, placement="free")
    args.update(kwargs)
    with pytest.raises(ValueError, match=words):
        creference.throughput(**args)


@pytest.mark.slow  # waits for its deadline: 0.7 s
@needs_cc
def test_a_reference_that_runs_out_of_time_leaves_no_process(cache):
    path = creference.build("bw_stream").path
    before = time.monotonic()
    with pytest.raises(subprocess.TimeoutExpired):
        # 10 GB through a pipe: far longer than the half second it is given.
        creference._run([path, "pipe", "65536", str(150_000), "2", "-1", "-1"], 0.5)
    assert time.monotonic() - before < 10
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:  # the parent was killed; its children die with it
        left = [p for p in psutil.process_iter(["exe"]) if p.info["exe"] == path]
        if not left:
            break
        time.sleep(0.05)
    assert not left


@pytest.mark.slow  # builds and runs both C benchmarks: 0.9 s
@needs_cc
def test_benchmark_runs_from_another_folder_and_prints_both_tables(tmp_path, cache):
    # As from notebooks/: `python ../benchmarks/run.py` finds its ipclab and its sources.
    script = os.path.join(os.path.dirname(creference.source_dir()), "benchmarks", "run.py")
    done = subprocess.run([sys.executable, script, "--rounds", "2", "--repeats", "1",
                           "--sizes", "512", "--mechanisms", "pipe,fifo", "--no-latency",
                           "--run-s", "0.005", "--json", str(tmp_path / "out.json")],
                          cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "bw_stream: compiled with" in done.stderr  # a fresh cache: it says it built
    assert done.stdout.startswith("machine: ")
    assert "against a pipe of the same size" in done.stdout
    record = json.loads((tmp_path / "out.json").read_text())
    rows = {(r["mechanism"], r["message_bytes"]): r for r in record["rows"]}
    assert set(rows) == {("pipe", 512), ("fifo", 512)}
    for r in rows.values():
        assert r["rounds"] == 2 and r["count"] >= 1
        assert [len(pair) for pair in r["pairs"]] == [2, 2]
    assert [r["mechanism"] for r in record["against_pipe"]] == ["fifo"]


@pytest.mark.slow  # 0.9 s
@needs_cc
def test_an_interrupted_reference_says_so_in_one_line_and_leaves_no_process(cache):
    path = creference.build("bw_stream").path
    timer = threading.Timer(0.5, os.kill, (os.getpid(), signal.SIGINT))  # Ctrl-C, mid-run
    timer.start()
    try:
        with pytest.raises(ExperimentInterrupted, match="stopped the C reference bw_stream"):
            creference._run([path, "pipe", "65536", str(150_000), "2", "-1", "-1"], 60)
    finally:
        timer.cancel()
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        left = [p for p in psutil.process_iter(["exe"]) if p.info["exe"] == path]
        if not left:
            break
        time.sleep(0.05)
    assert not left
