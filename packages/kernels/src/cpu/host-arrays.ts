// Typed-array views of host tensors, made once per storage and cached: ops pass the whole storage's
// array plus element offsets and strides to native code, which checks every range against it.
import { type DType, type HostArray, HostStorage, InvalidArgumentError, type Storage, type Tensor, dtypeSize, hostArray } from '@bminf/core';

const cache = new WeakMap<Storage, Map<DType, HostArray>>();

/** The storage under t, as an array of t's dtype starting at the storage's first byte. */
export function storageArray(t: Tensor): HostArray {
  const s = t.storage;
  let byType = cache.get(s);
  let arr = byType?.get(t.dtype);
  if (arr) return arr;
  if (!(s instanceof HostStorage)) {
    throw new InvalidArgumentError(`A ${t.dtype} tensor's storage is not host memory, so the CPU backend cannot read it.`, {
      hint: 'Create tensors with the CPU backend, or download them from their device first.',
    });
  }
  const size = dtypeSize(t.dtype);
  if ((s.buffer.byteLength > 0 && s.byteOffset % size !== 0)) {
    throw new InvalidArgumentError(`A ${t.dtype} tensor's storage starts at byte ${s.byteOffset}, not a multiple of ${size}.`, {
      hint: 'Copy the data into an aligned buffer (backend.upload) first.',
    });
  }
  arr = hostArray(t.dtype, s.buffer, s.byteOffset, Math.floor(s.byteLength / size));
  if (!byType) cache.set(s, (byType = new Map()));
  byType.set(t.dtype, arr);
  return arr;
}
