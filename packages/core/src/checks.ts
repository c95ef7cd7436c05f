// Argument checks shared by the backends, so that both reject bad input with the same words.
import type { AttendCacheOptions } from './backend.js';
import type { DType } from './dtype.js';
import { DeviceMismatchError, DTypeMismatchError, InvalidArgumentError, ShapeMismatchError } from './errors.js';
import type { Device } from './device.js';
import { type Shape, type Tensor, shapeToString } from './tensor.js';

export function checkAlive(op: string, ...ts: (Tensor | null | undefined)[]): void {
  for (const t of ts) t?.assertAlive(`The input of ${op}`);
}

export function checkDevice(op: string, device: Device, ...ts: (Tensor | null | undefined)[]): void {
  for (const t of ts) {
    if (t && !t.device.equals(device)) {
      throw new DeviceMismatchError(`${op}: a tensor on ${t.device} was given to the ${device} backend.`, {
        hint: 'Move every input to one device first (load the model and its inputs with the same --device).',
      });
    }
  }
}

export function checkDType(op: string, t: Tensor, ...allowed: DType[]): void {
  if (!allowed.includes(t.dtype)) {
    throw new DTypeMismatchError(`${op}: expected ${allowed.join(' or ')} but received ${t.dtype} ${shapeToString(t.shape)}.`);
  }
}

export function checkSameDType(op: string, a: Tensor, b: Tensor): void {
  if (a.dtype !== b.dtype) {
    throw new DTypeMismatchError(`${op}: inputs must share a dtype, but received ${a.dtype} and ${b.dtype}.`);
  }
}

export function checkRank(op: string, t: Tensor, ...ranks: number[]): void {
  if (!ranks.includes(t.rank)) {
    throw new ShapeMismatchError(`${op}: expected a tensor of rank ${ranks.join(' or ')} but received shape ${shapeToString(t.shape)}.`);
  }
}

export function checkShape(op: string, t: Tensor, shape: Shape, name = 'input'): void {
  if (t.rank !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
    throw new ShapeMismatchError(`${op}: ${name} must have shape ${shapeToString(shape)} but has ${shapeToString(t.shape)}.`);
  }
}

export function checkContiguous(op: string, t: Tensor, name = 'input'): void {
  if (!t.isContiguous()) {
    throw new InvalidArgumentError(`${op}: ${name} must be contiguous but has strides ${shapeToString(t.strides)}.`, {
      hint: 'Make a packed copy with backend.contiguous(x).',
    });
  }
}

/**
 * scatterRows' arguments: src [n, w] and dst [rows, w] of one dtype, index int32 [n], dst and index packed.
 * Returns [n, w].
 */
export function checkScatterRows(src: Tensor, dst: Tensor, index: Tensor): [number, number] {
  checkSameDType('scatterRows', src, dst);
  checkRank('scatterRows', src, 2);
  checkRank('scatterRows', dst, 2);
  checkDType('scatterRows', index, 'int32');
  checkShape('scatterRows', index, [src.shape[0]], 'index');
  checkContiguous('scatterRows', dst, 'dst');
  checkContiguous('scatterRows', index, 'index');
  const [n, w] = src.shape;
  if (dst.shape[1] !== w) {
    throw new ShapeMismatchError(`scatterRows: src rows of ${w} elements do not fit dst ${shapeToString(dst.shape)}.`);
  }
  return [n, w];
}

/** b's shape must equal a's or be a suffix of it. Returns how many times b repeats. */
export function checkBroadcastSuffix(op: string, a: Tensor, b: Tensor): number {
  const k = b.rank;
  if (k > a.rank || b.shape.some((d, i) => d !== a.shape[a.rank - k + i])) {
    throw new ShapeMismatchError(`${op}: cannot broadcast ${shapeToString(b.shape)} over ${shapeToString(a.shape)}.`, {
      hint: 'The second operand must have the shape of the first or of its trailing dimensions.',
    });
  }
  return b.numel === 0 ? 0 : a.numel / b.numel;
}

/** argmaxRows' `exclude` option as the kernels take it: a column index in [0, n), or -1 for none. */
export function argmaxExclude(options: { exclude?: number } | undefined, n: number): number {
  const e = options?.exclude;
  if (e === undefined) return -1;
  if (!Number.isSafeInteger(e) || e < 0 || e >= n) {
    throw new InvalidArgumentError(`argmaxRows: exclude must be a column index from 0 to ${n - 1}, not ${String(e)}.`);
  }
  return e;
}

/**
 * attendCache's `append` rows, checked against q [B, width]: keys and values of q's dtype and shape, each
 * row's elements contiguous, both with one row stride (the kernels take one). Returns them, or null.
 */
export function checkAppend(op: string, q: Tensor, append: { keys: Tensor; values: Tensor } | undefined): { keys: Tensor; values: Tensor } | null {
  if (!append) return null;
  for (const [t, name] of [[append.keys, 'append.keys'], [append.values, 'append.values']] as const) {
    checkSameDType(op, q, t);
    checkShape(op, t, q.shape, name);
    if (t.shape[1] > 1 && t.strides[1] !== 1) {
      throw new InvalidArgumentError(`${op}: ${name} must have contiguous rows but has strides ${shapeToString(t.strides)}.`, {
        hint: 'Pass a narrow of a packed [B, n] tensor, or a packed copy (backend.contiguous(x)).',
      });
    }
  }
  if (append.keys.shape[0] > 1 && append.keys.strides[0] !== append.values.strides[0]) {
    throw new InvalidArgumentError(`${op}: append.keys and append.values must have one row stride, not ${append.keys.strides[0]} and ${append.values.strides[0]}.`, {
      hint: 'Narrow both from one packed tensor (k | v), or pass packed copies.',
    });
  }
  return append;
}

/** attendCache's arguments, checked alike by both backends (each adds its own limits after). */
export interface AttendCacheArgs {
  batch: number;
  width: number;
  heads: number;
  headDim: number;
  slotRows: number;
  scale: number;
  bias: Tensor | null;
  append: { keys: Tensor; values: Tensor } | null;
}

/**
 * attendCache(q, keys, values, lengths, options): q [B, heads · headDim] float16 or float32; keys and values
 * [B · slotRows, heads · headDim] of q's dtype, packed; lengths [B] int32, packed; options.distanceBias
 * [heads, slotRows] of q's dtype, packed; options.append as checkAppend says. Aliveness and device are the
 * backend's to check first.
 */
export function checkAttendCache(q: Tensor, keys: Tensor, values: Tensor, lengths: Tensor, options: AttendCacheOptions): AttendCacheArgs {
  const op = 'attendCache';
  checkDType(op, q, 'float16', 'float32');
  checkSameDType(op, q, keys);
  checkSameDType(op, q, values);
  checkRank(op, q, 2);
  checkDType(op, lengths, 'int32');
  const [batch, width] = q.shape;
  const { heads, slotRows, scale } = options ?? ({} as Partial<AttendCacheOptions>);
  if (typeof slotRows !== 'number' || !Number.isSafeInteger(slotRows) || slotRows < 1) {
    throw new InvalidArgumentError(`${op}: slotRows must be at least 1 and a whole number (the rows of keys and values a sequence has), not ${String(slotRows)}.`);
  }
  if (typeof scale !== 'number' || !Number.isFinite(scale)) throw new InvalidArgumentError(`${op}: scale must be a finite number, not ${String(scale)}.`);
  if (typeof heads !== 'number' || !Number.isSafeInteger(heads) || heads < 1 || width % heads !== 0) {
    throw new ShapeMismatchError(`${op}: ${String(heads)} heads do not divide q's width ${width} (q is [B, heads * headDim]).`);
  }
  checkShape(op, keys, [batch * slotRows, width], 'keys');
  checkShape(op, values, [batch * slotRows, width], 'values');
  checkShape(op, lengths, [batch], 'lengths');
  for (const [t, name] of [[keys, 'keys'], [values, 'values'], [lengths, 'lengths']] as const) checkContiguous(op, t, name);
  const bias = options.distanceBias ?? null;
  if (bias) {
    checkSameDType(op, q, bias);
    checkShape(op, bias, [heads, slotRows], 'distanceBias');
    checkContiguous(op, bias, 'distanceBias');
  }
  const append = checkAppend(op, q, options.append);
  return { batch, width, heads, headDim: width / heads, slotRows, scale, bias, append };
}
