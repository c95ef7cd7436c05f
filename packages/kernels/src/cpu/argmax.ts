// Greedy decoding's pick over float32 logits, natively (native/src/cpu/argmax.cc): a JavaScript loop
// over a vocabulary cost a tenth of a small model's decode step on the CPU.
import { InvalidArgumentError } from '@bminf/core';
import { nativeCpu as N } from './native.js';

/**
 * The lowest index of the largest value of x, NaN never chosen; -1 when every value is NaN or
 * -Infinity (or x is empty). Reads x (any Float32Array, a view included) on the calling thread.
 */
export function argmaxFloat32(x: Float32Array): number {
  if (!(x instanceof Float32Array)) throw new InvalidArgumentError('argmaxFloat32: x must be a Float32Array.');
  if (x.length === 0) return -1;
  return N.argmax(x, 0, x.length);
}
