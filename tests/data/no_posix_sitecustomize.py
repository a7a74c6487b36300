# Loaded as sitecustomize by tests/test_platform.py: take away what Windows lacks (fork, mkfifo,
# fcntl, POSIX signals, POSIX shared memory...) so that ipclab must cope with its absence.
import os, signal, sys
class _Block:
    def find_spec(self, name, path=None, target=None):
        if name in ("fcntl", "termios", "resource", "_posixshmem"):
            raise ModuleNotFoundError(f"No module named {name!r} (simulated Windows)")
        return None
sys.meta_path.insert(0, _Block())
for name in ("fork", "mkfifo", "killpg", "setpgid", "getpgid", "pidfd_open", "sched_setaffinity",
             "sched_getaffinity", "waitid", "setsid", "getppid"):
    if hasattr(os, name):
        delattr(os, name)
for name in ("SIGKILL", "SIGPIPE", "SIGALRM", "SIGCHLD", "SIGHUP", "SIGUSR1", "SIGUSR2", "SIGQUIT", "SIGSTOP", "SIGCONT"):
    if hasattr(signal, name):
        delattr(signal, name)
