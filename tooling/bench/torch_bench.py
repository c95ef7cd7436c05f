#!/usr/bin/env python3
"""The PyTorch side of tooling/bench/suites/gpu-kernels.mjs: times torch._int_mm, float16 matmul, a
float16 linear layer and device-to-device copies on the same GPU, in the same way the suite times bminf
(CUDA events around many back-to-back calls after warm-up, rotating inputs where they would sit in
L2), and prints one JSON object. Shapes: m = output features (weight rows), k = input features,
n = tokens (rows of the activations)."""
import json
import sys

try:
    import torch
except Exception as e:  # no PyTorch: the suite prints n/a
    print(json.dumps({"error": f"PyTorch is not importable: {e}"}))
    sys.exit(0)

if not torch.cuda.is_available():
    print(json.dumps({"error": "PyTorch sees no CUDA device"}))
    sys.exit(0)

from torch_timing import timed  # noqa: E402 (beside this file; needs torch)

dev = torch.device("cuda")
SHAPES = [(m, k, n) for m in (4096, 10240) for k in (4096, 10240) for n in (1, 16, 64, 256, 1024, 4096)] + [(8192, 8192, 8192)]
LINEAR = [(4096, 4096, 4096), (10240, 4096, 4096), (4096, 10240, 4096)]
# `torch_bench.py --tokens 16,64`: only CPM-2's igemm shapes with those n (any n), no linear layers unless
# `--linear` is given too (quick runs beside packages/kernels/test-gpu/bench-*.mjs).
if "--tokens" in sys.argv:
    only = {int(x) for x in sys.argv[sys.argv.index("--tokens") + 1].split(",")}
    SHAPES = [(m, k, n) for m in (4096, 10240) for k in (4096, 10240) for n in sorted(only)]
    if "--linear" not in sys.argv:  # `--linear` keeps the linear layers
        LINEAR = []


def warm_up_gpu(seconds=0.5):
    """Large float16 GEMMs for half a second, so that the first shapes are not timed while the GPU's clocks
    are still rising from idle; the bminf side (gpu-kernels.mjs) does the same before its first shape."""
    import time
    x = torch.randn((4096, 4096), dtype=torch.float16, device=dev)
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        for _ in range(10):
            torch.matmul(x, x)
        torch.cuda.synchronize()


def main():
    out = {"torch": torch.__version__, "device": torch.cuda.get_device_name(0), "igemm": [], "linear": []}
    warm_up_gpu()
    for m, k, n in SHAPES:
        # torch._int_mm needs more than 16 rows in A and multiples of 8 in k and m: pad n to 17.
        npad = max(n, 17)
        a = torch.randint(-127, 128, (npad, k), dtype=torch.int8, device=dev)
        w = torch.randint(-127, 128, (m, k), dtype=torch.int8, device=dev)
        wt = w.t()  # [k, m] column-major view: the "TN" layout cublasLt wants
        c = torch.empty((npad, m), dtype=torch.int32, device=dev)
        t_int = timed(lambda: torch._int_mm(a, wt, out=c))
        ah = torch.randn((n, k), dtype=torch.float16, device=dev)
        wh = torch.randn((m, k), dtype=torch.float16, device=dev)
        t_h = timed(lambda: torch.matmul(ah, wh.t()))
        out["igemm"].append({"m": m, "k": k, "n": n, "int_mm_s": t_int, "int_mm_rows": npad, "fp16_s": t_h})
        del a, w, wt, c, ah, wh
    for m, k, n in LINEAR:
        x = torch.randn((n, k), dtype=torch.float16, device=dev)
        w = torch.randn((m, k), dtype=torch.float16, device=dev)
        out["linear"].append({"m": m, "k": k, "n": n, "fp16_linear_s": timed(lambda: torch.nn.functional.linear(x, w))})
        del x, w
    nbytes = 256 << 20
    src = torch.empty(nbytes, dtype=torch.uint8, device=dev)
    dst = torch.empty_like(src)
    t = timed(lambda: dst.copy_(src))
    out["copy"] = {"bytes": nbytes, "s": t, "GBps": 2 * nbytes / t / 1e9}
    print(json.dumps(out))


main()
