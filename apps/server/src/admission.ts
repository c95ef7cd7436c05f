/**
 * The bounded queue in front of the engine: at most maxBatch requests generate at once (the engine's
 * slots) and at most maxQueue more wait for a slot; a request beyond that is refused (429) rather than
 * left to wait without bound.
 */
export class Admission {
  private active = 0;

  constructor(
    readonly maxBatch: number,
    readonly maxQueue: number,
  ) {}

  /** Takes a place; false when the queue is full. Pair every true with one leave(). */
  tryEnter(): boolean {
    if (this.active >= this.maxBatch + this.maxQueue) return false;
    this.active++;
    return true;
  }

  leave(): void {
    this.active--;
  }

  /** Requests admitted and not yet finished. */
  get inFlight(): number {
    return this.active;
  }
}
