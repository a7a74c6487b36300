"""ipclab: Unix inter-process communication, measured on the real kernel.

One module per thing measured, each imported here, so ``import ipclab`` is all a notebook
needs (d2l style)::

    import ipclab
    ipclab.fill_pipe(100)                     # pipes: flat, as the course starts with them
    ipclab.fifos.nonblocking_open()           # named pipes
    ipclab.shm.counter_race(lock=False)       # shared memory
    ipclab.throughput.sweep(("pipe", "shm"))  # the shoot-out (yields points)
    ipclab.webserver.compare()                # fork per request vs prefork

Figures live apart (``from ipclab import plots, live, widgets``). Every module but the
pipes is imported on first use, so that the helper process that runs an experiment inside
Jupyter (:mod:`ipclab.helper_process`) starts fast. Importing ipclab has no side effects: no process
is forked, no thread started, no plotting setting changed.
"""

import importlib as _importlib

from . import facts, pipes, process
from .errors import (
    ChildFailedError,
    ChildTimeoutError,
    ExperimentInterrupted,
    IpclabError,
    LimitError,
    UnsupportedPlatformError,
)
from .facts import Facts, measure_facts
from .pipes import (
    AtomicityResult,
    EofResult,
    FillResult,
    FillSample,
    ReaderBlockResult,
    ResizeResult,
    WriterBlockResult,
    WriteWithoutReaderResult,
    empty_pipe_blocks_reader,
    fill_pipe,
    full_pipe_blocks_writer,
    new_pipe_capacity_bytes,
    pipe_buf_atomicity,
    pipe_buf_bytes,
    pipe_max_size_bytes,
    read_without_writer,
    resize_pipe,
    watch_pipe_fill,
    write_without_reader,
)
from .process import Child, ChildExit, call_in_child, run_child, signal_name, start_child

__version__ = "0.2.0"

__all__ = [
    # experiment modules
    "coding",
    "conversation",
    "exercises",
    "facts",
    "fifos",
    "isolation",
    "pipeline",
    "pipes",
    "process",
    "shm",
    "speedup",
    "throughput",
    "webserver",
    "multiplexing",
    "lifecycle",
    "sockets",
    "mappings",
    # errors
    "IpclabError",
    "ChildFailedError",
    "ChildTimeoutError",
    "ExperimentInterrupted",
    "LimitError",
    "UnsupportedPlatformError",
    # facts and pipes, the course's first experiments
    "Facts",
    "measure_facts",
    "AtomicityResult",
    "EofResult",
    "FillResult",
    "FillSample",
    "ReaderBlockResult",
    "ResizeResult",
    "WriterBlockResult",
    "WriteWithoutReaderResult",
    "empty_pipe_blocks_reader",
    "fill_pipe",
    "full_pipe_blocks_writer",
    "new_pipe_capacity_bytes",
    "pipe_buf_atomicity",
    "pipe_buf_bytes",
    "pipe_max_size_bytes",
    "read_without_writer",
    "resize_pipe",
    "watch_pipe_fill",
    "write_without_reader",
    # process supervision
    "Child",
    "ChildExit",
    "call_in_child",
    "run_child",
    "signal_name",
    "start_child",
    "style",
]


#: Modules imported on first attribute access (``ipclab.fifos``), PEP 562.
_LAZY = (
    "conversation",
    "exercises",
    "fifos",
    "isolation",
    "pipeline",
    "shm",
    "speedup",
    "throughput",
    "webserver",
    "plots",
    "live",
    "widgets",
    "report",
    "safecell",
    "fdmap",
    "magic",
    "compare",
    "creference",
    "coding",
    "multiplexing",
    "lifecycle",
    "sockets",
    "mappings",
)


def __getattr__(name: str):
    if name in _LAZY:
        return _importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module 'ipclab' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_LAZY))


def load_ipython_extension(ipython) -> None:
    """``%load_ext ipclab``: registers the ``%%ipclab`` cell magic (:mod:`ipclab.magic`)."""
    from .magic import load_ipython_extension as load

    load(ipython)


def style(name: str = "projector"):
    """Switch every later figure to ``"projector"`` (large, thick, high contrast) or
    ``"default"`` style; also usable as a context manager. See :func:`ipclab.plots.style`."""
    from .plots import style as _style

    return _style(name)
