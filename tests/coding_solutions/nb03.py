"""Notebook 03: a message from a child through a pipe; a two-pipe conversation."""
import os
import time


def _read_to_eof(fd):
    chunks = []
    while True:
        chunk = os.read(fd, 65536)
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)


def _write_all(fd, data):
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


# -- 03-receive
def receive(message):
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        _write_all(w, message)
        os._exit(0)
    os.close(w)
    data = _read_to_eof(r)
    os.close(r)
    os.waitpid(pid, 0)
    return data


def single_read(message):
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        try:
            _write_all(w, message)
        finally:
            os._exit(0)
    os.close(w)
    data = os.read(r, 1 << 20)  # one read: what is in the pipe now
    os.close(r)
    os.waitpid(pid, 0)
    return data


def parent_keeps_write_end(message):
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        _write_all(w, message)
        os._exit(0)
    data = _read_to_eof(r)  # w is still open in this process
    os.close(r)
    os.close(w)
    os.waitpid(pid, 0)
    return data


def receive_never_waited(message):
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        _write_all(w, message)
        os._exit(0)
    os.close(w)
    data = _read_to_eof(r)
    os.close(r)
    return data


def child_writes_to_read_end(message):
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(w)
        os.write(r, message)  # the read end
        os._exit(0)
    os.close(w)
    data = _read_to_eof(r)
    os.close(r)
    os.waitpid(pid, 0)
    return data


# -- 03-conversation
def ask(question):
    q_r, q_w = os.pipe()
    a_r, a_w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(q_w)
        os.close(a_r)
        text = _read_to_eof(q_r)
        _write_all(a_w, text.upper())
        os._exit(0)
    os.close(q_r)
    os.close(a_w)
    _write_all(q_w, question)
    os.close(q_w)
    answer = _read_to_eof(a_r)
    os.close(a_r)
    os.waitpid(pid, 0)
    return answer


def one_pipe(question):
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        time.sleep(0.2)  # a child slow to start, as on a busy machine
        text = os.read(r, 1 << 20)
        os.write(w, text.upper())
        os._exit(0)
    os.write(w, question)
    answer = os.read(r, 1 << 20)  # the parent's own question is what is in the pipe
    os.close(r)
    os.close(w)
    os.waitpid(pid, 0)
    return answer


def child_keeps_question_write_end(question):
    q_r, q_w = os.pipe()
    a_r, a_w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(a_r)  # forgets q_w: its own copy keeps the question pipe open
        text = _read_to_eof(q_r)
        _write_all(a_w, text.upper())
        os._exit(0)
    os.close(q_r)
    os.close(a_w)
    _write_all(q_w, question)
    os.close(q_w)
    answer = _read_to_eof(a_r)
    os.close(a_r)
    os.waitpid(pid, 0)
    return answer


def parent_never_closes_question(question):
    q_r, q_w = os.pipe()
    a_r, a_w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(q_w)
        os.close(a_r)
        text = _read_to_eof(q_r)
        _write_all(a_w, text.upper())
        os._exit(0)
    os.close(q_r)
    os.close(a_w)
    _write_all(q_w, question)  # ... and waits for the answer with q_w still open
    answer = _read_to_eof(a_r)
    os.close(a_r)
    os.close(q_w)
    os.waitpid(pid, 0)
    return answer


def ask_never_waited(question):
    q_r, q_w = os.pipe()
    a_r, a_w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(q_w)
        os.close(a_r)
        text = _read_to_eof(q_r)
        _write_all(a_w, text.upper())
        os._exit(0)
    os.close(q_r)
    os.close(a_w)
    _write_all(q_w, question)
    os.close(q_w)
    answer = _read_to_eof(a_r)
    os.close(a_r)
    return answer


def one_pipe_no_wait(question):
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        time.sleep(0.2)  # a child slow to start, as on a busy machine
        text = os.read(r, 1 << 20)
        os.write(w, text.upper())
        os._exit(0)
    os.write(w, question)
    answer = os.read(r, 1 << 20)
    os.close(r)
    os.close(w)
    return answer


def answers_itself(question):
    return question.upper()
