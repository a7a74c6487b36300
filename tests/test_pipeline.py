"""ipclab.pipeline: pipelines built by hand with pipe, fork, dup2 and exec."""

import pytest

from ipclab import pipeline


@pytest.mark.parametrize("n", [0, 1, 5, 42])
def test_ls_wc_counts_the_files(n):
    r = pipeline.ls_wc(n)
    assert int(r.text) == n
    assert r.exit_statuses == (0, 0)
    assert r.exec_errors == (None, None)
    assert not r.timed_out and r.closed_unused_ends
    assert [argv[0] for argv in r.commands] == ["ls", "wc"]


def test_three_stage_pipeline():
    r = pipeline.run_pipeline([["echo", "hello pipes"], ["tr", "a-z", "A-Z"], ["rev"]])
    assert r.output == b"SEPIP OLLEH\n"
    assert r.exit_statuses == (0, 0, 0)


def test_input_larger_than_a_pipe_is_fed_while_output_is_read():
    data = bytes(range(256)) * 8192  # 2 MiB: far more than one pipe holds
    r = pipeline.run_pipeline([["cat"], ["cat"]], input_bytes=data)
    assert r.output == data
    assert r.exit_statuses == (0, 0)


def test_first_program_that_ignores_its_input():
    r = pipeline.run_pipeline([["echo", "x"]], input_bytes=bytes(1 << 20))
    assert r.output == b"x\n" and r.exit_statuses == (0,)


def test_stderr_is_collected():
    r = pipeline.run_pipeline([["ls", "/nonexistent-ipclab-path"], ["wc", "-l"]])
    assert r.exit_statuses[0] != 0 and r.errors_output
    assert r.text.strip() == "0"


def test_missing_program_exits_127_as_in_a_shell():
    r = pipeline.run_pipeline([["ipclab-no-such-program"], ["wc", "-l"]])
    assert r.exit_statuses == (127, 0)
    assert r.exec_errors[0].startswith("ipclab-no-such-program: FileNotFoundError")
    assert r.exec_errors[1] is None
    assert b"ipclab-no-such-program: No such file or directory" in r.errors_output
    assert r.text.strip() == "0"  # wc still ran, and read end of file


def test_program_found_but_not_executable_exits_126(tmp_path):
    script = tmp_path / "not-executable"
    script.write_text("echo never\n")
    script.chmod(0o644)  # no x bit: exec fails with EACCES, even for root
    r = pipeline.run_pipeline([[str(script)]])
    assert r.exit_statuses == (126,)
    assert r.exec_errors[0] == f"{script}: PermissionError: [Errno 13] Permission denied"
    assert r.output == b""


def test_exit_statuses_agree_with_a_real_shell(tmp_path):
    import subprocess

    (tmp_path / "plain").write_text("")
    for argv in (["ipclab-no-such-program"], [str(tmp_path / "plain")], [str(tmp_path)]):
        shell = subprocess.run(["sh", "-c", '"$0"', argv[0]], capture_output=True)
        assert pipeline.run_pipeline([argv]).exit_statuses == (shell.returncode,)


@pytest.mark.slow  # waits for the deadline: 0.5 s
def test_unused_write_end_kept_open_hangs_until_the_deadline():
    r = pipeline.ls_wc(3, close_unused_ends=False, deadline_s=0.5)
    assert r.timed_out
    assert r.output == b""  # wc never saw end of file, so never printed
    assert r.exit_statuses[1] == -9  # and was killed at the deadline
    assert not r.closed_unused_ends


def test_yes_head_sigpipe_default_kills_yes():
    r = pipeline.run_pipeline([["yes"], ["head", "-n", "1"]])
    assert r.output == b"y\n"
    assert r.exit_statuses == (-13, 0)


def test_yes_head_sigpipe_ignored_gives_epipe():
    r = pipeline.run_pipeline([["yes"], ["head", "-n", "1"]], sigpipe="ignore")
    assert r.exit_statuses[0] > 0 and r.exit_statuses[1] == 0
    assert r.errors_output  # yes complains about the broken pipe


@pytest.mark.slow  # waits for the deadline: 0.3 s
def test_deadline_kills_a_program_that_never_ends():
    r = pipeline.run_pipeline([["sleep", "30"]], deadline_s=0.3)
    assert r.timed_out and r.exit_statuses == (-9,)


@pytest.mark.parametrize("kwargs, exc, name", [
    ({"commands": "ls | wc"}, TypeError, "commands"),
    ({"commands": []}, ValueError, "commands"),
    ({"commands": [["ls"]] * 9}, ValueError, "commands"),
    ({"commands": [[]]}, ValueError, r"commands\[0\]"),
    ({"commands": ["ls"]}, TypeError, r"commands\[0\]"),
    ({"commands": [["ls", 1]]}, ValueError, r"commands\[0\]"),
    ({"commands": [["ls", "a\0b"]]}, ValueError, r"commands\[0\]"),
    ({"commands": [["cat"]], "input_bytes": "text"}, TypeError, "input_bytes"),
    ({"commands": [["cat"]], "close_unused_ends": 1}, TypeError, "close_unused_ends"),
    ({"commands": [["cat"]], "sigpipe": "kill"}, ValueError, "sigpipe"),
    ({"commands": [["cat"]], "deadline_s": 0}, ValueError, "deadline_s"),
])
def test_run_pipeline_bad_arguments(kwargs, exc, name):
    with pytest.raises(exc, match=name):
        pipeline.run_pipeline(**kwargs)


@pytest.mark.parametrize("kwargs, exc, name", [
    ({"n_files": -1}, ValueError, "n_files"),
    ({"n_files": 1001}, ValueError, "n_files"),
    ({"n_files": "3"}, TypeError, "n_files"),
    ({"close_unused_ends": "yes"}, TypeError, "close_unused_ends"),
    ({"deadline_s": float("nan")}, ValueError, "deadline_s"),
])
def test_ls_wc_bad_arguments(kwargs, exc, name):
    with pytest.raises(exc, match=name):
        pipeline.ls_wc(**kwargs)
