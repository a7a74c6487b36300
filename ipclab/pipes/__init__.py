"""Pipe experiments: capacity, resizing, blocking, broken pipes and ``PIPE_BUF`` atomicity.

Each function checks its arguments, runs against the real kernel and returns a named tuple
whose field names carry their units (``_bytes``, ``_s``). Nothing is assumed: on
macOS the same calls give macOS's answers.

Experiments with children fork through :mod:`ipclab.process`, inside a helper process when
the caller is a multi-threaded Jupyter kernel (:mod:`ipclab.helper_process`).

The parts, by what they measure: :mod:`._capacity` (how much a pipe holds: filling,
resizing, the fill level over time), :mod:`._blocking` (an empty pipe's reader and a full
pipe's writer sleep), :mod:`._broken` (end of file, ``SIGPIPE`` and ``EPIPE``, also across a
shell), :mod:`._atomicity` (``PIPE_BUF``: several writers into one pipe). Import every name
from here: ``ipclab.pipes.fill_pipe``.
"""

from ..atomicity import AtomicityResult
from ..pipe_results import (
    EofResult,
    FillResult,
    FillSample,
    ReaderBlockResult,
    ResizeResult,
    ShellPipelineResult,
    WriterBlockResult,
    WriteWithoutReaderResult,
)
from ..probes import (
    PAGE_BYTES,
    may_exceed_pipe_max_size,
    new_pipe_capacity_bytes,
    pipe_buf_bytes,
    pipe_max_size_bytes,
    resize_rule,
)
from ._atomicity import pipe_buf_atomicity
from ._blocking import empty_pipe_blocks_reader, full_pipe_blocks_writer
from ._broken import read_without_writer, write_without_reader, yes_head_from_python
from ._capacity import fill_pipe, resize_pipe, watch_pipe_fill

__all__ = [
    "PAGE_BYTES",
    "pipe_buf_bytes",
    "pipe_max_size_bytes",
    "new_pipe_capacity_bytes",
    "FillResult",
    "fill_pipe",
    "ResizeResult",
    "resize_pipe",
    "may_exceed_pipe_max_size",
    "resize_rule",
    "ReaderBlockResult",
    "empty_pipe_blocks_reader",
    "WriterBlockResult",
    "full_pipe_blocks_writer",
    "EofResult",
    "read_without_writer",
    "WriteWithoutReaderResult",
    "write_without_reader",
    "AtomicityResult",
    "pipe_buf_atomicity",
    "FillSample",
    "watch_pipe_fill",
    "ShellPipelineResult",
    "yes_head_from_python",
]
