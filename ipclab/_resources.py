"""Owned resources: private temporary directories and shared-memory names.

Everything an experiment creates in the file system lives in a directory only its owner can
enter (mode 0700), removed when the experiment ends. Shared-memory names are unguessable and
carry a tag, so that the process that started a helper can sweep up after it.
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import shutil
import tempfile
from collections.abc import Iterator

from ._signals import held_back
from .errors import LimitError

#: Set by :mod:`ipclab.helper_process` for its helper: where to put private directories.
TMPDIR_ENV = "IPCLAB_TMPDIR"
#: Set by :mod:`ipclab.helper_process` for its helper: a tag in every shared-memory name.
SHM_TAG_ENV = "IPCLAB_SHM_TAG"
#: Prefix of every shared-memory segment ipclab creates (``/dev/shm/ipclab_...`` on Linux).
SHM_PREFIX = "ipclab_"


@contextlib.contextmanager
def private_dir() -> Iterator[str]:
    """A fresh directory with mode 0700, removed with everything in it on exit."""
    parent = os.environ.get(TMPDIR_ENV)
    if parent and not os.path.isdir(parent):
        parent = None
    # An interrupt must not land between making the directory and owning it, nor halfway
    # through removing it: both would leave the directory behind.
    path = None
    try:
        with held_back():
            path = tempfile.mkdtemp(prefix="ipclab-", dir=parent)  # mkdtemp makes it 0700
        yield path
    finally:
        if path is not None:
            try:
                with held_back():
                    shutil.rmtree(path, ignore_errors=True)
            finally:
                if os.path.lexists(path):  # a stop caught just before held_back raised there
                    with held_back():
                        shutil.rmtree(path, ignore_errors=True)


def shm_name() -> str:
    """An unguessable shared-memory name such as ``ipclab_3f2a9c1e_0b7d...``."""
    tag = os.environ.get(SHM_TAG_ENV, "")
    return f"{SHM_PREFIX}{tag}{secrets.token_hex(8)}"


def close_quietly(*fds: int | None) -> None:
    """Close each fd that is not None, ignoring ones already closed."""
    for fd in fds:
        if fd is not None:
            try:
                os.close(fd)
            except OSError:
                pass


def limit_error(exc: OSError) -> OSError:
    """Turn "too many open files" into a :class:`LimitError` that names the limit and how to
    see it; return any other error unchanged."""
    if exc.errno == errno.EMFILE:
        import resource

        soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        return LimitError(
            errno.EMFILE,
            f"too many open files: this process may hold at most {soft} file "
            f"descriptors (RLIMIT_NOFILE); see it with `ulimit -n`, or close other notebooks' "
            f"kernels",
        )
    if exc.errno == errno.ENFILE:
        return LimitError(
            errno.ENFILE,
            "the whole system ran out of open files; see the limit in "
            "/proc/sys/fs/file-max and the count in /proc/sys/fs/file-nr",
        )
    return exc


def new_pipe() -> tuple:
    """``os.pipe()``, with running out of file descriptors reported as a :class:`LimitError`."""
    try:
        return os.pipe()
    except OSError as exc:
        raise limit_error(exc) from exc


@contextlib.contextmanager
def open_pipe() -> Iterator[list]:
    """``os.pipe()`` as ``[read_fd, write_fd]``; on exit closes the ends still open.

    Close an end early with ``close_end(ends, i)``, which sets it to None so it is not
    closed twice.
    """
    ends: list = [None, None]
    try:
        with held_back():  # a stop between making the pipe and recording it would leak it
            ends[:] = new_pipe()
        yield ends
    finally:
        close_quietly(*ends)


def close_end(ends: list, index: int) -> None:
    """Close ``ends[index]`` now and mark it closed (see :func:`open_pipe`)."""
    fd, ends[index] = ends[index], None
    close_quietly(fd)
