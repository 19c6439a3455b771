"""What one streaming multiprocessor (SM) of an sm_90 GPU (H100) holds, and how many blocks
of a kernel fit on it at once. Figures from NVIDIA's CUDA C++ Programming Guide (table
"Technical Specifications per Compute Capability", 9.0) and its occupancy calculator.
"""

# 32-bit registers in one SM's register file, shared by every resident thread
REGISTERS_PER_SM = 65536
# registers are handed to a warp in units of 256 (a thread's count, times 32, rounded up)
REGISTER_ALLOCATION_UNIT = 256
MAX_THREADS_PER_SM = 2048
MAX_BLOCKS_PER_SM = 32
WARP = 32
# shared memory: 228 KiB per SM, of which the runtime reserves 1 KiB per resident block;
# one block may have at most 227 KiB, and beyond 48 KiB only if the kernel opts in
SHARED_PER_SM = 228 * 1024
SHARED_RESERVED_PER_BLOCK = 1024
SHARED_OPTIN_PER_BLOCK = 227 * 1024
SHARED_WITHOUT_OPTIN = 48 * 1024


def blocks_per_sm(registers, threads, shared_bytes=0):
    """Blocks of `threads` threads, each thread using `registers` registers and the block
    `shared_bytes` of shared memory, that one SM runs at the same time."""
    warps = -(-threads // WARP)
    unit = REGISTER_ALLOCATION_UNIT
    per_warp = -(-registers * WARP // unit) * unit
    by_registers = (REGISTERS_PER_SM // per_warp) // warps if per_warp else MAX_BLOCKS_PER_SM
    by_threads = MAX_THREADS_PER_SM // (warps * WARP)
    by_shared = SHARED_PER_SM // (shared_bytes + SHARED_RESERVED_PER_BLOCK)
    return min(by_registers, by_threads, by_shared, MAX_BLOCKS_PER_SM)
