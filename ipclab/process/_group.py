"""Several children that start together behind one gate and are waited for together."""

from __future__ import annotations

import os
import select
import weakref
from collections.abc import Callable
from typing import Any

from .. import _platform
from .._check import check_seconds
from .._resources import close_quietly, new_pipe
from .._signals import held_back
from ._child import _POLL_S, DEFAULT_DEADLINE_S, Child, ChildExit, start_child

__all__ = ["ChildGroup", "Gate"]


class Gate:
    """A one-shot signal between related processes, over a pipe of its own.

    The process that opens the gate writes one byte into the pipe and closes its ends; a
    waiter blocks in ``read`` until then. A waiter must not hold the write end itself (or
    an opener that dies would never give it end of file): :meth:`wait` closes this
    process's copy first. Give a child the end it uses through ``pass_fds`` —
    ``gate.read_fd`` to a waiter, ``gate.write_fd`` to an opener; a child started with
    plain ``os.fork`` inherits both ends, and :meth:`wait` drops the write end there too.

    ::

        with Gate() as stored, start_child(store, stored, pass_fds=(stored.write_fd,)) as child:
            # the child stores, then opens the gate: your turn
            if not stored.wait(child.seconds_left()):   # it died (or hangs) instead
                child.wait().value()                    # raises, saying how

    With several waiters one of them reads the byte and the others read end of file: all
    of them go on. :class:`ChildGroup`'s start gate is one of these.
    """

    def __init__(self) -> None:
        self._ends: list = [None, None]  # [read end, write end]
        self._pipe: tuple | None = None  # not known yet: the ends are this process's own
        self._dropped: weakref.finalize | None = None
        with held_back():  # a stop between making the pipe and recording it would leak it
            self._ends = list(new_pipe())
            st = os.fstat(self._ends[0])
            self._pipe = (st.st_dev, st.st_ino)  # both ends of a pipe share one inode
            # A stop that lands before a ``with`` owns the gate (in a constructor, say) would
            # leak both ends: they are closed when the gate is dropped, as a file object's
            # are. A finalizer, not ``__del__``: it is detached once the gate is closed, so
            # collecting a closed gate runs no Python code, where a stop would be swallowed.
            self._dropped = weakref.finalize(self, _close_own, self._ends, self._pipe)

    @property
    def read_fd(self) -> int:
        """The end a waiter reads (to pass to a waiting child)."""
        return self._ends[0]

    @property
    def write_fd(self) -> int:
        """The end an opener writes (to pass to an opening child)."""
        return self._ends[1]

    @property
    def is_open(self) -> bool:
        """True once this process opened the gate or let go of its write end."""
        return self._ends[1] is None

    def open(self) -> None:
        """Open the gate: every waiter goes on. Idempotent; fine when no waiter is left."""
        fd = self._mine(1)
        if fd is not None:
            try:
                os.write(fd, b"!")
            except BrokenPipeError:  # every waiter is gone already
                pass
        self.close()

    def wait(self, timeout_s: float | None = None) -> bool:
        """Block until the gate opens (at most ``timeout_s`` seconds, if given). True if it
        was opened; False if every opener closed its end without opening (it died), or
        on the timeout."""
        close_quietly(self._mine(1))
        self._ends[1] = None
        fd = self._ends[0]
        if timeout_s is not None and not select.select([fd], [], [], max(0.0, timeout_s))[0]:
            return False
        return os.read(fd, 1) == b"!"

    def close(self) -> None:
        """Close this process's ends of the gate's pipe. Idempotent."""
        with held_back():  # an interrupt between closing and forgetting would leak an fd
            close_quietly(self._mine(0), self._mine(1))
            self._ends[:] = [None, None]
            if self._dropped is not None:
                self._dropped.detach()

    def __enter__(self) -> Gate:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _mine(self, index: int) -> int | None:
        """``self._ends[index]`` if that descriptor is still this gate's pipe in this
        process (a child started with ``pass_fds`` has closed the other end, and the number
        may since name another file)."""
        fd = self._ends[index]
        if fd is None:
            return None
        try:
            st = os.fstat(fd)
        except OSError:
            return None
        return fd if self._pipe is None or (st.st_dev, st.st_ino) == self._pipe else None


def _close_own(ends: list, pipe: tuple) -> None:
    """Close the ends of a dropped :class:`Gate` that are still its pipe's."""
    for fd in ends:
        if fd is None:
            continue
        try:
            st = os.fstat(fd)
            if (st.st_dev, st.st_ino) == pipe:
                os.close(fd)
        except OSError:
            pass


def _behind_gate(gate: Gate, target: Callable, args: tuple, kwargs: dict) -> Any:
    """In a child of a :class:`ChildGroup`: wait for the start, then run the target."""
    gate.wait()  # returns when the parent opens the gate: everyone starts at once
    gate.close()
    return target(*args, **kwargs)


class ChildGroup:
    """Several children that start together and are waited for together.

    ::

        with ChildGroup(deadline_s=5) as group, open_pipe() as (r, w):
            group.start(writer, w, pass_fds=(w,))
            group.start(reader, r, pass_fds=(r,))
            group.give(r, w)          # only the children use these: the parent closes them
            exits = group.wait()      # opens the start gate, waits for both

    Each child runs its target only once the gate opens (``release``, or ``wait``), so
    no child gets a head start while the others are still being forked. ``give`` names the
    file descriptors only the children use: the parent closes its copies when the gate opens,
    so that end of file and broken pipes behave as the children expect. Waiting is
    event-driven (one ``select`` over every child's pidfd and report pipe). Leaving the
    ``with`` block any way — an exception, an interrupt — kills every child's process group,
    reaps them all and closes every descriptor the group holds.
    """

    def __init__(self, deadline_s: float = DEFAULT_DEADLINE_S):
        _platform.require("fork")
        self.deadline_s = check_seconds("deadline_s", deadline_s)
        self.children: list[Child] = []
        self._given: list[int] = []
        self._gate = Gate()  # the children wait on it; we open it
        self._first_failure: ChildExit | None = None

    def start(
        self, target: Callable, *args: Any, pass_fds: tuple[int, ...] = (), **kwargs: Any
    ) -> Child:
        """Fork a child that runs ``target(*args, **kwargs)`` once the gate opens."""
        if self._gate.is_open:
            raise RuntimeError(
                "start every child of a ChildGroup before its gate opens (release() or wait())"
            )
        child = start_child(
            _behind_gate,
            self._gate,
            target,
            args,
            kwargs,
            deadline_s=self.deadline_s,
            pass_fds=(self._gate.read_fd, *tuple(pass_fds)),
        )
        self.children.append(child)
        return child

    def give(self, *fds: int | None) -> None:
        """Hand ``fds`` to the children: the parent closes them when the gate opens."""
        self._given.extend(fd for fd in fds if fd is not None)

    def release(self) -> None:
        """Open the gate: close what was given, then let every child run. Idempotent."""
        with held_back():  # an interrupt between closing and forgetting would leak an fd
            close_quietly(*self._given)
            self._given = []
            self._gate.open()

    def wait(self, fail_fast: bool = False) -> list[ChildExit]:
        """Open the gate and wait for every child (each until its deadline); return how
        each ended, in the order they were started. With ``fail_fast``, the first child
        that fails (raises, is killed, misses its deadline) stops all the others."""
        self.release()
        try:
            pending = [c for c in self.children if c._exit is None]
            while pending:
                for child in list(pending):
                    child._read_available()
                    if child._has_exited() or child.seconds_left() <= 0:
                        pending.remove(child)
                        end = child.wait(0)
                        failed = end.timed_out or end.error or end.exit_status
                        if failed and self._first_failure is None:
                            self._first_failure = end
                        if failed and fail_fast:
                            self.close()
                            pending = []
                            break
                if pending:
                    self._wait_for_any(pending)
            return [c.wait(0) for c in self.children]
        except BaseException:  # KeyboardInterrupt included: leave nothing behind
            self.close()
            raise

    def values(self) -> list:
        """What each child's target returned, in order; raise :class:`ChildFailedError` or
        :class:`ChildTimeoutError` for the child that failed first (stopping the others)."""
        exits = self.wait(fail_fast=True)
        if self._first_failure is not None:
            self._first_failure.value()  # raises
        return [end.value() for end in exits]

    def close(self) -> None:
        """Kill every child's process group, reap them, close every fd. Idempotent."""
        try:
            for child in self.children:
                child.close()
        finally:
            self.release()

    def _wait_for_any(self, pending: list) -> None:
        """Block until one of ``pending`` ends, sends data, or reaches its deadline."""
        left = max(0.0, min(c.seconds_left() for c in pending))
        fds = [
            fd
            for c in pending
            for fd in (c._pidfd, None if c._eof else c._report_fd)
            if fd is not None
        ]
        if any(c._pidfd is None for c in pending):
            left = min(left, _POLL_S)  # no pidfd for some child: its end cannot wake us
        select.select(fds, [], [], left)

    def __enter__(self) -> ChildGroup:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
