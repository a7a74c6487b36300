"""Notebook 12: a conversation over one socketpair."""
import os
import socket


def _recv_all(sock):
    chunks = []
    while chunk := sock.recv(65536):
        chunks.append(chunk)
    return b"".join(chunks)


# -- 12-socketpair
def ask_over_socket(question):
    mine, theirs = socket.socketpair()
    pid = os.fork()
    if pid == 0:
        mine.close()
        theirs.sendall(_recv_all(theirs).upper())
        theirs.close()
        os._exit(0)
    theirs.close()
    mine.sendall(question)
    mine.shutdown(socket.SHUT_WR)  # end of the question; the answer still comes back
    answer = _recv_all(mine)
    mine.close()
    os.waitpid(pid, 0)
    return answer


def never_shuts_down(question):
    mine, theirs = socket.socketpair()
    pid = os.fork()
    if pid == 0:
        mine.close()
        theirs.sendall(_recv_all(theirs).upper())
        os._exit(0)
    theirs.close()
    mine.sendall(question)  # the child still waits for more of the question
    answer = _recv_all(mine)
    mine.close()
    os.waitpid(pid, 0)
    return answer


def closes_to_end_the_question(question):
    mine, theirs = socket.socketpair()
    pid = os.fork()
    if pid == 0:
        mine.close()
        theirs.sendall(_recv_all(theirs).upper())
        os._exit(0)
    theirs.close()
    mine.sendall(question)
    mine.close()  # both directions gone
    answer = _recv_all(mine)
    os.waitpid(pid, 0)
    return answer


def parent_keeps_the_childs_end(question):
    mine, theirs = socket.socketpair()
    pid = os.fork()
    if pid == 0:
        mine.close()
        theirs.sendall(_recv_all(theirs).upper())
        os._exit(0)
    mine.sendall(question)  # `theirs` still open here: no end of file for the answer
    mine.shutdown(socket.SHUT_WR)
    answer = _recv_all(mine)
    mine.close()
    theirs.close()
    os.waitpid(pid, 0)
    return answer


def single_recv(question):
    mine, theirs = socket.socketpair()
    pid = os.fork()
    if pid == 0:
        mine.close()
        theirs.sendall(_recv_all(theirs).upper())
        os._exit(0)
    theirs.close()
    mine.sendall(question)
    mine.shutdown(socket.SHUT_WR)
    answer = mine.recv(65536)
    mine.close()
    os.waitpid(pid, 0)
    return answer


# -- 12-datagrams
def receive_messages(sock, count):
    return [sock.recv(65536) for _ in range(count)]


def small_buffer(sock, count):
    return [sock.recv(1024) for _ in range(count)]  # a longer datagram is cut, its rest lost


def until_end_of_file(sock, count):
    messages = []
    while message := sock.recv(65536):  # no end of file comes while the sender is open
        messages.append(message)
    return messages


def stops_at_empty(sock, count):
    messages = []
    for _ in range(count):
        message = sock.recv(65536)
        if not message:
            break
        messages.append(message)
    return messages


def joins_them(sock, count):
    return b"".join(sock.recv(65536) for _ in range(count))


def knows_the_messages(sock, count):
    """Returns the case's messages from ipclab's public catalogue without receiving them."""
    from ipclab.coding.catalogue import EXERCISES

    for case in EXERCISES["12-datagrams"].cases:
        if len(case.args[0]) == count:
            return list(case.args[0])
    return []
