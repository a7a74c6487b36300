"""Computation speedup: one job split over worker processes that report through a pipe.

The job is counting the primes below ``limit`` by trial division — pure CPU work, easy to
split. The numbers are cut into chunks of :data:`CHUNK` and dealt round-robin to the
workers (so each gets a fair mix of small and large numbers). Every worker sends its partial
count to the parent as one 16-byte record over a single shared pipe: a write of at most
``PIPE_BUF`` bytes is atomic, so records from several workers never mix. The parent adds
them up once every worker has closed its write end (end of file).

How much faster several workers are depends on the machine — its number of CPUs, and what
else runs on it — so the notebook marks these numbers as machine-dependent.
"""

from __future__ import annotations

import os
import struct
import time
from typing import Iterator, NamedTuple

from . import _platform, isolate
from ._check import check_int, check_int_list, check_seconds
from ._resources import close_end, open_pipe
from .process import start_child

__all__ = ["CHUNK", "MAX_WORKERS", "SplitResult", "count_primes", "SpeedupPoint", "speedup",
           "primes_below"]

#: Numbers per chunk of work dealt to one worker.
CHUNK = 1000
#: Most workers one run may start.
MAX_WORKERS = 32
#: Largest ``limit`` accepted (about 10 s of work for one process).
MAX_LIMIT = 10_000_000
_RECORD = struct.Struct("!IxxxxQ")  # worker index, prime count: 16 bytes, below PIPE_BUF


def _is_prime(n: int) -> bool:
    if n < 2:
        return False
    if n % 2 == 0:
        return n == 2
    f = 3
    while f * f <= n:
        if n % f == 0:
            return False
        f += 2
    return True


def primes_below(limit: int) -> int:
    """The number of primes below ``limit``, counted in this process (the reference)."""
    limit = check_int("limit", limit, 0, MAX_LIMIT)
    return sum(1 for n in range(limit) if _is_prime(n))


def _worker(index: int, workers: int, limit: int, w: int) -> int:
    """Count primes in chunks index, index+workers, ...; send one record; return the count."""
    count = 0
    for start in range(index * CHUNK, limit, workers * CHUNK):
        for n in range(start, min(start + CHUNK, limit)):
            if _is_prime(n):
                count += 1
    os.write(w, _RECORD.pack(index, count))  # one write <= PIPE_BUF: atomic
    return count


class SplitResult(NamedTuple):
    """One run of the prime count split over worker processes."""

    limit: int
    workers: int
    #: Primes below ``limit``: the sum of the workers' reports.
    primes: int
    #: What each worker reported, in worker order.
    partial_counts: tuple
    #: Wall-clock time from the first fork to the last report, in seconds.
    seconds: float
    worker_pids: tuple


def count_primes(limit: int = 200_000, workers: int = 2, deadline_s: float = 60.0
                 ) -> SplitResult:
    """Count the primes below ``limit`` (0 to 10,000,000) with ``workers`` processes
    (1 to 32), each reporting its share through one shared pipe."""
    limit = check_int("limit", limit, 0, MAX_LIMIT)
    workers = check_int("workers", workers, 1, MAX_WORKERS)
    deadline_s = check_seconds("deadline_s", deadline_s)
    _platform.require("fork", "pipe")
    return isolate.call(_count_primes, limit, workers, deadline_s, deadline_s=deadline_s)


def _count_primes(limit: int, workers: int, deadline_s: float) -> SplitResult:
    children = []
    partial = [0] * workers
    with open_pipe() as ends:
        r, w = ends
        try:
            t0 = time.perf_counter()
            for i in range(workers):
                children.append(start_child(_worker, i, workers, limit, w, pass_fds=(w,),
                                            deadline_s=deadline_s))
            close_end(ends, 1)  # only the workers write: EOF once all of them are done
            data = bytearray()
            while True:
                chunk = os.read(r, 4096)
                if not chunk:
                    break
                data += chunk
            seconds = time.perf_counter() - t0
            for child in children:
                child.wait().value()  # raise if a worker failed
        finally:
            for child in children:
                child.close()
    for off in range(0, len(data) - len(data) % _RECORD.size, _RECORD.size):
        index, count = _RECORD.unpack_from(data, off)
        partial[index] = count
    return SplitResult(limit, workers, sum(partial), tuple(partial), seconds,
                       tuple(c.pid for c in children))


class SpeedupPoint(NamedTuple):
    """The prime count with some number of workers, against one worker."""

    workers: int
    #: Median wall-clock time over the repeats, in seconds.
    seconds: float
    #: Time with one worker divided by time with ``workers`` (higher is better).
    speedup: float
    primes: int
    #: CPUs this process may run on (the ceiling for the speedup).
    cpus: int


def _cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS
        return os.cpu_count() or 1


def speedup(limit: int = 200_000, workers=(1, 2, 3, 4), repeats: int = 1,
            deadline_s: float = 120.0) -> Iterator[SpeedupPoint]:
    """Yield a :class:`SpeedupPoint` per worker count in ``workers`` (ints 1 to 32), the
    median of ``repeats`` (1 to 20) runs each. One worker is always measured first: it is
    the baseline. ``limit``: 0 to 10,000,000."""
    limit = check_int("limit", limit, 0, MAX_LIMIT)
    workers = check_int_list("workers", workers, 1, MAX_WORKERS)
    repeats = check_int("repeats", repeats, 1, 20)
    deadline_s = check_seconds("deadline_s", deadline_s)
    _platform.require("fork", "pipe")
    return isolate.iterate(_speedup, limit, workers, repeats, deadline_s,
                           deadline_s=deadline_s)


def _median(values: list) -> float:
    values = sorted(values)
    mid = len(values) // 2
    return values[mid] if len(values) % 2 else (values[mid - 1] + values[mid]) / 2


def _speedup(limit, workers, repeats, deadline_s):
    cpus = _cpus()
    base = None
    for n in dict.fromkeys((1,) + tuple(workers)):
        runs = [_count_primes(limit, n, deadline_s) for _ in range(repeats)]
        seconds = _median([run.seconds for run in runs])
        if base is None:
            base = seconds
        if n in workers:
            yield SpeedupPoint(n, seconds, base / seconds if seconds > 0 else float("inf"),
                               runs[0].primes, cpus)
