"""ipclab.isolation on the real kernel: fork, copy-on-write, crashes."""

import pytest

from ipclab import isolation, plots
from ipclab.isolation import PAGE_BYTES


def test_fork_and_write_same_address_separate_values():
    r = isolation.fork_and_write(value_before_fork=7, child_value=-5, parent_value=11)
    assert r.same_address
    assert r.address_in_parent == r.address_in_child != 0
    assert r.parent_pid != r.child_pid
    assert r.parent_read_after_child_wrote == 7  # the child's write is invisible here
    assert r.child_read == -5  # and the parent's is invisible there
    assert (r.value_before_fork, r.child_wrote, r.parent_wrote) == (7, -5, 11)


@pytest.mark.parametrize("access", ["read", "write"])
def test_copy_on_write_faults_reads_share_writes_copy(access):
    r = isolation.copy_on_write_faults(4 * 1024 * 1024, access)
    assert r.pages == 1024 and r.page_bytes == PAGE_BYTES == 4096
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
    (lambda: isolation.copy_on_write_faults(100), ValueError, "buffer_bytes"),
    (lambda: isolation.copy_on_write_faults(300 << 20), ValueError, "buffer_bytes"),
    (lambda: isolation.copy_on_write_faults(4096, "execute"), ValueError, "access"),
    (lambda: isolation.copy_on_write_faults("8M"), TypeError, "buffer_bytes"),
    (lambda: isolation.copy_on_write_sweep([]), ValueError, "sizes_bytes"),
    (lambda: isolation.copy_on_write_sweep((4096,), "read"), TypeError, "accesses"),
    (lambda: isolation.copy_on_write_sweep((4096,), ()), ValueError, "accesses"),
    (lambda: isolation.copy_on_write_sweep((4096,), ("peek",)), ValueError, "accesses[0]"),
    (lambda: isolation.crash_child("explode"), ValueError, "how"),
])
def test_bad_arguments_are_named(call, exc, words):
    with pytest.raises(exc, match=words.replace("[", r"\[").replace("]", r"\]")):
        call()


def test_cow_plot_rejects_wrong_results():
    with pytest.raises(ValueError):
        plots.cow_faults([])
    with pytest.raises(TypeError):
        plots.cow_faults([object()])
