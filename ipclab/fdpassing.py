"""What a Unix socket carries besides bytes: an open descriptor, and who sent it.

- ``SCM_RIGHTS`` (``socket.send_fds``) sends an open file descriptor itself to another
  process: the receiver gets a descriptor of the same open file — one offset — even when
  the file's name is gone and it could never open it (:func:`pass_descriptor`).
- ``SO_PEERCRED`` tells who is on the other end of a connected Unix socket: pid, uid, gid
  (:func:`peer_credentials`).

:func:`require_unix_sockets` is the check every Unix-socket experiment makes before it
forks. The file that is passed lives in a private 0700 directory
(:func:`ipclab._resources.private_dir`), removed with it when the experiment ends, also on
an interrupt. The experiment runs through
:mod:`ipclab.helper_process` and :mod:`ipclab.process`; :mod:`ipclab.sockets` is notebook 12's
module and re-exports these names.
"""

from __future__ import annotations

import os
import socket
import struct
from typing import NamedTuple

from . import _platform, helper_process
from ._check import check_int, check_message, check_seconds
from ._resources import close_quietly, private_dir
from .process import start_child

__all__ = ["require_unix_sockets", "peer_credentials", "PassedFdResult", "pass_descriptor"]

_CRED = struct.Struct("3i")  # struct ucred: pid, uid, gid


def require_unix_sockets() -> None:
    """Raise :class:`ipclab.errors.UnsupportedPlatformError` unless this system can fork
    and has Unix domain sockets (``AF_UNIX``)."""
    _platform.require("fork")
    if not hasattr(socket, "AF_UNIX"):  # pragma: no cover - Windows
        from .errors import UnsupportedPlatformError

        raise UnsupportedPlatformError("Unix domain sockets (AF_UNIX) are not available here")


def peer_credentials(sock: socket.socket) -> tuple:
    """``(pid, uid, gid)`` of the process on the other end of a connected Unix socket
    (``SO_PEERCRED``, Linux): who called ``connect()`` (or ``socketpair()``, or ``listen()``
    on the listening side), at that moment."""
    if not hasattr(socket, "SO_PEERCRED"):
        from .errors import UnsupportedPlatformError

        raise UnsupportedPlatformError("SO_PEERCRED is Linux's; macOS has getpeereid()")
    return _CRED.unpack(sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, _CRED.size))


# -- passing a descriptor, and asking who is there ----------------------------------------
class PassedFdResult(NamedTuple):
    """An open file handed to another process over a socket (``SCM_RIGHTS``)."""

    #: The file's contents; the sender read the first ``sender_read_bytes`` before passing.
    content: bytes
    sender_read_bytes: int
    #: Links the file had when it was passed: 0 — its name had been removed; no process
    #: could open it any more, only receive it.
    links_when_passed: int
    #: The descriptor number in the sender, and the one the receiver got (often different:
    #: the kernel gives the lowest free number in the receiving process).
    sender_fd: int
    receiver_fd: int
    #: True if the receiver's descriptor is the same file (same device and inode).
    same_file: bool
    #: What the receiver read through it: it continues at the sender's offset.
    receiver_read: bytes
    #: The sender's offset after the receiver's read, in bytes: the receiver's read moved
    #: it too — both descriptors share one open file (one offset).
    sender_offset_after: int
    #: Who the receiver's SO_PEERCRED said was on the other end, and who really sent.
    peer_pid: int
    peer_uid: int
    peer_gid: int
    sender_pid: int
    receiver_pid: int


def _receive_and_read(sock_fd: int, size: int) -> tuple:
    """In the receiver: take one descriptor off the socket, read ``size`` bytes through it."""
    with socket.socket(fileno=sock_fd) as s:
        _msg, fds, _flags, _addr = socket.recv_fds(s, 16, 1)
        if not fds:
            raise RuntimeError("no descriptor arrived")
        fd = fds[0]
        try:
            st = os.fstat(fd)
            data = os.read(fd, size)
        finally:
            close_quietly(*fds)
        s.sendall(b"done")  # the sender may look at the offset now
        return fd, (st.st_dev, st.st_ino), data, peer_credentials(s)


def pass_descriptor(
    content: bytes = b"0123456789abcdef", sender_read_bytes: int = 4, deadline_s: float = 10.0
) -> PassedFdResult:
    """The sender writes ``content`` (2 to 4,096 bytes) to a file in a private directory,
    opens it, reads ``sender_read_bytes`` of it, removes the file's name, and sends the
    open descriptor to a child over a socketpair (``socket.send_fds``). The child, which
    never opened the file, reads the same number of bytes through what it received and
    asks ``SO_PEERCRED`` who is on the other end."""
    content = check_message("content", content, 2, 4096)
    sender_read_bytes = check_int(
        "sender_read_bytes", sender_read_bytes, 1, len(content) - 1, "bytes (less than content)"
    )
    deadline_s = check_seconds("deadline_s", deadline_s)
    require_unix_sockets()
    if not hasattr(socket, "send_fds"):  # pragma: no cover - Python < 3.9
        from .errors import UnsupportedPlatformError

        raise UnsupportedPlatformError("socket.send_fds needs Python 3.9 or later")
    return helper_process.call(
        _pass_descriptor, content, sender_read_bytes, deadline_s, deadline_s=deadline_s
    )


def _pass_descriptor(content: bytes, k: int, deadline_s: float) -> PassedFdResult:
    mine, theirs = socket.socketpair()
    fd = None
    try:
        with private_dir() as directory:
            path = os.path.join(directory, "secret.txt")
            with open(path, "wb") as f:
                f.write(content)
            os.chmod(path, 0o600)
            with start_child(
                _receive_and_read,
                theirs.fileno(),
                k,
                deadline_s=deadline_s,
                pass_fds=(theirs.fileno(),),
            ) as child:
                theirs.close()
                fd = os.open(path, os.O_RDONLY)  # opened after fork: the child has no copy
                os.read(fd, k)
                os.unlink(path)  # no name any more: nobody can open it now
                st = os.fstat(fd)
                socket.send_fds(mine, [b"fd"], [fd])
                mine.recv(16)  # "done": the child has read
                offset = os.lseek(fd, 0, os.SEEK_CUR)
                their_fd, their_file, data, (pid, uid, gid) = child.wait().value()
    finally:
        close_quietly(fd)
        mine.close()
        theirs.close()
    return PassedFdResult(
        content,
        k,
        st.st_nlink,
        fd,
        their_fd,
        their_file == (st.st_dev, st.st_ino),
        data,
        offset,
        pid,
        uid,
        gid,
        os.getpid(),
        child.pid,
    )
