"""ipclab: Unix inter-process communication, measured on the real kernel.

The public API lives here; private modules are split by what they measure. Importing ipclab
has no side effects: no process is forked, no thread started, no plotting setting changed.
"""

from .errors import (ChildFailedError, ChildTimeoutError, IpclabError, LimitError,
                     UnsupportedPlatformError)
from .process import Child, ChildExit, call_in_child, run_child, signal_name, start_child
from .pipes import (AtomicityResult, EofResult, FillResult, FillSample, ReaderBlockResult,
                    ResizeResult, WriterBlockResult, WriteWithoutReaderResult,
                    empty_pipe_blocks_reader, fill_pipe, full_pipe_blocks_writer,
                    new_pipe_capacity_bytes, pipe_buf_atomicity, pipe_buf_bytes,
                    pipe_max_size_bytes, read_without_writer, resize_pipe, watch_pipe_fill,
                    write_without_reader)
from .facts import Facts, measure_facts

__version__ = "0.1.0"
