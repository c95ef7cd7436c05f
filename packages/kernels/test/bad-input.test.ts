// Bad input: typed errors from the backend, and TypeError/RangeError (never a crash) from the native
// functions called directly with arrays that are too short or arguments of the wrong kind.
import {
  BackendUnavailableError,
  DisposedError,
  DTypeMismatchError,
  InvalidArgumentError,
  ShapeMismatchError,
} from '@bminf/core';
import { describe, expect, it } from 'vitest';
import { createCpuBackend, cudaAvailability, getBackend, nativeCpu as N } from '@bminf/kernels';
import { backend } from './helpers.js';

const f32 = (shape: number[]) => backend.zeros(shape, 'float32');
const f16 = (shape: number[]) => backend.zeros(shape, 'float16');

describe('backend argument checks', () => {
  it('rejects mixed dtypes', () => {
    expect(() => backend.add(f32([2]), f16([2]))).toThrow(DTypeMismatchError);
    expect(() => backend.gemm(f32([2, 2]), f16([2, 2]))).toThrow(/share a dtype/);
    expect(() => backend.igemm(f32([2, 2]), f32([2, 2]))).toThrow(/expected int8 but received float32/);
    expect(() => backend.quantizeRows(backend.zeros([2, 2], 'int32'))).toThrow(DTypeMismatchError);
    expect(() => backend.dequantize(backend.zeros([1, 2], 'int32'), f32([1]), f16([2]), { dtype: 'float16' })).toThrow(/rowScale|float16/);
    expect(() => backend.layerNorm(f16([2, 4]), f32([4]), null, { eps: 1e-5, subtractMean: true })).toThrow(DTypeMismatchError);
    expect(() => backend.embedding(f32([2]), f32([4, 3]))).toThrow(/expected int32/);
  });

  it('rejects shapes that do not fit', () => {
    expect(() => backend.gemm(f32([2, 3]), f32([2, 3]))).toThrow(ShapeMismatchError);
    expect(() => backend.gemm(f32([2, 3]), f32([2, 3]))).toThrow(/inner dimensions differ/);
    expect(() => backend.gemm(f32([2, 2, 3]), f32([3, 3, 2]))).toThrow(/batch size/);
    const i8 = (s: number[]) => backend.zeros(s, 'int8');
    expect(() => backend.igemm(i8([2, 3]), i8([4, 5]))).toThrow(/agree in k/);
    expect(() => backend.add(f32([2, 3]), f32([2]))).toThrow(/cannot broadcast \[2\] over \[2, 3\]/);
    expect(() => backend.layerNorm(f32([2, 4]), f32([5]), null, { eps: 1e-5, subtractMean: true })).toThrow(/weight must have shape \[4\]/);
    expect(() => backend.softmax(f32([2, 3]), { bias: f32([3, 2]) })).toThrow(/bias must have/);
    expect(() => backend.softmax(f32([4, 2, 3]), { bias: f32([3]) })).toThrow(/bias must have x's shape \[4, 2, 3\] or \[2, 3\]/);
    expect(() => backend.copy(f32([2, 3]), f32([3, 2]))).toThrow(ShapeMismatchError);
    expect(() => backend.upload(new Float32Array(5), [2, 3])).toThrow(/5 elements cannot fill shape \[2, 3\]/);
    expect(() => backend.dequantize(backend.zeros([2, 3], 'int32'), f16([3]), f16([3]), { dtype: 'float32' })).toThrow(/rowScale must have shape \[2\]/);
  });

  it('rejects disposed tensors', () => {
    const a = f32([2, 2]);
    a.dispose();
    expect(() => backend.gelu(a)).toThrow(DisposedError);
    expect(() => backend.gemm(f32([2, 2]), a)).toThrow(/used after dispose/);
    expect(() => backend.download(a)).toThrow(DisposedError);
  });

  it('rejects ids out of range, naming the id and its position', () => {
    const table = f32([10, 4]);
    expect(() => backend.embedding(backend.upload(Int32Array.of(1, 10), [2]), table)).toThrow(InvalidArgumentError);
    expect(() => backend.embedding(backend.upload(Int32Array.of(1, 2, -1), [3]), table)).toThrow(/id -1 \(at position 2\) is out of range for a table of 10 rows/);
  });

  it('rejects bad options', () => {
    expect(() => backend.gemm(f32([2, 2]), f32([2, 2]), { alpha: Number.NaN })).toThrow(/alpha must be a finite number/);
    expect(() => backend.softmax(f32([2, 2]), { causalOffset: 0.5 })).toThrow(/causalOffset must be an integer/);
    expect(() => backend.layerNorm(f32([2, 2]), f32([2]), null, { eps: -1, subtractMean: true })).toThrow(/eps must not be negative/);
    expect(() => backend.cast(f32([2]), 'int8' as 'float16')).toThrow(InvalidArgumentError);
    expect(() => backend.empty([2, -1], 'float32')).toThrow(/non-negative integers/);
    expect(() => backend.empty([2], 'float64' as 'float32')).toThrow(/unknown dtype/);
  });

  it('refuses work after dispose()', () => {
    const b = createCpuBackend();
    const t = b.zeros([2], 'float32');
    b.dispose();
    expect(() => b.gelu(t)).toThrow(DisposedError);
    expect(() => b.zeros([2], 'float32')).toThrow(/CPU backend/);
  });

  it('enforces the pool limit with OutOfMemoryError', () => {
    const b = createCpuBackend({ limitBytes: 1024 });
    expect(() => b.zeros([1000], 'float32')).toThrow(/Out of memory on the host pool/);
  });
});

describe('getBackend', () => {
  it('gives the CPU backend for cpu, and for auto without a usable GPU', () => {
    expect(getBackend('cpu').name).toBe('cpu');
    if (!cudaAvailability().available) expect(getBackend('auto').name).toBe('cpu');
  });

  it('replaces the shared CPU backend once it has been disposed', () => {
    const first = getBackend('cpu');
    expect(getBackend('cpu')).toBe(first);
    first.dispose();
    const second = getBackend('cpu');
    expect(second).not.toBe(first);
    expect(second.zeros([2], 'float32').shape).toEqual([2]);
  });

  it('explains why cuda is unavailable and how to go on', () => {
    if (cudaAvailability().available) return;
    expect(() => getBackend('cuda')).toThrow(BackendUnavailableError);
    expect(() => getBackend('cuda')).toThrow(/use --device cpu/i);
  });

  it('rejects unknown requests', () => {
    expect(() => getBackend('tpu' as 'cpu')).toThrow(/Unknown device "tpu"/);
  });
});

describe('native functions given bad arguments throw instead of crashing', () => {
  const i8 = new Int8Array(12);
  const i32 = new Int32Array(12);
  const h = new Uint16Array(12);
  const f = new Float32Array(12);

  it('checks every buffer length', () => {
    expect(() => N.copy(f, 0, [1], f, 0, [1], [13])).toThrow(RangeError);
    expect(() => N.copy(f, 0, [4, 1], f, 0, [1, 4], [4, 4])).toThrow(/src is too short/);
    expect(() => N.copy(f, 11, [1], f, 0, [1], [2])).toThrow(RangeError);
    expect(() => N.quantizeRows(f, 0, 4, 4, i8, 0, h, 0)).toThrow(/x is too short/);
    expect(() => N.quantizeRows(f, 0, 3, 4, i8, 1, h, 0)).toThrow(/values is too short/);
    expect(() => N.quantizeRows(f, 0, 3, 4, i8, 0, h, 10)).toThrow(/scales is too short/);
    expect(() => N.igemm(i8, 0, i8, 0, i32, 0, 3, 3, 5)).toThrow(/a is too short/);
    expect(() => N.igemm(i8, 0, i8, 0, i32, 4, 3, 3, 4)).toThrow(/c is too short/);
    expect(() => N.dequantize(i32, 0, 3, 4, h, 0, h, 9, null, 0, f, 0)).toThrow(/colScale is too short/);
    expect(() => N.dequantize(i32, 0, 3, 4, h, 0, h, 0, f, 9, f, 0)).toThrow(/bias is too short/);
    expect(() => N.gemm(f, 0, 4, 0, f, 0, 4, 0, f, 0, 1, 3, 3, 5, false, false, 1)).toThrow(/a is too short/);
    expect(() => N.gemm(f, 0, 3, 12, f, 0, 3, 0, f, 0, 2, 3, 3, 3, false, false, 1)).toThrow(/a is too short/);
    expect(() => N.gemm(f, 0, 3, 0, f, 0, 3, 0, f, 0, 2, 3, 3, 3, false, false, 1)).toThrow(/out is too short/);
    expect(() => N.layerNorm(f, 0, 3, 4, f, 9, null, 0, f, 0, 1e-5, true)).toThrow(/weight is too short/);
    expect(() => N.softmax(f, 0, 2, 2, 4, f, 0, 1, null, null, 0, 0, 4, null, 0)).toThrow(/x is too short/);
    expect(() => N.softmax(f, 0, 1, 2, 4, f, 0, 1, 0, f, 0, 8, 4, null, 0)).not.toThrow();
    expect(() => N.softmax(f, 0, 2, 1, 4, f, 0, 1, 0, f, 0, 9, 4, null, 0)).toThrow(/bias is too short/);
    expect(() => N.softmax(f, 0, 1, 3, 4, f, 0, 1, 0, f, 0, 0, 5, null, 0)).toThrow(/bias is too short/);
    // a bias by distance (row stride -1) must not reach before the array's start; the key bias is checked too
    expect(() => N.softmax(f, 0, 1, 3, 4, f, 0, 1, null, f, 2, 0, -1, null, 0)).not.toThrow();
    expect(() => N.softmax(f, 0, 1, 3, 4, f, 0, 1, null, f, 1, 0, -1, null, 0)).toThrow(/before the array's start/);
    expect(() => N.softmax(f, 0, 1, 3, 4, f, 0, 1, null, f, 0, 0, -2, null, 0)).toThrow(/biasRowStride/);
    expect(() => N.softmax(f, 0, 1, 3, 4, f, 0, 1, null, null, 0, 0, 0, f, 9)).toThrow(/colBias is too short/);
    expect(() => N.gelu(f, 0, f, 5, 8)).toThrow(/out is too short/);
    expect(() => N.binary('add', f, 0, 12, f, 10, 4, f, 0)).toThrow(/b is too short/);
    expect(() => N.binary('add', f, 0, 12, f, 0, 5, f, 0)).toThrow(/multiple of bn/);
    expect(() => N.embedding(i32, 0, 2, f, 0, 4, 4, f, 0)).toThrow(/table is too short/);
    expect(() => N.embedding(Int32Array.of(0, 7), 0, 2, f, 0, 3, 4, f, 0)).toThrow(/ids\[1\] = 7 is out of range/);
  });

  it('checks types, counts and numbers', () => {
    expect(() => N.igemm(f as unknown as Int8Array, 0, i8, 0, i32, 0, 1, 1, 1)).toThrow(TypeError);
    expect(() => N.igemm(i8, 0, i8, 0, i32, 0, 1, 1, 1, 99 as never)).toThrow(/expected 9 arguments/);
    expect(() => N.gemm(f, 0, 2, 0, h, 0, 2, 0, f, 0, 1, 1, 1, 1, false, false, 1)).toThrow(/same element type/);
    expect(() => N.gelu(f, -1, f, 0, 1)).toThrow(/xOffset must be an integer/);
    expect(() => N.gelu(f, 0.5, f, 0, 1)).toThrow(RangeError);
    expect(() => N.gelu(f, 0, f, 0, Number.NaN)).toThrow(RangeError);
    expect(() => N.gelu(f, 0, f, 0, 2 ** 60)).toThrow(RangeError);
    expect(() => N.copy(f, 0, [1, 1, 1, 1, 1], f, 0, [1, 1, 1, 1, 1], [1, 1, 1, 1, 1])).toThrow(/at most 4/);
    expect(() => N.copy(f, 0, [-1], f, 0, [1], [2])).toThrow(/non-negative/);
    // Stride 0 passes every range check, so the element count is bounded too.
    expect(() => N.copy(f, 0, [0, 0, 0, 0], f, 0, [0, 0, 0, 0], [2 ** 46, 2 ** 46, 2 ** 46, 2 ** 46])).toThrow(/too many elements/);
    expect(() => N.copy(i8, 0, [1], f, 0, [1], [2])).toThrow(/can only convert between float16 and float32/);
    expect(() => N.binary('sub' as 'add', f, 0, 1, f, 0, 1, f, 0)).toThrow(/op must be/);
    expect(() => N.layerNorm(f, 0, 1, 4, f, 0, null, 0, f, 0, Infinity, true)).toThrow(/eps must be finite/);
    expect(() => N.setPlainKernels('yes' as unknown as boolean)).toThrow(TypeError);
  });

  it('accepts subarray views, checking against the view', () => {
    const big = new Float32Array(16);
    const view = big.subarray(8, 12);
    expect(() => N.gelu(view, 0, view, 0, 4)).not.toThrow();
    expect(() => N.gelu(view, 0, view, 0, 5)).toThrow(/x is too short/);
  });
});
