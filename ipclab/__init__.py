"""ipclab: Unix inter-process communication, measured on the real kernel.

One module per thing measured, each imported here, so ``import ipclab`` is all a notebook
needs (d2l style)::

    import ipclab
    ipclab.fill_pipe(100)                     # pipes: flat, as the course starts with them
    ipclab.fifos.nonblocking_open()           # named pipes
    ipclab.shm.counter_race(lock=False)       # shared memory
    ipclab.throughput.sweep(("pipe", "shm"))  # the shoot-out (yields points)
    ipclab.webserver.compare()                # fork per request vs prefork

Figures live apart (``from ipclab import plots, live, widgets``) and are imported only when
asked for. Importing ipclab has no side effects: no process is forked, no thread started, no
plotting setting changed.
"""

from . import (conversation, exercises, facts, fifos, isolation, pipeline, pipes, process,
               shm, speedup, throughput, webserver)
from .errors import (ChildFailedError, ChildTimeoutError, IpclabError, LimitError,
                     UnsupportedPlatformError)
from .facts import Facts, measure_facts
from .pipes import (AtomicityResult, EofResult, FillResult, FillSample, ReaderBlockResult,
                    ResizeResult, WriterBlockResult, WriteWithoutReaderResult,
                    empty_pipe_blocks_reader, fill_pipe, full_pipe_blocks_writer,
                    new_pipe_capacity_bytes, pipe_buf_atomicity, pipe_buf_bytes,
                    pipe_max_size_bytes, read_without_writer, resize_pipe, watch_pipe_fill,
                    write_without_reader)
from .process import Child, ChildExit, call_in_child, run_child, signal_name, start_child

__version__ = "0.1.0"

__all__ = [
    # experiment modules
    "conversation", "exercises", "facts", "fifos", "isolation", "pipeline", "pipes", "process",
    "shm", "speedup", "throughput", "webserver",
    # errors
    "IpclabError", "ChildFailedError", "ChildTimeoutError", "LimitError",
    "UnsupportedPlatformError",
    # facts and pipes, the course's first experiments
    "Facts", "measure_facts", "AtomicityResult", "EofResult", "FillResult", "FillSample",
    "ReaderBlockResult", "ResizeResult", "WriterBlockResult", "WriteWithoutReaderResult",
    "empty_pipe_blocks_reader", "fill_pipe", "full_pipe_blocks_writer",
    "new_pipe_capacity_bytes", "pipe_buf_atomicity", "pipe_buf_bytes", "pipe_max_size_bytes",
    "read_without_writer", "resize_pipe", "watch_pipe_fill", "write_without_reader",
    # process supervision
    "Child", "ChildExit", "call_in_child", "run_child", "signal_name", "start_child",
    "style",
]


def style(name: str = "projector"):
    """Switch every later figure to ``"projector"`` (large, thick, high contrast) or
    ``"default"`` style; also usable as a context manager. See :func:`ipclab.plots.style`."""
    from .plots import style as _style

    return _style(name)
