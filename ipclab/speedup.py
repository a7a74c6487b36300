"""Computation speedup: one job split over worker processes that report through a pipe.

The job is counting the primes below ``limit`` by trial division — pure CPU work, easy to
split. The numbers are cut into chunks of :data:`CHUNK` and dealt round-robin to the
workers (so each gets a fair mix of small and large numbers). Every worker sends its partial
count (and the CPU time it used) to the parent as one 24-byte record over a single shared
pipe: a write of at most
``PIPE_BUF`` bytes is atomic, so records from several workers never mix. The parent adds
them up once every worker has closed its write end (end of file).

How much faster several workers are depends on the machine — its number of CPUs, and what
else runs on it — so the notebook marks these numbers as machine-dependent. The ideal is
``min(workers, CPUs)``, with CPUs counted as ``len(os.sched_getaffinity(0))`` (the CPUs this
process may use); :func:`speedup` reports medians with their spread.
"""

from __future__ import annotations

import os
import struct
import time
from collections.abc import Iterator
from typing import NamedTuple

from . import _platform, helper_process
from ._check import check_int, check_int_list, check_seconds
from ._renamed import renamed_fields
from ._resources import open_pipe
from .process import ChildGroup

__all__ = [
    "CHUNK",
    "MAX_WORKERS",
    "SplitResult",
    "count_primes",
    "SpeedupPoint",
    "speedup",
    "primes_below",
]

#: Numbers per chunk of work dealt to one worker.
CHUNK = 1000
#: Most workers one run may start.
MAX_WORKERS = 32
#: Largest ``limit`` accepted (about 10 s of work for one process).
MAX_LIMIT = 10_000_000
_RECORD = struct.Struct("!IxxxxQd")  # worker index, prime count, CPU seconds: 24 bytes


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
    """Count primes in chunks index, index+workers, ...; send one record (with the CPU time
    this process used: a forked child's count starts at zero); return the count."""
    count = 0
    for start in range(index * CHUNK, limit, workers * CHUNK):
        for n in range(start, min(start + CHUNK, limit)):
            if _is_prime(n):
                count += 1
    cpu_s = time.process_time()  # this process's CPU clock: zero at fork
    os.write(w, _RECORD.pack(index, count, cpu_s))  # one write <= PIPE_BUF: atomic
    return count


@renamed_fields(cpu_seconds="cpu_s")
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
    #: CPU time the workers used, all together, in seconds (user + system).
    cpu_s: float = 0.0


def count_primes(limit: int = 200_000, workers: int = 2, deadline_s: float = 60.0) -> SplitResult:
    """Count the primes below ``limit`` (0 to 10,000,000) with ``workers`` processes
    (1 to 32), each reporting its share through one shared pipe."""
    limit = check_int("limit", limit, 0, MAX_LIMIT)
    workers = check_int("workers", workers, 1, MAX_WORKERS)
    deadline_s = check_seconds("deadline_s", deadline_s)
    _platform.require("fork", "pipe")
    return helper_process.call(_count_primes, limit, workers, deadline_s, deadline_s=deadline_s)


def _count_primes(limit: int, workers: int, deadline_s: float) -> SplitResult:
    partial = [0] * workers
    with ChildGroup(deadline_s=deadline_s) as group, open_pipe() as ends:
        r, w = ends
        t0 = time.perf_counter()
        children = [
            group.start(_worker, i, workers, limit, w, pass_fds=(w,)) for i in range(workers)
        ]
        group.give(w)  # only the workers write: EOF once all of them are done
        ends[1] = None
        group.release()
        data = bytearray()
        while chunk := os.read(r, 4096):
            data += chunk
        seconds = time.perf_counter() - t0
        group.values()  # raise if a worker failed
    cpu = 0.0
    for off in range(0, len(data) - len(data) % _RECORD.size, _RECORD.size):
        index, count, cpu_s = _RECORD.unpack_from(data, off)
        partial[index] = count
        cpu += cpu_s
    return SplitResult(
        limit, workers, sum(partial), tuple(partial), seconds, tuple(c.pid for c in children), cpu
    )


@renamed_fields(min_seconds="min_s", max_seconds="max_s")
class SpeedupPoint(NamedTuple):
    """The prime count with some number of workers, against one worker.

    Each repeat is one *round* that times every worker count once, one after the other, so
    that a change in the machine's load or clock speed during the measurement hits all
    counts alike; the speedup of a round is the 1-worker time of that same round divided
    by this count's time. A warm-up round runs first and is not counted.
    """

    workers: int
    #: Median wall-clock time over the repeats, in seconds.
    seconds: float
    #: Fastest and slowest of the repeats, in seconds.
    min_s: float
    max_s: float
    #: Median over the rounds of (1-worker time / this time) (higher is better).
    speedup: float
    #: Lowest and highest speedup of a round: the spread.
    min_speedup: float
    max_speedup: float
    primes: int
    #: CPUs this process may run on (``len(os.sched_getaffinity(0))``): the ceiling.
    cpus: int
    #: Rounds measured (the warm-up round not included).
    repeats: int
    #: Median over the rounds of the CPU time the workers got divided by what they could
    #: have had (wall time x min(workers, CPUs)): near 1 when every usable CPU worked for
    #: them all along; lower when other programs took CPU time (then the speedup is
    #: disturbed too) or when the work did not divide evenly over the CPUs.
    cpu_share: float = 1.0

    @property
    def ideal_speedup(self) -> int:
        """``min(workers, cpus)``: what perfect splitting gives, with no cost at all."""
        return min(self.workers, self.cpus)


def _cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS
        return os.cpu_count() or 1


def speedup(
    limit: int = 200_000, workers=(1, 2, 3, 4), repeats: int = 3, deadline_s: float = 120.0
) -> Iterator[SpeedupPoint]:
    """Yield a :class:`SpeedupPoint` per worker count in ``workers`` (ints 1 to 32), from
    ``repeats`` (1 to 20) interleaved rounds after one warm-up round. One worker is always
    measured too: it is the baseline. ``limit``: 0 to 10,000,000."""
    limit = check_int("limit", limit, 0, MAX_LIMIT)
    workers = check_int_list("workers", workers, 1, MAX_WORKERS)
    repeats = check_int("repeats", repeats, 1, 20)
    deadline_s = check_seconds("deadline_s", deadline_s)
    _platform.require("fork", "pipe")
    return helper_process.iterate(
        _speedup, limit, workers, repeats, deadline_s, deadline_s=deadline_s
    )


def _median(values: list) -> float:
    values = sorted(values)
    mid = len(values) // 2
    return values[mid] if len(values) % 2 else (values[mid - 1] + values[mid]) / 2


def _ratio(base: float, seconds: float) -> float:
    return base / seconds if seconds > 0 else float("inf")


def _speedup(limit, workers, repeats, deadline_s):
    cpus = _cpus()
    counts = tuple(dict.fromkeys((1,) + tuple(workers)))
    # One baseline timed once, before the rest, turns any change of load or clock speed
    # between the runs into a "speedup" (above the ideal, too). So: an untimed warm-up
    # round, then rounds that each time every count, and ratios taken within a round.
    for n in counts:
        _count_primes(limit, n, deadline_s)
    rounds = [{n: _count_primes(limit, n, deadline_s) for n in counts} for _ in range(repeats)]
    for n in workers:
        times = [r[n].seconds for r in rounds]
        ratios = [_ratio(r[1].seconds, r[n].seconds) for r in rounds]
        shares = [_cpu_share(r[n], cpus) for r in rounds]
        yield SpeedupPoint(
            n,
            _median(times),
            min(times),
            max(times),
            _median(ratios),
            min(ratios),
            max(ratios),
            rounds[0][n].primes,
            cpus,
            repeats,
            _median(shares),
        )


def _cpu_share(run: SplitResult, cpus: int) -> float:
    usable = run.seconds * min(run.workers, cpus)
    return run.cpu_s / usable if usable > 0 else 0.0
