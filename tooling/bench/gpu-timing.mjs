// Shared by the GPU benchmarks (tooling/bench/suites/gpu-kernels.mjs and the quick scripts in
// packages/kernels/test-gpu/): CUDA-event timing, the deterministic inputs, and the PyTorch side.
import { execFileSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const torchBench = join(dirname(fileURLToPath(import.meta.url)), 'torch_bench.py');

/**
 * Seconds per call of fn (`s`: median of 5 event-timed runs of back-to-back calls, after at least
 * 20 ms of warm-up so clocks and caches settle) and the host's time to issue one call (`host`, measured
 * without waiting). n is the addon's CUDA binding. syncEachRun waits for the GPU before each run, so a
 * run starts on an empty queue (the quick scripts do; the suite lets runs follow each other).
 */
export function eventTimed(n, fn, { targetS = 0.05, syncEachRun = false } = {}) {
  const e0 = n.eventCreate();
  const e1 = n.eventCreate();
  const w0 = performance.now();
  do {
    for (let i = 0; i < 3; i++) fn();
    n.synchronize();
  } while (performance.now() - w0 < 20);
  n.eventRecord(e0);
  for (let i = 0; i < 3; i++) fn();
  n.eventRecord(e1);
  const est = n.eventElapsed(e0, e1) / 1000 / 3;
  const iters = Math.max(10, Math.min(2000, Math.floor(targetS / Math.max(est, 1e-7))));
  const runs = [];
  const hosts = [];
  for (let r = 0; r < 5; r++) {
    if (syncEachRun) n.synchronize();
    const h0 = performance.now();
    n.eventRecord(e0);
    for (let i = 0; i < iters; i++) fn();
    n.eventRecord(e1);
    hosts.push((performance.now() - h0) / 1000 / iters);
    runs.push(n.eventElapsed(e0, e1) / 1000 / iters);
  }
  runs.sort((a, b) => a - b);
  hosts.sort((a, b) => a - b);
  return { s: runs[2], host: hosts[2] };
}

/** Deterministic int8 values in [-127, 127]. */
export function randBytes(len, seed = 12345) {
  const a = new Int8Array(len);
  let s = seed;
  for (let i = 0; i < len; i++) {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    a[i] = ((s >>> 16) % 255) - 127;
  }
  return a;
}

/** Deterministic float16 bits of values of magnitude 0.25 to 2 (random sign and mantissa, exponents 13 to 15). */
export function randHalf(len, seed = 777) {
  const a = new Uint16Array(len);
  let s = seed;
  for (let i = 0; i < len; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    const e = 13 + ((s >>> 8) % 3);
    a[i] = ((s & 1) << 15) | (e << 10) | ((s >>> 12) & 0x3ff);
  }
  return a;
}

/** Runs tooling/bench/torch_bench.py with args and returns its JSON, or { error } when it fails. */
export function runTorchBench(args = []) {
  try {
    const out = execFileSync('python3', [torchBench, ...args], { encoding: 'utf8', maxBuffer: 1 << 26, stdio: ['ignore', 'pipe', 'inherit'] });
    return JSON.parse(out.trim().split('\n').pop());
  } catch (e) {
    return { error: `torch_bench.py failed: ${e.message}` };
  }
}
