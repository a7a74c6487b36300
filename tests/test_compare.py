"""Comparison sentences: a ratio of medians, and no winner named when the ranges overlap."""

import pytest

from ipclab import compare
from ipclab.throughput import LatencyPoint, ThroughputPoint


def tp(mech, median, lo, hi, placement="same"):
    return ThroughputPoint(mech, 65536, placement, 5, median, lo, hi, 100)


def lat(mech, median, lo, hi):
    return LatencyPoint(mech, 1, "same", 5, median, lo, hi, 1000)


def test_overlapping_ranges_are_too_close_to_call():
    fifo, pipe = tp("fifo", 3.88e9, 3.7e9, 4.1e9), tp("pipe", 4.0e9, 3.9e9, 4.2e9)
    assert compare.overlaps(fifo, pipe) and compare.overlaps(pipe, fifo)
    s = compare.versus(fifo, pipe, "a FIFO", "a pipe")
    assert s.startswith(
        "on this machine a FIFO moved 0.97× what a pipe moved (medians)")
    assert "overlap: too close to call" in s and "faster" not in s


def test_separate_ranges_name_the_faster():
    shm, pipe = tp("shm", 11e9, 10e9, 12e9), tp("pipe", 4e9, 3.8e9, 4.2e9)
    assert not compare.overlaps(shm, pipe)
    s = compare.versus(shm, pipe, "shared memory", "a pipe")
    assert "moved 2.75× what a pipe moved" in s
    assert s.endswith("shared memory was faster in every run")
    assert compare.versus(pipe, shm, "a pipe", "shared memory").endswith(
        "do not overlap: shared memory was faster in every run")


def test_ranges_that_just_touch_overlap():
    assert compare.overlaps(tp("a", 2, 1, 2), tp("b", 3, 2, 3))


def test_medians_a_few_per_cent_apart_are_not_a_win_even_without_overlap():
    # Five tight runs each, 2 % apart: the runs do not overlap, yet a second measurement a
    # minute later could swap them.
    fifo, pipe = tp("fifo", 4.08e9, 4.07e9, 4.09e9), tp("pipe", 4.16e9, 4.15e9, 4.17e9)
    assert not compare.overlaps(fifo, pipe) and compare.indistinct(fifo, pipe)
    s = compare.versus(fifo, pipe, "a FIFO", "a pipe")
    assert "moved 0.98× what a pipe moved" in s
    assert s.endswith("less than 5% apart: too close to call from one measurement")
    assert compare.leaders([fifo, pipe]) == ("pipe", "fifo")
    apart = tp("shm", 4.5e9, 4.45e9, 4.55e9)  # 8 % above the pipe, no overlap: a win
    assert not compare.indistinct(apart, pipe)
    assert compare.leaders([apart, pipe]) == ("shm",)


def test_large_ratios_are_whole_numbers():
    s = compare.versus(tp("a", 42e9, 41e9, 43e9), tp("b", 1e9, 0.9e9, 1.1e9), "A", "B")
    assert "moved 42× what B moved" in s


def test_latency_compares_times_lower_is_faster():
    shm, pipe = lat("shm", 12e-6, 11e-6, 13e-6), lat("pipe", 6e-6, 5.5e-6, 6.5e-6)
    s = compare.versus(shm, pipe, "shared memory", "a pipe")
    assert "shared memory took 2.00× as long as a pipe" in s
    assert s.endswith("a pipe was faster in every run")


def test_unlike_points_are_refused():
    with pytest.raises(TypeError, match="like with like"):
        compare.versus(tp("a", 1, 1, 1), lat("b", 1, 1, 1), "a", "b")
    with pytest.raises(TypeError, match="median"):
        compare.spread(object())


def test_leaders_include_everyone_within_the_best_range():
    points = [tp("pipe", 4.0e9, 3.8e9, 4.2e9), tp("unix", 4.1e9, 3.9e9, 4.3e9),
              tp("fifo", 3.0e9, 2.9e9, 3.1e9)]
    assert compare.leaders(points) == ("unix", "pipe")
    assert compare.leaders(points, largest=False) == ("fifo",)
    by_place = [tp("pipe", 4e9, 3.9e9, 4.1e9, "same"), tp("pipe", 1e9, 0.9e9, 1.1e9, "split")]
    assert compare.leaders(by_place, name="placement") == ("same",)
    with pytest.raises(ValueError):
        compare.leaders([])


def test_check_leader_with_one_winner_reads_like_compare_prediction():
    points = [tp("shm", 11e9, 10e9, 12e9), tp("pipe", 4e9, 3.8e9, 4.2e9)]
    assert compare.check_leader("fastest", ..., points) == (
        "fastest: no prediction made — measured 'shm'.")
    assert compare.check_leader("fastest", "shm", points).endswith(": as predicted")
    assert compare.check_leader("fastest", "pipe", points).endswith(
        "not what you predicted — why?")


def test_check_leader_with_a_tie_names_no_single_winner():
    points = [tp("pipe", 4.0e9, 3.8e9, 4.2e9), tp("unix", 4.1e9, 3.9e9, 4.3e9),
              tp("fifo", 1e9, 0.9e9, 1.1e9)]
    s = compare.check_leader("fastest", ..., points)
    assert "'unix' had the best median, but 'pipe' is within its spread (or 5%)" in s
    assert "no single winner" in s and "(no prediction made)" in s
    assert compare.check_leader("fastest", "pipe", points).endswith(
        "your 'pipe' is one of them.")
    assert "'fifo', which is not among them" in compare.check_leader("fastest", "fifo", points)
    fastest_trip = [lat("pipe", 5e-6, 4e-6, 6e-6), lat("shm", 9e-6, 8e-6, 10e-6)]
    assert compare.check_leader("fastest", "pipe", fastest_trip, largest=False).endswith(
        "as predicted")
