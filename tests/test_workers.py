"""kernels/workers.py: how a kernel's work is split over threads."""

import threading

import numpy as np
import pytest

from fastmixloss.kernels.workers import read_only, run_items, run_workers, side_by_side


def _recorder():
    calls = []
    lock = threading.Lock()

    def kernel(out, worker, n_workers):
        with lock:
            calls.append((worker, n_workers))
        out[worker] = threading.get_ident()
    return calls, kernel


@pytest.mark.parametrize("n_tasks, n_threads, expected", [(10, 2, 2), (1, 2, 1), (0, 2, 1),
                                                          (5, 1, 1)])
def test_each_worker_is_called_once_with_its_index(n_tasks, n_threads, expected):
    calls, kernel = _recorder()
    out = np.zeros(8)
    run_workers(kernel, n_tasks, n_threads, out)
    assert sorted(calls) == [(w, expected) for w in range(expected)]
    # the caller only waits: every share ran on a pool thread
    assert threading.get_ident() not in set(out[:expected])


def test_a_worker_exception_reaches_the_caller():
    def kernel(worker, n_workers):
        if worker == 1:
            raise RuntimeError("worker 1 failed")
    with pytest.raises(RuntimeError, match="worker 1 failed"):
        run_workers(kernel, 4, 2)


def test_read_only_views_leave_the_input_writeable():
    x = np.arange(6.0)
    view = read_only(x)
    assert not view.flags.writeable and x.flags.writeable
    assert np.shares_memory(view, x)


@pytest.mark.parametrize("n_items, n_threads", [(7, 2), (1, 2), (0, 2), (5, 1)])
def test_items_come_back_in_order_with_the_callers_thread_count(n_items, n_threads):
    import numba
    if n_threads > numba.config.NUMBA_NUM_THREADS:
        pytest.skip("needs NUMBA_NUM_THREADS >= 2")
    seen = []
    lock = threading.Lock()

    def item(i):
        with lock:
            seen.append((threading.get_ident(), numba.get_num_threads()))
        return i * i
    before = numba.get_num_threads()
    numba.set_num_threads(n_threads)
    try:
        assert run_items(item, n_items, n_threads) == [i * i for i in range(n_items)]
    finally:
        numba.set_num_threads(before)
    # Numba's thread count is per thread: item threads run with the caller's count
    assert [count for _, count in seen] == [n_threads] * n_items
    if n_threads == 1 or n_items == 1:   # a lone runner is the caller itself
        assert {ident for ident, _ in seen} <= {threading.get_ident()}


def test_an_item_exception_reaches_the_caller_and_stops_new_items():
    """Item 1 fails while item 0 is in flight on the other runner (item 0 waits for the
    failure). Once the failing runner has stopped the queue, no item starts; in the moment
    before, the other runner may take an item or a few. Of N items, a run that did not
    stop would start all N; one that stops starts a handful, and starting all N would
    need the failing runner kept off the CPU for N * 10 ms: no load does that."""
    import time
    import numba
    if numba.config.NUMBA_NUM_THREADS < 2:
        pytest.skip("needs NUMBA_NUM_THREADS >= 2")
    n_items = 1000
    started = []
    failed = threading.Event()

    def item(i):
        started.append(i)
        if i == 1:
            failed.set()
            raise RuntimeError("item 1 failed")
        if i == 0:
            assert failed.wait(timeout=60), "item 1 never ran beside item 0"
        time.sleep(0.01)
        return i
    with pytest.raises(RuntimeError, match="item 1 failed"):
        run_items(item, n_items, 2)
    assert {0, 1} <= set(started)
    assert len(started) < n_items


def _side(out, slot, barrier=None):
    """A side_by_side function: records its thread, Numba's thread count there, and the
    thread that ran a one-task kernel and a many-task kernel it started; with a barrier,
    it waits there for the other function (so both run at once)."""
    import numba

    def function():
        if barrier is not None:
            barrier.wait(timeout=30)
        one, many = np.zeros(1), np.zeros(2)
        run_workers(lambda o, worker, n_workers: o.__setitem__(worker, threading.get_ident()),
                    1, numba.get_num_threads(), one)
        run_workers(lambda o, worker, n_workers: o.__setitem__(worker, threading.get_ident()),
                    2, numba.get_num_threads(), many)
        workers = min(2, numba.get_num_threads())
        out[slot] = (threading.get_ident(), numba.get_num_threads(), one[0], set(many[:workers]))
        return slot
    return function


@pytest.mark.parametrize("n_threads", [2, 3, 4])
def test_side_by_side_shares_the_threads_between_two_threads(n_threads):
    import numba
    if numba.config.NUMBA_NUM_THREADS < n_threads:
        pytest.skip(f"needs NUMBA_NUM_THREADS >= {n_threads}")
    out = {}
    both = threading.Barrier(2)
    assert side_by_side(_side(out, "a", both), _side(out, "b", both), n_threads) == ("a", "b")
    (thread_a, share_a, _, _), (thread_b, share_b, _, _) = out["a"], out["b"]
    # each on a thread of its own (at once: they met at the barrier), the caller waiting
    assert len({thread_a, thread_b, threading.get_ident()}) == 3
    assert (share_a, share_b) == (n_threads - n_threads // 2, n_threads // 2)
    for thread, share, one, many in out.values():
        # a kernel with one worker runs in the thread itself, one with more on the pool
        assert float(thread) == one
        assert (many == {float(thread)}) == (share == 1)
    # the caller's count is left as it was
    assert numba.get_num_threads() == numba.config.NUMBA_NUM_THREADS


def test_side_by_side_on_one_thread_runs_both_in_the_caller():
    out = {}
    assert side_by_side(_side(out, "a"), _side(out, "b"), 1) == ("a", "b")
    assert out["a"][0] == out["b"][0] == threading.get_ident()
    # outside side_by_side a one-worker kernel still runs on the pool (the caller waits
    # interruptibly)
    assert float(threading.get_ident()) not in (out["a"][2], out["b"][2])


@pytest.mark.parametrize("failing", [0, 1])
def test_a_side_by_side_exception_reaches_the_caller(failing):
    def function(slot):
        def run():
            if slot == failing:
                raise MemoryError(f"side {slot}")
            return slot
        return run
    with pytest.raises(MemoryError, match=f"side {failing}"):
        side_by_side(function(0), function(1), 2)
