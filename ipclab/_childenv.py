"""The environment of a child *program* (fork + exec of ``python -m ipclab...``) that must
import this very ipclab — the helper process, the FIFO peers — whatever the caller's
working directory or installed copies."""

from __future__ import annotations

import os
from collections.abc import Mapping

__all__ = ["PACKAGE_ROOT", "importable_env"]

#: The directory that holds this ``ipclab`` package (a checkout, or ``site-packages``).
PACKAGE_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def importable_env(env: Mapping[str, str] | None = None) -> dict[str, str]:
    """A copy of ``env`` (default: this process's environment) in which a Python program
    imports this ipclab: :data:`PACKAGE_ROOT` comes first on ``PYTHONPATH``."""
    env = dict(os.environ if env is None else env)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (PACKAGE_ROOT, env.get("PYTHONPATH")) if p)
    return env
