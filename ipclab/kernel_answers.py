"""Answers of the course's checked exercises that the kernel gives: measured on this machine,
never forking (for :mod:`ipclab.answer_keys`), and the explanations that quote them."""

from __future__ import annotations

import os
from typing import Any

__all__ = [
    "fill_3000_in_32k",
    "fill_1000_after_setpipe_5000",
    "nonblocking_read_after_close",
    "writes_of_6000_may_mix",
    "why_fill_3000",
    "why_setpipe_then_fill",
]


def fill_3000_in_32k() -> int:
    """Bytes that fit in a pipe resized to 32,768 bytes, with 3,000-byte writes."""
    from . import pipes

    return pipes.fill_pipe(3000, pipe_size_bytes=32768).filled_bytes


def fill_1000_after_setpipe_5000() -> int:
    """Bytes that fit in a pipe resized to 5,000 bytes, with 1,000-byte writes."""
    from . import pipes

    return pipes.fill_pipe(1000, pipe_size_bytes=5000).filled_bytes


def nonblocking_read_after_close() -> Any:
    """What ``os.read`` gives on an empty pipe with ``O_NONBLOCK`` once the write end is
    closed: the bytes, or the exception's name."""
    r, w = os.pipe()
    try:
        os.set_blocking(r, False)
        os.close(w)
        w = -1
        try:
            return os.read(r, 100)
        except OSError as exc:
            return type(exc).__name__
    finally:
        os.close(r)
        if w >= 0:
            os.close(w)


def writes_of_6000_may_mix() -> bool:
    """True if a 6,000-byte write to a FIFO may be interleaved with another writer's."""
    from . import pipes

    return pipes.pipe_buf_bytes() < 6000


def why_fill_3000(answer: Any) -> str:
    from . import pipes

    page = pipes.PAGE_BYTES
    pages, per_page = 32768 // page, page // 3000
    fit = (
        "only one 3,000-byte write fits in a page (a second would straddle two)"
        if per_page == 1
        else f"{per_page} 3,000-byte writes fit in a page"
    )
    return (
        f"{answer:,} bytes: the pipe has {pages} page{'s' * (pages > 1)} of {page:,} "
        f"bytes, and {fit}."
    )


def why_setpipe_then_fill(answer: Any) -> str:
    from . import pipes

    capacity = pipes.fill_pipe(1000, pipe_size_bytes=5000).capacity_bytes or 0
    return (
        f"{answer:,} bytes: 5,000 is rounded up to {capacity:,} bytes "
        f"({capacity // pipes.PAGE_BYTES} pages), and a 1,000-byte write never straddles two "
        "pages, so each page holds only whole writes."
    )
