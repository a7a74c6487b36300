"""Experiments caught in the act: each call below blocks for far longer than a test waits,
so an interrupt always lands while something is blocked (or still starting). Used by the
reliability tests; a new experiment module adds its blocking points here."""

from ipclab import fifos, pipes, shm, throughput, webserver

BLOCKING = {
    "writer on a full pipe": lambda: pipes.full_pipe_blocks_writer(reader_delay_s=30, deadline_s=60),
    "reader on an empty pipe": lambda: pipes.empty_pipe_blocks_reader(writer_delay_s=30, deadline_s=60),
    "reader waiting for EOF that never comes": lambda: pipes.read_without_writer(False, wait_s=30),
    "live fill-level watch": lambda: list(pipes.watch_pipe_fill(duration_s=30)),
    "FIFO open waiting for a writer": lambda: fifos.blocking_open("read", delay_s=30, deadline_s=60),
    "FIFO open waiting for a reader": lambda: fifos.blocking_open("write", delay_s=30, deadline_s=60),
    "shared-memory handoff": lambda: shm.shm_transfer(total_bytes=512 << 20, message_bytes=64,
                                                      deadline_s=120),
    "throughput sweep": lambda: list(throughput.sweep(("pipe",), (64,), repeats=50,
                                                      total_bytes=64 << 20)),
    "prefork load run": lambda: webserver.load_run("prefork", requests=100_000, deadline_s=120),
    "fork-per-request load run": lambda: list(webserver.watch_load(
        "fork-per-request", requests=100_000, deadline_s=120)),
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
    lambda: fifos.nonblocking_open(),
    lambda: fifos.blocking_open("read", delay_s=0.01),
    lambda: fifos.fifo_atomicity(4097, writers=2, records_per_writer=20),
    lambda: fifos.client_server(clients=2, requests_per_client=1),
    lambda: shm.counter_race(processes=2, increments=1000, lock=True),
    lambda: shm.shm_transfer(total_bytes=1 << 20, message_bytes=65536),
    lambda: shm.forced_lost_update(),
    lambda: list(throughput.sweep(("pipe", "unix"), (4096,), repeats=1, total_bytes=1 << 20)),
    lambda: list(throughput.latency(("pipe",), repeats=1, round_trips=50)),
    lambda: webserver.load_run("prefork", requests=20, concurrency=2, pool_size=2),
]
