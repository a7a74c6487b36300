"""Shared-memory primitives: a named segment, the semaphores that ring its doorbells, ring
slots.

Segments are made with ``shm_open`` directly (not :mod:`multiprocessing.shared_memory`,
whose resource tracker starts a process of its own and may unlink or warn about segments it
does not own), named by :func:`ipclab._resources.shm_name`; the creator unlinks the name on
``close``. Children find a segment by its name, as an unrelated process would. The doorbells
are POSIX semaphores (``multiprocessing``'s fork-context ``Semaphore``, unlinked at
creation): a process waiting for its turn sleeps in the kernel instead of spinning.
:mod:`ipclab.shm` and :mod:`ipclab.throughput` are built on these.
"""

from __future__ import annotations

import mmap
import os
import struct

from ._resources import shm_name
from .errors import LimitError

__all__ = [
    "STAMP",
    "shm_open",
    "shm_unlink",
    "Segment",
    "semaphore",
    "lock",
    "check_room",
    "slot_views",
]

#: A message's sequence number, in its first 8 bytes (little-endian, unsigned).
STAMP = struct.Struct("<Q")

try:  # the C module behind multiprocessing.shared_memory, without its resource tracker
    import _posixshmem
except ImportError:  # pragma: no cover - a POSIX system without it: use /dev/shm directly
    _posixshmem = None


# -- segments ----------------------------------------------------------------------------
def shm_open(name: str, flags: int) -> int:
    """``shm_open(3)`` of ``/name`` with mode 0600: a file descriptor of the segment."""
    if _posixshmem is not None:
        return _posixshmem.shm_open("/" + name, flags, 0o600)
    return os.open(os.path.join("/dev/shm", name), flags, 0o600)


def shm_unlink(name: str) -> None:
    """Remove the segment's name (``shm_unlink(3)``); a name already gone is fine."""
    try:
        if _posixshmem is not None:
            _posixshmem.shm_unlink("/" + name)
        else:
            os.unlink(os.path.join("/dev/shm", name))
    except FileNotFoundError:
        pass


class Segment:
    """A named shared-memory segment mapped into this process.

    :meth:`create` makes a new one (``O_CREAT|O_EXCL``, mode 0600); :meth:`attach` maps an
    existing one by name. ``close()`` unmaps it and, for the creator, unlinks the name; it
    is safe to call twice and runs on leaving a ``with`` block.
    """

    def __init__(self, name: str, size_bytes: int, owner: bool):
        self.name = name
        self.size_bytes = size_bytes
        self._owner = owner
        self._owner_pid = os.getpid()
        self.map: mmap.mmap | None = None

    @classmethod
    def create(cls, size_bytes: int) -> Segment:
        """A new segment of ``size_bytes`` bytes (zero-filled)."""
        seg = cls(shm_name(), size_bytes, True)
        fd = shm_open(seg.name, os.O_CREAT | os.O_EXCL | os.O_RDWR)
        try:
            os.ftruncate(fd, size_bytes)
            seg.map = mmap.mmap(fd, size_bytes)
        except BaseException:
            os.close(fd)
            shm_unlink(seg.name)  # a failed constructor leaves nothing behind
            raise
        os.close(fd)  # the mapping stays valid without the descriptor
        return seg

    @classmethod
    def attach(cls, name: str, size_bytes: int) -> Segment:
        """Map the existing segment ``name`` (as another process would, by its name)."""
        seg = cls(name, size_bytes, False)
        fd = shm_open(name, os.O_RDWR)
        try:
            seg.map = mmap.mmap(fd, size_bytes)
        finally:
            os.close(fd)
        return seg

    def view(self) -> memoryview:
        """A memoryview of the whole mapping; release it before :meth:`close`."""
        if self.map is None:
            raise ValueError(f"shared-memory segment {self.name} is closed")
        return memoryview(self.map)

    def close(self) -> None:
        """Unmap; the creator also unlinks the name. Idempotent."""
        if self._owner and os.getpid() == self._owner_pid:
            self._owner = False
            shm_unlink(self.name)
        if self.map is not None:
            try:
                self.map.close()
                self.map = None
            except BufferError:  # a view still points into it: the unmap happens at exit
                pass

    def __enter__(self) -> Segment:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def semaphore(value: int):
    """A process-shared POSIX semaphore that survives ``fork`` and leaves no name behind."""
    import multiprocessing

    return multiprocessing.get_context("fork").Semaphore(value)


def lock():
    """A process-shared lock that survives ``fork`` (a POSIX semaphore of one)."""
    import multiprocessing

    return multiprocessing.get_context("fork").Lock()


def check_room(size_bytes: int) -> None:
    """Fail clearly, before anything starts, if /dev/shm cannot hold ``size_bytes``."""
    try:
        st = os.statvfs("/dev/shm")
    except OSError:
        return
    free = st.f_bavail * st.f_frsize
    if size_bytes > free:
        raise LimitError(
            f"shared memory needs {size_bytes} bytes but /dev/shm has {free} free; "
            f"see `df -h /dev/shm`"
        )


def slot_views(ring: memoryview, slots: int, message_bytes: int) -> list:
    """One memoryview per slot of ``message_bytes`` bytes, made once: copying into or out of
    one is a bare memcpy. Release each before the ring's mapping is closed."""
    return [ring[i * message_bytes : (i + 1) * message_bytes] for i in range(slots)]
