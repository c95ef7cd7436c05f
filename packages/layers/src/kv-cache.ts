import { type Backend, type DType, InvalidArgumentError, type Tensor, keep } from '@bminf/core';

/**
 * Keys and values of one attention layer for the tokens seen so far: [heads, maxLength, headDim] each,
 * filled from position 0 up to `length`. Allocated once at the context size, so a decode step
 * appends in place instead of growing and copying.
 */
export class KVCache {
  readonly keys: Tensor;
  readonly values: Tensor;
  length = 0;

  constructor(
    readonly backend: Backend,
    readonly numHeads: number,
    readonly maxLength: number,
    readonly headDim: number,
    dtype: DType,
  ) {
    // The cache owns these until dispose(): keep them out of any enclosing tidy() scope.
    this.keys = keep(backend.zeros([numHeads, maxLength, headDim], dtype));
    this.values = keep(backend.zeros([numHeads, maxLength, headDim], dtype));
  }

  /** Writes k, v [heads, n, headDim] (views allowed) at positions length..length+n-1. */
  append(k: Tensor, v: Tensor): void {
    const n = k.shape[1];
    if (this.length + n > this.maxLength) {
      throw new InvalidArgumentError(
        `The KV cache holds ${this.maxLength} positions; appending ${n} to ${this.length} would overflow it.`,
        { hint: 'Shorten the prompt or lower max tokens.' },
      );
    }
    this.backend.copy(k, this.keys.narrow(1, this.length, n));
    this.backend.copy(v, this.values.narrow(1, this.length, n));
    this.length += n;
  }

  /** Views of the filled part: [heads, length, headDim]. */
  view(): { keys: Tensor; values: Tensor } {
    return { keys: this.keys.narrow(1, 0, this.length), values: this.values.narrow(1, 0, this.length) };
  }

  /** Forgets the tokens after `length` (for reuse of the cache with another prompt). */
  truncate(length: number): void {
    this.length = Math.min(this.length, Math.max(0, length));
  }

  dispose(): void {
    this.keys.dispose();
    this.values.dispose();
  }
}
