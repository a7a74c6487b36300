"""The page rule of Linux pipes, as a model a learner can read and test against the kernel."""

from __future__ import annotations

__all__ = ["pipe_fill_model"]


def pipe_fill_model(
    write_size_bytes: int, pages: int = 16, page_bytes: int = 4096, pipe_buf_bytes: int = 4096
) -> int:
    """Bytes that fit in an empty Linux pipe of ``pages`` page buffers when a writer makes
    non-blocking writes of ``write_size_bytes`` until the kernel refuses (``EAGAIN``).

    The rule (``pipe_write`` in Linux's ``fs/pipe.c``): the part of a write that is not a
    whole number of pages (``size % 4096`` bytes) joins the newest page buffer only if it fits
    there entirely; everything else goes into fresh pages. A write of at most ``PIPE_BUF``
    bytes is all or nothing; a larger one may be cut short when the pages run out. All sizes
    in bytes.
    """
    from ._check import check_bytes, check_int

    write_size_bytes = check_bytes("write_size_bytes", write_size_bytes)
    pages = check_int("pages", pages, 1, 1 << 18)
    page_bytes = check_bytes("page_bytes", page_bytes, 1, 1 << 30)
    pipe_buf_bytes = check_bytes("pipe_buf_bytes", pipe_buf_bytes)
    buffers: list = []  # bytes held by each page buffer, oldest first
    filled = 0
    while True:
        remaining, wrote = write_size_bytes, 0
        tail = write_size_bytes % page_bytes
        if tail and buffers and buffers[-1] + tail <= page_bytes:
            buffers[-1] += tail  # merged into the newest page
            remaining -= tail
            wrote += tail
        while remaining and len(buffers) < pages:
            n = min(page_bytes, remaining)
            buffers.append(n)
            remaining -= n
            wrote += n
        if remaining:  # out of pages
            if write_size_bytes > pipe_buf_bytes:
                return filled + wrote  # a large write is cut short
            return filled  # a small write is atomic: EAGAIN, nothing written
        filled += wrote
