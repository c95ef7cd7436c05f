// Typed-array views of host tensors, made once and cached: ops pass a whole array plus element
// offsets and strides to native code, which checks every range against it.
import { type DType, type HostArray, HostStorage, InvalidArgumentError, type Storage, type Tensor, dtypeSize, hostArray } from '@bminf/core';

type Views = Partial<Record<DType, HostArray>>;

// Storages from the host pool start at byte 0 of a buffer the pool hands out again and again, so
// their views are cached per buffer (a new storage object per op would defeat a per-storage cache).
// Others are cached per storage.
const byBuffer = new WeakMap<ArrayBufferLike, Views>();
const byStorage = new WeakMap<Storage, Views>();

/**
 * An array of t's dtype whose element 0 is the storage's first byte, so t's elements are at t.offset
 * and its strides. (For pooled storages it spans the whole pooled buffer, which may be a little
 * longer than the storage: the Tensor constructor keeps views inside the storage.)
 */
export function storageArray(t: Tensor): HostArray {
  const s = t.storage;
  if (!(s instanceof HostStorage)) {
    throw new InvalidArgumentError(`A ${t.dtype} tensor's storage is not host memory, so the CPU backend cannot read it.`, {
      hint: 'Create tensors with the CPU backend, or download them from their device first.',
    });
  }
  const whole = s.byteOffset === 0;
  const views = whole ? byBuffer.get(s.buffer) : byStorage.get(s);
  const cached = views?.[t.dtype];
  if (cached) return cached;
  const size = dtypeSize(t.dtype);
  if (s.byteOffset % size !== 0) {
    throw new InvalidArgumentError(`A ${t.dtype} tensor's storage starts at byte ${s.byteOffset}, not a multiple of ${size}.`, {
      hint: 'Copy the data into an aligned buffer (backend.upload) first.',
    });
  }
  const length = Math.floor((whole ? s.buffer.byteLength : s.byteLength) / size);
  const arr = hostArray(t.dtype, s.buffer, s.byteOffset, length);
  if (views) views[t.dtype] = arr;
  else if (whole) byBuffer.set(s.buffer, { [t.dtype]: arr });
  else byStorage.set(s, { [t.dtype]: arr });
  return arr;
}
