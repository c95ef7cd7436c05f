// float16 <-> float32 conversion in native code (F16C on the AVX2 path, the portable converter on the
// plain one) against core's converter: every half value, and float32 values around every rounding case.
import { float16BitsToFloat32, float32ToFloat16Bits } from '@bminf/core';
import { afterEach, describe, expect, it } from 'vitest';
import { CpuBackend } from '@bminf/kernels';
import { backend, rng } from './helpers.js';

afterEach(() => CpuBackend.setPlainKernels(false));

const isNaNHalf = (h: number) => (h & 0x7c00) === 0x7c00 && (h & 0x3ff) !== 0;

describe.each([false, true])('conversions (plain kernels: %s)', (plain) => {
  it('widens every float16 value exactly', () => {
    CpuBackend.setPlainKernels(plain);
    const all = Uint16Array.from({ length: 65536 }, (_, i) => i);
    const f = backend.download(backend.cast(backend.upload(all, [65536]), 'float32')) as Float32Array;
    for (let i = 0; i < 65536; i++) {
      if (isNaNHalf(i)) expect(Number.isNaN(f[i])).toBe(true);
      else if (f[i] !== float16BitsToFloat32(i) || Object.is(f[i], -0) !== Object.is(float16BitsToFloat32(i), -0)) expect.fail(`half 0x${i.toString(16)}: got ${f[i]}`);
    }
  });

  it('narrows float32 with round-to-nearest-even, subnormals, overflow and ties included', () => {
    CpuBackend.setPlainKernels(plain);
    const r = rng(31);
    const values: number[] = [0, -0, 65504, 65519.99, 65520, -65520, 1e-8, -1e-8, 2 ** -24, 2 ** -25, 3 * 2 ** -26, 2 ** -14, Infinity, -Infinity];
    // Midpoints between neighbouring halves (ties) and a hair either side of them, across the range.
    for (let i = 0; i < 20000; i++) {
      const h = Math.floor(r() * 0x7bff);
      const lo = float16BitsToFloat32(h);
      const hi = float16BitsToFloat32(h + 1);
      const mid = (lo + hi) / 2;
      const sign = r() < 0.5 ? -1 : 1;
      values.push(sign * mid, sign * Math.fround(mid * (1 + 2 ** -20)), sign * Math.fround(mid * (1 - 2 ** -20)), sign * (r() * 70000));
    }
    const f32 = Float32Array.from(values);
    const h = backend.download(backend.cast(backend.upload(f32, [f32.length]), 'float16')) as Uint16Array;
    for (let i = 0; i < f32.length; i++) {
      const want = float32ToFloat16Bits(f32[i]);
      if (h[i] !== want) expect.fail(`${f32[i]}: got 0x${h[i].toString(16)}, want 0x${want.toString(16)}`);
    }
  });
});
