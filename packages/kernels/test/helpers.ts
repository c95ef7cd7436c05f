// Shared test helpers: seeded random data, tensors from numbers, and comparisons with tolerances.
import { type DType, type Tensor, fromFloat16Array, toFloat16Array } from '@bminf/core';
import { expect } from 'vitest';
import { CpuBackend, type CpuIsa, createCpuBackend } from '@bminf/kernels';

export const backend: CpuBackend = createCpuBackend();

/** Every kernel path this machine can run (plain first); tests of the CPU ops check each one. */
export const ISAS: readonly CpuIsa[] = CpuBackend.kernelInfo().isas;

/** Runs fn on every path this machine has, then restores the default path. */
export function onEveryIsa(fn: (isa: CpuIsa) => void): void {
  try {
    for (const isa of ISAS) {
      CpuBackend.setIsa(isa);
      expect(CpuBackend.kernelInfo().isa).toBe(isa);
      fn(isa);
    }
  } finally {
    CpuBackend.setIsa(null);
  }
}

/**
 * Runs use fixed inputs so that failures reproduce; BMINF_TEST_SEED=<n> draws other ones (the
 * tolerances are meant to hold for any inputs: try a few seeds after changing a kernel).
 */
export const SEED_BASE = Number(process.env.BMINF_TEST_SEED ?? 0) >>> 0;

/** A small deterministic generator (mulberry32), seeded per test and by SEED_BASE. */
export function rng(seed: number): () => number {
  let a = (seed ^ Math.imul(SEED_BASE, 0x9e3779b1)) >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** n values uniform in [-scale, scale), rounded to what `dtype` can hold. */
export function randomValues(r: () => number, n: number, dtype: 'float16' | 'float32' = 'float32', scale = 1): number[] {
  const v = Array.from({ length: n }, () => (r() * 2 - 1) * scale);
  return dtype === 'float16' ? Array.from(fromFloat16Array(toFloat16Array(v))) : Array.from(Float32Array.from(v));
}

export function randomInt8(r: () => number, n: number): Int8Array {
  return Int8Array.from({ length: n }, () => Math.floor(r() * 256) - 128);
}

export function tensorOf(values: ArrayLike<number>, shape: number[], dtype: 'float16' | 'float32'): Tensor {
  return backend.upload(dtype === 'float16' ? toFloat16Array(values) : Float32Array.from(values), shape);
}

/** A tensor's values as numbers (float16 decoded). */
export function valuesOf(t: Tensor): number[] {
  const d = backend.download(t);
  return Array.from(d instanceof Uint16Array ? fromFloat16Array(d) : d);
}

export function tolerance(dtype: DType): { rel: number; abs: number } {
  return dtype === 'float16' ? { rel: 2e-3, abs: 2e-3 } : { rel: 1e-5, abs: 1e-5 };
}

/** Every |got - want| <= abs + rel·|want|; reports the first element that is off. */
export function expectClose(got: ArrayLike<number>, want: ArrayLike<number>, tol: { rel: number; abs: number }, what = ''): void {
  expect(got.length, `${what} length`).toBe(want.length);
  for (let i = 0; i < want.length; i++) {
    const err = Math.abs(got[i] - want[i]);
    if (!(err <= tol.abs + tol.rel * Math.abs(want[i]))) {
      expect.fail(`${what} element ${i}: got ${got[i]}, want ${want[i]} (error ${err}; BMINF_TEST_SEED=${SEED_BASE})`);
    }
  }
}
