"""Notebook 07: a shared counter, correct with a lock."""
import mmap
import os
import struct


def count_together(lock, processes, increments):
    counter = mmap.mmap(-1, 8)  # MAP_SHARED, before fork: one counter for all
    pids = []
    for _ in range(processes):
        pid = os.fork()
        if pid == 0:
            for _ in range(increments):
                with lock:
                    value, = struct.unpack_from("q", counter)
                    struct.pack_into("q", counter, 0, value + 1)
            os._exit(0)
        pids.append(pid)
    for pid in pids:
        os.waitpid(pid, 0)
    total, = struct.unpack_from("q", counter)
    counter.close()
    return total


def no_lock(lock, processes, increments):
    counter = mmap.mmap(-1, 8)
    pids = []
    for _ in range(processes):
        pid = os.fork()
        if pid == 0:
            for _ in range(increments):
                value, = struct.unpack_from("q", counter)
                struct.pack_into("q", counter, 0, value + 1)
            os._exit(0)
        pids.append(pid)
    for pid in pids:
        os.waitpid(pid, 0)
    total, = struct.unpack_from("q", counter)
    counter.close()
    return total


def mapping_after_fork(lock, processes, increments):
    pids = []
    for _ in range(processes):
        pid = os.fork()
        if pid == 0:
            counter = mmap.mmap(-1, 8)  # each child's own
            for _ in range(increments):
                with lock:
                    value, = struct.unpack_from("q", counter)
                    struct.pack_into("q", counter, 0, value + 1)
            os._exit(0)
        pids.append(pid)
    for pid in pids:
        os.waitpid(pid, 0)
    counter = mmap.mmap(-1, 8)
    total, = struct.unpack_from("q", counter)
    counter.close()
    return total


def lock_in_parent_only(lock, processes, increments):
    counter = mmap.mmap(-1, 8)
    pids = []
    with lock:  # held while forking: the children never take it
        for _ in range(processes):
            pid = os.fork()
            if pid == 0:
                for _ in range(increments):
                    value, = struct.unpack_from("q", counter)
                    struct.pack_into("q", counter, 0, value + 1)
                os._exit(0)
            pids.append(pid)
    for pid in pids:
        os.waitpid(pid, 0)
    total, = struct.unpack_from("q", counter)
    counter.close()
    return total


def never_waited(lock, processes, increments):
    counter = mmap.mmap(-1, 8)
    for _ in range(processes):
        pid = os.fork()
        if pid == 0:
            for _ in range(increments):
                with lock:
                    value, = struct.unpack_from("q", counter)
                    struct.pack_into("q", counter, 0, value + 1)
            os._exit(0)
    total, = struct.unpack_from("q", counter)
    counter.close()
    return total
