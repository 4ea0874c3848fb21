"""The timing rule of every PyTorch twin, the same as repro_core::bench::run: `warmup`
untimed calls, then `iters` calls timed one by one with a wall clock; the callable must
finish its work (read a scalar back) before returning. Prints a human line and the
`BENCH_JSON {...}` line that `cargo xtask bench` reads.

After the warm-up, one extra untimed call is counted with `torch.utils.flop_counter`'s
formulas: the FLOPs of the matrix products (mm, addmm, bmm, convolutions, attention) of the
forward and the backward pass, from their shapes, 2 per multiply-add; element-wise work,
scatters and the optimiser are not counted. The count goes into the JSON line as `flops`:
the same work is what the Burn side runs, so it gives both sides' achieved GFLOP/s."""
import json
import time

import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils.flop_counter import flop_registry


class _FlopCount(TorchDispatchMode):
    """What `torch.utils.flop_counter.FlopCounterMode` counts, without its per-module
    tracker (which refuses `torch.autograd.grad`, used by the integrated-gradients twin)."""

    def __init__(self):
        super().__init__()
        self.total = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        count = flop_registry.get(func._overloadpacket)
        if count is not None:
            self.total += count(*args, **kwargs, out_val=out)
        return out


def count_flops(f):
    """Matrix-product FLOPs of one call of `f` (forward and backward)."""
    with _FlopCount() as counter:
        f()
    return float(counter.total)


def _sorted_times_ms(f, warmup, iters):
    """`warmup` untimed calls of `f`, then the wall time of `iters` calls, sorted (ms)."""
    for _ in range(warmup):
        f()
    times = []
    for _ in range(iters):
        t0 = time.perf_counter()
        f()
        times.append((time.perf_counter() - t0) * 1e3)
    return sorted(times)


def _median(sorted_times):
    n = len(sorted_times)
    return sorted_times[n // 2] if n % 2 else 0.5 * (sorted_times[n // 2 - 1] + sorted_times[n // 2])


def run(name, warmup, iters, f):
    for _ in range(warmup):
        f()
    flops = count_flops(f)
    times = _sorted_times_ms(f, 0, iters)
    med = _median(times)
    r = {"name": name, "iters": iters, "median_ms": med, "mean_ms": sum(times) / iters,
         "min_ms": times[0], "max_ms": times[-1], "flops": flops}
    gflops = flops / (med * 1e6) if med > 0 else 0.0
    print(f"{name:<32} median {med:9.3f} ms  {flops / 1e9:8.4f} GFLOP  {gflops:7.1f} GFLOP/s")
    print("BENCH_JSON " + json.dumps(r))
    return r


def peak(n=2048, warmup=3, iters=10):
    """This machine's sgemm throughput through torch (the BLAS PyTorch ships, the threads
    the caller set): the median GFLOP/s of an n x n x n f32 matmul."""
    a, b = torch.rand(n, n), torch.rand(n, n)
    med_ms = _median(_sorted_times_ms(lambda: (a @ b)[0, 0].item(), warmup, iters))
    return 2.0 * n ** 3 / (med_ms * 1e6)


if __name__ == "__main__":
    import os
    torch.set_num_threads(int(os.environ.get("REPRO_THREADS", "2")))
    print("PEAK_JSON " + json.dumps({"sgemm_n": 2048, "gflops": peak()}))
