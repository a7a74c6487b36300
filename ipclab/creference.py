"""The C reference programs, built on demand and run side by side with ipclab.

The shoot-out compares ipclab's Python measurements with small C programs of the project's
own (``benchmarks/*.c``, lmbench-style) that do the same transfers the same way. This module
finds their sources in the course's checkout (next to the ``ipclab`` package, where an
editable install — the course's — leaves them), compiles each with the system C compiler
(``$CC``, else ``cc``) into a per-user cache directory, and runs it:

    build("bw_stream")                        # compiles once; later calls find it cached
    throughput("pipe", 65536, 2000, 5, "same")  # a ThroughputPoint measured by C

A binary is cached under a hash of its sources, the compiler and the flags: a changed source
is rebuilt, an unchanged one never. Builds write to a temporary file and rename it, so two
builds at once cannot leave a half-written program. Without a compiler, :func:`build` raises
:class:`NoCompilerError` saying what to install.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from typing import NamedTuple

from ._check import MAX_DEADLINE_S, check_bytes, check_choice, check_int
from ._renamed import renamed_fields
from ._signals import kill_group
from .errors import ExperimentInterrupted, IpclabError

__all__ = [
    "PROGRAMS",
    "Build",
    "NoCompilerError",
    "source_dir",
    "cache_dir",
    "compiler",
    "build",
    "describe",
    "throughput",
    "latency",
]

#: The reference programs: one-way throughput and round trip, streams and shared memory.
PROGRAMS = ("bw_stream", "bw_shm", "lat_stream", "lat_shm")
_HEADER = "common.h"
_FLAGS = ("-O2", "-Wall", "-pthread")
_BUILD_TIMEOUT_S = 120.0


class NoCompilerError(IpclabError):
    """No C compiler to build the references with (``$CC`` unset and no ``cc`` on PATH)."""


@renamed_fields(build_seconds="build_s")
class Build(NamedTuple):
    """One reference program, ready to run."""

    program: str
    #: The executable (in the cache directory).
    path: str
    #: True if this call compiled it; False if an unchanged build was found in the cache.
    built: bool
    #: Wall-clock seconds the compile took (0.0 when cached).
    build_s: float
    #: The compiler command that built (or would build) it.
    compiler: str


def source_dir() -> str:
    """The folder that holds the C sources (``benchmarks/`` of the course's checkout).

    ``$IPCLAB_C_SOURCES`` overrides it. Raises :class:`IpclabError` naming where it looked
    when the sources are not there (ipclab installed without its checkout).
    """
    here = os.environ.get("IPCLAB_C_SOURCES") or os.path.join(
        os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "benchmarks"
    )
    if not os.path.isfile(os.path.join(here, _HEADER)):
        raise IpclabError(
            f"the C reference sources are not in {here!r}: they come with the "
            f"course's checkout (benchmarks/*.c); install ipclab from it with "
            f"`pip install -e .` or set IPCLAB_C_SOURCES to that folder"
        )
    return here


def cache_dir() -> str:
    """Where built references are kept: ``$XDG_CACHE_HOME/ipclab/c`` (``~/.cache/ipclab/c``;
    ``~/Library/Caches/ipclab/c`` on macOS). Not created here."""
    base = os.environ.get("XDG_CACHE_HOME")
    if not base:
        home = os.path.expanduser("~")
        base = (
            os.path.join(home, "Library", "Caches")
            if sys.platform == "darwin"
            else os.path.join(home, ".cache")
        )
    return os.path.join(base, "ipclab", "c")


def compiler() -> str:
    """The C compiler to use: ``$CC`` if set, else ``cc`` found on ``PATH``; raises
    :class:`NoCompilerError` if there is none."""
    cc = os.environ.get("CC", "").strip()
    if cc:
        if shutil.which(cc.split()[0]) is None:
            raise NoCompilerError(
                f"CC={cc!r} is set but {cc.split()[0]!r} is not found: install it or unset CC"
            )
        return cc
    found = shutil.which("cc")
    if found is None:
        raise NoCompilerError(
            "no C compiler: the C references need `cc` (on Debian/Ubuntu: "
            "`apt-get install gcc`; on macOS: `xcode-select --install`)"
        )
    return found


def _key(program: str, sources: str, cc: str) -> str:
    """A hash of everything the binary depends on: both source files, compiler, flags."""
    h = hashlib.sha256()
    for name in (f"{program}.c", _HEADER):
        with open(os.path.join(sources, name), "rb") as f:
            h.update(name.encode() + b"\0" + f.read() + b"\0")
    h.update(" ".join((cc, *_FLAGS, sys.platform)).encode())
    return h.hexdigest()[:16]


def build(program: str, sources: str | None = None, cache: str | None = None) -> Build:
    """The reference ``program`` (one of :data:`PROGRAMS`), compiled if its cached build is
    missing or its sources changed. ``sources``/``cache``: folders (default
    :func:`source_dir`, :func:`cache_dir`)."""
    program = check_choice("program", program, PROGRAMS)
    sources = sources if sources is not None else source_dir()
    cache = cache if cache is not None else cache_dir()
    cc = compiler()
    path = os.path.join(cache, f"{program}-{_key(program, sources, cc)}")
    if os.access(path, os.X_OK):
        return Build(program, path, False, 0.0, cc)
    os.makedirs(cache, mode=0o700, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{program}-", dir=cache)
    os.close(fd)
    t0 = time.monotonic()
    try:
        base = [*cc.split(), *_FLAGS, "-o", tmp, os.path.join(sources, f"{program}.c")]
        # -lrt for shm_open on older glibc; systems without librt build without it.
        done = subprocess.run(
            base + ["-lrt"], capture_output=True, text=True, timeout=_BUILD_TIMEOUT_S
        )
        if done.returncode != 0:
            done = subprocess.run(base, capture_output=True, text=True, timeout=_BUILD_TIMEOUT_S)
        if done.returncode != 0:
            raise IpclabError(f"building {program} with {cc} failed:\n{done.stderr.strip()}")
        os.chmod(tmp, 0o755)
        os.replace(tmp, path)  # atomic: a concurrent build finds all of it or nothing
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    took = time.monotonic() - t0
    _remove_stale(cache, program, path)
    return Build(program, path, True, took, cc)


def _remove_stale(cache: str, program: str, keep: str) -> None:
    """Delete older builds of ``program`` (from sources since changed)."""
    for name in os.listdir(cache):
        stale = os.path.join(cache, name)
        if name.startswith(f"{program}-") and len(name) == len(program) + 17 and stale != keep:
            try:
                os.unlink(stale)
            except OSError:
                pass


def describe(b: Build) -> str:
    """One line for a learner: what was built, with what, how long it took."""
    cc = os.path.basename(b.compiler.split()[0])
    if b.built:
        return f"{b.program}: compiled with {cc} -O2 in {b.build_s:.2f} s (now cached)"
    return f"{b.program}: already built (cached; sources unchanged)"


# -- running -----------------------------------------------------------------------------
def _run(argv: list, deadline_s: float) -> list:
    """Run a reference in its own process group (its two children too); return its list
    of run times in seconds. On a timeout or an interrupt the whole group is killed."""
    proc = subprocess.Popen(
        argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True
    )
    try:
        out, err = proc.communicate(timeout=deadline_s)
    except BaseException as exc:
        kill_group(proc.pid)
        proc.communicate()
        if isinstance(exc, KeyboardInterrupt) and not isinstance(exc, ExperimentInterrupted):
            raise ExperimentInterrupted(f"the C reference {os.path.basename(argv[0])}") from None
        raise
    if proc.returncode != 0:
        raise IpclabError(
            f"{os.path.basename(argv[0])} {' '.join(argv[1:])} failed "
            f"(exit status {proc.returncode}): {err.strip()}"
        )
    return json.loads(out.strip().splitlines()[-1])["seconds"]


def _cpus(placement: str) -> tuple:
    from .throughput import placement_cpus

    cpus = placement_cpus(placement)
    return cpus if cpus else (-1, -1)


def _deadline(byte_count: int, count: int) -> float:
    return min(MAX_DEADLINE_S, 20.0 + byte_count / 5e6 + count * 50e-6)


def _argv(kind: str, mechanism: str, message_bytes: int, count: int, repeats: int, placement):
    """The command line of reference ``kind`` (``"bw"`` or ``"lat"``) for ``mechanism``:
    ``count`` messages or round trips per run, a warm-up run and ``repeats`` timed ones."""
    w, r = _cpus(placement)
    program = f"{kind}_shm" if mechanism == "shm" else f"{kind}_stream"
    argv = [build(program).path] + ([] if mechanism == "shm" else [mechanism])
    return argv + [str(message_bytes), str(count), str(repeats + 1), str(w), str(r)]


def throughput(
    mechanism: str, message_bytes: int, messages: int, repeats: int = 5, placement: str = "same"
):
    """C's one-way throughput: ``messages`` messages of ``message_bytes`` per run, one
    warm-up run then ``repeats`` timed runs, as a :class:`ipclab.throughput.ThroughputPoint`
    (bytes per second). Give it a Python point's ``messages_per_run`` to do the same work."""
    from .throughput import MECHANISMS, ThroughputPoint

    mechanism = check_choice("mechanism", mechanism, MECHANISMS)
    message_bytes = check_bytes("message_bytes", message_bytes)
    messages = check_int("messages", messages, 1, 1 << 40)
    repeats = check_int("repeats", repeats, 1, 999)
    argv = _argv("bw", mechanism, message_bytes, messages, repeats, placement)
    times = _run(
        argv, _deadline(message_bytes * messages * (repeats + 1), messages * (repeats + 1))
    )[1:]  # the warm-up dropped
    rates = [messages * message_bytes / t for t in times]
    return ThroughputPoint.from_rates(mechanism, message_bytes, placement, rates, messages)


def latency(
    mechanism: str, message_bytes: int, round_trips: int, repeats: int = 5, placement: str = "same"
):
    """C's round trip: ``round_trips`` per run, one warm-up then ``repeats`` timed runs, as
    a :class:`ipclab.throughput.LatencyPoint` (seconds per round trip)."""
    from .throughput import MECHANISMS, LatencyPoint

    mechanism = check_choice("mechanism", mechanism, MECHANISMS)
    message_bytes = check_bytes("message_bytes", message_bytes, 1, 16 * 1024 * 1024)
    round_trips = check_int("round_trips", round_trips, 1, 10_000_000)
    repeats = check_int("repeats", repeats, 1, 999)
    argv = _argv("lat", mechanism, message_bytes, round_trips, repeats, placement)
    times = _run(
        argv,
        _deadline(2 * message_bytes * round_trips * (repeats + 1), 2 * round_trips * (repeats + 1)),
    )[1:]  # mean per trip
    return LatencyPoint.from_times(mechanism, message_bytes, placement, times, round_trips)
