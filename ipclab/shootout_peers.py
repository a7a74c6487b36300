"""The two processes of every shoot-out measurement, and how a pair of them is run.

One way (:func:`run_one_way`): a writer child and a reader child, for throughput. There and
back (:func:`run_round_trips`): a client child and a server child, for latency. Each pair
starts behind one gate (:class:`ipclab.process.ChildGroup`), and the channel between them is
a pipe, a FIFO, a Unix stream socket pair or a shared-memory ring with semaphore doorbells.
The readers time the runs, count every byte and spot-check the content;
:mod:`ipclab.throughput` plans the runs and turns the times into rates.

Written for speed, so that a comparison with C is about IPC and not about Python: buffers
allocated once, ``FileIO.readinto`` into them (no allocation per read), one system call per
message where C makes one, slot views made once (each copy a bare ``memcpy``).
"""

from __future__ import annotations

import itertools
import os
import socket
import time

from ._resources import private_dir
from .errors import IpclabError
from .process import ChildGroup
from .shmem import STAMP, Segment, semaphore, slot_views

__all__ = ["run_one_way", "run_round_trips", "pattern"]

_PATTERN_PERIOD = 251  # a prime: a stream shifted by a few bytes does not match


# -- one way -----------------------------------------------------------------------------
def _pin(cpu: int | None) -> None:
    if cpu is not None:
        os.sched_setaffinity(0, {cpu})


def pattern(message_bytes: int) -> bytearray:
    """The bytes of every message: 0, 1, ..., 250, 0, 1, ... (period 251)."""
    period = bytes(range(_PATTERN_PERIOD))
    return bytearray((period * (message_bytes // _PATTERN_PERIOD + 1))[:message_bytes])


def _open_end(mechanism: str, end, writing: bool):
    """A raw, unbuffered file object (``FileIO``) for an fd or a FIFO path."""
    if mechanism == "fifo":
        end = os.open(end, os.O_WRONLY if writing else os.O_RDONLY)  # waits for the partner
    return open(end, "wb" if writing else "rb", buffering=0)


def _stream_writer(mechanism, end, message_bytes, messages, runs, cpu) -> int:
    _pin(cpu)
    f = _open_end(mechanism, end, True)
    view = memoryview(pattern(message_bytes))
    write = f.write
    try:
        for _ in range(messages * runs):
            n = write(view)
            while n < message_bytes:  # a partial write (a signal, or a socket): finish it
                n += write(view[n:])
    finally:
        f.close()  # the reader sees end of file
    return messages * runs


def _stream_reader(mechanism, end, message_bytes, messages, runs, cpu) -> list:
    _pin(cpu)
    f = _open_end(mechanism, end, False)
    buf = bytearray(message_bytes)  # allocated once: readinto copies straight into it
    view = memoryview(buf)
    readinto = f.readinto
    per_run = message_bytes * messages
    expected = pattern(message_bytes) * 2
    times = []
    try:
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
            if view[:n] != expected[start : start + n]:
                raise IpclabError("the bytes that arrived are not the bytes that were sent")
        if readinto(view[:1]):
            raise IpclabError("the stream holds more bytes than were sent")
    finally:
        f.close()
    return times


def _shm_writer(name, slots, message_bytes, messages, runs, cpu, empty, full) -> int:
    _pin(cpu)
    seg = Segment.attach(name, slots * message_bytes)
    ring = seg.view()
    views = slot_views(ring, slots, message_bytes)
    source = memoryview(pattern(message_bytes))
    acquire, release = empty.acquire, full.release
    ring_order = itertools.cycle(views)  # slot after slot, round the ring
    try:
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
                STAMP.pack_into(view, 0, (run + 1) * messages - 1)
            release()
    finally:
        for view in views:
            view.release()
        ring.release()
        seg.close()
    return messages * runs


def _shm_reader(name, slots, message_bytes, messages, runs, cpu, empty, full) -> list:
    _pin(cpu)
    seg = Segment.attach(name, slots * message_bytes)
    ring = seg.view()
    views = slot_views(ring, slots, message_bytes)
    target = bytearray(message_bytes)
    tview = memoryview(target)  # view = view copies once; bytearray[:] = view twice
    acquire, release = full.acquire, empty.release
    ring_order = itertools.cycle(views)
    expected = pattern(message_bytes)
    times = []
    try:
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
            if message_bytes >= 8 and STAMP.unpack_from(target)[0] != last:
                raise IpclabError(
                    f"message {last} carried number "
                    f"{STAMP.unpack_from(target)[0]}: one was lost or repeated"
                )
            if target[8:] != expected[8:]:
                raise IpclabError("the bytes that arrived are not the bytes that were sent")
    finally:
        tview.release()
        for view in views:
            view.release()
        ring.release()
        seg.close()
    return times


# -- there and back ----------------------------------------------------------------------
def _read_rest(readinto, view, got: int, n: int) -> None:
    """Go on reading into ``view`` until it holds ``n`` bytes (``got`` are there already)."""
    while got < n:
        more = readinto(view[got:])
        if not more:
            raise IpclabError(f"the peer closed after {got} of {n} bytes")
        got += more


def _stream_client(mechanism, ends, message_bytes, round_trips, runs, cpu) -> list:
    _pin(cpu)
    if mechanism == "fifo":  # the server opens in the same order: no deadlock
        out = _open_end("fifo", ends[0], True)
        inp = _open_end("fifo", ends[1], False)
    else:
        out = open(ends[0], "wb", buffering=0)
        inp = open(ends[1], "rb", buffering=0, closefd=ends[1] != ends[0])
    buf = pattern(message_bytes)
    view = memoryview(buf)
    write, readinto = out.write, inp.readinto
    times = []
    try:
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
        if buf != pattern(message_bytes):
            raise IpclabError("the message came back changed")
    finally:
        out.close()
        inp.close()
    return times


def _stream_server(mechanism, ends, message_bytes, round_trips, runs, cpu) -> int:
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


def _shm_client(name, message_bytes, round_trips, runs, cpu, ping, pong) -> list:
    _pin(cpu)
    seg = Segment.attach(name, message_bytes)
    box = seg.view()
    message = pattern(message_bytes)
    reply = bytearray(message_bytes)
    times = []
    try:
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


def _shm_server(name, message_bytes, round_trips, runs, cpu, ping, pong) -> int:
    _pin(cpu)
    seg = Segment.attach(name, message_bytes)
    box = seg.view()
    held = bytearray(message_bytes)
    try:
        for _ in range(round_trips * runs):
            ping.acquire()
            held[:] = box  # copy out
            box[:] = held  # and back in: the echo
            pong.release()
    finally:
        box.release()
        seg.close()
    return round_trips * runs


# -- running a pair ----------------------------------------------------------------------
def _fd_ends(*ends) -> tuple:
    """The ends that are fds (a child must keep them); FIFO paths need nothing kept."""
    return tuple({e for e in ends if isinstance(e, int)})


def _channel(mechanism: str, directory: str, name: str, group: ChildGroup) -> tuple:
    """A new channel ``(one end, the other end)``: a pipe's ``(write, read)`` fds, a socket
    pair's two fds, or a FIFO ``directory/name`` (its path twice). The fds are given to
    ``group``: only the children use them, the parent closes its copies as they start."""
    if mechanism == "pipe":
        r, w = os.pipe()
        group.give(r, w)
        return w, r
    if mechanism == "unix":
        a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        ends = (a.detach(), b.detach())
        group.give(*ends)
        return ends
    path = os.path.join(directory, name)
    os.mkfifo(path, 0o600)
    return path, path


def run_one_way(
    mechanism: str,
    message_bytes: int,
    messages: int,
    runs: int,
    cpus: tuple | None,
    deadline_s: float,
    slots: int,
) -> list:
    """Move ``runs`` runs of ``messages`` messages of ``message_bytes`` from a writer child
    (on CPU ``cpus[0]``) to a reader child (``cpus[1]``; None: unpinned), through a ring of
    ``slots`` slots for ``"shm"``; return ``[messages_written, seconds_of_each_run]``.
    Either child failing (or missing the ``deadline_s``) stops the other and raises."""
    cpu_w, cpu_r = cpus if cpus else (None, None)
    with private_dir() as directory, ChildGroup(deadline_s=deadline_s) as group:
        if mechanism == "shm":
            # The name stays until both children end: they attach by it when they start.
            with Segment.create(slots * message_bytes) as seg:
                bells = (semaphore(slots), semaphore(0))  # free slots, full slots
                for side, cpu in ((_shm_writer, cpu_w), (_shm_reader, cpu_r)):
                    group.start(side, seg.name, slots, message_bytes, messages, runs, cpu, *bells)
                return group.values()
        ends = _channel(mechanism, directory, "bench.fifo", group)
        for target, end, cpu in (
            (_stream_writer, ends[0], cpu_w),
            (_stream_reader, ends[1], cpu_r),
        ):
            group.start(
                target, mechanism, end, message_bytes, messages, runs, cpu, pass_fds=_fd_ends(end)
            )
        return group.values()


def run_round_trips(
    mechanism: str,
    message_bytes: int,
    round_trips: int,
    runs: int,
    cpus: tuple | None,
    deadline_s: float,
) -> list:
    """``runs`` runs of ``round_trips`` round trips of a ``message_bytes`` message between a
    client child (``cpus[0]``) and a server child that echoes it (``cpus[1]``); return
    ``[mean_round_trip_s_of_each_run, round_trips_served]``."""
    cpu_a, cpu_b = cpus if cpus else (None, None)
    with private_dir() as directory, ChildGroup(deadline_s=deadline_s) as group:
        if mechanism == "shm":
            with Segment.create(message_bytes) as seg:
                ping, pong = semaphore(0), semaphore(0)
                for side, cpu in ((_shm_client, cpu_a), (_shm_server, cpu_b)):
                    group.start(side, seg.name, message_bytes, round_trips, runs, cpu, ping, pong)
                return group.values()
        if mechanism == "unix":  # one socket pair carries both directions
            a, b = _channel("unix", directory, "", group)
            client_ends, server_ends = (a, a), (b, b)
        else:
            there = _channel(mechanism, directory, "request.fifo", group)
            back = _channel(mechanism, directory, "reply.fifo", group)
            client_ends, server_ends = (there[0], back[1]), (there[1], back[0])
        for target, ends, cpu in (
            (_stream_client, client_ends, cpu_a),
            (_stream_server, server_ends, cpu_b),
        ):
            group.start(
                target,
                mechanism,
                ends,
                message_bytes,
                round_trips,
                runs,
                cpu,
                pass_fds=_fd_ends(*ends),
            )
        return group.values()
