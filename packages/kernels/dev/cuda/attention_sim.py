# dev only (numpy): a per-lane emulation of attention.cu's fragment and ldmatrix index math, with
# ldmatrix/mma semantics written from the PTX ISA, checked against a float64 reference. Run: python3 attention_sim.py
# Emulates attention.cu's index math per lane with ldmatrix/mma semantics taken from the PTX ISA, against numpy.
import numpy as np
rng = np.random.default_rng(1)
f16 = np.float16
def ldsm(smem, addrs, trans):  # addrs[lane] = element index of the row lane supplies
    regs = np.zeros((32, 4, 2), dtype=f16)
    for i in range(4):
        M = np.stack([smem[addrs[8*i+r]: addrs[8*i+r]+8] for r in range(8)])  # 8x8
        for l in range(32):
            g, t = l >> 2, l & 3
            regs[l, i] = (M[2*t, g], M[2*t+1, g]) if trans else (M[g, 2*t], M[g, 2*t+1])
    return regs
def mma(c, a, b):  # c [32,4] f32, a [32,4,2] f16, b [32,2,2] f16
    A = np.zeros((16, 16), np.float32); B = np.zeros((16, 8), np.float32)
    for l in range(32):
        g, t = l >> 2, l & 3
        for i in range(8):
            A[g + 8*((i >> 1) & 1), 2*t + (i & 1) + 8*(i >> 2)] = a[l, i >> 1, i & 1]
        for i in range(4):
            B[2*t + (i & 1) + 8*(i >> 1), g] = b[l, i >> 1, i & 1]
    C = A @ B
    out = c.copy()
    for l in range(32):
        g, t = l >> 2, l & 3
        for i in range(4):
            out[l, i] += C[g + 8*(i >> 1), 2*t + (i & 1)]
    return out

def kernel(q, k, v, bias, scale, causal, off, D):
    H, n, _ = q.shape; L = k.shape[1]
    STRIDE = D + 8; KC = D // 16; DT = D // 8
    qTiles = (n + 63) // 64
    out = np.zeros((n, H * D), np.float32)
    for bx in range(H * qTiles):
        h = bx // qTiles; qt = qTiles - 1 - bx % qTiles
        keyEnd = L if not causal else max(0, min(L, min(n, (qt+1)*64) - 1 + off + 1))
        kTiles = (keyEnd + 63) // 64
        for warp in range(4):
            lanes = np.arange(32); g = lanes >> 2; t = lanes & 3
            row0 = qt*64 + warp*16 + g
            qf = np.zeros((32, KC, 4, 2), f16)
            for c in range(KC):
                for r in range(2):
                    for l in range(32):
                        row = row0[l] + 8*r
                        if row < n:
                            qf[l, c, r] = q[h, row, c*16 + 2*t[l]: c*16 + 2*t[l] + 2]
                            qf[l, c, 2 + r] = q[h, row, c*16 + 2*t[l] + 8: c*16 + 2*t[l] + 10]
            o = np.zeros((32, DT, 4), np.float32); m = np.full((32, 2), -np.inf, np.float32); lsum = np.zeros((32, 2), np.float32)
            kAddr = ((lanes >> 4)*8 + (lanes & 7))*STRIDE + ((lanes >> 3) & 1)*8
            vAddr = (((lanes >> 3) & 1)*8 + (lanes & 7))*STRIDE + (lanes >> 4)*8
            for j in range(kTiles):
                k0 = j*64
                sK = np.zeros(64*STRIDE, f16); sV = np.zeros(64*STRIDE, f16)
                for row in range(64):
                    if k0 + row < keyEnd:
                        sK[row*STRIDE: row*STRIDE + D] = k[h, k0 + row]; sV[row*STRIDE: row*STRIDE + D] = v[h, k0 + row]
                    sK[row*STRIDE + D: row*STRIDE + STRIDE] = np.nan  # padding is never read
                    sV[row*STRIDE + D: row*STRIDE + STRIDE] = np.nan
                s = np.zeros((32, 8, 4), np.float32)
                for c in range(KC):
                    for p in range(4):
                        b = ldsm(sK, kAddr + p*16*STRIDE + c*16, False)
                        s[:, 2*p] = mma(s[:, 2*p], qf[:, c], b[:, 0:2]); s[:, 2*p+1] = mma(s[:, 2*p+1], qf[:, c], b[:, 2:4])
                for r in range(2):
                    alpha = np.zeros(32, np.float32)
                    mx = np.full(32, -np.inf, np.float32)
                    for l in range(32):
                        row = row0[l] + 8*r
                        lim = min(L, row + off + 1) if causal else L
                        vis = lim - k0 - 2*t[l]; left = (L - k0 - 2*t[l]) if (bias is not None and row < n) else 0
                        for nt in range(8):
                            for e in range(2):
                                x = s[l, nt, 2*r+e] * np.float32(scale)
                                if bias is not None: x += np.float32(bias[h, row, k0 + nt*8 + 2*t[l] + e]) if nt*8+e < left else 0
                                s[l, nt, 2*r+e] = x if nt*8 + e < vis else -np.inf
                                mx[l] = max(mx[l], s[l, nt, 2*r+e])
                    mxq = mx.reshape(8, 4).max(1).repeat(4)
                    for l in range(32):
                        mNew = max(m[l, r], mxq[l]); mUse = 0 if mNew == -np.inf else mNew
                        alpha = np.exp(m[l, r] - mUse); m[l, r] = mNew
                        p = np.exp(s[l, :, 2*r:2*r+2] - mUse); s[l, :, 2*r:2*r+2] = p
                        lsum[l, r] = lsum[l, r]*alpha + p.sum(); o[l, :, 2*r:2*r+2] *= alpha
                for c in range(4):
                    pa = np.zeros((32, 4, 2), f16)
                    pa[:, 0] = s[:, 2*c, 0:2]; pa[:, 1] = s[:, 2*c, 2:4]; pa[:, 2] = s[:, 2*c+1, 0:2]; pa[:, 3] = s[:, 2*c+1, 2:4]
                    for p in range(DT // 2):
                        b = ldsm(sV, vAddr + c*16*STRIDE + p*16, True)
                        o[:, 2*p] = mma(o[:, 2*p], pa, b[:, 0:2]); o[:, 2*p+1] = mma(o[:, 2*p+1], pa, b[:, 2:4])
            for r in range(2):
                tot = lsum[:, r].reshape(8, 4).sum(1).repeat(4)
                for l in range(32):
                    row = row0[l] + 8*r
                    if row >= n: continue
                    inv = 1/tot[l] if tot[l] > 0 else 0
                    for d in range(DT):
                        out[row, h*D + d*8 + 2*t[l]: h*D + d*8 + 2*t[l] + 2] = o[l, d, 2*r:2*r+2] * inv
    return out

def ref(q, k, v, bias, scale, causal, off):
    H, n, D = q.shape; L = k.shape[1]
    s = np.einsum('hnd,hld->hnl', q.astype(np.float64), k.astype(np.float64)) * scale
    if bias is not None: s = s + bias
    if causal: s = np.where(np.arange(L)[None, None] > np.arange(n)[None, :, None] + off, -np.inf, s)
    mx = s.max(-1, keepdims=True); mxs = np.where(np.isinf(mx), 0, mx)
    p = np.exp(s - mxs); den = p.sum(-1, keepdims=True); p = np.where(den > 0, p / np.where(den > 0, den, 1), 0)
    o = np.einsum('hnl,hld->hnd', p, v.astype(np.float64))
    return o.transpose(1, 0, 2).reshape(n, H*D)

for (H, n, L, D, causal, off, hasBias) in [(2, 70, 100, 80, False, 0, True), (1, 5, 130, 64, True, 60, False), (1, 65, 65, 128, True, 0, True), (1, 3, 10, 64, True, -2, False), (1, 1, 1, 64, False, 0, True)]:
    q = rng.standard_normal((H, n, D)).astype(f16); k = rng.standard_normal((H, L, D)).astype(f16); v = rng.standard_normal((H, L, D)).astype(f16)
    bias = rng.standard_normal((H, n, L)).astype(f16) if hasBias else None
    got = kernel(q, k, v, bias, 0.125, causal, off, D); want = ref(q, k, v, bias, 0.125, causal, off)
    print(H, n, L, D, causal, off, hasBias, 'max err', np.abs(got - want).max(), 'scale', np.abs(want).max(), 'nan', np.isnan(got).any())
