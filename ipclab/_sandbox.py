"""Containment for untrusted learner code: the kernel a grader runs a submission in.

``python -m ipclab._sandbox CONFIG.json -- CMD...`` is the kernel's launcher: it joins the
job's process-count cgroup (when root and a ``pids`` cgroup can be made), sets the
resource limits, marks itself with the job's token (an environment variable every
descendant inherits), sends its own stdout/stderr to a size-capped log, drops to an
unprivileged uid (when root and one can run this interpreter), and execs ``CMD``.

The grader finds everything a job started — whatever it did with process groups and
sessions — by the cgroup's member list and by the token in ``/proc/PID/environ``, and kills
it all (:func:`kill_job`). Limits:

- CPU time (``RLIMIT_CPU``, seconds per process), address space (``RLIMIT_AS``, bytes per
  process), file size (``RLIMIT_FSIZE``, bytes), no core files;
- process count: a ``pids`` cgroup (``pids.max``, counts threads too) where the grader may
  make one (root), else ``RLIMIT_NPROC`` (which does not bind uid 0: a root grader without
  cgroups and without a usable unprivileged uid cannot bound a fork bomb — it says so).
"""

from __future__ import annotations

import json
import os
import resource
import signal
import subprocess
import sys
import time
from typing import NamedTuple

TOKEN_VAR = "IPCLAB_GRADE_JOB"
_CGROUP_ROOTS = ("/sys/fs/cgroup/pids", "/sys/fs/cgroup")  # v1, then v2
_UNPRIVILEGED = "nobody"


class Limits(NamedTuple):
    """Per-kernel limits."""

    cpu_s: int = 600
    memory_bytes: int = 4 << 30
    processes: int = 256
    file_bytes: int = 256 << 20


class Privilege(NamedTuple):
    """Who the kernels run as: ``uid``/``gid`` (None: as the grader) and why."""

    uid: int | None
    gid: int | None
    note: str
    #: True when the unprivileged uid keeps one capability, CAP_DAC_READ_SEARCH (read any
    #: file, enter any folder; never write, kill or trace another user's processes), because
    #: without it that uid cannot reach this interpreter (a Python under /root).
    read_anything: bool = False


# -- who runs the kernel ----------------------------------------------------------------------
_PRIVILEGE: Privilege | None = None


def privilege() -> Privilege:
    """As root: ``nobody`` if that uid can run this interpreter and import ipclab and
    ipykernel (checked once, for real); otherwise root, with a note saying why."""
    global _PRIVILEGE
    if _PRIVILEGE is not None:
        return _PRIVILEGE
    if os.geteuid() != 0:
        _PRIVILEGE = Privilege(None, None, f"kernels run as uid {os.geteuid()} (the grader's)")
        return _PRIVILEGE
    import pwd

    try:
        entry = pwd.getpwnam(_UNPRIVILEGED)
    except KeyError:
        _PRIVILEGE = Privilege(None, None, "kernels run as root: there is no user 'nobody'")
        return _PRIVILEGE
    uid, gid = entry.pw_uid, entry.pw_gid
    ok, why = _can_run_as(uid, gid, read_anything=False)
    if ok:
        _PRIVILEGE = Privilege(uid, gid, f"kernels run as uid {uid} ({_UNPRIVILEGED})")
        return _PRIVILEGE
    if _can_run_as(uid, gid, read_anything=True)[0]:
        _PRIVILEGE = Privilege(
            uid,
            gid,
            f"kernels run as uid {uid} ({_UNPRIVILEGED}), allowed to read any file (not "
            f"to write one, or to signal or trace the grader): {_UNPRIVILEGED} alone cannot "
            f"run {sys.executable}",
            read_anything=True,
        )
        return _PRIVILEGE
    _PRIVILEGE = Privilege(
        None,
        None,
        f"kernels run as root: {_UNPRIVILEGED} cannot run {sys.executable} with ipclab "
        f"({why[:200]})",
    )
    return _PRIVILEGE


def _can_run_as(uid: int, gid: int, read_anything: bool) -> tuple[bool, str]:
    """Whether ``uid`` can start this interpreter and import what a kernel needs (for real)."""
    try:
        done = subprocess.run(
            [sys.executable, "-c", "import ipclab, ipykernel, nbformat"],
            preexec_fn=lambda: drop_to(uid, gid, read_anything),
            capture_output=True,
            text=True,
            timeout=60,
            cwd="/",
            env={"PATH": os.environ.get("PATH", ""), "HOME": "/"},
        )
    except (OSError, subprocess.SubprocessError) as exc:
        return False, str(exc)
    return done.returncode == 0, (done.stderr.strip().splitlines() or [""])[-1]


#: Linux: prctl options, the capability ABI version and the one capability that may be kept.
_PR_SET_DUMPABLE, _PR_SET_KEEPCAPS, _PR_SET_CHILD_SUBREAPER = 4, 8, 36
_PR_SET_NO_NEW_PRIVS, _PR_CAP_AMBIENT, _PR_CAP_AMBIENT_RAISE = 38, 47, 2
_CAPABILITY_VERSION_3 = 0x20080522
_CAP_DAC_READ_SEARCH = 2


def _prctl(option: int, *args: int) -> None:
    """prctl(2); OSError (with the errno) if the kernel refuses or there is no prctl."""
    import ctypes

    try:
        libc = ctypes.CDLL(None, use_errno=True)
        done = libc.prctl(option, *args, *[0] * (4 - len(args)))
    except (OSError, AttributeError) as exc:
        raise OSError(f"prctl is not available here: {exc}") from None
    if done != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"prctl({option}, {args}): {os.strerror(err)}")


def drop_to(uid: int, gid: int, read_anything: bool = False) -> None:
    """As root: become ``uid``/``gid`` for good (no supplementary groups, no way back through
    a set-uid program). With ``read_anything``, keep CAP_DAC_READ_SEARCH alone, also across
    ``exec`` (an ambient capability). Raises OSError if the kernel refuses a step."""
    import ctypes

    os.setgroups([])
    os.setgid(gid)
    if read_anything:
        _prctl(_PR_SET_KEEPCAPS, 1)
    os.setuid(uid)
    if read_anything:
        libc = ctypes.CDLL(None, use_errno=True)
        header = (ctypes.c_uint32 * 2)(_CAPABILITY_VERSION_3, 0)
        bit = 1 << _CAP_DAC_READ_SEARCH
        data = (ctypes.c_uint32 * 6)(bit, bit, bit, 0, 0, 0)  # effective, permitted, inheritable
        if libc.capset(header, data) != 0:
            raise OSError(ctypes.get_errno(), "capset: " + os.strerror(ctypes.get_errno()))
        _prctl(_PR_CAP_AMBIENT, _PR_CAP_AMBIENT_RAISE, _CAP_DAC_READ_SEARCH)
    _prctl(_PR_SET_NO_NEW_PRIVS, 1)


def set_dumpable(dumpable: bool) -> None:
    """PR_SET_DUMPABLE: when false, other processes of the same uid can no longer trace this
    one or open its ``/proc/PID/fd`` and ``mem`` (root still can). Inherited by ``fork``."""
    try:
        _prctl(_PR_SET_DUMPABLE, int(dumpable))
    except OSError:
        pass


def containment() -> str:
    """One line for the grader: who runs the kernels, and what bounds their processes."""
    who = privilege()
    probe = make_cgroup("probe-" + os.urandom(4).hex(), 16)
    if probe:
        kill_job("none", probe)
        bound = "process count bounded by a pids cgroup per notebook"
    elif who.uid is not None or os.geteuid() != 0:
        bound = "process count bounded by RLIMIT_NPROC"
    else:
        bound = (
            "NO process-count limit (root without a pids cgroup or a usable "
            "unprivileged uid): a fork bomb is stopped only by the deadline"
        )
    return f"{who.note}; {bound}"


# -- the process-count cgroup -----------------------------------------------------------------
def make_cgroup(token: str, processes: int) -> str | None:
    """A fresh ``pids`` cgroup for one job with ``pids.max = processes``, or None where the
    grader may not make one (not root, no pids controller)."""
    if os.geteuid() != 0:
        return None
    for root in _CGROUP_ROOTS:
        if not os.path.exists(os.path.join(root, "cgroup.procs")):
            continue
        if root == "/sys/fs/cgroup":
            try:
                with open(os.path.join(root, "cgroup.controllers")) as f:
                    if "pids" not in f.read().split():
                        continue
            except OSError:
                continue
        path = os.path.join(root, f"ipclab-grade-{token}")
        try:
            os.mkdir(path)
            with open(os.path.join(path, "pids.max"), "w") as f:
                f.write(str(processes))
            return path
        except OSError:
            try:
                os.rmdir(path)
            except OSError:
                pass
    return None


def _cgroup_pids(path: str) -> list:
    try:
        with open(os.path.join(path, "cgroup.procs")) as f:
            return [int(x) for x in f.read().split()]
    except OSError:
        return []


def _token_pids(token: str) -> list:
    needle = f"{TOKEN_VAR}={token}".encode()
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit() or int(name) == os.getpid():
            continue
        try:
            with open(f"/proc/{name}/environ", "rb") as f:
                if needle in f.read().split(b"\0"):
                    found.append(int(name))
        except OSError:
            continue
    return found


def job_pids_any() -> list:
    """Processes of any grading job (by the token variable in their environment)."""
    needle = f"{TOKEN_VAR}=".encode()
    found = []
    for name in os.listdir("/proc"):
        if name.isdigit() and int(name) != os.getpid():
            try:
                with open(f"/proc/{name}/environ", "rb") as f:
                    if any(v.startswith(needle) for v in f.read().split(b"\0")):
                        found.append(int(name))
            except OSError:
                continue
    return found


def job_pids(token: str, cgroup: str | None) -> list:
    """Every live process of one job (zombies included until reaped)."""
    pids = set(_token_pids(token))
    if cgroup:
        pids.update(_cgroup_pids(cgroup))
    pids.discard(os.getpid())
    return sorted(pids)


def forks_refused(cgroup: str | None) -> int:
    """How many forks a job's cgroup refused (``pids.events``: ``max N``); 0 without one."""
    try:
        with open(os.path.join(cgroup, "pids.events")) as f:  # type: ignore[arg-type]
            for line in f:
                key, _, value = line.partition(" ")
                if key == "max":
                    return int(value)
    except (OSError, TypeError, ValueError):
        pass
    return 0


def kill_job(token: str, cgroup: str | None, timeout_s: float = 10.0, remove: bool = True) -> int:
    """SIGKILL every process of a job, again and again until none is left (a fork bomb
    forks while it is being killed; the process limit bounds it); remove its cgroup
    (unless ``remove`` is false: the grader that made it removes it).
    Returns how many kills were sent."""
    sent = 0
    end = time.monotonic() + timeout_s
    while True:
        pids = job_pids(token, cgroup)
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
                sent += 1
            except ProcessLookupError:
                pass
        _reap()
        if not pids or time.monotonic() > end:
            break
        time.sleep(0.02)
    if cgroup and remove:
        for _ in range(100):
            try:
                os.rmdir(cgroup)
                break
            except FileNotFoundError:
                break
            except OSError:  # killed tasks not gone yet
                time.sleep(0.05)
    return sent


def _reap() -> None:
    """Reap our own dead children (a subreaper inherits the job's orphans)."""
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def become_subreaper() -> bool:
    """PR_SET_CHILD_SUBREAPER: orphans of our descendants become our children (Linux)."""
    try:
        _prctl(_PR_SET_CHILD_SUBREAPER, 1)
    except OSError:
        return False
    return True


def count_user_processes(uid: int) -> int:
    """Processes (tasks) of ``uid`` now: RLIMIT_NPROC counts them all."""
    n = 0
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                if os.stat(f"/proc/{name}").st_uid == uid:
                    n += len(os.listdir(f"/proc/{name}/task"))
            except OSError:
                continue
    return n


# -- the launcher -----------------------------------------------------------------------------
def _apply(config: dict) -> None:
    limits = Limits(**config["limits"])
    if config.get("cgroup"):
        with open(os.path.join(config["cgroup"], "cgroup.procs"), "w") as f:
            f.write(str(os.getpid()))
    os.environ[TOKEN_VAR] = config["token"]
    if os.getsid(0) != os.getpid():
        os.setsid()
    log = os.open(config["log"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.dup2(log, 1)
    os.dup2(log, 2)
    os.close(log)
    uid, gid = config.get("uid"), config.get("gid")
    if uid is not None and gid is not None:  # the private folder (connection file too): theirs
        for top in config.get("chown", []):
            os.chown(top, uid, gid)
            for root, dirs, files in os.walk(top):
                for name in dirs + files:
                    os.chown(os.path.join(root, name), uid, gid, follow_symlinks=False)
    for which, value in (
        (resource.RLIMIT_CPU, limits.cpu_s),
        (resource.RLIMIT_AS, limits.memory_bytes),
        (resource.RLIMIT_FSIZE, limits.file_bytes),
        (resource.RLIMIT_CORE, 0),
    ):
        resource.setrlimit(which, (value, value))
    # RLIMIT_NPROC counts every process of the uid: with a cgroup of its own per job it would
    # only let one submission's fork bomb starve the others graded as the same uid
    if uid is not None and gid is not None:
        if not config.get("cgroup"):
            nproc = limits.processes + count_user_processes(uid)
            resource.setrlimit(resource.RLIMIT_NPROC, (nproc, nproc))
        drop_to(uid, gid, bool(config.get("read_anything")))
    elif os.geteuid() != 0 and not config.get("cgroup"):
        nproc = limits.processes + count_user_processes(os.geteuid())
        resource.setrlimit(resource.RLIMIT_NPROC, (nproc, nproc))


def main(argv: list) -> None:
    """``CONFIG.json -- CMD...``: contain this process, then exec CMD."""
    if len(argv) < 3 or argv[1] != "--":
        sys.exit("usage: python -m ipclab._sandbox CONFIG.json -- CMD...")
    with open(argv[0]) as f:
        config = json.load(f)
    _apply(config)
    os.execv(argv[2], argv[2:])


if __name__ == "__main__":
    main(sys.argv[1:])
