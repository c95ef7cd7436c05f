import { describe, expect, it } from 'vitest';
import {
  DisposedError,
  HostStorage,
  InvalidArgumentError,
  ShapeMismatchError,
  Tensor,
  float16BitsToFloat32,
  float32ToFloat16Bits,
  keep,
  parseModelDType,
  tidy,
} from '../src/index.js';

function make(shape: number[]): Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  return new Tensor({ storage: new HostStorage(new ArrayBuffer(n * 4)), dtype: 'float32', shape });
}

describe('Tensor views', () => {
  it('narrow, permute and select compute strides and offsets', () => {
    const t = make([2, 3, 4]);
    expect(t.strides).toEqual([12, 4, 1]);
    const n = t.narrow(1, 1, 2);
    expect(n.shape).toEqual([2, 2, 4]);
    expect(n.offset).toBe(4);
    expect(n.isContiguous()).toBe(false);
    const p = t.permute([1, 0, 2]);
    expect(p.shape).toEqual([3, 2, 4]);
    expect(p.strides).toEqual([4, 12, 1]);
    const s = t.select(0, 1);
    expect(s.shape).toEqual([3, 4]);
    expect(s.offset).toBe(12);
    expect(t.reshape([6, -1]).shape).toEqual([6, 4]);
  });

  it('rejects bad views with typed errors', () => {
    const t = make([2, 3]);
    expect(() => t.narrow(1, 2, 2)).toThrow(InvalidArgumentError);
    expect(() => t.reshape([4, 2])).toThrow(ShapeMismatchError);
    expect(() => t.transpose().reshape([6])).toThrow(/non-contiguous/);
    expect(() => t.permute([0, 0])).toThrow(/permutation/);
    expect(() => new Tensor({ storage: new HostStorage(new ArrayBuffer(8)), dtype: 'float32', shape: [3] })).toThrow(/beyond its storage/);
  });

  it('frees the storage when the last tensor over it is disposed', () => {
    const t = make([4]);
    const v = t.narrow(0, 1, 2);
    t.dispose();
    expect(t.disposed).toBe(true);
    expect(v.disposed).toBe(false);
    expect(() => t.assertAlive()).toThrow(DisposedError);
    v.dispose();
    expect(v.storage.disposed).toBe(true);
  });

  it('tidy disposes temporaries and keeps what is returned, views included', () => {
    let temp!: Tensor;
    let kept!: Tensor;
    const view = tidy(() => {
      temp = make([3]);
      const owner = make([2, 2]);
      kept = keep(make([1]));
      return owner.reshape([4]);
    });
    expect(temp.disposed).toBe(true);
    expect(kept.disposed).toBe(false);
    expect(view.disposed).toBe(false);
    view.dispose();
    expect(view.storage.disposed).toBe(true);
  });

  it('tidy disposes everything when the function throws', () => {
    let temp!: Tensor;
    expect(() =>
      tidy(() => {
        temp = make([3]);
        throw new Error('boom');
      }),
    ).toThrow('boom');
    expect(temp.disposed).toBe(true);
  });
});

describe('float16', () => {
  it('rounds to nearest even and round-trips every half value', () => {
    for (let h = 0; h < 0x10000; h++) {
      const f = float16BitsToFloat32(h);
      if (Number.isNaN(f)) continue;
      expect(float32ToFloat16Bits(f)).toBe(h);
    }
    expect(float32ToFloat16Bits(1 + 2 ** -11)).toBe(0x3c00); // tie -> even
    expect(float32ToFloat16Bits(1 + 3 * 2 ** -11)).toBe(0x3c02); // tie -> even (up)
    expect(float32ToFloat16Bits(65520)).toBe(0x7c00); // overflow to inf
    expect(float32ToFloat16Bits(2 ** -25)).toBe(0); // tie at the smallest subnormal -> zero
  });
});

describe('dtype parsing', () => {
  it('names the allowed values', () => {
    expect(parseModelDType('int8')).toBe('int8');
    expect(() => parseModelDType('int4')).toThrow(/Unknown dtype "int4".*fp32, fp16, int8/);
  });
});
