// Dev: does cublasLt's int8 GEMM touch memory past its operands? For gpu-e2e's fault (NOTES.md): a
// 32 x 4096 x 10240 product faulted in one candidate's first run when its operands sat near the end of
// their allocation. Every candidate igemm plans for the shape runs (heuristic, search, timing).
//   node tooling/bench/dev/igemm-overrun.mjs a|c|canary [rows] [k]
// a: the activations end exactly where their allocation ends, and the allocation after it is freed first,
//    so that reading past them faults; c: the same for the int32 product; canary: the product is followed
//    by 8 MiB of 0x5a bytes of its own allocation, and the bytes changed past its end are counted.
// Modes a and c now end in the addon's refusal: igemmFast demands that A's and C's region go on for
// LtSlackBytes after them (blaslt.cc), so that no JS caller can place them where the fault struck.
import { createCudaBackend } from '@bminf/kernels';

const mode = process.argv[2] ?? 'canary';
const rows = Number(process.argv[3] ?? 32);
const k = Number(process.argv[4] ?? 10240);
const n = 4096;
const b = createCudaBackend();
const nat = b.nativeCuda;
const MiB2 = 2 * 2 ** 20;
const up = (x) => Math.ceil(x / MiB2) * MiB2;

const aBytes = rows * k;
const cBytes = rows * n * 4;
const w = nat.reserve(up(n * k));
nat.fill(w, 0, n * k, 3);
/** A region of `bytes` (a 2 MiB multiple) whose following allocation is freed, so its end is likely unmapped. */
function atEnd(bytes) {
  const size = up(bytes);
  const r = nat.reserve(size);
  const after = nat.reserve(64 * MiB2);
  nat.release(after);
  return { region: r, offset: size - bytes };
}
let a = { region: nat.reserve(up(aBytes) + 8 * MiB2), offset: 0 };
let c = { region: nat.reserve(up(cBytes) + 8 * MiB2), offset: 0 };
if (mode === 'a') a = atEnd(aBytes);
if (mode === 'c') c = atEnd(cBytes);
nat.fill(a.region, a.offset, aBytes, 1);
const canary = 8 * 2 ** 20;
if (mode === 'canary') nat.fill(c.region, cBytes, canary, 0x5a);
try {
  nat.igemmFast(a.region, a.offset, w, 0, c.region, c.offset, rows, n, k);
  nat.synchronize();
  console.log(`igemm-overrun ${mode} rows ${rows} k ${k}: ran`);
  if (mode === 'canary') {
    const host = new Uint8Array(canary);
    nat.download(c.region, cBytes, canary, host);
    let changed = 0;
    let last = -1;
    for (let i = 0; i < host.length; i++) {
      if (host[i] === 0x5a) continue;
      changed++;
      last = i;
    }
    console.log(`igemm-overrun canary: ${changed} bytes past the product changed (the last ${last + 1} bytes past its end)`);
  }
} catch (e) {
  console.log(`igemm-overrun ${mode} rows ${rows} k ${k}: FAILED: ${e.message}`);
}
