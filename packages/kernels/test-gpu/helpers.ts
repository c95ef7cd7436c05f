// Shared by the GPU tests: random inputs (seeded, fresh per call), uploads to both backends, and
// comparisons with dtype-appropriate tolerances.
import { type Backend, type DType, type HostArray, type Tensor, fromFloat16Array, toFloat16Array } from '@bminf/core';
import { loadNativeCuda } from '@bminf/cuda-binding';
import type { RoutePolicy } from '@bminf/kernels';
import { beforeEach } from 'vitest';

/**
 * The seed of this file's random inputs: BMINF_TEST_SEED when set (to replay a failure), else fresh.
 * A failing test prints it; running the same file again with BMINF_TEST_SEED=<seed> draws the same inputs.
 */
export const seedUsed = testSeed();
let seed = seedUsed;

function testSeed(): number {
  const v = process.env.BMINF_TEST_SEED;
  if (v === undefined || v === '') return (Date.now() ^ 0x5bd1e995) >>> 0;
  if (!/^\d+$/.test(v) || Number(v) > 0xffffffff) throw new Error(`BMINF_TEST_SEED must be an integer in [0, 2^32), but is "${v}".`);
  return Number(v);
}

beforeEach((ctx) => {
  ctx.onTestFailed(() => console.log(`[gpu tests] "${ctx.task.name}" failed with random seed ${seedUsed}: rerun the file with BMINF_TEST_SEED=${seedUsed} to replay it.`));
});

export function random(): number {
  seed = (seed + 0x6d2b79f5) >>> 0;
  let t = seed;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}

export function randn(n: number, scale = 1): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = (random() * 2 - 1 + (random() * 2 - 1)) * scale;
  return out;
}

export function randInt8(n: number): Int8Array {
  const out = new Int8Array(n);
  for (let i = 0; i < n; i++) out[i] = Math.floor(random() * 256) - 128;
  return out;
}

/** Host data of a float dtype (float16 as bits). */
export function hostData(values: Float32Array, dtype: DType): HostArray {
  return dtype === 'float16' ? toFloat16Array(values) : values;
}

/** n random float16 values (as bits), uniform-ish in (-2 scale, 2 scale). */
export function f16(n: number, scale = 1): HostArray {
  return hostData(randn(n, scale), 'float16');
}

/** n float16 values (as bits) uniform in [lo, lo + span): weight scales, norm weights. */
export function positiveF16(n: number, lo: number, span: number): HostArray {
  return hostData(Float32Array.from({ length: n }, () => lo + random() * span), 'float16');
}

/** Runs fn with the backend's routes changed, then puts them back. */
export function withRoutes<T>(backend: { routes: RoutePolicy }, change: Partial<RoutePolicy>, fn: () => T): T {
  const saved = { ...backend.routes };
  Object.assign(backend.routes, change);
  try {
    return fn();
  } finally {
    Object.assign(backend.routes, saved);
  }
}

/** Uploads the same data to both backends. */
export function both(cpu: Backend, gpu: Backend, data: HostArray, shape: number[]): [Tensor, Tensor] {
  return [cpu.upload(data, shape), gpu.upload(data, shape)];
}

export function asFloat(a: HostArray): Float32Array {
  return a instanceof Uint16Array ? fromFloat16Array(a) : Float32Array.from(a as ArrayLike<number>);
}

/** max |a - b| / max(max |b|, 1e-6): an error relative to the size of the reference. */
export function relErr(a: HostArray, b: HostArray): number {
  const x = asFloat(a);
  const y = asFloat(b);
  if (x.length !== y.length) throw new Error(`lengths differ: ${x.length} and ${y.length}`);
  let num = 0;
  let den = 1e-6;
  for (let i = 0; i < x.length; i++) {
    if (Number.isNaN(x[i]) !== Number.isNaN(y[i])) return Number.POSITIVE_INFINITY;
    num = Math.max(num, Math.abs(x[i] - y[i]));
    den = Math.max(den, Math.abs(y[i]));
  }
  return num / den;
}

/** Where a and b differ most, for a failure message: index, both values (and the input there), the reference's size. */
export function worstDifference(a: HostArray, b: HostArray, input?: HostArray): string {
  const x = asFloat(a);
  const y = asFloat(b);
  let at = -1;
  let worst = -1;
  let big = 0;
  for (let i = 0; i < Math.min(x.length, y.length); i++) {
    const d = Math.abs(x[i] - y[i]);
    if (!(d <= worst)) [worst, at] = [d, i];
    big = Math.max(big, Math.abs(y[i]));
  }
  const from = input ? ` from ${asFloat(input)[at]}` : '';
  return `largest difference at ${at} of ${y.length}: ${x[at]} vs ${y[at]}${from} (largest |reference| ${big})`;
}

/** Tolerances for results rounded to the dtype, relative to the largest reference value. */
export const TOL: Record<'float16' | 'float32', number> = { float16: 4e-3, float32: 2e-5 };

export function firstDifference(a: HostArray, b: HostArray): string {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return `first difference at ${i}: ${a[i]} vs ${b[i]}`;
  return a.length === b.length ? 'identical' : `lengths ${a.length} and ${b.length}`;
}

/**
 * A memory limit for a test's own backend: `want` bytes, or a quarter of what is free now if that is
 * less. GPU test files may run at the same time (the model tests take the default reservation, which
 * leaves at least 2 GiB free), so these stay small: 512 MiB at most.
 */
export function testMemoryLimit(want: number): number {
  const free = loadNativeCuda()?.memInfo().free ?? want;
  return Math.max(64 * 2 ** 20, Math.min(want, Math.floor(free / 4)));
}

/**
 * A JS object the addon did not make, passed where one of its handles (region, kernel, map) is expected:
 * the tests check that the addon refuses it with a TypeError instead of reading it.
 */
export function foreignHandle<T>(): T {
  return {} as unknown as T;
}
