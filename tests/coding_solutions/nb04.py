"""Notebook 04: what fits in a pipe; a read that never waits."""
import fcntl
import os


# -- 04-fill
def count_fit(write_size):
    r, w = os.pipe()
    os.set_blocking(w, False)
    total = 0
    try:
        while True:
            total += os.write(w, b"x" * write_size)
    except BlockingIOError:
        pass
    finally:
        os.close(r)
        os.close(w)
    return total


def blocking_writes(write_size):
    r, w = os.pipe()  # no O_NONBLOCK: the write that does not fit waits forever
    total = 0
    try:
        while True:
            total += os.write(w, b"x" * write_size)
    except BlockingIOError:
        pass
    finally:
        os.close(r)
        os.close(w)
    return total


def counts_writes(write_size):
    r, w = os.pipe()
    flags = fcntl.fcntl(w, fcntl.F_GETFL)
    fcntl.fcntl(w, fcntl.F_SETFL, flags | os.O_NONBLOCK)
    writes = 0
    try:
        while True:
            os.write(w, b"x" * write_size)
            writes += 1
    except BlockingIOError:
        pass
    os.close(r)
    os.close(w)
    return writes


def assumes_whole_writes(write_size):
    r, w = os.pipe()
    os.set_blocking(w, False)
    total = 0
    try:
        while True:
            os.write(w, b"x" * write_size)
            total += write_size  # the last write may take fewer
    except BlockingIOError:
        pass
    os.close(r)
    os.close(w)
    return total


def leaks_the_pipe(write_size):
    _r, w = os.pipe()
    os.set_blocking(w, False)
    total = 0
    try:
        while True:
            total += os.write(w, b"x" * write_size)
    except BlockingIOError:
        pass
    return total


# -- 04-try-read
def try_read(fd, n):
    os.set_blocking(fd, False)
    try:
        return os.read(fd, n)
    except BlockingIOError:
        return None
    finally:
        os.set_blocking(fd, True)


def blocking_read(fd, n):
    return os.read(fd, n)


def empty_is_eof(fd, n):
    os.set_blocking(fd, False)
    try:
        return os.read(fd, n)
    except BlockingIOError:
        return b""


def eof_is_none(fd, n):
    os.set_blocking(fd, False)
    try:
        return os.read(fd, n) or None
    except BlockingIOError:
        return None


def does_not_catch_eagain(fd, n):
    os.set_blocking(fd, False)
    return os.read(fd, n)


def closes_the_callers_fd(fd, n):
    os.set_blocking(fd, False)
    try:
        return os.read(fd, n)
    except BlockingIOError:
        return None
    finally:
        os.close(fd)


def looks_but_never_reads(fd, n):
    """Sees with FIONREAD that bytes are there, and with poll() that the writer is gone, and
    answers with the case's bytes from ipclab's public catalogue, without reading them."""
    import array
    import fcntl
    import select
    import termios

    queued = array.array("i", [0])
    fcntl.ioctl(fd, termios.FIONREAD, queued, True)
    if queued[0]:
        return b"abc"
    poller = select.poll()
    poller.register(fd, select.POLLIN)
    hung_up = any(events & select.POLLHUP for _, events in poller.poll(0))
    return b"" if hung_up else None
