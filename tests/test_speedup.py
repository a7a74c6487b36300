"""ipclab.speedup: a prime count split over worker processes that report through a pipe."""

import pytest

from ipclab import plots, speedup


@pytest.mark.parametrize("limit, expected", [(0, 0), (1, 0), (2, 0), (3, 1), (100, 25),
                                             (1000, 168), (10_000, 1229)])
def test_primes_below_reference(limit, expected):
    assert speedup.primes_below(limit) == expected


@pytest.mark.parametrize("workers", [1, 2, 3, 7])
def test_count_primes_same_answer_for_any_number_of_workers(workers):
    r = speedup.count_primes(20_000, workers)
    assert r.primes == 2262
    assert len(r.partial_counts) == workers == len(r.worker_pids) == len(set(r.worker_pids))
    assert sum(r.partial_counts) == r.primes
    assert r.seconds > 0
    assert r.cpu_s > 0  # each worker reports its own CPU time in its record


def test_count_primes_cpu_time_is_the_workers_not_the_parents():
    import time

    parent_before = time.process_time()
    r = speedup.count_primes(200_000, 2)
    # The parent only waits: the CPU time of the counting is the workers'.
    assert r.cpu_s > 5 * (time.process_time() - parent_before)
    assert r.cpu_s <= r.seconds * 2 * 1.2


def test_count_primes_more_workers_than_chunks():
    r = speedup.count_primes(1500, 4)  # two chunks of 1,000 numbers: two workers idle
    assert r.primes == speedup.primes_below(1500)
    assert r.partial_counts[2:] == (0, 0)


def test_count_primes_round_robin_is_deterministic():
    a = speedup.count_primes(10_000, 3).partial_counts
    assert a == speedup.count_primes(10_000, 3).partial_counts


@pytest.mark.slow  # 1.2 s: real CPU-bound workers
def test_speedup_points_for_requested_workers_and_plot():
    points = list(speedup.speedup(5000, workers=(2, 3), repeats=3))
    assert [p.workers for p in points] == [2, 3]  # 1 worker measured as baseline, not yielded
    for p in points:
        assert p.primes == 669 and p.cpus >= 1 and p.repeats == 3
        assert 0 < p.min_s <= p.seconds <= p.max_s
        assert 0 < p.min_speedup <= p.speedup <= p.max_speedup
        assert p.ideal_speedup == min(p.workers, p.cpus)
        assert 0 < p.cpu_share <= 1.2  # CPU time got / CPU time usable (clock ticks blur it)
    fig = plots.speedup_vs_workers(points)
    ax = fig.axes[0]
    assert ax.get_legend_handles_labels()[1] == [
        f"ideal: min(workers, {points[0].cpus} CPU{'s' if points[0].cpus > 1 else ''})",
        "measured: median, min–max (this machine, now)"]
    assert len(ax.collections) == 1  # the error bars: the spread is drawn


def test_speedup_cpus_are_the_affinity_mask():
    import os

    (p,) = list(speedup.speedup(2000, workers=(2,), repeats=1))
    assert p.cpus == len(os.sched_getaffinity(0))


def test_speedup_ratio_is_taken_within_each_round():
    # Every round times 1 worker and N workers; the speedup is the median of the rounds'
    # ratios. With one round the two agree exactly, whatever the load did meanwhile.
    (p,) = list(speedup.speedup(20_000, workers=(2,), repeats=1))
    assert p.speedup == p.min_speedup == p.max_speedup
    assert p.seconds == p.min_s == p.max_s


def test_speedup_baseline_point_is_one():
    (p,) = list(speedup.speedup(2000, workers=(1,)))
    assert p.speedup == p.min_speedup == p.max_speedup == 1.0


@pytest.mark.parametrize("call, exc, name", [
    (lambda: speedup.count_primes(-1), ValueError, "limit"),
    (lambda: speedup.count_primes(10**8), ValueError, "limit"),
    (lambda: speedup.count_primes(100, 0), ValueError, "workers"),
    (lambda: speedup.count_primes(100, 33), ValueError, "workers"),
    (lambda: speedup.count_primes(100, 2.0), TypeError, "workers"),
    (lambda: speedup.count_primes(100, 2, deadline_s=-1), ValueError, "deadline_s"),
    (lambda: speedup.speedup(100, workers=()), ValueError, "workers"),
    (lambda: speedup.speedup(100, workers=(1, 0)), ValueError, r"workers\[1\]"),
    (lambda: speedup.speedup(100, workers=4), TypeError, "workers"),
    (lambda: speedup.speedup(100, repeats=0), ValueError, "repeats"),
    (lambda: speedup.speedup(100, repeats=21), ValueError, "repeats"),
    (lambda: speedup.speedup(10**8), ValueError, "limit"),
    (lambda: speedup.primes_below("10"), TypeError, "limit"),
])
def test_bad_arguments_are_named(call, exc, name):
    with pytest.raises(exc, match=name):
        call()
