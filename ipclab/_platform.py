"""What this operating system offers, asked once and said plainly.

ipclab imports everywhere (Windows included); the experiments need POSIX calls and call
:func:`require` first, which raises one clear error that points to WSL or a Linux server.
"""

from __future__ import annotations

import os
import sys

from .errors import UnsupportedPlatformError

IS_LINUX = sys.platform.startswith("linux")
IS_MACOS = sys.platform == "darwin"

_WHERE_TO_RUN = (
    "Run the course on Linux or macOS: on Windows use WSL "
    "(https://learn.microsoft.com/windows/wsl), or a Linux JupyterHub or Binder server."
)


def has(call: str) -> bool:
    """True if ``os`` offers ``call`` (``"fork"``, ``"mkfifo"``, ``"pipe"``, ...)."""
    return hasattr(os, call)


def require(*calls: str) -> None:
    """Raise :class:`UnsupportedPlatformError` unless ``os`` offers every one of ``calls``."""
    missing = [c for c in calls if not has(c)]
    if missing:
        names = ", ".join(f"os.{c}()" for c in missing)
        raise UnsupportedPlatformError(
            f"this experiment needs {names}, which {sys.platform} does not provide. "
            + _WHERE_TO_RUN
        )


def thread_count() -> int:
    """Threads in this process, counted by the OS where it tells (Linux), else by Python."""
    try:
        return len(os.listdir("/proc/self/task"))
    except OSError:
        import threading

        return threading.active_count()
