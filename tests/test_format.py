"""``ipclab._format``: the one way ipclab writes sizes, durations, rates, JSON values and
its progress line, on a real terminal (a pseudo-terminal from ``os.openpty``) and on a log."""

from __future__ import annotations

import io
import json
import math
import os
from collections import namedtuple

import pytest

from ipclab import _format, live

from .helpers import pseudo_terminal, read_terminal


@pytest.mark.parametrize("n, text", [
    (0, "0 B"), (100, "100 B"), (1023, "1,023 B"), (1024, "1 KiB"), (4097, "4,097 B"),
    (65536, "64 KiB"), (1 << 20, "1 MiB"), (3 << 30, "3 GiB"), (4096.0, "4 KiB"),
])
def test_sizes_are_exact_and_binary(n, text):
    assert _format.size_label(n) == text


def test_durations_rates_and_cells():
    assert _format.duration(12.3e-6) == "12.3 µs"
    assert _format.duration(None) == _format.duration(0) == "—"
    assert _format.rate(1.5e9) == "1.5 GB/s"
    assert _format.spread(10e-6, 12e-6) == "10 µs – 12 µs"
    assert [_format.number(v, " B") for v in (12345, None, True)] == ["12,345 B", "—", "yes"]
    assert _format.number(0.125) == "0.125"


def test_json_values_survive_a_strict_dump():
    Point = namedtuple("Point", "size seconds raw")
    value = {1: [Point(4096, math.inf, b"\xff"), (1, 2)]}
    assert json.loads(json.dumps(_format.jsonable(value), allow_nan=False)) == {
        "1": [{"size": 4096, "seconds": None, "raw": "ÿ"}, [1, 2]]}


@pytest.mark.parametrize("fraction, filled", [(0, 0), (0.5, 12), (3 / 6, 12), (1 / 3, 8),
                                               (1, 24), (2.5, 24), (-1, 0)])
def test_the_bar_has_24_cells_and_clips(fraction, filled):
    assert _format.bar(fraction) == "[" + "#" * filled + "." * (24 - filled) + "]"


def test_on_a_terminal_the_line_is_redrawn_in_place():
    stream, leader = pseudo_terminal()
    try:
        line = _format.ProgressLine(stream)
        assert line.tty and _format.isatty(stream)
        line.show("one")
        line.close("done")
        got = read_terminal(stream, leader)
    finally:
        stream.close()
        os.close(leader)
    assert got == "\rone\033[K\rdone\033[K\r\n"  # the terminal turns \n into \r\n


def test_on_a_log_each_update_is_a_line_or_nothing():
    log = io.StringIO()
    line = _format.ProgressLine(log)
    line.show("one")
    line.close("done")
    assert log.getvalue() == "one\ndone\n" and not line.tty
    quiet = io.StringIO()
    for line in (_format.ProgressLine(quiet, tty_only=True), _format.ProgressLine(quiet, False)):
        line.show("one")
        line.close("done")
    assert quiet.getvalue() == ""


def test_a_closed_stream_is_not_a_terminal():
    stream = io.StringIO()
    stream.close()
    assert not _format.isatty(stream) and not _format.isatty(object())


def test_a_live_plot_draws_its_progress_bar_on_a_terminal_only():
    stream, leader = pseudo_terminal()
    try:
        live.live(iter(range(4)), lambda fig, got: None, total=4, progress=True,
                  label="count", stream=stream)
        got = read_terminal(stream, leader)
    finally:
        stream.close()
        os.close(leader)
    assert "\rcount [" + "#" * 24 + "] 4/4" in got
    assert got.endswith("\rcount: done\033[K\r\n")
    log = io.StringIO()
    live.live(iter(range(4)), lambda fig, got: None, total=4, progress=True, stream=log)
    assert log.getvalue() == ""
