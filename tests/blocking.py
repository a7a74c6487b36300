"""Experiments caught in the act: each call below blocks for far longer than a test waits,
so an interrupt always lands while something is blocked (or still starting). Used by the
reliability tests; new experiment modules add their blocking points here."""

from ipclab import pipes

BLOCKING = {
    "writer on a full pipe": lambda: pipes.full_pipe_blocks_writer(reader_delay_s=30, deadline_s=60),
    "reader on an empty pipe": lambda: pipes.empty_pipe_blocks_reader(writer_delay_s=30, deadline_s=60),
    "reader waiting for EOF that never comes": lambda: pipes.read_without_writer(False, wait_s=30),
    "live fill-level watch": lambda: list(pipes.watch_pipe_fill(duration_s=30)),
}

#: One quick run of every experiment, for the soak test.
SOAK = [
    lambda: pipes.fill_pipe(100),
    lambda: pipes.resize_pipe(4097),
    lambda: pipes.read_without_writer(),
    lambda: pipes.read_without_writer(False, wait_s=0.01),
    lambda: pipes.write_without_reader("default"),
    lambda: pipes.write_without_reader("ignore"),
    lambda: pipes.empty_pipe_blocks_reader(writer_delay_s=0.01),
    lambda: pipes.full_pipe_blocks_writer(reader_delay_s=0.01),
    lambda: pipes.pipe_buf_atomicity(4097, writers=2, records_per_writer=20),
    lambda: list(pipes.watch_pipe_fill(duration_s=0.05)),
]
