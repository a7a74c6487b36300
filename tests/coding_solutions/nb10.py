"""Notebook 10: two pipes served at once, with select."""
import os
import select


# -- 10-two-pipes
def drain_both(a, b):
    got = {a: [], b: []}
    open_fds = [a, b]
    while open_fds:
        ready, _, _ = select.select(open_fds, [], [])
        for fd in ready:
            chunk = os.read(fd, 65536)
            if chunk:
                got[fd].append(chunk)
            else:
                open_fds.remove(fd)
    return b"".join(got[a]), b"".join(got[b])


def a_then_b(a, b):
    def read_all(fd):
        chunks = []
        while chunk := os.read(fd, 65536):
            chunks.append(chunk)
        return b"".join(chunks)

    return read_all(a), read_all(b)


def drains_the_ready_one(a, b):
    got = {a: b"", b: b""}
    open_fds = [a, b]
    while open_fds:
        ready, _, _ = select.select(open_fds, [], [])
        fd = ready[0]
        while chunk := os.read(fd, 65536):  # to end of file: the other pipe may fill meanwhile
            got[fd] += chunk
        open_fds.remove(fd)
    return got[a], got[b]


def stops_at_first_eof(a, b):
    got = {a: b"", b: b""}
    while True:
        ready, _, _ = select.select([a, b], [], [])
        chunks = [os.read(fd, 65536) for fd in ready]
        if not all(chunks):
            return got[a], got[b]
        for fd, chunk in zip(ready, chunks):
            got[fd] += chunk


def returns_b_first(a, b):
    got_a, got_b = drain_both(a, b)
    return got_b, got_a


def closes_them(a, b):
    result = drain_both(a, b)
    os.close(a)
    os.close(b)
    return result

