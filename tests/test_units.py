"""One unit suffix: seconds are ``_s`` in every argument, field and property of ipclab (rates
``_per_s``), and the ``_seconds`` names of 0.2 still work, with a DeprecationWarning, on real
results."""

import ast
import re
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

from ipclab import _renamed, pipes, throughput

PACKAGE = Path(__file__).resolve().parent.parent / "ipclab"
SECONDS_SPELLED_OUT = re.compile(r"(^|_)(seconds|secs|sec)(_|$)")


def _spells_seconds_out(name: str) -> bool:
    """``wall_seconds``, ``seconds_per_call``: yes; ``wall_s``, and ``seconds`` alone (a
    name that is only the unit, like ``duration(seconds)``'s): no."""
    return name != "seconds" and SECONDS_SPELLED_OUT.search(name) is not None


def _names_with_units(tree):
    """``(kind, name, line)`` of every parameter, class field and property defined."""
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            a = node.args
            for arg in a.posonlyargs + a.args + a.kwonlyargs:
                yield "argument", arg.arg, arg.lineno
            if any(isinstance(d, ast.Name) and d.id == "property" for d in node.decorator_list):
                yield "property", node.name, node.lineno
        elif isinstance(node, ast.ClassDef):
            for item in node.body:
                if isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name):
                    yield "field", item.target.id, item.lineno


def test_no_argument_field_or_property_spells_seconds_out():
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        tree = ast.parse(path.read_text(), str(path))
        for kind, name, line in _names_with_units(tree):
            if _spells_seconds_out(name):
                found.append(f"{path.relative_to(PACKAGE.parent)}:{line}: {kind} {name}")
    assert not found, "seconds are _s (CONTRIBUTING.md, Units):\n" + "\n".join(found)


def test_the_scan_sees_a_field_argument_and_property_that_spell_seconds_out():
    tree = ast.parse(
        "class R:\n    wall_seconds: float\n"
        "    @property\n    def took_secs(self): ...\n"
        "def f(wait_sec, seconds_per_call, cpu_seconds_while_waiting, seconds): ...\n"
    )
    spelled = {n for _, n, _ in _names_with_units(tree) if _spells_seconds_out(n)}
    assert spelled == {"wall_seconds", "took_secs", "wait_sec", "seconds_per_call",
                       "cpu_seconds_while_waiting"}


def test_an_old_field_name_reads_the_new_one_with_a_warning():
    result = pipes.empty_pipe_blocks_reader(writer_delay_s=0.05)
    assert "blocked_s" in result._fields and "blocked_seconds" not in result._fields
    assert "blocked_s" in result._asdict()
    with pytest.warns(DeprecationWarning, match=r"blocked_seconds is now blocked_s.*0\.3"):
        assert result.blocked_seconds == result.blocked_s
    with pytest.warns(DeprecationWarning, match="writer_delay_s"):
        assert result.writer_delay_seconds == result.writer_delay_s == 0.05


def test_an_old_keyword_is_passed_on_as_the_new_one_with_a_warning():
    with pytest.warns(DeprecationWarning, match=r"latency\(\): run_seconds= is now run_s="):
        (point,) = throughput.latency(("pipe",), repeats=1, run_seconds=0.005)
    assert point.round_trips_per_run >= 1 and point.median_s > 0
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        (again,) = throughput.latency(("pipe",), repeats=1, run_s=0.005)
    assert again.median_s > 0


def test_old_and_new_keyword_together_is_an_error_naming_both():
    with pytest.raises(TypeError, match=r"run_seconds= and run_s=: give run_s= only"):
        list(throughput.sweep(("pipe",), (64,), run_seconds=0.01, run_s=0.01))


def test_an_old_module_constant_reads_the_new_one_with_a_warning():
    with pytest.warns(DeprecationWarning, match="DEFAULT_RUN_SECONDS is now DEFAULT_RUN_S"):
        assert throughput.DEFAULT_RUN_SECONDS == throughput.DEFAULT_RUN_S
    with pytest.raises(AttributeError, match="no attribute 'DEFAULT_RUN_MINUTES'"):
        throughput.DEFAULT_RUN_MINUTES  # noqa: B018


def test_renaming_to_a_field_that_does_not_exist_is_refused():
    with pytest.raises(TypeError, match="has no attribute 'wall_s' to rename 'wall_seconds' to"):

        @_renamed.renamed_fields(wall_seconds="wall_s")
        class Result:
            took_s: float


def test_the_bench_command_takes_the_old_option_spelling_too():
    out = subprocess.run(
        [sys.executable, "-m", "ipclab", "bench", "--mechanisms", "pipe", "--sizes", "64",
         "--repeats", "1", "--run-seconds", "0.005"],
        capture_output=True, text=True, timeout=120,
    )
    assert out.returncode == 0, out.stderr
    assert "pipe" in out.stdout and "MB/s" in out.stdout


def test_a_live_plot_takes_the_old_keyword_where_it_also_sets_a_default():
    from ipclab import live

    with pytest.warns(DeprecationWarning, match=r"live_pipe_fill\(\): expected_seconds="):
        samples = live.live_pipe_fill(0.2, sample_interval_s=0.01, expected_seconds=0.2)
    assert samples and samples[-1].t_s > 0
    with pytest.warns(DeprecationWarning, match=r"LivePlot\(\): expected_seconds= is now"):
        plot = live.LivePlot(lambda fig, got: None, expected_seconds=5.0)
    assert plot.expected_s == 5.0
