"""``python -m ipclab run``: any experiment from a shell, as a learner would type it."""

import json
import subprocess
import sys

import pytest


def ipclab(*args, timeout=60):
    return subprocess.run([sys.executable, "-m", "ipclab", *args], capture_output=True,
                          text=True, timeout=timeout)


def test_list_names_an_experiment_of_every_module():
    done = ipclab("run", "--list")
    assert done.returncode == 0, done.stderr
    for name in ("pipes.fill_pipe", "fifos.nonblocking_open", "shm.counter_race",
                 "throughput.sweep", "webserver.load_run", "isolation.fork_and_write",
                 "speedup.count_primes", "pipeline.run_pipeline", "conversation.converse"):
        assert f"{name}(" in done.stdout


def test_runs_an_experiment_with_literal_parameters_and_prints_json():
    done = ipclab("run", "pipes.fill_pipe", "write_size_bytes=100", "--json")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["write_size_bytes"] == 100
    from ipclab import pipes
    assert result["filled_bytes"] == pipes.fill_pipe(100).filled_bytes


@pytest.mark.slow  # two `python -m ipclab run`s: 0.4 s
def test_a_kernel_fact_through_the_command_line():
    done = ipclab("run", "fifos.nonblocking_open", "--json")
    assert json.loads(done.stdout)["write_without_reader_errno"] == "ENXIO"
    done = ipclab("run", "pipes.write_without_reader", "sigpipe='default'")
    assert done.returncode == 0
    assert "exit_status  -13" in done.stdout and "SIGPIPE" in done.stdout


@pytest.mark.slow  # a `python -m ipclab run`: 0.4 s
def test_an_experiment_that_yields_prints_one_record_per_line():
    done = ipclab("run", "pipes.watch_pipe_fill", "duration_s=0.2", "--json")
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    assert len(lines) > 2 and all("fill_bytes" in rec for rec in lines)
    assert all(a["t_s"] <= b["t_s"] for a, b in zip(lines, lines[1:]))


@pytest.mark.parametrize("args, message", [
    (["run", "pipes.nope"], "experiment must be one of"),
    (["run", "pipes.fill_pipe", "7"], "NAME=VALUE"),
    (["run", "pipes.fill_pipe", "bogus=1"], "takes no parameter bogus"),
    (["run", "pipes.fill_pipe", "write_size_bytes=0"], "write_size_bytes must be an int"),
    (["run", "shm.counter_race", "processes='many'"], "processes must be an int"),
])
def test_bad_input_exits_2_with_a_message_and_no_traceback(args, message):
    done = ipclab(*args)
    assert done.returncode == 2
    assert message in done.stderr and "Traceback" not in done.stderr


def test_a_reader_that_leaves_early_ends_the_experiment_quietly():
    # `python -m ipclab run ... | head -1`, with the pipe made by hand: the command's reader
    # takes one line and closes its end; the writer gets EPIPE and must stop cleanly.
    proc = subprocess.Popen([sys.executable, "-m", "ipclab", "run", "pipes.watch_pipe_fill",
                             "duration_s=5", "--json"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    first = proc.stdout.readline()
    proc.stdout.close()
    _, err = proc.communicate(timeout=30)
    assert json.loads(first)["capacity_bytes"] > 0
    assert proc.returncode == 128 + 13 and b"Traceback" not in err
