"""Notebook 01: fork and exit status."""
import os
import sys


# -- 01-exit-code
def exit_code_of_child(code):
    pid = os.fork()
    if pid == 0:
        os._exit(code)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status)


def raw_status(code):
    pid = os.fork()
    if pid == 0:
        os._exit(code)
    return os.waitpid(pid, 0)[1]  # the wait status, not the exit code


def never_waited(code):
    pid = os.fork()
    if pid == 0:
        os._exit(code)
    return code  # knows the answer, never collects the child


def child_returns(code):
    pid = os.fork()
    if pid == 0:
        return code  # the child runs on as a second copy of the caller
    return os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])


def sys_exit_in_child(code):
    pid = os.fork()
    if pid == 0:
        sys.exit(code)
    return os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])


# -- 01-children
def exit_codes(n):
    pids = []
    for i in range(n):
        pid = os.fork()
        if pid == 0:
            os._exit(i)
        pids.append(pid)
    return [os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) for pid in pids]


def waits_for_the_last_only(n):
    for i in range(n):
        pid = os.fork()
        if pid == 0:
            os._exit(i)
    return [os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])] * n


def raw_statuses(n):
    pids = []
    for i in range(n):
        pid = os.fork()
        if pid == 0:
            os._exit(i)
        pids.append(pid)
    return [os.waitpid(pid, 0)[1] for pid in pids]


def child_keeps_looping(n):
    pids = []
    for _ in range(n):
        pid = os.fork()
        if pid == 0:
            continue  # the child forgets to end: it forks the rest of the loop too
        pids.append(pid)
    return [os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) for pid in pids]


def returns_the_argument(code):
    return code
