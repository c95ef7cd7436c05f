// How often each token has occurred so far (the prompt included), for the frequency and presence
// penalties. Sparse: a generation touches a few hundred distinct ids out of tens of thousands.

import { InvalidArgumentError } from '@bminf/core';

export class TokenCounts {
  private readonly counts = new Map<number, number>();

  /** Starts from the given ids (usually the prompt). */
  constructor(ids: Iterable<number> = []) {
    for (const id of ids) this.add(id);
  }

  /** Counts one more occurrence of `id`. */
  add(id: number): void {
    if (!Number.isSafeInteger(id) || id < 0) {
      throw new InvalidArgumentError(`Expected a token id (an integer ≥ 0) to count but received ${String(id)}.`);
    }
    this.counts.set(id, (this.counts.get(id) ?? 0) + 1);
  }

  /** Occurrences of `id` so far (0 when never seen). */
  get(id: number): number {
    return this.counts.get(id) ?? 0;
  }

  /** Number of distinct ids seen. */
  get size(): number {
    return this.counts.size;
  }

  /** [id, count] pairs of the ids seen, in first-seen order. */
  entries(): IterableIterator<[number, number]> {
    return this.counts.entries();
  }
}
