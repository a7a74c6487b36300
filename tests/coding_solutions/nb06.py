"""Notebook 06: a message through a FIFO."""
import os


def _read_to_eof(f):
    chunks = []
    while True:
        chunk = f.read(65536)
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)


def through_fifo(path, message):
    os.mkfifo(path)
    try:
        pid = os.fork()
        if pid == 0:
            try:
                with open(path, "wb") as f:
                    f.write(message)
            finally:
                os._exit(0)
        with open(path, "rb", buffering=0) as f:
            data = _read_to_eof(f)
        os.waitpid(pid, 0)
        return data
    finally:
        os.unlink(path)


def opens_before_forking(path, message):
    os.mkfifo(path)
    try:
        with open(path, "rb", buffering=0) as f:  # no writer exists yet
            pid = os.fork()
            if pid == 0:
                with open(path, "wb") as w:
                    w.write(message)
                os._exit(0)
            data = _read_to_eof(f)
        os.waitpid(pid, 0)
        return data
    finally:
        os.unlink(path)


def never_unlinks(path, message):
    os.mkfifo(path)
    pid = os.fork()
    if pid == 0:
        try:
            with open(path, "wb") as f:
                f.write(message)
        finally:
            os._exit(0)
    with open(path, "rb", buffering=0) as f:
        data = _read_to_eof(f)
    os.waitpid(pid, 0)
    return data


def single_read(path, message):
    os.mkfifo(path)
    try:
        pid = os.fork()
        if pid == 0:
            try:
                with open(path, "wb") as f:
                    f.write(message)
            except BrokenPipeError:
                pass
            finally:
                os._exit(0)
        fd = os.open(path, os.O_RDONLY)
        data = os.read(fd, 1 << 20)
        os.close(fd)
        os.waitpid(pid, 0)
        return data
    finally:
        os.unlink(path)


def never_waited(path, message):
    os.mkfifo(path)
    try:
        pid = os.fork()
        if pid == 0:
            try:
                with open(path, "wb") as f:
                    f.write(message)
            finally:
                os._exit(0)
        with open(path, "rb", buffering=0) as f:
            return _read_to_eof(f)
    finally:
        os.unlink(path)
