"""The shoot-out: throughput and round-trip latency of pipes, FIFOs, shared memory and Unix
domain sockets, across message sizes and CPU placements.

Every point is measured between two real processes (a writer child and a reader child, or
a client and a server) and repeated: one warm-up run, then ``repeats`` timed runs back to
back; a point reports the median with the minimum and maximum. Unless a byte count (or a
round-trip count) is given, each run lasts about ``run_s`` (50 ms by default): a short
probe times the mechanism first and the count is scaled from it, so that fast and slow
mechanisms alike are timed long enough to measure. The bytes really cross: the
reader counts every byte, checks the stream ends exactly where it should, and spot-checks
the content of the last read of each run. Points are *yielded one by one*, so a plot can
grow while the sweep runs.

The two processes of each measurement and the channel between them are
:mod:`ipclab.shootout_peers`'s, written for speed so that the comparison with C
(``benchmarks/``) is about IPC and not about Python; this module plans the runs and turns
their times into rates.

Placement matters more than anything else on a small VM: ``"same"`` pins both processes to
one CPU (every handoff is a context switch on that CPU), ``"split"`` gives each its own CPU
(handoffs are cross-CPU wake-ups), ``"free"`` lets the scheduler decide.
"""

from __future__ import annotations

import os
import statistics
from collections.abc import Iterator
from typing import NamedTuple

from . import _platform, helper_process
from ._check import (
    GIB,
    MAX_DEADLINE_S,
    check_bytes,
    check_choice,
    check_choice_list,
    check_int,
    check_int_list,
    check_seconds,
)
from ._renamed import renamed_args, renamed_fields, renamed_globals
from .errors import UnsupportedPlatformError
from .shmem import check_room
from .shootout_peers import run_one_way, run_round_trips

__all__ = [
    "MECHANISMS",
    "PLACEMENTS",
    "DEFAULT_SIZES_BYTES",
    "ThroughputPoint",
    "LatencyPoint",
    "sweep",
    "latency",
    "placement_cpus",
    "default_total_bytes",
    "shm_slots",
    "DEFAULT_RUN_S",
]

#: What can be measured: ``os.pipe``, a named pipe, a shared-memory ring with semaphore
#: doorbells, and a Unix domain stream socket pair.
MECHANISMS = ("pipe", "fifo", "shm", "unix")
#: ``"same"``: both processes on one CPU; ``"split"``: one CPU each; ``"free"``: unpinned.
PLACEMENTS = ("same", "split", "free")
DEFAULT_SIZES_BYTES = (64, 512, 4096, 65536, 1048576)

_MAX_TOTAL_BYTES = 16 * GIB
#: Seconds a timed run lasts when no count is given (``bench``'s and the notebook's default).
DEFAULT_RUN_S = 0.05
__getattr__ = renamed_globals(__name__, globals(), DEFAULT_RUN_SECONDS="DEFAULT_RUN_S")
_MAX_RUN_S = 10.0
_MIN_PROBE_S = 0.002  # a probe run shorter than this is too coarse to scale from
_PROBE_RUNS = 4  # a warm-up and three timed probe runs, each a twentieth of a run or more
_MAX_MESSAGES = 50_000_000  # per run: a cap on what a wildly short probe could ask for


class ThroughputPoint(NamedTuple):
    """One-way throughput of one mechanism at one message size (bytes per second)."""

    mechanism: str
    #: Bytes per ``write()`` (per slot for ``shm``).
    message_bytes: int
    placement: str
    #: Timed runs behind the median (after one warm-up run).
    repeats: int
    median_bytes_per_s: float
    min_bytes_per_s: float
    max_bytes_per_s: float
    #: Messages in each run (the same in every run of the point): what a C reference must
    #: move to do the same work.
    messages_per_run: int = 0

    @classmethod
    def from_rates(
        cls, mechanism: str, message_bytes: int, placement: str, rates, messages_per_run: int
    ) -> ThroughputPoint:
        """The point of ``rates`` (bytes per second, one per timed run): median, min, max."""
        return cls(
            mechanism,
            message_bytes,
            placement,
            len(rates),
            statistics.median(rates),
            min(rates),
            max(rates),
            messages_per_run,
        )


@renamed_fields(median_seconds="median_s", min_seconds="min_s", max_seconds="max_s")
class LatencyPoint(NamedTuple):
    """Round-trip time of a message there and back, in seconds."""

    mechanism: str
    message_bytes: int
    placement: str
    repeats: int
    #: Mean round trip of each run, then the median, min and max over runs (seconds).
    median_s: float
    min_s: float
    max_s: float
    #: Round trips in each run.
    round_trips_per_run: int = 0

    @classmethod
    def from_times(
        cls, mechanism: str, message_bytes: int, placement: str, times, round_trips_per_run: int
    ) -> LatencyPoint:
        """The point of ``times`` (seconds per round trip, one per timed run): median, min,
        max."""
        return cls(
            mechanism,
            message_bytes,
            placement,
            len(times),
            statistics.median(times),
            min(times),
            max(times),
            round_trips_per_run,
        )


# -- checks ------------------------------------------------------------------------------
def check_mechanisms(mechanisms) -> tuple:
    """One name or a list of distinct names from :data:`MECHANISMS`."""
    return check_choice_list("mechanisms", mechanisms, MECHANISMS)


def placement_cpus(placement: str) -> tuple | None:
    """The CPUs ``(writer_cpu, reader_cpu)`` a placement pins to; None for ``"free"``.

    Raises before anything starts if the placement is impossible here: ``"split"`` on a
    machine (or affinity mask) with one CPU, or any pinning where the system has no
    ``sched_setaffinity`` (macOS: only ``"free"``).
    """
    placement = check_choice("placement", placement, PLACEMENTS)
    if placement == "free":
        return None
    if not hasattr(os, "sched_setaffinity"):
        raise UnsupportedPlatformError(
            f"placement={placement!r} needs os.sched_setaffinity(), which this system lacks; "
            f"use placement='free'"
        )
    # The highest-numbered CPUs this process may use: CPU 0 tends to take more interrupts.
    cpus = sorted(os.sched_getaffinity(0))
    if placement == "same":
        return (cpus[-1], cpus[-1])
    if len(cpus) < 2:
        raise ValueError(
            f"placement='split' needs two CPUs, but this process may run on only "
            f"{len(cpus)} (CPU {cpus[0]}); use 'same' or 'free'"
        )
    return (cpus[-2], cpus[-1])


def shm_slots(message_bytes: int) -> int:
    """Slots in the shared-memory ring: 256 KiB of ring, 4 to 1024 slots (Python and C)."""
    message_bytes = check_bytes("message_bytes", message_bytes)
    return max(4, min(1024, (256 * 1024) // message_bytes))


def default_total_bytes(message_bytes: int) -> int:
    """About 50 ms of work at typical speeds (1 µs per message plus 2 GB/s), in bytes, in
    whole messages, at least one: a guess, not a measurement (time-based runs start their
    probe from a twentieth of it)."""
    message_bytes = check_bytes("message_bytes", message_bytes)
    estimate = int(0.05 / (1e-6 / message_bytes + 5e-10))
    return max(1, estimate // message_bytes) * message_bytes


def _deadline_for(byte_count: int, messages: int) -> float:
    """A generous deadline for moving ``byte_count`` bytes in ``messages`` messages (s)."""
    return min(MAX_DEADLINE_S, 20.0 + byte_count / 5e6 + messages * 50e-6)


def _throughput_times(mechanism, message_bytes, messages, runs, cpus) -> list:
    """Seconds of each of ``runs`` runs of ``messages`` messages (the first is a warm-up)."""
    deadline = _deadline_for(messages * message_bytes * runs, messages * runs)
    _, times = run_one_way(
        mechanism, message_bytes, messages, runs, cpus, deadline, shm_slots(message_bytes)
    )
    return times


def _measure_throughput(mechanism, message_bytes, messages, repeats, cpus) -> list:
    """Bytes per second of each timed run (the warm-up run dropped)."""
    times = _throughput_times(mechanism, message_bytes, messages, repeats + 1, cpus)
    moved = messages * message_bytes
    return [moved / t for t in times[1:]]


def _scaled_count(time_run, first: int, run_s: float, cap: int) -> int:
    """How many messages (or round trips) make a run of about ``run_s``.

    ``time_run(n)`` returns the seconds of a warm run of ``n`` (the fastest of a few: a
    disturbed probe would make every run too short). The probe starts at
    ``first`` and grows tenfold while a run is too short to time; the count is then scaled
    in proportion. At least 1, at most ``cap``.
    """
    n = max(1, min(cap, first))
    while True:
        took = time_run(n)
        if took >= _MIN_PROBE_S or n >= cap:
            break
        n = min(cap, n * 10)
    return max(1, min(cap, round(n * run_s / max(took, 1e-9))))


def _messages_for(mechanism, message_bytes, run_s, cpus) -> int:
    """Messages per run for runs of about ``run_s``: probed with a warm-up run and
    three short timed ones, each about a twentieth of a run at typical speeds."""
    cap = max(1, min(_MAX_MESSAGES, _MAX_TOTAL_BYTES // message_bytes))
    first = max(1, default_total_bytes(message_bytes) // message_bytes // 20)  # ~2.5 ms
    return _scaled_count(
        lambda n: min(_throughput_times(mechanism, message_bytes, n, _PROBE_RUNS, cpus)[1:]),
        first,
        run_s,
        cap,
    )


# -- round trips -------------------------------------------------------------------------
def _measure_latency(mechanism, message_bytes, round_trips, repeats, cpus) -> list:
    """Mean round-trip seconds of each timed run (the warm-up run dropped)."""
    runs = repeats + 1
    deadline = _deadline_for(2 * message_bytes * round_trips * runs, 2 * round_trips * runs)
    times, _ = run_round_trips(mechanism, message_bytes, round_trips, runs, cpus, deadline)
    return times[1:]


# -- public ------------------------------------------------------------------------------
def _check_common(mechanisms, repeats, placement):
    mechanisms = check_mechanisms(mechanisms)
    repeats = check_int("repeats", repeats, 1, 1000)
    cpus = placement_cpus(placement)
    _platform.require("fork", "pipe")
    if "fifo" in mechanisms:
        _platform.require("mkfifo")
    return mechanisms, repeats, cpus


def _check_run_s(count_name: str, count, run_s) -> float | None:
    """``run_s`` checked, or the default when neither it nor the count is given; None
    when the count decides."""
    if count is not None and run_s is not None:
        raise ValueError(
            f"give {count_name} or run_s, not both (got {count_name}={count!r}, run_s={run_s!r})"
        )
    if count is not None:
        return None
    if run_s is None:
        return DEFAULT_RUN_S
    return check_seconds("run_s", run_s, 0.0, _MAX_RUN_S)


def _timed_budget(run_s: float, repeats: int) -> float:
    """A generous deadline for one time-based point (seconds): probes, warm-up, timed runs,
    ten times over, plus start-up."""
    return 20.0 + 10 * run_s * (repeats + 3)


@renamed_args(run_seconds="run_s")
def sweep(
    mechanisms=MECHANISMS,
    sizes_bytes=DEFAULT_SIZES_BYTES,
    repeats: int = 5,
    placement: str = "free",
    total_bytes: int | None = None,
    run_s: float | None = None,
) -> Iterator[ThroughputPoint]:
    """Yield the one-way throughput of each mechanism at each message size, point by point.

    ``mechanisms``: names from :data:`MECHANISMS`. ``sizes_bytes``: message sizes, 1 byte
    to 1 GiB each. ``repeats``: timed runs per point (1 to 1000), after one warm-up run.
    ``placement``: ``"same"``, ``"split"`` or ``"free"`` (see :func:`placement_cpus`).
    How long a run is: either ``total_bytes``, bytes per run (1 byte to 16 GiB, rounded up
    to whole messages), or ``run_s``, seconds per run (up to 10; a probe picks the
    message count). Neither: runs of :data:`DEFAULT_RUN_S` (50 ms). Sizes are the
    outer loop, so every mechanism's curve grows together. Iterate to run; breaking out of
    the loop stops the experiment and cleans up.
    """
    mechanisms, repeats, cpus = _check_common(mechanisms, repeats, placement)
    sizes = check_int_list("sizes_bytes", sizes_bytes, 1, GIB, "bytes")
    if total_bytes is not None:
        total_bytes = check_bytes("total_bytes", total_bytes, 1, _MAX_TOTAL_BYTES)
    run_s = _check_run_s("total_bytes", total_bytes, run_s)
    if "shm" in mechanisms:
        check_room(max(shm_slots(s) * s for s in sizes))
    if run_s is None:
        assert total_bytes is not None  # no time given: the count decides
        plan = [(size, max(1, -(-total_bytes // size))) for size in sizes]
        budget = sum(
            _deadline_for(n * s * (repeats + 1), n * (repeats + 1)) for s, n in plan
        ) * len(mechanisms)
    else:
        plan = [(size, None) for size in sizes]
        budget = _timed_budget(run_s, repeats) * len(sizes) * len(mechanisms)
    return helper_process.iterate(
        _sweep, mechanisms, plan, repeats, placement, cpus, run_s, deadline_s=budget
    )


def _sweep(mechanisms, plan, repeats, placement, cpus, run_s):
    for size, messages in plan:
        for mechanism in mechanisms:
            n = messages or _messages_for(mechanism, size, run_s, cpus)
            rates = _measure_throughput(mechanism, size, n, repeats, cpus)
            yield ThroughputPoint.from_rates(mechanism, size, placement, rates, n)


@renamed_args(run_seconds="run_s")
def latency(
    mechanisms=MECHANISMS,
    message_bytes: int = 1,
    repeats: int = 5,
    placement: str = "free",
    round_trips: int | None = None,
    run_s: float | None = None,
) -> Iterator[LatencyPoint]:
    """Yield the round-trip time of a ``message_bytes`` message (1 byte to 16 MiB) for each
    mechanism, point by point: a client sends it, a server sends it back, over and over;
    ``repeats`` timed runs (1 to 1000) after one warm-up. How long a run is: either
    ``round_trips`` per run (1 to 1,000,000), or ``run_s`` (up to 10; a probe picks the
    count); neither: :data:`DEFAULT_RUN_S`. Each run's mean round trip (seconds) goes
    into the median, min and max."""
    mechanisms, repeats, cpus = _check_common(mechanisms, repeats, placement)
    message_bytes = check_bytes("message_bytes", message_bytes, 1, 16 * 1024 * 1024)
    if round_trips is not None:
        round_trips = check_int("round_trips", round_trips, 1, 1_000_000)
        if (repeats + 1) * round_trips > 10_000_000:
            raise ValueError(
                f"(repeats + 1) * round_trips must be at most 10,000,000, "
                f"got {(repeats + 1) * round_trips}"
            )
    run_s = _check_run_s("round_trips", round_trips, run_s)
    runs = repeats + 1
    if run_s is None:
        assert round_trips is not None  # no time given: the count decides
        budget = _deadline_for(
            2 * message_bytes * round_trips * runs, 2 * round_trips * runs
        ) * len(mechanisms)
    else:
        budget = _timed_budget(run_s, repeats) * len(mechanisms)
    return helper_process.iterate(
        _latency,
        mechanisms,
        message_bytes,
        repeats,
        placement,
        cpus,
        round_trips,
        run_s,
        deadline_s=budget,
    )


def _round_trips_for(mechanism, message_bytes, run_s, repeats, cpus) -> int:
    """Round trips per run for runs of about ``run_s`` (probed like throughput)."""
    cap = max(1, min(1_000_000, 10_000_000 // (repeats + 1)))
    return _scaled_count(
        lambda n: min(_measure_latency(mechanism, message_bytes, n, _PROBE_RUNS - 1, cpus)) * n,
        50,
        run_s,
        cap,
    )


def _latency(mechanisms, message_bytes, repeats, placement, cpus, round_trips, run_s):
    for mechanism in mechanisms:
        n = round_trips or _round_trips_for(mechanism, message_bytes, run_s, repeats, cpus)
        times = _measure_latency(mechanism, message_bytes, n, repeats, cpus)
        yield LatencyPoint.from_times(mechanism, message_bytes, placement, times, n)
