"""ipclab.isolation on the real kernel: fork, copy-on-write, crashes."""

import os

import pytest

from ipclab import isolation, plots
from ipclab.errors import ChildTimeoutError
from ipclab.isolation import PAGE_BYTES

PAGE = os.sysconf("SC_PAGE_SIZE")  # the machine's page size, asked without ipclab


def test_fork_and_write_same_address_separate_values():
    r = isolation.fork_and_write(value_before_fork=7, child_value=-5, parent_value=11)
    assert r.same_address
    assert r.address_in_parent == r.address_in_child != 0
    assert r.parent_pid != r.child_pid
    assert r.parent_read_after_child_wrote == 7  # the child's write is invisible here
    assert r.child_read == -5  # and the parent's is invisible there
    assert (r.value_before_fork, r.child_wrote, r.parent_wrote) == (7, -5, 11)


def test_fork_and_write_map_shared_made_before_fork_is_seen_by_both():
    r = isolation.fork_and_write(value_before_fork=7, child_value=-5, parent_value=11,
                                 shared=True)
    assert r.shared and r.same_address
    assert r.parent_read_after_child_wrote == -5  # the child's write, seen by the parent
    assert r.child_read == 11  # and the parent's, seen by the child
    assert not isolation.fork_and_write(7, -5, 11).shared


@pytest.mark.parametrize("access", ["read", "write"])
def test_copy_on_write_faults_reads_share_writes_copy(access):
    r = isolation.copy_on_write_faults(4 * 1024 * 1024, access)
    assert r.pages == (4 << 20) // PAGE and r.page_bytes == PAGE_BYTES == PAGE
    assert r.buffer_bytes == 4 * 1024 * 1024
    if access == "write":
        assert 0.9 * r.pages <= r.child_minor_faults <= 1.2 * r.pages
    else:
        assert r.child_minor_faults < 0.1 * r.pages


def test_copy_on_write_faults_rounds_up_to_pages():
    r = isolation.copy_on_write_faults(PAGE_BYTES + 1, "write")
    assert r.pages == 2 and r.buffer_bytes == 2 * PAGE_BYTES


def test_copy_on_write_sweep_covers_every_combination_and_plots():
    results = isolation.copy_on_write_sweep((1 << 20, 2 << 20), ("write", "read"))
    assert [(r.buffer_bytes, r.access) for r in results] == [
        (1 << 20, "write"), (1 << 20, "read"), (2 << 20, "write"), (2 << 20, "read")]
    fig = plots.cow_faults(results)
    assert len(fig.axes) == 1 and len(fig.axes[0].lines) == 3


def test_cow_plot_page_count_line_is_drawn_over_the_writes_it_coincides_with():
    results = isolation.copy_on_write_sweep((1 << 20, 2 << 20), ("write", "read"))
    ax = plots.cow_faults(results).axes[0]
    lines = {line.get_label(): line for line in ax.lines}
    pages, writes = lines["pages in the buffer"], lines["child writes every page"]
    # The writing child's faults equal the page count (give or take a few): the dashed
    # line must be on top and thinner, or it is hidden under the other one.
    assert list(pages.get_ydata()) == [(1 << 20) // PAGE, (2 << 20) // PAGE]
    assert pages.get_linestyle() == "--"
    assert pages.get_zorder() > writes.get_zorder()
    assert pages.get_linewidth() < writes.get_linewidth()
    assert ax.get_legend() is not None


def test_fork_cost_measures_each_size_and_both_kinds_of_buffer():
    points = isolation.fork_cost((0, 4 << 20), touched=True, repeats=2)
    untouched = isolation.fork_cost((0, 4 << 20), touched=False, repeats=1)
    assert [(p.buffer_bytes, p.touched, p.repeats) for p in points + untouched] == [
        (0, True, 2), (4 << 20, True, 2), (0, False, 1), (4 << 20, False, 1)]
    for p in points + untouched:
        assert 0 < p.min_fork_s <= p.median_fork_s <= p.max_fork_s
        assert p.median_fork_exit_wait_s >= p.min_fork_s
        assert p.pages == p.buffer_bytes // PAGE_BYTES
    # The written buffer is really resident in the forking process; the untouched one not.
    assert points[1].resident_bytes - points[0].resident_bytes >= 0.9 * (4 << 20)
    assert untouched[1].resident_bytes - untouched[0].resident_bytes < 0.5 * (4 << 20)
    fig = plots.fork_cost(points + untouched)
    assert fig.axes[0].get_legend_handles_labels()[1] == [
        "every page written before fork()", "mapped, never written"]


def test_fork_cost_rounds_a_buffer_up_to_whole_pages():
    (p,) = isolation.fork_cost((PAGE_BYTES + 1,), repeats=1)
    assert p.buffer_bytes == 2 * PAGE_BYTES and p.pages == 2


def test_fork_cost_gives_up_at_its_deadline():
    with pytest.raises(ChildTimeoutError):
        isolation.fork_cost((0,) * 20, repeats=20, deadline_s=0.02)


@pytest.mark.parametrize("how, status, sig", [("segfault", -11, "SIGSEGV"),
                                              ("abort", -6, "SIGABRT"),
                                              ("exception", 1, None)])
def test_crash_child_stays_in_the_child(how, status, sig):
    c = isolation.crash_child(how)
    assert (c.how, c.exit_status, c.signal_name, c.parent_still_fine) == (how, status, sig, True)


@pytest.mark.parametrize("call, exc, words", [
    (lambda: isolation.fork_and_write(value_before_fork=1.5), TypeError, "value_before_fork"),
    (lambda: isolation.fork_and_write(child_value=2**63), ValueError, "child_value"),
    (lambda: isolation.fork_and_write(parent_value=True), TypeError, "parent_value"),
    (lambda: isolation.fork_and_write(deadline_s=0), ValueError, "deadline_s"),
    (lambda: isolation.fork_and_write(shared=1), TypeError, "shared"),
    (lambda: isolation.copy_on_write_faults(100), ValueError, "buffer_bytes"),
    (lambda: isolation.copy_on_write_faults(300 << 20), ValueError, "buffer_bytes"),
    (lambda: isolation.copy_on_write_faults(4096, "execute"), ValueError, "access"),
    (lambda: isolation.copy_on_write_faults("8M"), TypeError, "buffer_bytes"),
    (lambda: isolation.copy_on_write_sweep([]), ValueError, "sizes_bytes"),
    (lambda: isolation.copy_on_write_sweep((4096,), "read"), TypeError, "accesses"),
    (lambda: isolation.copy_on_write_sweep((4096,), ()), ValueError, "accesses"),
    (lambda: isolation.copy_on_write_sweep((4096,), ("peek",)), ValueError, "accesses[0]"),
    (lambda: isolation.crash_child("explode"), ValueError, "how"),
    (lambda: isolation.fork_cost(()), ValueError, "sizes_bytes"),
    (lambda: isolation.fork_cost((-1,)), ValueError, "sizes_bytes"),
    (lambda: isolation.fork_cost((2 << 30,)), ValueError, "sizes_bytes"),
    (lambda: isolation.fork_cost(4096), TypeError, "sizes_bytes"),
    (lambda: isolation.fork_cost((0,), touched="yes"), TypeError, "touched"),
    (lambda: isolation.fork_cost((0,), repeats=0), ValueError, "repeats"),
    (lambda: isolation.fork_cost((0,), repeats=21), ValueError, "repeats"),
    (lambda: isolation.fork_cost((0,), deadline_s=0), ValueError, "deadline_s"),
])
def test_bad_arguments_are_named(call, exc, words):
    with pytest.raises(exc, match=words.replace("[", r"\[").replace("]", r"\]")):
        call()


def test_cow_plot_rejects_wrong_results():
    with pytest.raises(ValueError):
        plots.cow_faults([])
    with pytest.raises(TypeError):
        plots.cow_faults([object()])
    with pytest.raises(ValueError):
        plots.fork_cost([])
    with pytest.raises(TypeError):
        plots.fork_cost(isolation.copy_on_write_sweep((PAGE_BYTES,), ("read",)))
