#!/usr/bin/env python3
"""Probe (GPU machine): does this cublasLt run int8 x int8 products with float16 / float32 output and
per-row / per-column ("outer vector") scales, i.e. the int8 linear layer's dequantize fused into the
GEMM? Reads the enum values from the installed cublasLt.h, asks cublasLt's heuristic for each
combination, runs what it offers and compares with PyTorch. Prints one line per combination."""
import ctypes as C
import re
import sys

import torch

hdr = open("/usr/local/cuda/include/cublasLt.h").read() + open("/usr/local/cuda/include/library_types.h").read()
hdr += open("/usr/local/cuda/include/cublas_api.h").read()


def enum(name):
    m = re.search(r"\b" + name + r"\s*=\s*(-?\d+)", hdr)
    if not m:
        raise SystemExit(f"{name} not in the headers")
    return int(m.group(1))


lt = C.CDLL("libcublasLt.so.13")
print("cublasLt", lt.cublasLtGetVersion())
V = C.c_void_p
h = V()
assert lt.cublasLtCreate(C.byref(h)) == 0
R8I, R32I, R16F, R32F = enum("CUDA_R_8I"), enum("CUDA_R_32I"), enum("CUDA_R_16F"), enum("CUDA_R_32F")
C32I = enum("CUBLAS_COMPUTE_32I")
TRANSA = enum("CUBLASLT_MATMUL_DESC_TRANSA")
A_SCALE_PTR, B_SCALE_PTR = enum("CUBLASLT_MATMUL_DESC_A_SCALE_POINTER"), enum("CUBLASLT_MATMUL_DESC_B_SCALE_POINTER")
try:
    A_MODE, B_MODE = enum("CUBLASLT_MATMUL_DESC_A_SCALE_MODE"), enum("CUBLASLT_MATMUL_DESC_B_SCALE_MODE")
    OUTER = enum("CUBLASLT_MATMUL_MATRIX_SCALE_OUTER_VEC_32F")
except SystemExit as e:
    A_MODE = None
    print("no scale modes:", e)
POINTER_MODE = enum("CUBLASLT_MATMUL_DESC_POINTER_MODE")
PM_VEC = enum("CUBLASLT_POINTER_MODE_ALPHA_DEVICE_VECTOR_BETA_ZERO")
WS = enum("CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES")


class Heur(C.Structure):
    _fields_ = [("algo", C.c_uint64 * 8), ("ws", C.c_size_t), ("state", C.c_int), ("waves", C.c_float), ("r", C.c_int * 4)]


def attr(desc, a, value, ctype):
    v = ctype(value)
    return lt.cublasLtMatmulDescSetAttribute(desc, a, C.byref(v), C.sizeof(v))


def layout(t, rows, cols, ld):
    l = V()
    assert lt.cublasLtMatrixLayoutCreate(C.byref(l), t, C.c_uint64(rows), C.c_uint64(cols), C.c_int64(ld)) == 0
    return l


M, N, K = 4096, 4096, 4096  # cublasLt column-major: D (m x n) = op(A) (m x k, stored k x m, T) * B (k x n)
dev = torch.device("cuda")
a = torch.randint(-127, 128, (M, K), dtype=torch.int8, device=dev)  # weight rows, K-major
b = torch.randint(-127, 128, (N, K), dtype=torch.int8, device=dev)  # tokens, K-major
sa = torch.rand(M, device=dev) * 0.01
sb = torch.rand(N, device=dev) * 0.01
ref = (a.float() @ b.float().t()) * sa[:, None] * sb[None, :]  # [M, N]
ws = torch.empty(32 << 20, dtype=torch.uint8, device=dev)
pref = V()
lt.cublasLtMatmulPreferenceCreate(C.byref(pref))
wsb = C.c_uint64(32 << 20)
lt.cublasLtMatmulPreferenceSetAttribute(pref, WS, C.byref(wsb), 8)

for name, dtype, scale_type, mode in [
    ("int32 out (baseline)", R32I, R32I, None),
    ("fp16 out, scalar", R16F, R32F, None),
    ("fp32 out, scalar", R32F, R32F, None),
    ("int8 out, alpha vector", R8I, R32F, "vec"),
    ("fp16 out, alpha vector", R16F, R32F, "vec"),
    ("fp16 out, outer-vector A/B scales", R16F, R32F, "outer"),
    ("fp32 out, outer-vector A/B scales", R32F, R32F, "outer"),
]:
    desc = V()
    st = lt.cublasLtMatmulDescCreate(C.byref(desc), C32I, scale_type)
    attr(desc, TRANSA, 1, C.c_int32)
    if mode == "outer":
        if A_MODE is None:
            print(f"{name}: no scale-mode attributes in this cublasLt")
            continue
        s1 = attr(desc, A_MODE, OUTER, C.c_int32)
        s2 = attr(desc, B_MODE, OUTER, C.c_int32)
        s3 = attr(desc, A_SCALE_PTR, sa.data_ptr(), C.c_void_p)
        s4 = attr(desc, B_SCALE_PTR, sb.data_ptr(), C.c_void_p)
        if s1 or s2 or s3 or s4:
            print(f"{name}: setting the scale attributes failed ({s1} {s2} {s3} {s4})")
            continue
    if mode == "vec":
        attr(desc, POINTER_MODE, PM_VEC, C.c_int32)
    la, lb, ld = layout(R8I, K, M, K), layout(R8I, K, N, K), layout(dtype, M, N, M)
    res = (Heur * 8)()
    cnt = C.c_int(0)
    st = lt.cublasLtMatmulAlgoGetHeuristic(h, desc, la, lb, ld, ld, pref, 8, res, C.byref(cnt))
    if st != 0 or cnt.value == 0:
        print(f"{name}: heuristic status {st}, {cnt.value} algorithms")
        continue
    tdt = {R32I: torch.int32, R16F: torch.float16, R32F: torch.float32, R8I: torch.int8}[dtype]
    d = torch.zeros((N, M), dtype=tdt, device=dev)  # column-major M x N
    alpha_vec = sa.clone()
    if mode == "vec":
        alpha = C.c_void_p(alpha_vec.data_ptr())
        alpha_p = alpha
        beta = C.c_float(0)
    elif scale_type == R32I:
        alpha = C.c_int32(1); alpha_p = C.byref(alpha); beta = C.c_int32(0)
    else:
        alpha = C.c_float(1.0); alpha_p = C.byref(alpha); beta = C.c_float(0)
    fn = lambda: lt.cublasLtMatmul(h, desc, alpha_p, V(a.data_ptr()), la, V(b.data_ptr()), lb, C.byref(beta), V(d.data_ptr()), ld,
                                   V(d.data_ptr()), ld, C.byref(res[0].algo), V(ws.data_ptr()), C.c_size_t(32 << 20), V(torch.cuda.current_stream().cuda_stream))
    st = fn()
    torch.cuda.synchronize()
    if st != 0:
        print(f"{name}: {cnt.value} algorithms, cublasLtMatmul status {st}")
        continue
    got = d.t().float()
    want = ref if mode == "outer" else (ref / sa[:, None] / sb[None, :] if mode is None else ref / sb[None, :])
    err = ((got - want).abs().max() / want.abs().max()).item()
    e0, e1 = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    for _ in range(5):
        fn()
    e0.record()
    for _ in range(50):
        fn()
    e1.record()
    e1.synchronize()
    us = e0.elapsed_time(e1) * 1000 / 50
    print(f"{name}: {cnt.value} algorithms, max rel error {err:.2e}, {us:.1f} us ({2*M*N*K/us/1e6:.0f} TOPS)")
