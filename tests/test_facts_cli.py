"""``python -m ipclab facts``: JSON and table output agree with the experiments run here, for
write sizes nobody chose in advance; bad arguments exit with status 2 and a one-line
message, never a traceback."""

from __future__ import annotations

import json
import os
import random
import select
import subprocess
import sys
from pathlib import Path

import pytest

from ipclab import facts, pipes
from ipclab.exercises import pipe_fill_model

ROOT = Path(__file__).resolve().parent.parent
# Kernel facts asked of the machine (not of ipclab), so the suite holds on any page size.
PAGE = os.sysconf("SC_PAGE_SIZE")
PIPE_BUF = select.PIPE_BUF
PAGES = 16  # a new Linux pipe has 16 page buffers (PIPE_DEF_BUFFERS)


def _fit(write_size: int) -> int:
    """What the page rule says fits in a new pipe for writes of ``write_size`` bytes."""
    return pipe_fill_model(write_size, pages=PAGES, page_bytes=PAGE, pipe_buf_bytes=PIPE_BUF)


def _granted(requested: int) -> int:
    """What F_SETPIPE_SZ grants: a power-of-two number of pages, one page at least."""
    pages = 1
    while pages * PAGE < requested:
        pages *= 2
    return pages * PAGE

KEYS = {"pipe_capacity_bytes", "pipe_buf_bytes", "pipe_max_size_bytes",
        "fill_bytes_by_write_size", "read_without_writer", "write_without_reader",
        "sigpipe_exit_status", "setpipe_bytes_by_request"}


def _ipclab(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ipclab", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=60)


def _random_write_sizes() -> tuple[int, list]:
    seed = int.from_bytes(os.urandom(4), "big")
    rng = random.Random(seed)
    sizes = [rng.randint(1, 4096), rng.randint(1, 4096), rng.randint(4097, 70_000),
             rng.choice([1, 2, 4, 8, 512, 1024, 4096])]
    return seed, sizes


def test_json_output_has_every_fact_and_matches_the_experiments():
    seed, sizes = _random_write_sizes()
    done = _ipclab("facts", "--json", "--write-sizes", ",".join(map(str, sizes)))
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    data = json.loads(done.stdout)
    assert KEYS <= set(data), f"missing: {KEYS - set(data)}"
    expected = {str(s): pipes.fill_pipe(s).filled_bytes for s in sizes}
    assert data["fill_bytes_by_write_size"] == expected, f"write sizes {sizes} (seed {seed})"
    assert data["pipe_capacity_bytes"] == pipes.new_pipe_capacity_bytes()
    assert data["pipe_buf_bytes"] == pipes.pipe_buf_bytes() == PIPE_BUF
    assert data["pipe_max_size_bytes"] == pipes.pipe_max_size_bytes()
    assert data["read_without_writer"] == "eof"
    assert data["write_without_reader"] == "BrokenPipeError"
    assert data["write_without_reader_errno"] == "EPIPE"
    assert data["sigpipe_exit_status"] == -13
    setpipe = data["setpipe_bytes_by_request"]
    limit = pipes.pipe_max_size_bytes()
    assert [setpipe[str(n)] for n in (1, 4097, 65537)] == [_granted(n) for n in (1, 4097, 65537)]
    assert setpipe[str(limit)] == limit
    assert setpipe[str(limit + 1)] == pipes.resize_pipe(limit + 1).error or \
        setpipe[str(limit + 1)] == pipes.resize_pipe(limit + 1).granted_bytes


def test_table_output_contains_the_numbers():
    done = _ipclab("facts", "--write-sizes", "100,4097,4096")
    assert done.returncode == 0, done.stderr
    out = done.stdout
    for text in (f"{_fit(100):,}", f"{_fit(4097):,}", f"{_fit(4096):,}", f"{PAGE:,}", "EPIPE",
                 "BrokenPipeError", "exit status -13", "eof"):
        assert text in out, f"{text!r} missing from:\n{out}"


def test_measure_facts_in_process():
    result = facts.measure_facts(write_sizes=[100, 100, 4097], setpipe_sizes=[1, 4097])
    assert result.fill_bytes_by_write_size == {"100": _fit(100), "4097": _fit(4097)}  # once
    assert result.setpipe_bytes_by_request == {"1": _granted(1), "4097": _granted(4097)}
    assert result.sigpipe_exit_status == -13
    assert f"{_fit(100):,}" in facts.format_facts(result)
    with pytest.warns(DeprecationWarning, match="setpipe_bytes_by_request"):
        assert result.setpipe_sz == result.setpipe_bytes_by_request  # the old name, until 0.3


@pytest.mark.parametrize("value, message", [
    ("0", "--write-sizes[0] must be an int from 1 to 1073741824 (1 GiB) bytes, got 0"),
    ("-5", "--write-sizes[0] must be an int from 1 to 1073741824 (1 GiB) bytes, got -5"),
    ("100,-5", "--write-sizes[1] must be"),
    ("1073741825", "got 1073741825"),
    ("abc", "expected comma-separated whole numbers such as 1,100,4096, got 'abc'"),
    ("1.5", "expected comma-separated whole numbers"),
    (",", "expected at least one number"),
])
def test_bad_write_sizes_exit_2_without_traceback(value, message):
    done = _ipclab("facts", "--write-sizes", value)
    assert done.returncode == 2
    assert message in done.stderr
    assert "Traceback" not in done.stderr
    assert done.stdout == ""
    assert "--write-sizes" in done.stderr or "write_sizes" in done.stderr
