"""Bad input to every public function of ipclab.pipes and to facts.measure_facts: each case
raises ValueError or TypeError naming the argument, before any process is forked."""

from __future__ import annotations

import inspect
import math
import os

import psutil
import pytest

from ipclab import facts, pipes
from ipclab._check import GIB, MIB

_FORKS = [0]
os.register_at_fork(before=lambda: _FORKS.__setitem__(0, _FORKS[0] + 1))

LIMIT = pipes.pipe_max_size_bytes() or GIB

#: Bad values for a duration in seconds, and the exception each must raise.
BAD_SECONDS = [(0, ValueError), (-1, ValueError), (-0.5, ValueError), (math.nan, ValueError),
               (math.inf, ValueError), (-math.inf, ValueError), (1e9, ValueError),
               ("1", TypeError), (True, TypeError), (None, TypeError), ([1], TypeError)]
#: Bad values for a size in bytes (1 to 1 GiB unless the function says less).
BAD_BYTES = [(0, ValueError), (-5, ValueError), (GIB + 1, ValueError), (1.5, TypeError),
             (4096.0, TypeError), ("1", TypeError), (True, TypeError), (None, TypeError)]
#: Bad values for an optional pipe size (None is allowed).
BAD_PIPE_SIZE = [(LIMIT + 1, ValueError), (0, ValueError), (-4096, ValueError),
                 (pipes.PAGE_BYTES - 1, ValueError), (65536.0, TypeError),
                 ("65536", TypeError), (True, TypeError)]
BAD_COUNT = [(0, ValueError), (-1, ValueError), (1.5, TypeError), ("2", TypeError),
             (True, TypeError), (None, TypeError)]


def _cases():
    """``{(function, parameter): [(bad value, exception, other valid arguments), ...]}``."""
    cases: dict = {}

    def add(func, param, bad, exc, **valid):
        cases.setdefault((func, param), []).append((bad, exc, valid))

    for bad, exc in BAD_BYTES:
        add(pipes.fill_pipe, "write_size_bytes", bad, exc)
        add(pipes.resize_pipe, "requested_bytes", bad, exc)
        add(pipes.full_pipe_blocks_writer, "write_size_bytes", bad, exc)
        add(pipes.pipe_buf_atomicity, "record_bytes", bad, exc)
        add(pipes.pipe_buf_atomicity, "read_size_bytes", bad, exc)
        add(pipes.watch_pipe_fill, "reader_chunk_bytes", bad, exc)
        add(pipes.watch_pipe_fill, "write_size_bytes", bad, exc)
    add(pipes.full_pipe_blocks_writer, "write_size_bytes", 16 * MIB + 1, ValueError)
    add(pipes.pipe_buf_atomicity, "record_bytes", 4 * MIB + 1, ValueError)
    for bad, exc in BAD_PIPE_SIZE:
        add(pipes.fill_pipe, "pipe_size_bytes", bad, exc)
        add(pipes.full_pipe_blocks_writer, "pipe_size_bytes", bad, exc)
        add(pipes.watch_pipe_fill, "pipe_size_bytes", bad, exc)
    for bad, exc in BAD_SECONDS:
        add(pipes.empty_pipe_blocks_reader, "writer_delay_s", bad, exc)
        add(pipes.empty_pipe_blocks_reader, "deadline_s", bad, exc)
        add(pipes.full_pipe_blocks_writer, "reader_delay_s", bad, exc)
        add(pipes.full_pipe_blocks_writer, "deadline_s", bad, exc)
        add(pipes.read_without_writer, "wait_s", bad, exc)
        add(pipes.read_without_writer, "deadline_s", bad, exc)
        add(pipes.write_without_reader, "deadline_s", bad, exc)
        add(pipes.pipe_buf_atomicity, "deadline_s", bad, exc)
        add(pipes.watch_pipe_fill, "duration_s", bad, exc)
        add(pipes.watch_pipe_fill, "reader_interval_s", bad, exc)
        add(pipes.watch_pipe_fill, "sample_interval_s", bad, exc)
    for bad, exc in BAD_SECONDS:
        if bad != 0:  # 0 is allowed: the writer writes as fast as it can
            add(pipes.watch_pipe_fill, "writer_interval_s", bad, exc)
    add(pipes.watch_pipe_fill, "writer_interval_s", 11, ValueError)
    # Delays whose upper limit is lower than a deadline's.
    add(pipes.empty_pipe_blocks_reader, "writer_delay_s", 61, ValueError, deadline_s=100)
    add(pipes.empty_pipe_blocks_reader, "writer_delay_s", 0.001, ValueError)
    add(pipes.full_pipe_blocks_writer, "reader_delay_s", 61, ValueError, deadline_s=100)
    add(pipes.read_without_writer, "wait_s", 61, ValueError)
    add(pipes.watch_pipe_fill, "duration_s", 121, ValueError)
    add(pipes.watch_pipe_fill, "sample_interval_s", 11, ValueError)
    for bad, exc in ((-0.1, ValueError), (11, ValueError), (float("nan"), ValueError),
                     ("0", TypeError), (None, TypeError)):
        add(pipes.watch_pipe_fill, "writer_interval_s", bad, exc)
    # A deadline that ends before the delay it must outlast.
    add(pipes.empty_pipe_blocks_reader, "deadline_s", 1.0, ValueError, writer_delay_s=2.0)
    add(pipes.full_pipe_blocks_writer, "deadline_s", 1.0, ValueError, reader_delay_s=1.0)
    for bad, exc in BAD_COUNT:
        add(pipes.pipe_buf_atomicity, "writers", bad, exc)
        add(pipes.pipe_buf_atomicity, "records_per_writer", bad, exc)
    add(pipes.pipe_buf_atomicity, "writers", 65, ValueError)
    add(pipes.pipe_buf_atomicity, "records_per_writer", 100_001, ValueError)
    add(pipes.pipe_buf_atomicity, "records_per_writer", 100_000, ValueError,
        writers=64, record_bytes=4 * MIB)  # 25 TiB in all
    for bad in ("IGNORE", "kill", "", 13, None, "SIG_DFL"):
        add(pipes.write_without_reader, "sigpipe", bad, ValueError)
    for bad, exc in BAD_BYTES[:2] + BAD_BYTES[3:]:  # the rule takes sizes above 1 GiB
        add(pipes.resize_rule, "requested_bytes", bad, exc)
    for param in ("page_bytes", "limit_bytes", "current_bytes"):
        for bad, exc in ((0, ValueError), (-4096, ValueError), (4096.0, TypeError),
                         ("4096", TypeError), (True, TypeError)):
            add(pipes.resize_rule, param, bad, exc, requested_bytes=1)
    add(pipes.resize_rule, "page_bytes", 3000, ValueError, requested_bytes=1)  # not 2**n
    for bad in (1, 0, "yes", [True]):
        add(pipes.resize_rule, "privileged", bad, TypeError, requested_bytes=1)
    for bad in ("system", "popen", "", 1, None, "OS.SYSTEM"):
        add(pipes.yes_head_from_python, "launcher", bad, ValueError)
    for bad, exc in BAD_SECONDS:
        add(pipes.yes_head_from_python, "deadline_s", bad, exc)
    for bad in (1, 0, "yes", None):
        add(pipes.read_without_writer, "close_unused_write_end", bad, TypeError)
    for bad, exc in [([0], ValueError), ([-5], ValueError), ([GIB + 1], ValueError),
                     ([100, 1.5], TypeError), (["1"], TypeError), ([True], TypeError),
                     ([None], TypeError), ([], ValueError), ("100", TypeError),
                     (100, TypeError), (None, TypeError)]:
        add(facts.measure_facts, "write_sizes", bad, exc)
    for bad, exc in [([0], ValueError), ([-1], ValueError), ([GIB + 1], ValueError),
                     ([1.5], TypeError), (["4096"], TypeError), ([], ValueError),
                     ("4096", TypeError), (4096, TypeError)]:
        add(facts.measure_facts, "setpipe_sizes", bad, exc)
    return cases


CASES = _cases()


@pytest.mark.parametrize("func, param", list(CASES),
                         ids=[f"{f.__name__}-{p}" for f, p in CASES])
def test_bad_input_is_refused_before_forking(func, param):
    assert param in inspect.signature(func).parameters
    children = psutil.Process().children(recursive=True)
    for bad, exc, valid in CASES[func, param]:
        forks = _FORKS[0]
        try:
            result = func(**valid, **{param: bad})
            if inspect.isgenerator(result):  # must not get this far; run it to see it fail
                list(result)
        except exc as error:
            message = str(error)
        else:
            pytest.fail(f"{func.__name__}({param}={bad!r}) was accepted")
        assert param in message, f"{param}={bad!r}: the message does not name it: {message!r}"
        assert _FORKS[0] == forks, f"{param}={bad!r}: a process was forked before the check"
    assert psutil.Process().children(recursive=True) == children


def test_every_public_function_with_parameters_is_covered():
    covered = {(func.__name__, param) for func, param in CASES}
    for module, names in ((pipes, pipes.__all__), (facts, ["measure_facts"])):
        for name in names:
            func = getattr(module, name)
            if not inspect.isfunction(func):
                continue
            for param in inspect.signature(func).parameters:
                assert (name, param) in covered, f"no bad-input case for {name}({param}=...)"
