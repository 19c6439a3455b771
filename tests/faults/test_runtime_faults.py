"""Faults of the runtime: Ctrl-C inside a kernel, and losses called from several Python
threads under Numba's workqueue threading layer. Each runs in a subprocess, with a real
SIGINT or a real threading layer."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

_LOOP_UNTIL_INTERRUPTED = """
import sys, numpy as np, fastmixloss as fm
which, length = sys.argv[1], int(sys.argv[2])
x = np.random.default_rng(0).standard_normal((2, length)).astype(np.float32)
y = 0.5 * x
calls = {
    "mse": lambda a, b: fm.mse(a, b),
    "sisdr": lambda a, b: fm.sisdr(a, b),
    "logcosh": lambda a, b: fm.logcosh(a, b),
    "stft": lambda a, b: fm.stft_loss(a, b),
    "mrstft": lambda a, b: fm.mrstft_loss(a, b),
    "sd": lambda a, b: fm.sum_and_difference_loss(a, b),
}
loss = calls[which]
small = loss(x[:, :20000], y[:, :20000])   # compiles; the reference value for later
print("ready", flush=True)
try:
    while True:
        loss(x, y)
except BaseException as exc:
    outcome = type(exc).__name__
else:
    outcome = "none"
# the library still works after an interrupt
again = loss(x[:, :20000], y[:, :20000])
print(outcome, again == small, flush=True)
"""


def _child_env(**extra):
    return dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""),
                **extra)


@pytest.mark.slow
@pytest.mark.parametrize("loss, length", [("mse", 20_000_000), ("sisdr", 20_000_000),
                                          ("logcosh", 4_000_000), ("stft", 2_000_000),
                                          ("mrstft", 1_000_000), ("sd", 1_000_000)])
def test_ctrl_c_inside_a_kernel_is_a_keyboard_interrupt(loss, length):
    child = subprocess.Popen([sys.executable, "-c", _LOOP_UNTIL_INTERRUPTED, loss,
                              str(length)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True, env=_child_env())
    try:
        assert child.stdout.readline().strip() == "ready", child.stderr.read()[-3000:]
        time.sleep(0.3)   # well inside the loop, where nearly all the time is kernel time
        child.send_signal(signal.SIGINT)
        out, err = child.communicate(timeout=120)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    assert child.returncode == 0, err[-3000:]
    assert out.split() == ["KeyboardInterrupt", "True"], (out, err[-3000:])


_THREADS = """
import json, threading, numpy as np, numba, fastmixloss as fm
rng = np.random.default_rng(1)
x = rng.standard_normal((2, 2, 30000)).astype(np.float32)
y = (0.5 * x + 0.1 * rng.standard_normal(x.shape)).astype(np.float32)
calls = [lambda: fm.mse(x, y), lambda: fm.sisdr(x, y), lambda: fm.logcosh(x, y),
         lambda: fm.stft_loss(x, y), lambda: fm.mrstft_loss(x, y),
         lambda: fm.sum_and_difference_loss(x, y)]
expected = [call() for call in calls]
wrong = []
def hammer(k):
    for i in range(12):
        j = (k + i) % len(calls)
        if calls[j]() != expected[j]:
            wrong.append(j)
threads = [threading.Thread(target=hammer, args=(k,)) for k in range(4)]
for t in threads:
    t.start()
for t in threads:
    t.join()
print(json.dumps({"layer": numba.threading_layer(), "wrong": wrong}))
"""


def test_losses_from_several_python_threads_under_workqueue_never_abort():
    done = subprocess.run([sys.executable, "-c", _THREADS], capture_output=True, text=True,
                          timeout=600, env=_child_env(NUMBA_THREADING_LAYER="workqueue",
                                                      NUMBA_NUM_THREADS="2"))
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["layer"] == "workqueue"
    assert report["wrong"] == []   # bit-identical to the single-threaded values


def test_the_cpu_seam_turns_an_interrupt_boxed_as_system_error_into_keyboard_interrupt():
    from fastmixloss.backend import interrupt_is_keyboard_interrupt

    def boxed_interrupt():
        # what Numba raised when Ctrl-C arrived while a kernel's result was boxed
        try:
            raise KeyboardInterrupt
        except KeyboardInterrupt as interrupt:
            raise SystemError("CPUDispatcher(<function k>) returned a result with an "
                              "exception set") from interrupt

    def other_system_error():
        raise SystemError("something else")

    with pytest.raises(KeyboardInterrupt):
        interrupt_is_keyboard_interrupt(boxed_interrupt)()
    with pytest.raises(SystemError, match="something else"):
        interrupt_is_keyboard_interrupt(other_system_error)()
    assert interrupt_is_keyboard_interrupt(lambda x: x + 1)(1) == 2


_FORK = """
import os, sys, numpy as np, fastmixloss as fm
x = np.random.default_rng(2).standard_normal((2, 2, 30000)).astype(np.float32)
y = 0.5 * x
expected = (fm.mse(x, y), fm.mrstft_loss(x, y))   # the parent's pool now exists
pid = os.fork()
if pid == 0:
    ok = (fm.mse(x, y), fm.mrstft_loss(x, y)) == expected
    os._exit(0 if ok else 1)
_, status = os.waitpid(pid, 0)
print(os.waitstatus_to_exitcode(status))
"""


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_a_forked_child_computes_with_its_own_worker_threads():
    done = subprocess.run([sys.executable, "-c", _FORK], capture_output=True, text=True,
                          timeout=300, env=_child_env())
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.split() == ["0"]
