"""Notebook 13: bytes from a child to its parent through a shared mapping."""
import mmap
import os


# -- 13-shared
def through_memory(message):
    shared = mmap.mmap(-1, len(message))  # MAP_SHARED by default, made before fork
    pid = os.fork()
    if pid == 0:
        shared[:] = message
        os._exit(0)
    os.waitpid(pid, 0)
    data = shared[:]
    shared.close()
    return data


def private_mapping(message):
    private = mmap.mmap(-1, len(message), flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
    pid = os.fork()
    if pid == 0:
        private[:] = message  # copied on this first write: the parent's page stays 0
        os._exit(0)
    os.waitpid(pid, 0)
    data = private[:]
    private.close()
    return data


def mapping_after_fork(message):
    pid = os.fork()
    if pid == 0:
        own = mmap.mmap(-1, len(message))
        own[:] = message
        os._exit(0)
    os.waitpid(pid, 0)
    own = mmap.mmap(-1, len(message))
    data = own[:]
    own.close()
    return data


def returns_the_mapping(message):
    shared = mmap.mmap(-1, len(message))
    pid = os.fork()
    if pid == 0:
        shared[:] = message
        os._exit(0)
    os.waitpid(pid, 0)
    return shared


def reads_after_closing(message):
    shared = mmap.mmap(-1, len(message))
    pid = os.fork()
    if pid == 0:
        shared[:] = message
        os._exit(0)
    os.waitpid(pid, 0)
    shared.close()
    return shared[:]


def never_waited(message):
    shared = mmap.mmap(-1, len(message))
    pid = os.fork()
    if pid == 0:
        shared[:] = message
        os._exit(0)
    data = shared[:]
    shared.close()
    return data
