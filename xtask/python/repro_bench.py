"""The timing rule of every PyTorch twin, the same as repro_core::bench::run: `warmup`
untimed calls, then `iters` calls timed one by one with a wall clock; the callable must
finish its work (read a scalar back) before returning. Prints a human line and the
`BENCH_JSON {...}` line that `cargo xtask bench` reads."""
import json
import time


def run(name, warmup, iters, f):
    for _ in range(warmup):
        f()
    times = []
    for _ in range(iters):
        t0 = time.perf_counter()
        f()
        times.append((time.perf_counter() - t0) * 1e3)
    times.sort()
    med = times[iters // 2] if iters % 2 else 0.5 * (times[iters // 2 - 1] + times[iters // 2])
    r = {"name": name, "iters": iters, "median_ms": med, "mean_ms": sum(times) / iters,
         "min_ms": times[0], "max_ms": times[-1]}
    print(f"{name:<32} median {med:9.3f} ms")
    print("BENCH_JSON " + json.dumps(r))
    return r
