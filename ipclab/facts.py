"""The kernel facts of this machine, measured in one go (``python -m ipclab facts``)."""

from __future__ import annotations

import os
import platform
from typing import NamedTuple

from . import pipes
from ._check import GIB, check_int_list
from ._renamed import renamed_fields

__all__ = ["Facts", "measure_facts", "DEFAULT_WRITE_SIZES", "DEFAULT_SETPIPE_SIZES"]

#: Write sizes (bytes) whose fill amounts show the page rule: small writes share a page only
#: when they fit in its free space, and a write of up to PIPE_BUF never straddles two.
DEFAULT_WRITE_SIZES = (1, 100, 1000, 2049, 4095, 4096, 4097, 65536)


def _default_setpipe_sizes() -> tuple:
    """Requests for ``F_SETPIPE_SZ`` (bytes): rounding cases, the limit, and one above it."""
    limit = pipes.pipe_max_size_bytes() or 1 << 20
    return (1, 4097, 65537, limit, limit + 1)


DEFAULT_SETPIPE_SIZES = None  # computed per machine: see _default_setpipe_sizes


@renamed_fields(setpipe_sz="setpipe_bytes_by_request")
class Facts(NamedTuple):
    """Pipe facts measured on this machine (sizes in bytes)."""

    system: str
    kernel_release: str
    machine: str
    python_version: str
    cpu_count: int
    page_size_bytes: int
    pipe_capacity_bytes: int | None
    pipe_buf_bytes: int
    pipe_max_size_bytes: int | None
    fill_bytes_by_write_size: dict
    read_without_writer: str
    write_without_reader: str | None
    write_without_reader_errno: str | None
    sigpipe_exit_status: int
    #: ``F_SETPIPE_SZ``: the capacity granted in bytes (or the errno name of the refusal),
    #: by the capacity requested in bytes (a str key, as in JSON).
    setpipe_bytes_by_request: dict


def measure_facts(write_sizes=DEFAULT_WRITE_SIZES, setpipe_sizes=None) -> Facts:
    """Measure every fact. ``write_sizes``: ints from 1 byte to 1 GiB; ``setpipe_sizes``:
    sizes to request with ``F_SETPIPE_SZ`` (default: a few rounding cases and the limit)."""
    write_sizes = check_int_list("write_sizes", write_sizes, 1, GIB, "bytes")
    if setpipe_sizes is None:
        setpipe_sizes = _default_setpipe_sizes()
    setpipe_sizes = check_int_list("setpipe_sizes", setpipe_sizes, 1, GIB, "bytes")
    fills = {str(size): pipes.fill_pipe(size).filled_bytes for size in dict.fromkeys(write_sizes)}
    eof = pipes.read_without_writer()
    ignored = pipes.write_without_reader("ignore")
    default = pipes.write_without_reader("default")
    resized = {}
    for size in dict.fromkeys(setpipe_sizes):
        res = pipes.resize_pipe(size)
        resized[str(size)] = res.granted_bytes if res.error is None else res.error
    return Facts(
        system=platform.system(),
        kernel_release=platform.release(),
        machine=platform.machine(),
        python_version=platform.python_version(),
        cpu_count=os.cpu_count() or 1,
        page_size_bytes=pipes.PAGE_BYTES,
        pipe_capacity_bytes=pipes.new_pipe_capacity_bytes(),
        pipe_buf_bytes=pipes.pipe_buf_bytes(),
        pipe_max_size_bytes=pipes.pipe_max_size_bytes(),
        fill_bytes_by_write_size=fills,
        read_without_writer="eof" if eof.eof else "blocked",
        write_without_reader=ignored.exception,
        write_without_reader_errno=ignored.errno_name,
        sigpipe_exit_status=default.exit_status,
        setpipe_bytes_by_request=resized,
    )


def format_facts(facts: Facts) -> str:
    """The facts as a readable table."""
    rows = [
        (
            "system",
            f"{facts.system} {facts.kernel_release} ({facts.machine}), "
            f"Python {facts.python_version}, {facts.cpu_count} CPUs",
        ),
        ("page size", f"{facts.page_size_bytes:,} bytes"),
        ("pipe capacity (F_GETPIPE_SZ)", _bytes(facts.pipe_capacity_bytes)),
        ("PIPE_BUF (atomic write limit)", _bytes(facts.pipe_buf_bytes)),
        ("pipe-max-size", _bytes(facts.pipe_max_size_bytes)),
        ("read, no writer left", facts.read_without_writer),
        (
            "write, no reader (SIGPIPE ignored)",
            f"{facts.write_without_reader} ({facts.write_without_reader_errno})",
        ),
        ("write, no reader (SIGPIPE default)", f"exit status {facts.sigpipe_exit_status}"),
    ]
    width = max(len(k) for k, _ in rows)
    lines = [f"{k:<{width}}  {v}" for k, v in rows]
    lines += ["", "bytes that fit in a new pipe, by write size:"]
    lines += [
        f"  {int(k):>10,} B writes -> {v:>9,} bytes"
        for k, v in facts.fill_bytes_by_write_size.items()
    ]
    lines += ["", "F_SETPIPE_SZ, requested -> granted:"]
    lines += [
        f"  {int(k):>10,} B -> {v:>9,} bytes" if isinstance(v, int) else f"  {int(k):>10,} B -> {v}"
        for k, v in facts.setpipe_bytes_by_request.items()
    ]
    return "\n".join(lines)


def _bytes(n) -> str:
    return "n/a on this system" if n is None else f"{n:,} bytes"
