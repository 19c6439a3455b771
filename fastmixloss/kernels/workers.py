"""Run a kernel on several threads: one call per worker, the caller waiting.

The kernels are serial Numba functions that release the GIL (see jit.py), so Python
threads run them in parallel. The calling thread only waits, and a wait is interruptible:
Ctrl-C raises KeyboardInterrupt at once while the workers finish their share into buffers
nobody reads any more. One pool serves every caller, so losses called from several Python
threads share the cores instead of oversubscribing them. The one exception is
`side_by_side`'s threads, each of which holds its own share of the threads: where that
share is one worker, the thread runs its kernels itself.
"""

import os
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np

# name -> (pool, pid of the process that made it)
_pools = {}
_pool_lock = threading.Lock()
# runs_its_share: set in `side_by_side`'s threads
_thread_state = threading.local()


def _pool(name):
    """The shared pool `name`, made on first use with as many threads as Numba may use
    (numba.set_num_threads can lower the count per call, never raise it).

    A forked child (multiprocessing, DataLoader workers) inherits the pool object but not
    its threads: work handed to it would wait forever, so a child makes its own.
    """
    with _pool_lock:
        pool, pid = _pools.get(name, (None, None))
        if pool is None or pid != os.getpid():
            import numba
            pool = ThreadPoolExecutor(max_workers=numba.config.NUMBA_NUM_THREADS,
                                      thread_name_prefix=f"fastmixloss-{name}")
            _pools[name] = pool, os.getpid()
        return pool


def _executor():
    """The kernels' pool: one call per worker share."""
    return _pool("worker")


def _item_executor():
    """The pool that runs whole items side by side (`run_items`); its threads only wait
    on kernels and run NumPy, so they are not the kernels' pool (a kernel's thread
    waiting on its own pool's queue could wait forever)."""
    return _pool("item")


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


def worker_count(n_tasks, n_threads):
    """How many workers run_workers starts: min(n_threads, n_tasks), at least 1."""
    return max(1, min(int(n_threads), int(n_tasks)))


def run_workers(kernel, n_tasks, n_threads, *args):
    """kernel(*args, worker, n_workers) for worker in range(n_workers), on the pool.

    n_workers = min(n_threads, n_tasks), at least 1. Returns when every worker is done;
    re-raises a worker's exception.
    """
    n_workers = worker_count(n_tasks, n_threads)
    if n_workers == 1 and getattr(_thread_state, "runs_its_share", False):
        kernel(*args, 0, 1)   # a side_by_side thread's one-worker share: no hand-over
        return
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


def run_items(function, n_items, n_threads):
    """[function(i) for i in range(n_items)], with up to n_threads items in flight.

    For batches whose per-item work is a chain of kernel calls with NumPy in between:
    while one item runs NumPy (one thread, holding the GIL), another's kernels use the
    cores. Each item thread takes the next item when it finishes one, and runs with
    Numba's thread count set to n_threads (the count is per thread), so its kernels
    split as the caller's would. Results come back in item order; each item's values
    are computed as they would be alone.
    """
    n_runners = max(1, min(int(n_threads), int(n_items)))
    if n_runners == 1:
        return [function(i) for i in range(n_items)]
    results = [None] * n_items
    items = iter(range(n_items))
    lock = threading.Lock()

    def runner():
        import numba
        numba.set_num_threads(int(n_threads))
        while True:
            with lock:
                i = next(items, None)
            if i is None:
                return
            try:
                results[i] = function(i)
            except BaseException:
                with lock:   # no runner takes a new item
                    for _ in items:
                        pass
                raise

    pool = _item_executor()
    futures = [pool.submit(runner) for _ in range(n_runners)]
    try:
        for future in futures:
            future.result()
    except BaseException:   # Ctrl-C here, or a runner's exception
        with lock:   # no runner takes a new item
            for _ in items:
                pass
        for future in futures:
            future.cancel()
        raise
    return results


def side_by_side(first, second, n_threads):
    """(first(), second()), with n_threads >= 2 each on a thread of its own while the
    caller waits (interruptibly, as on the pool), the threads shared between the two:
    first's kernels split over n_threads - n_threads // 2 workers, second's over
    n_threads // 2, so that no more kernel workers run than threads. Kernel results do
    not depend on the worker count, so neither do the two results.

    A thread whose share is one worker runs its kernels itself instead of handing each
    to the pool and waiting: then two threads, not four, share the cores and the GIL, and
    no pool thread has to wake for each kernel (one 30-s pair's mix features on two
    cores: 37.1 and 39.4 ms against 42.3 and 44.3, medians of 40 calls alternating with
    the pool's way in one process). New threads, not a pool's: a pool thread that waited
    here could wait on its own pool.
    """
    if n_threads < 2:
        return first(), second()
    import numba
    outcomes = ({}, {})

    def run(function, share, outcome):
        numba.set_num_threads(share)   # the count is per thread
        _thread_state.runs_its_share = True
        try:
            outcome["value"] = function()
        except BaseException as error:   # re-raised in the caller's thread
            outcome["error"] = error

    shares = (n_threads - n_threads // 2, n_threads // 2)
    threads = [threading.Thread(target=run, args=(function, share, outcome), daemon=True,
                                name="fastmixloss-side")
               for function, share, outcome in zip((first, second), shares, outcomes)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for outcome in outcomes:
        if "error" in outcome:
            raise outcome["error"]
    return outcomes[0]["value"], outcomes[1]["value"]


def read_only(array):
    """A read-only view, so that every call presents the same array type to Numba: a
    writeable and a read-only input would otherwise compile the kernel twice."""
    view = np.asarray(array).view()
    view.flags.writeable = False
    return view
