"""Build every CUDA kernel of fastmixloss for sm_90 as a real launch would, and report what
ptxas gave each: registers, stack, spills, static shared memory, 64-bit integer divisions.

No GPU needed: numba-cuda with NVVM and nvJitLink (the cuda12 extra). Run without
NUMBA_ENABLE_CUDASIM; test_cuda_resources.py runs it in a subprocess (the test process
itself holds the simulator).

The route is the one numba-cuda takes to launch a kernel when nvJitLink is installed (its
default then is lto=True): NVVM turns the kernel into LTO-IR, and nvJitLink optimises and
links it into a cubin with ptxas. `cuda.compile(..., output="ltoir")` gives the same LTO-IR
(with the kernel's own launch bounds), and cuda.core's Linker with verbose=True returns
ptxas's log, which this script parses. The same LTO-IR linked to PTX instead shows which
instructions ptxas was given: a `div.s64` / `rem.u64` there becomes a call to a slow
software routine (`__cuda_sm20_div_s64` and kin, visible in the cubin's symbols).

    python tests/cuda/kernel_resources.py            # JSON, one line per kernel
    python tests/cuda/kernel_resources.py --markdown # the table in fastmixloss/cuda/README.md
"""

import json
import re
import sys

from numba import cuda, typeof, types

CC = (9, 0)
# one signature per kernel and signal dtype, as the backend launches them; the launch's
# threads per block are LaunchConfig's defaults (and signals.py's for the copy)
STFT_THREADS = TIME_THREADS = REDUCE_THREADS = SCAN_THREADS = 256


def signatures():
    """(kernel, argument types, signal dtype name, threads per block of its launch)."""
    from fastmixloss.cuda import kernels, options, signals, stft_backward, time_backward
    from fastmixloss.kernels.layout import OptionPlan
    i64 = types.int64
    f64 = types.float64
    geo = types.UniTuple(i64, kernels.N_GEOMETRY)
    no_extra = typeof(())    # the plain STFT kernels' `extra`
    # the OptionPlan as the backend passes it: each field of its declared type
    option_plan = typeof(options.kernel_options(OptionPlan(*[0] * len(OptionPlan._fields))))
    i1 = types.Array(i64, 1, "C")
    for dt in (types.float32, types.float64):
        a3 = types.Array(dt, 3, "C")
        a3_any = types.Array(dt, 3, "A")
        a2 = types.Array(dt, 2, "C")
        a1 = types.Array(dt, 1, "C")
        p2 = types.Array(f64, 2, "C")
        p3 = types.Array(f64, 3, "C")
        name = str(dt)
        yield (kernels.stft_shared, (a3, a3, a2, a1, a2, geo, f64, no_extra, p2), name,
               STFT_THREADS)
        yield (kernels.stft_scratch, (a3, a3, a2, a1, a2, geo, f64, no_extra, p2, a2), name,
               STFT_THREADS)
        # the options kernels: the filterbank's weights are float64, or float32 (the
        # librosa bank auraloss multiplies by) in compat mode with float32 signals
        banks = ((f64, ""),) if dt == f64 else ((f64, ""), (types.float32, ", float32 bank"))
        for bank, label in banks:
            extra = types.Tuple((option_plan, i1, i1, types.Array(bank, 1, "C"),
                                 types.Array(f64, 1, "C"), p2))
            yield (options.stft_options_shared, (a3, a3, a2, a1, a2, geo, f64, extra, p2),
                   name + label, STFT_THREADS)
            yield (options.stft_options_scratch,
                   (a3, a3, a2, a1, a2, geo, f64, extra, p2, a2), name + label,
                   STFT_THREADS)
        # the spectral gradient: frame gradients (extra: coefficients, the chunk's first
        # frame, the left padding; the options' pair also the options kernels' extra)
        # into float64 scratch, then the gather into the float64 gradient
        # the filterbank's pair also the bank by bin (offsets, bands, weights); its
        # weights float64, or float32 as the forward's options kernels take them
        gradient_extra = (p3, i64, i64)

        def option_extra(bank):
            return types.Tuple((option_plan, i1, i1, types.Array(bank, 1, "C"),
                                types.Array(f64, 1, "C"), p2))
        pairs = [(stft_backward.stft_gradient_shared, stft_backward.stft_gradient_scratch,
                  types.Tuple(gradient_extra), ""),
                 (stft_backward.stft_option_gradient_shared,
                  stft_backward.stft_option_gradient_scratch,
                  types.Tuple(gradient_extra + (option_extra(f64),)), "")]
        for bank, label in banks:
            by_bin = types.Tuple((i1, i1, types.Array(bank, 1, "C")))
            pairs.append((stft_backward.stft_bank_gradient_shared,
                          stft_backward.stft_bank_gradient_scratch,
                          types.Tuple(gradient_extra + (option_extra(bank), by_bin)), label))
        for shared, scratch, extra, label in pairs:
            yield (shared, (a3, a3, a2, a1, a2, geo, f64, extra, p3), name + label,
                   STFT_THREADS)
            yield (scratch, (a3, a3, a2, a1, a2, geo, f64, extra, p3, a2), name + label,
                   STFT_THREADS)
        # scale invariance's reference scale sums: the options' extra, two sums per task
        for bank, label in banks:
            extra = types.Tuple(gradient_extra + (option_extra(bank),))
            yield (stft_backward.stft_scale_sums_shared,
                   (a3, a3, a2, a1, a2, geo, f64, extra, p2), name + label, STFT_THREADS)
            yield (stft_backward.stft_scale_sums_scratch,
                   (a3, a3, a2, a1, a2, geo, f64, extra, p2, a2), name + label,
                   STFT_THREADS)
        # the gather adds into the gradient in est's dtype, the prefilter's transpose
        # from float64 rows, both as each chunk's float64 sum per sample; the zeroing
        yield (stft_backward.gather_gradient,
               (p3, a2, types.boolean, types.boolean) + (i64,) * 8 + (a3,), name,
               TIME_THREADS)
        if dt != f64:   # with the prefilter: into the float64 filtered rows' gradient
            yield (stft_backward.gather_gradient,
                   (p3, a2, types.boolean, types.boolean) + (i64,) * 8 + (p3,),
                   name + " into float64", TIME_THREADS)
        yield (stft_backward.fir_adjoint, (p3, types.Array(f64, 1, "C"), i64, i64, a3),
               name, TIME_THREADS)
        yield (stft_backward.fill_zero, (a1,), name, stft_backward.ELEMENTWISE_THREADS)
        yield kernels.row_shifts, (a2, a2, p2), name, TIME_THREADS
        yield kernels.time_sums, (a2, a2, p2, i64, p3), name, TIME_THREADS
        yield kernels.log_cosh_sums, (a2, a2, f64, f64, i64, p3), name, TIME_THREADS
        # the time-domain gradient: into est's dtype (float32 est with a float64 ref is
        # computed from float64 signals)
        for grad, label in ((a2, ""),) + (((types.Array(types.float32, 2, "C"),
                                            " to float32"),) if dt == f64 else ()):
            yield (time_backward.time_gradient_kernel,
                   (a2, a2, i64, p2, types.Array(f64, 1, "C"), i64, i64, grad),
                   name + label, TIME_THREADS)
        yield (kernels.first_nonfinite, (a1, a1, types.Array(i64, 1, "C")), name,
               SCAN_THREADS)
        yield kernels.finite_peak, (a1, a1, types.Array(f64, 1, "C")), name, SCAN_THREADS
        for src, label in ((a3, "C"), (a3_any, "A"), (types.Array(types.float32, 3, "A"),
                                                      "A float32")):
            yield kernels.copy_3d, (src, a3), f"{name} from {label}", signals._COPY_THREADS
    yield (kernels.sum_groups, (types.Array(f64, 3, "C"), types.Array(f64, 2, "C")),
           "float64", REDUCE_THREADS)


class _TargetOnly:
    """Stands in for the current device where numba-cuda asks one only for its compute
    capability (typing device functions); nothing here talks to a driver."""

    def __init__(self, cc):
        self.compute_capability = cc


_PROPERTIES = re.compile(r"Function properties for (\S+)")
_FRAME = re.compile(r"(\d+) bytes stack frame, (\d+) bytes spill stores, "
                    r"(\d+) bytes spill loads")
_USED = re.compile(r"Used (\d+) registers(.*)")
_SMEM = re.compile(r"(\d+) bytes smem")
_DIV64_PTX = re.compile(r"\b(?:div|rem)\.[su]64\b")
_DIV64_HELPER = re.compile(rb"__cuda_sm\w*_(?:div|rem)_[su]64")


def parse_ptxas_log(log, entry):
    """ptxas's figures for the function `entry` (a mangled name) from a verbose link log:
    registers, stack bytes, spill store and load bytes, static shared bytes."""
    found = {}
    current = None
    for line in log.splitlines():
        match = _PROPERTIES.search(line)
        if match:
            current = match.group(1)
            continue
        if current != entry:
            continue
        match = _FRAME.search(line)
        if match:
            found["stack"], found["spill_stores"], found["spill_loads"] = (
                int(v) for v in match.groups())
        match = _USED.search(line)
        if match:
            found["registers"] = int(match.group(1))
            smem = _SMEM.search(match.group(2))
            found["static_shared"] = int(smem.group(1)) if smem else 0
    missing = {"registers", "stack", "spill_stores", "spill_loads"} - set(found)
    if missing:
        raise RuntimeError(f"no {sorted(missing)} for {entry} in the ptxas log:\n{log}")
    return found


def div64_in_loops(ptx):
    """How many 64-bit integer div/rem instructions of the PTX lie inside a loop: between
    a label and a later branch back to it (LLVM lays a loop's blocks out contiguously,
    its latch last). A division before a loop (a trip count, say) runs once, not per
    iteration, and is not counted."""
    lines = ptx.splitlines()
    labels = {}
    for i, line in enumerate(lines):
        match = re.match(r"\s*(\$L__\w+):", line)
        if match:
            labels[match.group(1)] = i
    loops = []
    for i, line in enumerate(lines):
        match = re.search(r"\bbra(?:\.uni)?\s+(\$L__\w+);", line)
        if match and labels.get(match.group(1), i + 1) <= i:
            loops.append((labels[match.group(1)], i))
    return sum(1 for i, line in enumerate(lines) if _DIV64_PTX.search(line)
               and any(start <= i <= end for start, end in loops))


def build(kernel, argtypes):
    """Link one kernel for sm_90 through LTO; returns its resource figures."""
    from cuda.core import Linker, LinkerOptions, ObjectCode
    bounds = kernel.targetoptions.get("launch_bounds")
    ltoir, _ = cuda.compile(kernel.py_func, argtypes, cc=CC, output="ltoir", device=False,
                            abi="numba", launch_bounds=bounds)
    arch = f"sm_{CC[0]}{CC[1]}"
    obj = ObjectCode.from_ltoir(ltoir, name=kernel.py_func.__name__)
    linker = Linker(obj, options=LinkerOptions(arch=arch, link_time_optimization=True,
                                               verbose=True))
    cubin = bytes(linker.link("cubin").code)
    log = linker.get_info_log()
    entries = _PROPERTIES.findall(log)
    kernel_entries = [e for e in entries if kernel.py_func.__name__ in e]
    if len(kernel_entries) != 1:
        raise RuntimeError(f"cannot tell {kernel.py_func.__name__}'s entry in:\n{log}")
    figures = parse_ptxas_log(log, kernel_entries[0])
    ptx = Linker(obj, options=LinkerOptions(arch=arch, link_time_optimization=True,
                                            ptx=True)).link("ptx").code
    ptx = ptx.decode() if isinstance(ptx, bytes) else ptx
    figures["ptx_div64"] = len(_DIV64_PTX.findall(ptx))
    figures["ptx_div64_in_loops"] = div64_in_loops(ptx)
    figures["div64_helpers"] = sorted({m.decode() for m in _DIV64_HELPER.findall(cubin)})
    # a declared (non-extern) .shared array; dynamic shared memory is `.extern .shared`
    figures["ptx_static_shared"] = len(re.findall(r"^\s*\.shared\b", ptx, re.M))
    figures["launch_bounds"] = list(bounds) if isinstance(bounds, tuple) else bounds
    return figures


TOOLCHAIN_MISSING = 3


def toolchain_problem():
    """Why numba-cuda cannot build sm_90 code here (None when it can): it needs NVIDIA's
    numba-cuda (not Numba's old built-in target), NVVM and nvJitLink."""
    try:
        from numba import cuda
        if getattr(cuda, "implementation", None) != "NVIDIA":
            return "numba.cuda is not numba-cuda (pip install 'fastmixloss[cuda12]')"
        from numba.cuda.cudadrv import driver, nvvm
        nvvm.NVVM()
        if not driver._have_nvjitlink():
            return "nvJitLink is not installed (pip install 'fastmixloss[cuda12]')"
        from cuda.core import Linker  # noqa: F401
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}".strip().splitlines()[-1]
    return None


def main(argv):
    problem = toolchain_problem()
    if problem:
        print(problem)
        return TOOLCHAIN_MISSING
    from numba.cuda import dispatcher
    # device functions are typed for the current device's compute capability; with no GPU
    # present, answer with the target's
    dispatcher.get_current_device = lambda: _TargetOnly(CC)
    rows = []
    for kernel, argtypes, dtype, threads in signatures():
        row = {"kernel": kernel.py_func.__name__, "dtype": dtype, "threads": threads,
               **build(kernel, argtypes)}
        rows.append(row)
        if "--markdown" not in argv:
            print(json.dumps(row), flush=True)
    if "--markdown" in argv:
        from sm90 import blocks_per_sm
        print("| kernel | signals | registers | stack | spills (store/load) | "
              "threads/block | blocks/SM | 64-bit div/rem in PTX (in loops) |")
        print("| --- | --- | --- | --- | --- | --- | --- | --- |")
        for r in rows:
            print(f"| {r['kernel']} | {r['dtype']} | {r['registers']} | {r['stack']} | "
                  f"{r['spill_stores']}/{r['spill_loads']} | {r['threads']} | "
                  f"{blocks_per_sm(r['registers'], r['threads'])} | "
                  f"{r['ptx_div64']} ({r['ptx_div64_in_loops']}) |")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
