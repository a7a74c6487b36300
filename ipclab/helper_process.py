"""Run an experiment in a clean, single-threaded helper process.

Why: a Jupyter kernel runs several threads (ZMQ, heartbeat, output). ``fork()`` in a
multi-threaded process copies only the calling thread, so a lock held by another thread at
that moment stays locked forever in the child; Python 3.12+ warns about it on stderr, which
lands in the cell and breaks nbval's comparison. ipclab therefore forks only from a
single-threaded process. When the caller is multi-threaded, :func:`call` and :func:`iterate`
start ``python -m ipclab.helper_process`` (by ``subprocess``: fork+exec, which is safe), run the
experiment there and bring back its result, or stream the values it yields.

The helper leads its own session. On an interrupt (the kernel's stop button), a timeout or
an early ``break`` from :func:`iterate`, it gets ``SIGTERM`` — its ``finally`` blocks close
fds, kill children, remove FIFOs and shared memory — then ``SIGKILL`` after a short grace,
and the caller removes the private directory and the shared-memory names it handed to the
helper. Control returns within about half a second.

``IPCLAB_ISOLATE`` picks the mode: ``auto`` (default: helper_process when this process has more
than one thread), ``always`` or ``never``.
"""

from __future__ import annotations

import glob
import os
import pickle
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import types
from collections.abc import Callable, Iterator
from typing import Any

from . import _frames, _platform
from ._childenv import importable_env
from ._resources import SHM_TAG_ENV, TMPDIR_ENV
from ._signals import InterruptGuard, Stop, kill_group, raise_stop_on
from .errors import ChildFailedError, ChildTimeoutError, ExperimentInterrupted
from .process import reap_popen

__all__ = ["call", "iterate", "should_isolate", "MODE_ENV"]

MODE_ENV = "IPCLAB_ISOLATE"
_MODES = ("auto", "always", "never")
#: Time the helper gets to clean up after SIGTERM before SIGKILL, in seconds.
_GRACE_S = 0.5
#: Time a helper gets to wind up and report after an interrupt (``soft_stop``), in seconds.
_WIND_UP_S = 1.0
#: Extra time over the experiment's deadline for the helper to start and report, in seconds.
_START_MARGIN_S = 10.0


def should_isolate() -> bool:
    """True if experiments should run in a helper process (see ``IPCLAB_ISOLATE``)."""
    mode = os.environ.get(MODE_ENV, "auto").strip().lower() or "auto"
    if mode not in _MODES:
        raise ValueError(f"{MODE_ENV} must be one of {', '.join(_MODES)}, got {mode!r}")
    if mode == "auto":
        return _platform.thread_count() > 1
    return mode == "always"


def call(func: Callable, *args: Any, deadline_s: float, **kwargs: Any) -> Any:
    """Return ``func(*args, **kwargs)``, run in a helper process if this one has threads.

    ``func`` must be importable by name (defined at module level in a package). The helper
    is killed if it has not answered ``deadline_s`` seconds (plus start-up time) from now.
    """
    try:
        if not should_isolate():
            return func(*args, **kwargs)
        with _Helper(func, args, kwargs, deadline_s, "call") as helper:
            for kind, value in helper.frames():
                if kind == "done":
                    return value
    except ExperimentInterrupted:
        raise
    except KeyboardInterrupt:
        raise ExperimentInterrupted(_describe(func)) from None
    raise ChildFailedError("helper process ended without a result")  # pragma: no cover


def iterate(
    func: Callable,
    *args: Any,
    deadline_s: float,
    always: bool = False,
    soft_stop: int | None = None,
    **kwargs: Any,
) -> Iterator[Any]:
    """Yield what the generator ``func(*args, **kwargs)`` yields, as it yields it.

    Runs in a helper process if this one has threads, or ``always``. Leaving the loop early
    (``break``, an exception, KeyboardInterrupt) stops the helper and cleans up.

    ``soft_stop`` (a signal number, helper only): on an interrupt, send the helper this
    signal instead of stopping it, keep yielding what it still yields for up to a second
    (the generator is expected to wind up and say what it found), then raise the interrupt.
    """
    try:
        if not (always or should_isolate()):
            yield from func(*args, **kwargs)
            return
        with _Helper(func, args, kwargs, deadline_s, "iterate") as helper:
            try:
                for kind, value in helper.frames():
                    if kind == "item":
                        yield value
            except KeyboardInterrupt:
                if soft_stop is None:
                    raise
                yield from helper.wind_up(soft_stop)
                raise
    except ExperimentInterrupted:
        raise
    except KeyboardInterrupt:
        raise ExperimentInterrupted(_describe(func)) from None


def _describe(func: Callable) -> str:
    """``"ipclab.pipes.fill_pipe"`` for an experiment's body ``ipclab.pipes._fill_pipe``, and
    ``"ipclab.webserver.load_run"`` for ``ipclab.webserver._load.load_run``: the name a
    learner calls it by, without the private parts of a package."""
    name = getattr(func, "__qualname__", repr(func)).lstrip("_")
    module = getattr(func, "__module__", None)
    if not module:
        return name
    public = ".".join(part for part in module.split(".") if not part.startswith("_"))
    return f"{public}.{name}"


class _Helper:
    """The caller's side of one helper process."""

    def __init__(self, func, args, kwargs, deadline_s, mode):
        self.deadline = time.monotonic() + deadline_s + _START_MARGIN_S
        self.tmpdir = tempfile.mkdtemp(prefix="ipclab-")  # 0700: private to this user
        self.shm_tag = os.path.basename(self.tmpdir).replace("ipclab-", "")[:8]
        self.stderr = tempfile.TemporaryFile(dir=self.tmpdir)
        self.proc: subprocess.Popen | None = None
        self.reader = _frames.FrameReader()
        self.guard = InterruptGuard()
        request = pickle.dumps((func.__module__, func.__qualname__, args, kwargs, mode))
        env = importable_env()  # the helper must import this very ipclab
        env[MODE_ENV] = "never"
        env[TMPDIR_ENV] = self.tmpdir
        env[SHM_TAG_ENV] = self.shm_tag
        try:
            self.guard.install()
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "ipclab.helper_process"],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=self.stderr,
                env=env,
                start_new_session=True,
                close_fds=True,
            )
            stdin = self.proc.stdin
            assert stdin is not None  # stdin=PIPE
            stdin.write(request)
            stdin.close()
        except BaseException:
            self.close()
            raise

    @property
    def running(self) -> subprocess.Popen:
        """The helper's process (there is one once the constructor has returned)."""
        assert self.proc is not None
        return self.proc

    def frames(self) -> Iterator[tuple[str, Any]]:
        """Yield ``(kind, value)`` frames; raise the helper's exception or a timeout."""
        stdout = self.running.stdout
        assert stdout is not None  # stdout=PIPE
        fd = stdout.fileno()
        while True:
            whole, frame = self.reader.next()
            if whole:
                kind, value = frame
                if kind == "error":
                    raise value
                yield kind, value
                if kind == "done":
                    return
                continue
            left = self.deadline - time.monotonic()
            if left <= 0:
                raise ChildTimeoutError(
                    "the experiment's helper process missed its deadline and was stopped",
                    pid=self.running.pid,
                )
            if select.select([fd], [], [], left)[0]:
                chunk = os.read(fd, 1 << 16)
                if not chunk:
                    raise self._died()
                self.reader.feed(chunk)

    def wind_up(self, sig: int) -> Iterator[Any]:
        """After an interrupt: ask the helper to wind up with ``sig`` and yield the items it
        still sends, for at most :data:`_WIND_UP_S` seconds."""
        self.guard.hold()  # a second press now must not cut the wind-up short
        try:
            os.kill(self.running.pid, sig)  # the helper only: it stops its own children
        except ProcessLookupError:
            return
        self.deadline = min(self.deadline, time.monotonic() + _WIND_UP_S)
        try:
            for kind, value in self.frames():
                if kind == "item":
                    yield value
        except (ChildTimeoutError, ChildFailedError):
            pass  # it did not wind up in time: close() stops it

    def _died(self) -> ChildFailedError:
        reap_popen(self.running, _GRACE_S)  # it closed its stdout: it is on its way out
        status = self.running.returncode
        self.stderr.seek(0)
        text = self.stderr.read().decode(errors="replace")[-4000:]
        return ChildFailedError(
            f"the experiment's helper process ended early (exit status {status})"
            + (f":\n{text}" if text else ""),
            exit_status=status,
            child_traceback=text,
        )

    def close(self) -> None:
        """Stop the helper and remove what it left. The stop button pressed again during
        the cleanup is held back until the cleanup is done (:class:`InterruptGuard`), then
        raised; an interrupt raised some other way (another signal's handler) makes the
        cleanup start over, which every step of it allows."""
        self.guard.hold()
        interrupted = False
        while True:
            try:
                self._close()
                break
            except KeyboardInterrupt:
                interrupted = True
        if self.guard.release() or interrupted:
            raise KeyboardInterrupt

    def _close(self) -> None:
        proc = self.proc
        if proc is not None:
            if proc.returncode is None:
                kill_group(proc.pid, signal.SIGTERM)
                reap_popen(proc, _GRACE_S)
            if proc.returncode is None:
                kill_group(proc.pid)  # SIGKILL: the grace was not enough
                reap_popen(proc)  # also kills whatever it left in its group
            for stream in (proc.stdout, proc.stdin):
                if stream is not None and not stream.closed:
                    stream.close()
        self.stderr.close()
        shutil.rmtree(self.tmpdir, ignore_errors=True)
        for path in glob.glob(f"/dev/shm/ipclab_{self.shm_tag}*"):
            try:
                os.unlink(path)
            except OSError:
                pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


# -- the helper's side -------------------------------------------------------------------
def _send(out, kind: str, value: Any) -> None:
    try:
        frame = _frames.pack((kind, value))
    except Exception as exc:  # an unpicklable result or exception: send its text
        frame = _frames.pack(("error", ChildFailedError(f"{kind}: {value!r} ({exc})")))
    out.write(frame)
    out.flush()


def _main() -> int:
    # Results go over the original stdout; anything printed goes to stderr instead.
    out = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    raise_stop_on(signal.SIGTERM, signal.SIGINT)  # every finally runs: children, files
    module, qualname, args, kwargs, mode = pickle.loads(sys.stdin.buffer.read())
    try:
        import importlib

        func: Any = importlib.import_module(module)
        for part in qualname.split("."):
            func = getattr(func, part)
        result = func(*args, **kwargs)
        if mode == "iterate":
            if not isinstance(result, types.GeneratorType):
                raise TypeError(f"{qualname} did not return a generator")
            for item in result:
                _send(out, "item", item)
            result = None
        _send(out, "done", result)
    except Stop:
        return 143
    except Exception as exc:
        _send(out, "error", exc)
    return 0


if __name__ == "__main__":
    sys.exit(_main())
