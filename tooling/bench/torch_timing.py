"""CUDA-event timing of a PyTorch callable, shared by the GPU benchmarks' PyTorch sides (torch_bench.py,
packages/kernels/dev/cuda/bench_attention_torch.py), so both time as the suites time bminf."""
import torch


def timed(fn, target_s=0.05, min_iters=10, max_iters=2000):
    """Seconds per call: median of 5 runs of `iters` back-to-back calls, each timed with CUDA events."""
    import time
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < 0.02:  # warm-up: at least 20 ms of calls
        for _ in range(3):
            fn()
        torch.cuda.synchronize()
    s, e = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    s.record()
    for _ in range(3):
        fn()
    e.record()
    e.synchronize()
    est = s.elapsed_time(e) / 1000 / 3
    iters = int(max(min_iters, min(max_iters, target_s / max(est, 1e-7))))
    runs = []
    for _ in range(5):
        s.record()
        for _ in range(iters):
            fn()
        e.record()
        e.synchronize()
        runs.append(s.elapsed_time(e) / 1000 / iters)
    runs.sort()
    return runs[2]
