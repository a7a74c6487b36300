"""The results of the pipe experiments of :mod:`ipclab.pipes`: one named tuple per
experiment, the units in the field names (``_bytes``, ``_s``).

:mod:`ipclab.pipes` re-exports each of them; import them from there.
"""

from __future__ import annotations

from typing import NamedTuple

from ._renamed import renamed_fields

__all__ = [
    "FillResult",
    "ResizeResult",
    "ReaderBlockResult",
    "WriterBlockResult",
    "EofResult",
    "WriteWithoutReaderResult",
    "FillSample",
    "ShellPipelineResult",
]


class FillResult(NamedTuple):
    """How much a new pipe accepts before a non-blocking write fails with ``EAGAIN``."""

    write_size_bytes: int
    #: ``F_GETPIPE_SZ`` of the pipe (None where the system lacks the call).
    capacity_bytes: int | None
    #: Bytes accepted before ``EAGAIN``.
    filled_bytes: int
    #: ``write()`` calls that accepted data.
    writes: int
    #: Bytes the last accepted write took: less than ``write_size_bytes`` if it was partial.
    last_write_bytes: int


class ResizeResult(NamedTuple):
    """What ``fcntl(F_SETPIPE_SZ, requested)`` gave."""

    requested_bytes: int
    #: Capacity afterwards (``F_GETPIPE_SZ``); None if the kernel refused or lacks the call.
    granted_bytes: int | None
    #: ``"EPERM"``, ``"EINVAL"``, ``"unsupported"``... if refused, else None.
    error: str | None
    #: One sentence saying what happened and why.
    explanation: str


@renamed_fields(
    writer_delay_seconds="writer_delay_s",
    blocked_seconds="blocked_s",
    cpu_seconds_while_waiting="cpu_while_waiting_s",
)
class ReaderBlockResult(NamedTuple):
    """A reader of an empty pipe, watched while it waits for a late writer."""

    #: How long the writer (the parent) waited before writing, in seconds.
    writer_delay_s: float
    #: How long the reader's ``read()`` took, measured by the reader, in seconds.
    blocked_s: float
    #: The reader's state while it waited, from psutil: ``"sleeping"`` when blocked.
    state_while_waiting: str
    #: The kernel function it slept in (``/proc/PID/wchan``, e.g. ``"pipe_read"``); "" if unknown.
    wait_channel: str
    #: Voluntary context switches the reader made while it waited (few: it sleeps).
    voluntary_switches_while_waiting: int
    #: CPU time the reader used while it waited, in seconds (about zero).
    cpu_while_waiting_s: float
    #: Bytes the reader got once the writer wrote.
    bytes_read: int


@renamed_fields(reader_delay_seconds="reader_delay_s", blocked_seconds="blocked_s")
class WriterBlockResult(NamedTuple):
    """A writer that fills a pipe, watched while it waits for a slow reader."""

    write_size_bytes: int
    #: ``F_GETPIPE_SZ`` of the pipe (None where the system lacks the call).
    capacity_bytes: int | None
    #: Bytes in the pipe when the writer blocked (``FIONREAD``).
    bytes_before_block: int
    #: The writer's state while blocked, from psutil: ``"sleeping"``.
    state_while_blocked: str
    #: Kernel function the writer slept in (``"pipe_write"`` on Linux); "" if unknown.
    wait_channel: str
    #: How long the reader (the parent) left the full pipe alone, in seconds.
    reader_delay_s: float
    #: Longest single ``write()`` in the writer, measured by the writer, in seconds.
    blocked_s: float
    #: Bytes the writer wrote in all.
    total_bytes: int


@renamed_fields(waited_seconds="waited_s")
class EofResult(NamedTuple):
    """What a reader saw after its writer wrote and exited."""

    #: Bytes the reader got before ``read()`` returned ``b""``.
    bytes_before_eof: int
    #: True if ``read()`` returned ``b""`` (end of file) within the wait.
    eof: bool
    #: True if the parent kept its own copy of the write end open.
    parent_kept_write_end: bool
    #: How long the reader waited for EOF (or gave up), in seconds.
    waited_s: float


class WriteWithoutReaderResult(NamedTuple):
    """What happened to a writer whose pipe has no reader."""

    #: How the writer treated SIGPIPE: ``"ignore"`` (Python's default) or ``"default"``.
    sigpipe: str
    #: Writer's exit status: 0 after handling the error, ``-13`` if SIGPIPE killed it.
    exit_status: int
    #: ``"SIGPIPE"`` if a signal killed the writer, else None.
    killed_by: str | None
    #: The exception the write raised (``"BrokenPipeError"``), or None if it died first.
    exception: str | None
    #: ``"EPIPE"`` if the write failed with an errno, else None.
    errno_name: str | None


@renamed_fields(t_seconds="t_s")
class FillSample(NamedTuple):
    """One look at a pipe between a fast writer and a slow reader."""

    #: Time since the experiment started, in seconds.
    t_s: float
    #: Bytes queued in the pipe (``FIONREAD``).
    fill_bytes: int
    #: Capacity of the pipe, in bytes.
    capacity_bytes: int
    #: True if the writer is asleep in ``write()`` (the pipe is full).
    writer_blocked: bool
    #: Bytes the reader has taken out so far.
    read_bytes: int


class ShellPipelineResult(NamedTuple):
    """``yes | head -n 1`` run by ``/bin/sh`` that Python started, and how ``yes`` ended."""

    #: How Python started the shell: ``"subprocess"`` or ``"os.system"``.
    launcher: str
    #: True if the shell began with SIGPIPE ignored (``SigIgn`` in ``/proc``); None if unknown.
    shell_ignored_sigpipe: bool | None
    #: What ``head -n 1`` printed.
    output: str
    #: ``yes``'s exit status as the shell reports it: ``128 + 13 = 141`` when SIGPIPE killed it.
    yes_shell_status: int
    #: ``"SIGPIPE"`` if a signal killed ``yes``, else None.
    yes_killed_by: str | None
    #: What ``yes`` wrote to its standard error (its complaint about ``EPIPE``, if any).
    yes_stderr: str
