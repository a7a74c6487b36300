"""The shoot-out: throughput and round-trip latency of pipes, FIFOs, shared memory and Unix
domain sockets, across message sizes and CPU placements.

Every point is measured between two real processes (a writer child and a reader child, or
a client and a server) and repeated: one warm-up run, then ``repeats`` timed runs back to
back; a point reports the median with the minimum and maximum. Unless a byte count (or a
round-trip count) is given, each run lasts about ``run_seconds`` (50 ms by default): a short
probe times the mechanism first and the count is scaled from it, so that fast and slow
mechanisms alike are timed long enough to measure. The bytes really cross: the
reader counts every byte, checks the stream ends exactly where it should, and spot-checks
the content of the last read of each run. Points are *yielded one by one*, so a plot can
grow while the sweep runs.

The Python side is written for speed so that the comparison with C (``benchmarks/``) is
about IPC and not about Python: buffers allocated once, ``FileIO.readinto`` into them (no
allocation per read), one system call per message where C makes one.

Placement matters more than anything else on a small VM: ``"same"`` pins both processes to
one CPU (every handoff is a context switch on that CPU), ``"split"`` gives each its own CPU
(handoffs are cross-CPU wake-ups), ``"free"`` lets the scheduler decide.
"""

from __future__ import annotations

import itertools
import os
import socket
import statistics
import struct
import time
from typing import Iterator, NamedTuple

from . import _platform, isolate
from ._check import (GIB, MAX_DEADLINE_S, check_bytes, check_choice, check_choice_list,
                     check_int, check_int_list, check_seconds)
from ._resources import close_end, close_quietly, open_pipe, private_dir
from .errors import IpclabError, UnsupportedPlatformError
from .process import start_child
from .shm import Segment, _check_room, _semaphore

__all__ = [
    "MECHANISMS", "PLACEMENTS", "DEFAULT_SIZES_BYTES", "ThroughputPoint", "LatencyPoint",
    "sweep", "latency", "placement_cpus", "default_total_bytes", "shm_slots",
    "DEFAULT_RUN_SECONDS",
]

#: What can be measured: ``os.pipe``, a named pipe, a shared-memory ring with semaphore
#: doorbells, and a Unix domain stream socket pair.
MECHANISMS = ("pipe", "fifo", "shm", "unix")
#: ``"same"``: both processes on one CPU; ``"split"``: one CPU each; ``"free"``: unpinned.
PLACEMENTS = ("same", "split", "free")
DEFAULT_SIZES_BYTES = (64, 512, 4096, 65536, 1048576)

_STAMP = struct.Struct("<Q")
_PATTERN_PERIOD = 251  # a prime: a stream shifted by a few bytes does not match
_MAX_TOTAL_BYTES = 16 * GIB
#: Seconds a timed run lasts when no count is given (``bench``'s and the notebook's default).
DEFAULT_RUN_SECONDS = 0.05
_MAX_RUN_SECONDS = 10.0
_MIN_PROBE_SECONDS = 0.002  # a probe run shorter than this is too coarse to scale from
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


class LatencyPoint(NamedTuple):
    """Round-trip time of a message there and back, in seconds."""

    mechanism: str
    message_bytes: int
    placement: str
    repeats: int
    #: Mean round trip of each run, then the median, min and max over runs (seconds).
    median_seconds: float
    min_seconds: float
    max_seconds: float
    #: Round trips in each run.
    round_trips_per_run: int = 0


# -- checks ------------------------------------------------------------------------------
def _check_mechanisms(mechanisms) -> tuple:
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
            f"use placement='free'")
    # The highest-numbered CPUs this process may use: CPU 0 tends to take more interrupts.
    cpus = sorted(os.sched_getaffinity(0))
    if placement == "same":
        return (cpus[-1], cpus[-1])
    if len(cpus) < 2:
        raise ValueError(f"placement='split' needs two CPUs, but this process may run on only "
                         f"{len(cpus)} (CPU {cpus[0]}); use 'same' or 'free'")
    return (cpus[-2], cpus[-1])


def default_total_bytes(message_bytes: int) -> int:
    """About 50 ms of work at typical speeds (1 µs per message plus 2 GB/s), in bytes, in
    whole messages, at least one: a guess, not a measurement (time-based runs start their
    probe from a twentieth of it)."""
    message_bytes = check_bytes("message_bytes", message_bytes)
    estimate = int(0.05 / (1e-6 / message_bytes + 5e-10))
    return max(1, estimate // message_bytes) * message_bytes


def shm_slots(message_bytes: int) -> int:
    """Slots in the shared-memory ring: 256 KiB of ring, 4 to 1024 slots (Python and C)."""
    message_bytes = check_bytes("message_bytes", message_bytes)
    return max(4, min(1024, (256 * 1024) // message_bytes))


def _deadline_for(byte_count: int, messages: int) -> float:
    """A generous deadline for moving ``byte_count`` bytes in ``messages`` messages (s)."""
    return min(MAX_DEADLINE_S, 20.0 + byte_count / 5e6 + messages * 50e-6)


# -- the children ------------------------------------------------------------------------
def _pin(cpu: int | None) -> None:
    if cpu is not None:
        os.sched_setaffinity(0, {cpu})


def _pattern(message_bytes: int) -> bytearray:
    """The bytes of every message: 0, 1, ..., 250, 0, 1, ... (period 251)."""
    period = bytes(range(_PATTERN_PERIOD))
    return bytearray((period * (message_bytes // _PATTERN_PERIOD + 1))[:message_bytes])


def _open_end(mechanism: str, end, writing: bool):
    """A raw, unbuffered file object (``FileIO``) for an fd or a FIFO path."""
    if mechanism == "fifo":
        end = os.open(end, os.O_WRONLY if writing else os.O_RDONLY)  # waits for the partner
    return open(end, "wb" if writing else "rb", buffering=0)


def _stream_writer(mechanism, end, message_bytes, messages, runs, cpu, go_r) -> int:
    _pin(cpu)
    f = _open_end(mechanism, end, True)
    view = memoryview(_pattern(message_bytes))
    write = f.write
    try:
        os.read(go_r, 1)
        for _ in range(messages * runs):
            n = write(view)
            while n < message_bytes:  # a partial write (a signal, or a socket): finish it
                n += write(view[n:])
    finally:
        f.close()  # the reader sees end of file
    return messages * runs


def _stream_reader(mechanism, end, message_bytes, messages, runs, cpu, go_r) -> list:
    _pin(cpu)
    f = _open_end(mechanism, end, False)
    buf = bytearray(message_bytes)  # allocated once: readinto copies straight into it
    view = memoryview(buf)
    readinto = f.readinto
    per_run = message_bytes * messages
    expected = _pattern(message_bytes) * 2
    times = []
    try:
        os.read(go_r, 1)
        t_prev = time.monotonic()
        for _ in range(runs):
            left = per_run
            n = 0
            while left >= message_bytes:
                n = readinto(view)
                if not n:
                    raise IpclabError(f"stream ended {left} bytes early")
                left -= n
            while left:
                n = readinto(view[:left])
                if not n:
                    raise IpclabError(f"stream ended {left} bytes early")
                left -= n
            t = time.monotonic()
            times.append(t - t_prev)
            t_prev = t
            # Spot check: the last read held stream bytes [per_run - n, per_run) of the run.
            start = (per_run - n) % message_bytes
            if view[:n] != expected[start:start + n]:
                raise IpclabError("the bytes that arrived are not the bytes that were sent")
        if readinto(view[:1]):
            raise IpclabError("the stream holds more bytes than were sent")
    finally:
        f.close()
    return times


def _slot_views(ring: memoryview, slots: int, message_bytes: int) -> list:
    """One memoryview per slot, made once: copying into or out of one is a bare memcpy."""
    return [ring[i * message_bytes:(i + 1) * message_bytes] for i in range(slots)]


def _shm_writer(name, slots, message_bytes, messages, runs, cpu, empty, full, go_r) -> int:
    _pin(cpu)
    seg = Segment.attach(name, slots * message_bytes)
    ring = memoryview(seg.map)
    views = _slot_views(ring, slots, message_bytes)
    source = memoryview(_pattern(message_bytes))
    acquire, release = empty.acquire, full.release
    ring_order = itertools.cycle(views)  # slot after slot, round the ring
    try:
        os.read(go_r, 1)
        for run in range(runs):
            for view in itertools.islice(ring_order, messages - 1):
                acquire()  # a free slot, or sleep until the reader frees one
                view[:] = source  # copy in
                release()  # doorbell
            # The run's last message also carries its number in its first 8 bytes, for
            # the reader's spot check (C does the same).
            view = next(ring_order)
            acquire()
            view[:] = source
            if message_bytes >= 8:
                _STAMP.pack_into(view, 0, (run + 1) * messages - 1)
            release()
    finally:
        for view in views:
            view.release()
        ring.release()
        seg.close()
    return messages * runs


def _shm_reader(name, slots, message_bytes, messages, runs, cpu, empty, full, go_r) -> list:
    _pin(cpu)
    seg = Segment.attach(name, slots * message_bytes)
    ring = memoryview(seg.map)
    views = _slot_views(ring, slots, message_bytes)
    target = bytearray(message_bytes)
    tview = memoryview(target)  # view = view copies once; bytearray[:] = view twice
    acquire, release = full.acquire, empty.release
    ring_order = itertools.cycle(views)
    expected = _pattern(message_bytes)
    times = []
    try:
        os.read(go_r, 1)
        t_prev = time.monotonic()
        for run in range(runs):
            for view in itertools.islice(ring_order, messages):
                acquire()  # sleep until the writer rings
                tview[:] = view  # copy out
                release()  # the slot is free again
            t = time.monotonic()
            times.append(t - t_prev)
            t_prev = t
            # Spot check the run's last message: its number, and the rest of its bytes.
            last = (run + 1) * messages - 1
            if message_bytes >= 8 and _STAMP.unpack_from(target)[0] != last:
                raise IpclabError(f"message {last} carried number "
                                  f"{_STAMP.unpack_from(target)[0]}: one was lost or repeated")
            if target[8:] != expected[8:]:
                raise IpclabError("the bytes that arrived are not the bytes that were sent")
    finally:
        tview.release()
        for view in views:
            view.release()
        ring.release()
        seg.close()
    return times


def _wait_all(children) -> list:
    """Wait for every child; as soon as one fails, stop the others and raise."""
    pending = list(children)
    results = {}
    while pending:
        for child in list(pending):
            if child.alive() and child.seconds_left() > 0:
                continue
            end = child.wait()
            pending.remove(child)
            if end.timed_out or end.error or end.exit_status:
                for other in children:
                    other.close()
                end.value()  # raises ChildTimeoutError or ChildFailedError
            results[child] = end.result
        if pending:
            time.sleep(0.02)  # rare wake-ups: the children do the measuring
    return [results[c] for c in children]


def _run_children(specs, go: list, parent_fds: list, deadline_s: float) -> list:
    """Start a child per ``(target, args, pass_fds)``, each given ``go[0]`` last; close the
    parent's copies of ``parent_fds`` (so that end of file works) and the go pipe's write end
    (which starts them all at once); wait for all and return their results in order."""
    children = []
    try:
        for target, args, keep in specs:
            children.append(start_child(target, *args, go[0], pass_fds=(go[0], *keep),
                                        deadline_s=deadline_s))
        close_quietly(*parent_fds)  # only the children hold the ends now
        parent_fds.clear()
        close_end(go, 1)  # start!
        return _wait_all(children)
    finally:
        for child in children:
            child.close()


def _fd_ends(*ends) -> tuple:
    """The ends that are fds (a child must keep them); FIFO paths need nothing kept."""
    return tuple({e for e in ends if isinstance(e, int)})


def _run_pair(mechanism: str, message_bytes: int, args: tuple, cpus: tuple | None,
              deadline_s: float) -> list:
    """Run a writer child and a reader child of one throughput experiment; return
    ``[writer_result, reader_result]``. ``args`` go to both after the endpoint."""
    cpu_w, cpu_r = cpus if cpus else (None, None)
    with private_dir() as directory, open_pipe() as go:
        fds: list = []
        try:
            if mechanism == "shm":
                slots = shm_slots(message_bytes)
                # The name stays until both children end: they attach by it when they start.
                with Segment.create(slots * message_bytes) as seg:
                    bells = (_semaphore(slots), _semaphore(0))  # free slots, full slots
                    return _run_children(
                        [(target, (seg.name, slots, message_bytes, *args, cpu, *bells), ())
                         for target, cpu in ((_shm_writer, cpu_w), (_shm_reader, cpu_r))],
                        go, fds, deadline_s)
            if mechanism == "pipe":
                fds = list(os.pipe())
                ends = (fds[1], fds[0])
            elif mechanism == "unix":
                a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
                fds = [a.detach(), b.detach()]
                ends = (fds[0], fds[1])
            else:
                path = os.path.join(directory, "bench.fifo")
                os.mkfifo(path, 0o600)
                ends = (path, path)
            return _run_children(
                [(target, (mechanism, end, message_bytes, *args, cpu), _fd_ends(end))
                 for target, end, cpu in ((_stream_writer, ends[0], cpu_w),
                                          (_stream_reader, ends[1], cpu_r))],
                go, fds, deadline_s)
        finally:
            close_quietly(*fds)


def _throughput_times(mechanism, message_bytes, messages, runs, cpus) -> list:
    """Seconds of each of ``runs`` runs of ``messages`` messages (the first is a warm-up)."""
    deadline = _deadline_for(messages * message_bytes * runs, messages * runs)
    _, times = _run_pair(mechanism, message_bytes, (messages, runs), cpus, deadline)
    return times


def _measure_throughput(mechanism, message_bytes, messages, repeats, cpus) -> list:
    """Bytes per second of each timed run (the warm-up run dropped)."""
    times = _throughput_times(mechanism, message_bytes, messages, repeats + 1, cpus)
    moved = messages * message_bytes
    return [moved / t for t in times[1:]]


def _scaled_count(time_run, first: int, run_seconds: float, cap: int) -> int:
    """How many messages (or round trips) make a run of about ``run_seconds``.

    ``time_run(n)`` returns the seconds of a warm run of ``n`` (the fastest of a few: a
    disturbed probe would make every run too short). The probe starts at
    ``first`` and grows tenfold while a run is too short to time; the count is then scaled
    in proportion. At least 1, at most ``cap``.
    """
    n = max(1, min(cap, first))
    while True:
        took = time_run(n)
        if took >= _MIN_PROBE_SECONDS or n >= cap:
            break
        n = min(cap, n * 10)
    return max(1, min(cap, round(n * run_seconds / max(took, 1e-9))))


def _messages_for(mechanism, message_bytes, run_seconds, cpus) -> int:
    """Messages per run for runs of about ``run_seconds``: probed with a warm-up run and
    three short timed ones, each about a twentieth of a run at typical speeds."""
    cap = max(1, min(_MAX_MESSAGES, _MAX_TOTAL_BYTES // message_bytes))
    first = max(1, default_total_bytes(message_bytes) // message_bytes // 20)  # ~2.5 ms
    return _scaled_count(
        lambda n: min(_throughput_times(mechanism, message_bytes, n, _PROBE_RUNS, cpus)[1:]),
        first, run_seconds, cap)


# -- round trips -------------------------------------------------------------------------
def _read_rest(readinto, view, got: int, n: int) -> None:
    """Go on reading into ``view`` until it holds ``n`` bytes (``got`` are there already)."""
    while got < n:
        more = readinto(view[got:])
        if not more:
            raise IpclabError(f"the peer closed after {got} of {n} bytes")
        got += more


def _stream_client(mechanism, ends, message_bytes, round_trips, runs, cpu, go_r) -> list:
    _pin(cpu)
    if mechanism == "fifo":  # the server opens in the same order: no deadlock
        out = _open_end("fifo", ends[0], True)
        inp = _open_end("fifo", ends[1], False)
    else:
        out = open(ends[0], "wb", buffering=0)
        inp = open(ends[1], "rb", buffering=0, closefd=ends[1] != ends[0])
    buf = _pattern(message_bytes)
    view = memoryview(buf)
    write, readinto = out.write, inp.readinto
    times = []
    try:
        os.read(go_r, 1)
        for _ in range(runs):
            t0 = time.monotonic()
            for _ in range(round_trips):
                n = write(view)
                while n < message_bytes:
                    n += write(view[n:])
                got = readinto(view)
                if got != message_bytes:  # a message larger than the pipe comes in parts
                    _read_rest(readinto, view, got, message_bytes)
            times.append((time.monotonic() - t0) / round_trips)
        if buf != _pattern(message_bytes):
            raise IpclabError("the message came back changed")
    finally:
        out.close()
        inp.close()
    return times


def _stream_server(mechanism, ends, message_bytes, round_trips, runs, cpu, go_r) -> int:
    _pin(cpu)
    if mechanism == "fifo":
        inp = _open_end("fifo", ends[0], False)
        out = _open_end("fifo", ends[1], True)
    else:
        inp = open(ends[0], "rb", buffering=0)
        out = open(ends[1], "wb", buffering=0, closefd=ends[1] != ends[0])
    view = memoryview(bytearray(message_bytes))
    write, readinto = out.write, inp.readinto
    try:
        os.read(go_r, 1)
        for _ in range(round_trips * runs):
            got = readinto(view)
            if got != message_bytes:
                _read_rest(readinto, view, got, message_bytes)
            n = write(view)  # echo it
            while n < message_bytes:
                n += write(view[n:])
    finally:
        inp.close()
        out.close()
    return round_trips * runs


def _shm_client(name, message_bytes, round_trips, runs, cpu, ping, pong, go_r) -> list:
    _pin(cpu)
    seg = Segment.attach(name, message_bytes)
    box = memoryview(seg.map)
    message = _pattern(message_bytes)
    reply = bytearray(message_bytes)
    times = []
    try:
        os.read(go_r, 1)
        for _ in range(runs):
            t0 = time.monotonic()
            for _ in range(round_trips):
                box[:] = message  # copy in
                ping.release()  # wake the server
                pong.acquire()  # sleep until it answers
                reply[:] = box  # copy out
            times.append((time.monotonic() - t0) / round_trips)
        if reply != message:
            raise IpclabError("the message came back changed")
    finally:
        box.release()
        seg.close()
    return times


def _shm_server(name, message_bytes, round_trips, runs, cpu, ping, pong, go_r) -> int:
    _pin(cpu)
    seg = Segment.attach(name, message_bytes)
    box = memoryview(seg.map)
    held = bytearray(message_bytes)
    try:
        os.read(go_r, 1)
        for _ in range(round_trips * runs):
            ping.acquire()
            held[:] = box  # copy out
            box[:] = held  # and back in: the echo
            pong.release()
    finally:
        box.release()
        seg.close()
    return round_trips * runs


def _measure_latency(mechanism, message_bytes, round_trips, repeats, cpus) -> list:
    runs = repeats + 1
    deadline = _deadline_for(2 * message_bytes * round_trips * runs, 2 * round_trips * runs)
    cpu_a, cpu_b = cpus if cpus else (None, None)
    with private_dir() as directory, open_pipe() as go:
        fds: list = []
        try:
            if mechanism == "shm":
                with Segment.create(message_bytes) as seg:
                    ping, pong = _semaphore(0), _semaphore(0)
                    times = _run_children(
                        [(target, (seg.name, message_bytes, round_trips, runs, cpu, ping, pong), ())
                         for target, cpu in ((_shm_client, cpu_a), (_shm_server, cpu_b))],
                        go, fds, deadline)[0]
                return times[1:]
            if mechanism == "pipe":
                there, back = os.pipe(), os.pipe()
                fds = [*there, *back]
                client_ends, server_ends = (there[1], back[0]), (there[0], back[1])
            elif mechanism == "unix":
                a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
                fds = [a.detach(), b.detach()]
                client_ends, server_ends = (fds[0], fds[0]), (fds[1], fds[1])
            else:
                there = os.path.join(directory, "request.fifo")
                back = os.path.join(directory, "reply.fifo")
                os.mkfifo(there, 0o600)
                os.mkfifo(back, 0o600)
                client_ends, server_ends = (there, back), (there, back)
            times = _run_children(
                [(target, (mechanism, ends, message_bytes, round_trips, runs, cpu),
                  _fd_ends(*ends))
                 for target, ends, cpu in ((_stream_client, client_ends, cpu_a),
                                           (_stream_server, server_ends, cpu_b))],
                go, fds, deadline)[0]
            return times[1:]
        finally:
            close_quietly(*fds)


# -- public ------------------------------------------------------------------------------
def _check_common(mechanisms, repeats, placement):
    mechanisms = _check_mechanisms(mechanisms)
    repeats = check_int("repeats", repeats, 1, 1000)
    cpus = placement_cpus(placement)
    _platform.require("fork", "pipe")
    if "fifo" in mechanisms:
        _platform.require("mkfifo")
    return mechanisms, repeats, cpus


def _check_run_seconds(count_name: str, count, run_seconds) -> float | None:
    """``run_seconds`` checked, or the default when neither it nor the count is given; None
    when the count decides."""
    if count is not None and run_seconds is not None:
        raise ValueError(f"give {count_name} or run_seconds, not both "
                         f"(got {count_name}={count!r}, run_seconds={run_seconds!r})")
    if count is not None:
        return None
    if run_seconds is None:
        return DEFAULT_RUN_SECONDS
    return check_seconds("run_seconds", run_seconds, 0.0, _MAX_RUN_SECONDS)


def _timed_budget(run_seconds: float, repeats: int) -> float:
    """A generous deadline for one time-based point (seconds): probes, warm-up, timed runs,
    ten times over, plus start-up."""
    return 20.0 + 10 * run_seconds * (repeats + 3)


def sweep(mechanisms=MECHANISMS, sizes_bytes=DEFAULT_SIZES_BYTES, repeats: int = 5,
          placement: str = "free", total_bytes: int | None = None,
          run_seconds: float | None = None) -> Iterator[ThroughputPoint]:
    """Yield the one-way throughput of each mechanism at each message size, point by point.

    ``mechanisms``: names from :data:`MECHANISMS`. ``sizes_bytes``: message sizes, 1 byte
    to 1 GiB each. ``repeats``: timed runs per point (1 to 1000), after one warm-up run.
    ``placement``: ``"same"``, ``"split"`` or ``"free"`` (see :func:`placement_cpus`).
    How long a run is: either ``total_bytes``, bytes per run (1 byte to 16 GiB, rounded up
    to whole messages), or ``run_seconds``, seconds per run (up to 10; a probe picks the
    message count). Neither: runs of :data:`DEFAULT_RUN_SECONDS` (50 ms). Sizes are the
    outer loop, so every mechanism's curve grows together. Iterate to run; breaking out of
    the loop stops the experiment and cleans up.
    """
    mechanisms, repeats, cpus = _check_common(mechanisms, repeats, placement)
    sizes = check_int_list("sizes_bytes", sizes_bytes, 1, GIB, "bytes")
    if total_bytes is not None:
        total_bytes = check_bytes("total_bytes", total_bytes, 1, _MAX_TOTAL_BYTES)
    run_seconds = _check_run_seconds("total_bytes", total_bytes, run_seconds)
    if "shm" in mechanisms:
        _check_room(max(shm_slots(s) * s for s in sizes))
    if run_seconds is None:
        plan = [(size, max(1, -(-total_bytes // size))) for size in sizes]
        budget = sum(_deadline_for(n * s * (repeats + 1), n * (repeats + 1))
                     for s, n in plan) * len(mechanisms)
    else:
        plan = [(size, None) for size in sizes]
        budget = _timed_budget(run_seconds, repeats) * len(sizes) * len(mechanisms)
    return isolate.iterate(_sweep, mechanisms, plan, repeats, placement, cpus, run_seconds,
                           deadline_s=budget)


def _sweep(mechanisms, plan, repeats, placement, cpus, run_seconds):
    for size, messages in plan:
        for mechanism in mechanisms:
            n = messages or _messages_for(mechanism, size, run_seconds, cpus)
            rates = _measure_throughput(mechanism, size, n, repeats, cpus)
            yield ThroughputPoint(mechanism, size, placement, repeats, statistics.median(rates),
                                  min(rates), max(rates), n)


def latency(mechanisms=MECHANISMS, message_bytes: int = 1, repeats: int = 5,
            placement: str = "free", round_trips: int | None = None,
            run_seconds: float | None = None) -> Iterator[LatencyPoint]:
    """Yield the round-trip time of a ``message_bytes`` message (1 byte to 16 MiB) for each
    mechanism, point by point: a client sends it, a server sends it back, over and over;
    ``repeats`` timed runs (1 to 1000) after one warm-up. How long a run is: either
    ``round_trips`` per run (1 to 1,000,000), or ``run_seconds`` (up to 10; a probe picks the
    count); neither: :data:`DEFAULT_RUN_SECONDS`. Each run's mean round trip (seconds) goes
    into the median, min and max."""
    mechanisms, repeats, cpus = _check_common(mechanisms, repeats, placement)
    message_bytes = check_bytes("message_bytes", message_bytes, 1, 16 * 1024 * 1024)
    if round_trips is not None:
        round_trips = check_int("round_trips", round_trips, 1, 1_000_000)
        if (repeats + 1) * round_trips > 10_000_000:
            raise ValueError(f"(repeats + 1) * round_trips must be at most 10,000,000, "
                             f"got {(repeats + 1) * round_trips}")
    run_seconds = _check_run_seconds("round_trips", round_trips, run_seconds)
    runs = repeats + 1
    if run_seconds is None:
        budget = _deadline_for(2 * message_bytes * round_trips * runs,
                               2 * round_trips * runs) * len(mechanisms)
    else:
        budget = _timed_budget(run_seconds, repeats) * len(mechanisms)
    return isolate.iterate(_latency, mechanisms, message_bytes, repeats, placement, cpus,
                           round_trips, run_seconds, deadline_s=budget)


def _round_trips_for(mechanism, message_bytes, run_seconds, repeats, cpus) -> int:
    """Round trips per run for runs of about ``run_seconds`` (probed like throughput)."""
    cap = max(1, min(1_000_000, 10_000_000 // (repeats + 1)))
    return _scaled_count(
        lambda n: min(_measure_latency(mechanism, message_bytes, n, _PROBE_RUNS - 1, cpus)) * n,
        50, run_seconds, cap)


def _latency(mechanisms, message_bytes, repeats, placement, cpus, round_trips, run_seconds):
    for mechanism in mechanisms:
        n = round_trips or _round_trips_for(mechanism, message_bytes, run_seconds, repeats,
                                            cpus)
        times = _measure_latency(mechanism, message_bytes, n, repeats, cpus)
        yield LatencyPoint(mechanism, message_bytes, placement, repeats,
                           statistics.median(times), min(times), max(times), n)
