"""Notebook 11: collecting the children that have ended, without waiting for the others."""
import os


# -- 11-reap
def reap_ended():
    codes = {}
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:  # no child left at all
            return codes
        if pid == 0:  # children left, none of them ended
            return codes
        codes[pid] = os.waitstatus_to_exitcode(status)


def blocking_wait():
    codes = {}
    while True:
        try:
            pid, status = os.waitpid(-1, 0)  # waits for the running one too
        except ChildProcessError:
            return codes
        codes[pid] = os.waitstatus_to_exitcode(status)


def one_wait_only():
    try:
        pid, status = os.waitpid(-1, os.WNOHANG)  # as one SIGCHLD handler call would
    except ChildProcessError:
        return {}
    return {pid: os.waitstatus_to_exitcode(status)} if pid else {}


def raw_statuses():
    codes = {}
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return codes
        if pid == 0:
            return codes
        codes[pid] = status


def exit_status_only():
    codes = {}
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return codes
        if pid == 0:
            return codes
        codes[pid] = os.WEXITSTATUS(status)  # 0 for a child a signal killed


def crashes_when_none_left():
    codes = {}
    while True:
        pid, status = os.waitpid(-1, os.WNOHANG)
        if pid == 0:
            return codes
        codes[pid] = os.waitstatus_to_exitcode(status)
