"""POSIX message queues: the kernel's own message-passing object.

A queue made by ``mq_open`` (shown in ``/dev/mqueue`` where that file system is mounted)
has a name any process allowed can open; it holds whole messages, each with a priority, and
``mq_receive`` returns the oldest message of the highest priority; a full queue blocks its
sender (:func:`message_queue`). Python has no binding; this module calls ``librt`` by
ctypes, and :func:`mqueue_available` says whether this system has queues at all.

Queues get unguessable ``/ipclab_...`` names and are unlinked in ``finally``. The
experiment forks through :mod:`ipclab.helper_process` and :mod:`ipclab.process`; notebook 13's
module :mod:`ipclab.mappings` re-exports these names.
"""

from __future__ import annotations

import ctypes
import errno
import os
import time
from typing import Any, NamedTuple

from . import _platform, helper_process
from ._check import check_int_list, check_seconds, errno_name
from ._renamed import renamed_fields
from ._resources import shm_name
from .process import start_child

__all__ = ["MqueueResult", "message_queue", "mqueue_available"]


# -- librt's mq_* functions, by ctypes ----------------------------------------------------
class _MqAttr(ctypes.Structure):
    _fields_ = [
        ("mq_flags", ctypes.c_long),
        ("mq_maxmsg", ctypes.c_long),
        ("mq_msgsize", ctypes.c_long),
        ("mq_curmsgs", ctypes.c_long),
        ("_pad", ctypes.c_long * 4),
    ]


class _Timespec(ctypes.Structure):
    _fields_ = [("tv_sec", ctypes.c_long), ("tv_nsec", ctypes.c_long)]


_mq: Any = None
_mq_reason = ""


def _mq_lib():
    """librt's (or libc's) mq_* functions with their C types, or None (with the reason in
    ``_mq_reason``) where this system has none."""
    global _mq, _mq_reason
    if _mq is not None or _mq_reason:
        return _mq
    if not _platform.IS_LINUX:
        _mq_reason = "POSIX message queues are Linux's here (macOS has none)"
        return None
    import ctypes.util

    lib = None
    for name in (ctypes.util.find_library("rt"), "librt.so.1", None):
        try:
            candidate = ctypes.CDLL(name, use_errno=True)
        except OSError:
            continue
        if hasattr(candidate, "mq_open"):
            lib = candidate
            break
    if lib is None:
        _mq_reason = "no C library with mq_open() was found"
        return None
    c = ctypes
    lib.mq_open.restype, lib.mq_open.argtypes = (
        c.c_int,
        [c.c_char_p, c.c_int, c.c_uint, c.POINTER(_MqAttr)],
    )
    lib.mq_timedsend.restype = c.c_int
    lib.mq_timedsend.argtypes = [c.c_int, c.c_char_p, c.c_size_t, c.c_uint, c.POINTER(_Timespec)]
    lib.mq_receive.restype = c.c_ssize_t
    lib.mq_receive.argtypes = [c.c_int, c.c_char_p, c.c_size_t, c.POINTER(c.c_uint)]
    lib.mq_getattr.restype, lib.mq_getattr.argtypes = c.c_int, [c.c_int, c.POINTER(_MqAttr)]
    lib.mq_unlink.restype, lib.mq_unlink.argtypes = c.c_int, [c.c_char_p]
    _mq = lib
    return lib


def _os_error(what: str) -> OSError:
    n = ctypes.get_errno()
    return OSError(n, f"{what}: {os.strerror(n)}")


def _mq_open(name: str, create: bool, maxmsg: int = 10, msgsize: int = 128) -> int:
    lib = _mq_lib()
    if create:
        attr = _MqAttr(0, maxmsg, msgsize, 0)
        fd = lib.mq_open(
            name.encode(), os.O_CREAT | os.O_EXCL | os.O_RDWR, 0o600, ctypes.byref(attr)
        )
    else:
        fd = lib.mq_open(name.encode(), os.O_RDWR, 0, None)
    if fd < 0:
        raise _os_error(f"mq_open({name})")
    return fd


def _mq_unlink(name: str) -> None:
    if _mq_lib().mq_unlink(name.encode()) < 0 and ctypes.get_errno() != errno.ENOENT:
        raise _os_error(f"mq_unlink({name})")


def _mq_send(fd: int, data: bytes, priority: int, timeout_s: float | None = None) -> None:
    ts = None
    if timeout_s is not None:  # an absolute CLOCK_REALTIME deadline
        at = time.clock_gettime(time.CLOCK_REALTIME) + timeout_s
        ts = ctypes.byref(_Timespec(int(at), int((at % 1) * 1e9)))
    if _mq_lib().mq_timedsend(fd, data, len(data), priority, ts) < 0:
        raise _os_error("mq_timedsend")


def _mq_receive(fd: int, msgsize: int) -> tuple:
    buf = ctypes.create_string_buffer(msgsize)
    prio = ctypes.c_uint()
    n = _mq_lib().mq_receive(fd, buf, msgsize, ctypes.byref(prio))
    if n < 0:
        raise _os_error("mq_receive")
    return buf.raw[:n], prio.value


def _mq_queued(fd: int) -> int:
    attr = _MqAttr()
    if _mq_lib().mq_getattr(fd, ctypes.byref(attr)) < 0:
        raise _os_error("mq_getattr")
    return attr.mq_curmsgs


def mqueue_available() -> tuple:
    """``(True, "")`` if POSIX message queues work here, else ``(False, why not)``. Makes and
    removes one tiny queue to find out."""
    if _mq_lib() is None:
        return False, _mq_reason
    name = "/" + shm_name()
    try:
        fd = _mq_open(name, True, 1, 8)
    except OSError as exc:
        return False, f"mq_open failed: {exc.strerror or exc}"
    os.close(fd)
    _mq_unlink(name)
    return True, ""


# -- a child sends, the parent receives ---------------------------------------------------
@renamed_fields(full_send_waited_seconds="full_send_waited_s")
class MqueueResult(NamedTuple):
    """Messages through a POSIX message queue, from a child to its parent."""

    #: False (and why, in ``reason``) where this system offers no message queues.
    available: bool
    reason: str
    #: ``(message, priority)`` in the order the child sent them.
    sent: tuple
    #: The queue's capacity, in messages (``mq_maxmsg``).
    capacity_messages: int
    #: Messages queued when the parent looked (``mq_curmsgs``), after the child had exited.
    queued_after_sender_exit: int
    #: errno name of one more send into the full queue with a 0.1-second deadline
    #: (``mq_timedsend``): ``"ETIMEDOUT"`` — a full queue blocks its sender.
    send_to_full_queue_errno: str | None
    #: How long that send waited, in seconds.
    full_send_waited_s: float
    #: ``(message, priority)`` in the order ``mq_receive`` returned them.
    received: tuple
    #: True if ``/dev/mqueue`` is mounted and showed the queue by its name, None if not
    #: mounted (the queue exists all the same).
    shown_in_dev_mqueue: bool | None


def _mq_sender(name: str, sent: tuple) -> tuple:
    """In the child: open the queue by name, send every message, then one too many."""
    fd = _mq_open(name, False)
    try:
        for data, priority in sent:
            _mq_send(fd, data, priority)
        t0 = time.monotonic()
        try:
            _mq_send(fd, b"one too many", 0, timeout_s=0.1)
            error = None
        except OSError as exc:
            error = errno_name(exc)
        return error, time.monotonic() - t0
    finally:
        os.close(fd)


def message_queue(priorities=(1, 5, 3), deadline_s: float = 10.0) -> MqueueResult:
    """A child opens a new queue of capacity ``len(priorities)`` (1 to 10 messages) by its
    name and sends message ``i`` with ``priorities[i]`` (0 to 31), then one more with a
    0.1-second deadline; after it has exited, the parent receives every message."""
    priorities = check_int_list("priorities", priorities, 0, 31)
    if len(priorities) > 10:
        raise ValueError(
            f"priorities must hold 1 to 10 values (the default per-queue limit, "
            f"/proc/sys/fs/mqueue/msg_max), got {len(priorities)}"
        )
    deadline_s = check_seconds("deadline_s", deadline_s)
    _platform.require("fork")
    sent = tuple((f"message {i} (priority {p})".encode(), p) for i, p in enumerate(priorities))
    ok, why = mqueue_available()
    if not ok:
        return MqueueResult(False, why, sent, len(sent), 0, None, 0.0, (), None)
    return helper_process.call(_message_queue, sent, deadline_s, deadline_s=deadline_s)


def _message_queue(sent: tuple, deadline_s: float, name: str | None = None) -> MqueueResult:
    name, msgsize = name or "/" + shm_name(), 128
    fd = _mq_open(name, True, len(sent), msgsize)
    try:
        shown = os.path.exists("/dev/mqueue" + name) if os.path.ismount("/dev/mqueue") else None
        with start_child(_mq_sender, name, sent, deadline_s=deadline_s) as child:
            full_errno, waited = child.wait().value()
        queued = _mq_queued(fd)
        received = tuple(_mq_receive(fd, msgsize) for _ in range(queued))
    finally:
        os.close(fd)
        _mq_unlink(name)
    return MqueueResult(True, "", sent, len(sent), queued, full_errno, waited, received, shown)
