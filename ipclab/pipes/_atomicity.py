"""``PIPE_BUF`` atomicity: several writers into one pipe, records whole or torn."""

from __future__ import annotations

import os

from .. import atomicity
from .._resources import open_pipe
from ..atomicity import AtomicityResult
from ..process import ChildGroup


def pipe_buf_atomicity(
    record_bytes: int = 4096,
    writers: int = 4,
    records_per_writer: int = 100,
    read_size_bytes: int = 4096,
    deadline_s: float = 20.0,
) -> AtomicityResult:
    """``writers`` children write ``records_per_writer`` records of ``record_bytes`` each into
    one pipe at once; the parent reads them ``read_size_bytes`` at a time and counts the
    records that arrived torn (bytes of two writers mixed).

    Writes up to ``PIPE_BUF`` (4,096 bytes on Linux) are atomic, so such records never tear;
    larger ones can, most often when the reader reads in small pieces.
    """
    return atomicity.run(
        _pipe_buf_atomicity,
        "pipe",
        record_bytes,
        writers,
        records_per_writer,
        read_size_bytes,
        deadline_s,
    )


def _pipe_buf_atomicity(record_bytes, writers, records_per_writer, read_size, deadline_s):
    with ChildGroup(deadline_s=deadline_s) as group, open_pipe() as ends:
        r, w = ends
        # The writers hold the only write ends (the group closes ours as they start):
        # end of file once all are done.
        group.give(w)
        ends[1] = None
        for i in range(writers):
            group.start(
                atomicity.write_records,
                w,
                atomicity.writer_marker(i),
                record_bytes,
                records_per_writer,
                pass_fds=(w,),
            )
        group.release()  # start! all at once
        stream = atomicity.read_to_eof(r, read_size)
        group.values()
        buf_bytes = os.fpathconf(r, "PC_PIPE_BUF")
    return atomicity.result(stream, record_bytes, writers, records_per_writer, buf_bytes, read_size)
