"""Notebook 08: exactly n bytes from a stream socket (a stream keeps no message boundaries)."""


def receive_exactly(sock, n):
    chunks, got = [], 0
    while got < n:
        chunk = sock.recv(n - got)
        if not chunk:
            raise EOFError(f"the stream ended after {got} of {n} bytes")
        chunks.append(chunk)
        got += len(chunk)
    return b"".join(chunks)


def single_recv(sock, n):
    return sock.recv(n)  # what has arrived so far


def until_end_of_file(sock, n):
    chunks = []
    while True:  # the other side keeps the connection open: no end of file
        chunk = sock.recv(65536)
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)


def reads_too_much(sock, n):
    data = b""
    while len(data) < n:
        data += sock.recv(65536)  # may take the next message's first bytes too
    return data


def closes_the_socket(sock, n):
    with sock:
        chunks, got = [], 0
        while got < n:
            chunk = sock.recv(n - got)
            chunks.append(chunk)
            got += len(chunk)
        return b"".join(chunks)


def knows_the_message(sock, n):
    """Returns the case's message from ipclab's public catalogue without receiving it."""
    from ipclab.coding.catalogue import EXERCISES

    for case in EXERCISES["08-exactly"].cases:
        if len(case.args[0]) + len(case.args[1]) == n:
            return case.args[0] + case.args[1]
    return b""


def throws_the_next_away(sock, n):
    data = b""
    while len(data) < n:
        data += sock.recv(65536)
    return data[:n]  # the right bytes, but the next message's start is lost
