"""The section catalogue: what each part of the report measures and draws, in page order.

A section is ``(key, title, function)``; ``function(quick)`` runs the experiment and
returns a :class:`SectionData` (figures, caption, table, records). The functions live in
one module per range of chapters.
"""

from __future__ import annotations

from collections.abc import Callable

from . import chapters_01_07 as early
from . import chapters_08_13 as later
from .data import SectionData

__all__ = ["SectionData", "SECTIONS", "section_keys"]

#: ``(key, title, function)`` of every section, in report order.
SECTIONS: tuple[tuple[str, str, Callable[[bool], SectionData]], ...] = (
    ("cow", "Processes are isolated: copy-on-write", early.cow),
    ("fork", "Processes are isolated: what fork() costs", early.fork_cost),
    ("speedup", "Why processes: splitting the work", early.speedup),
    ("fill", "What fits in a pipe", early.fill),
    ("setpipe", "Resizing a pipe: F_SETPIPE_SZ", early.setpipe),
    ("fill_level", "Blocking: a pipe's fill level over time", early.fill_level),
    ("torn", "Many writers and PIPE_BUF", early.torn),
    ("race", "Shared memory: the lost-update race", early.race),
    ("throughput", "Throughput by message size", later.throughput),
    ("latency", "Latency", later.latency),
    ("web", "Web server: fork per request vs a prefork pool", later.web),
    ("wakeup", "Waiting on many pipes: select, poll and epoll", later.wakeup),
    ("signals", "Signals as messages: which ones are counted", later.signals),
    ("boundaries", "Unix domain sockets: message boundaries", later.boundaries),
    ("semaphore", "Shared mappings: a semaphore lets N in", later.semaphore),
    ("futex", "Shared mappings: when waiting on a semaphore is a system call", later.futex),
)


def section_keys() -> list[str]:
    """The keys of :data:`SECTIONS`, in report order."""
    return [key for key, _, _ in SECTIONS]
