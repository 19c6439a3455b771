"""kernels/workers.py: how a kernel's work is split over threads."""

import threading

import numpy as np
import pytest

from fastmixloss.kernels.workers import read_only, run_workers


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
