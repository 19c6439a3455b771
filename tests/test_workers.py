"""kernels/workers.py: how a kernel's work is split over threads."""

import threading

import numpy as np
import pytest

from fastmixloss.kernels.workers import read_only, run_items, run_workers


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
