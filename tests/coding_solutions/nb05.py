"""Notebook 05: read until end of file; a writer that survives a vanished reader."""
import os
import signal


# -- 05-read-all
def read_all(fd):
    chunks = []
    while True:
        chunk = os.read(fd, 65536)
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)


def single_read(fd):
    return os.read(fd, 1 << 20)


def never_stops(fd):
    data = b""
    while True:  # at end of file read() returns b'' for ever
        data += os.read(fd, 65536)


def returns_text(fd):
    chunks = []
    while True:
        chunk = os.read(fd, 65536)
        if not chunk:
            return b"".join(chunks).decode()
        chunks.append(chunk)


# -- 05-epipe
def write_or_epipe(fd, data):
    old = signal.signal(signal.SIGPIPE, signal.SIG_IGN)
    try:
        os.write(fd, data)
        return "ok"
    except BrokenPipeError:
        return "EPIPE"
    finally:
        signal.signal(signal.SIGPIPE, old)


def just_writes(fd, data):
    try:
        os.write(fd, data)  # SIGPIPE kills the process before the except can run
        return "ok"
    except BrokenPipeError:
        return "EPIPE"


def ignores_but_does_not_catch(fd, data):
    old = signal.signal(signal.SIGPIPE, signal.SIG_IGN)
    try:
        os.write(fd, data)
        return "ok"
    finally:
        signal.signal(signal.SIGPIPE, old)


def leaves_sigpipe_ignored(fd, data):
    signal.signal(signal.SIGPIPE, signal.SIG_IGN)
    try:
        os.write(fd, data)
        return "ok"
    except BrokenPipeError:
        return "EPIPE"


def says_ok_anyway(fd, data):
    old = signal.signal(signal.SIGPIPE, signal.SIG_IGN)
    try:
        os.write(fd, data)
    except BrokenPipeError:
        pass
    finally:
        signal.signal(signal.SIGPIPE, old)
    return "ok"


def looks_but_never_reads(fd):
    """Sees with FIONREAD how much is there and answers with the catalogue's bytes, without
    reading them."""
    import array
    import fcntl
    import termios
    import time

    time.sleep(0.05)  # let the writer write
    queued = array.array("i", [0])
    fcntl.ioctl(fd, termios.FIONREAD, queued, True)
    return b"z" * (queued[0] if queued[0] < 65536 else 300_000)
