"""Run a kernel on several threads: one call per worker, the caller waiting.

The kernels are serial Numba functions that release the GIL (see jit.py), so Python
threads run them in parallel. The calling thread only waits, and a wait is interruptible:
Ctrl-C raises KeyboardInterrupt at once while the workers finish their share into buffers
nobody reads any more. One pool serves every caller, so losses called from several Python
threads share the cores instead of oversubscribing them.
"""

import os
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np

_pool = None
_pool_pid = None
_pool_lock = threading.Lock()


def _executor():
    """The shared pool, made on first use with as many threads as Numba may use
    (numba.set_num_threads can lower the count per call, never raise it).

    A forked child (multiprocessing, DataLoader workers) inherits the pool object but not
    its threads: work handed to it would wait forever, so a child makes its own.
    """
    global _pool, _pool_pid
    with _pool_lock:
        if _pool is None or _pool_pid != os.getpid():
            import numba
            _pool = ThreadPoolExecutor(max_workers=numba.config.NUMBA_NUM_THREADS,
                                       thread_name_prefix="fastmixloss-worker")
            _pool_pid = os.getpid()
        return _pool


def _after_fork_in_child():
    # the parent may have held the lock at the fork; the child has one thread only
    global _pool_lock
    _pool_lock = threading.Lock()


os.register_at_fork(after_in_child=_after_fork_in_child)


def thread_count():
    """Workers per call: Numba's thread count (numba.set_num_threads, NUMBA_NUM_THREADS),
    read at call time."""
    import numba
    return numba.get_num_threads()


def run_workers(kernel, n_tasks, n_threads, *args):
    """kernel(*args, worker, n_workers) for worker in range(n_workers), on the pool.

    n_workers = min(n_threads, n_tasks), at least 1. Returns when every worker is done;
    re-raises a worker's exception.
    """
    n_workers = max(1, min(int(n_threads), int(n_tasks)))
    pool = _executor()
    futures = [pool.submit(kernel, *args, worker, n_workers) for worker in range(n_workers)]
    try:
        for future in futures:
            future.result()
    except BaseException:
        # Ctrl-C (or a failed worker): workers not yet started need not start; running
        # ones finish their share, which nobody reads
        for future in futures:
            future.cancel()
        raise


def read_only(array):
    """A read-only view, so that every call presents the same array type to Numba: a
    writeable and a read-only input would otherwise compile the kernel twice."""
    view = np.asarray(array).view()
    view.flags.writeable = False
    return view
