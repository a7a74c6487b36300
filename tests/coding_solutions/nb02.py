"""Notebook 02: fork/exec/wait, and a two-stage pipeline."""
import os


# -- 02-run
def run(argv):
    pid = os.fork()
    if pid == 0:
        try:
            os.execvp(argv[0], argv)
        finally:
            os._exit(127)
    return os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])


def exec_without_fork(argv):
    os.execvp(argv[0], argv)  # replaces the caller itself


def exec_failure_runs_on(argv):
    pid = os.fork()
    if pid == 0:
        os.execvp(argv[0], argv)  # raises when the program does not exist
    return os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])


def exec_failure_is_1(argv):
    pid = os.fork()
    if pid == 0:
        try:
            os.execvp(argv[0], argv)
        finally:
            os._exit(1)
    return os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])


def raw_status(argv):
    pid = os.fork()
    if pid == 0:
        try:
            os.execvp(argv[0], argv)
        finally:
            os._exit(127)
    return os.waitpid(pid, 0)[1]


def exit_code_only(argv):
    pid = os.fork()
    if pid == 0:
        try:
            os.execvp(argv[0], argv)
        finally:
            os._exit(127)
    status = os.waitpid(pid, 0)[1]
    return (status >> 8) & 0xFF  # WEXITSTATUS even when a signal ended it


# -- 02-pipeline
def _start(argv, stdin, stdout, close):
    pid = os.fork()
    if pid == 0:
        try:
            os.dup2(stdin, 0)
            os.dup2(stdout, 1)
            os.execvp(argv[0], argv)
        finally:
            os._exit(127)
    return pid


def pipeline(first, second):
    mid_r, mid_w = os.pipe()
    out_r, out_w = os.pipe()
    a = _start(first, 0, mid_w, ())
    b = _start(second, mid_r, out_w, ())
    os.close(mid_r)
    os.close(mid_w)
    os.close(out_w)
    chunks = []
    while True:
        chunk = os.read(out_r, 65536)
        if not chunk:
            break
        chunks.append(chunk)
    os.close(out_r)
    os.waitpid(a, 0)
    os.waitpid(b, 0)
    return b"".join(chunks)


def parent_keeps_middle_write_end(first, second):
    mid_r, mid_w = os.pipe()
    out_r, out_w = os.pipe()
    a = _start(first, 0, mid_w, ())
    b = _start(second, mid_r, out_w, ())
    os.close(mid_r)
    os.close(out_w)  # mid_w stays open here: sort never sees end of file
    chunks = []
    while True:
        chunk = os.read(out_r, 65536)
        if not chunk:
            break
        chunks.append(chunk)
    os.close(out_r)
    os.close(mid_w)
    os.waitpid(a, 0)
    os.waitpid(b, 0)
    return b"".join(chunks)


def waits_before_reading(first, second):
    mid_r, mid_w = os.pipe()
    out_r, out_w = os.pipe()
    a = _start(first, 0, mid_w, ())
    b = _start(second, mid_r, out_w, ())
    os.close(mid_r)
    os.close(mid_w)
    os.close(out_w)
    os.waitpid(a, 0)
    os.waitpid(b, 0)  # tr blocks writing 200,000 bytes into a 64 KiB pipe nobody reads
    chunks = []
    while True:
        chunk = os.read(out_r, 65536)
        if not chunk:
            break
        chunks.append(chunk)
    os.close(out_r)
    return b"".join(chunks)


def no_dup2_for_output(first, second):
    mid_r, mid_w = os.pipe()
    out_r, out_w = os.pipe()
    a = _start(first, 0, mid_w, ())
    b = _start(second, mid_r, 1, ())  # second writes where the cell writes
    os.close(mid_r)
    os.close(mid_w)
    os.close(out_w)
    data = os.read(out_r, 65536)
    os.close(out_r)
    os.waitpid(a, 0)
    os.waitpid(b, 0)
    return data


def single_read(first, second):
    mid_r, mid_w = os.pipe()
    out_r, out_w = os.pipe()
    a = _start(first, 0, mid_w, ())
    b = _start(second, mid_r, out_w, ())
    os.close(mid_r)
    os.close(mid_w)
    os.close(out_w)
    data = os.read(out_r, 1 << 20)
    os.close(out_r)
    os.waitpid(a, 0)
    os.waitpid(b, 0)
    return data
