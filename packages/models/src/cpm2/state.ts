import { type Backend, type DType, keep, tidy } from '@bminf/core';
import { type CrossKV, KVCache } from '@bminf/layers';

/** Decoder positions a state starts with; it doubles when full (copying the filled part). */
const INITIAL_DECODER_CAPACITY = 64;

/**
 * One input's decoding state: the cross-attention keys/values of every decoder layer (projected once
 * from the encoder output) and the self-attention KV caches of the tokens decoded so far.
 */
export class Cpm2State {
  private disposed = false;

  constructor(
    private readonly backend: Backend,
    readonly encoderLength: number,
    readonly cross: CrossKV[],
    public caches: KVCache[],
    private readonly dtype: DType,
  ) {}

  static create(backend: Backend, encoderLength: number, cross: CrossKV[], numHeads: number, headDim: number, dtype: DType): Cpm2State {
    const caches = cross.map(() => newCache(backend, numHeads, INITIAL_DECODER_CAPACITY, headDim, dtype));
    return new Cpm2State(backend, encoderLength, cross, caches, dtype);
  }

  /** Decoder tokens seen so far. */
  get length(): number {
    return this.caches[0]?.length ?? 0;
  }

  /** Makes room for n more decoder tokens, growing every cache as BMInf grows its buffers. */
  reserve(n: number): void {
    const need = this.length + n;
    const cap = this.caches[0]?.maxLength ?? need;
    if (need <= cap) return;
    let size = cap;
    while (size < need) size *= 2;
    // In a scope of its own: the views made while copying hold references to the storages.
    this.caches = tidy(() =>
      this.caches.map((old) => {
        const grown = newCache(this.backend, old.numHeads, size, old.headDim, this.dtype);
        if (old.length > 0) {
          const { keys, values } = old.view();
          grown.append(keys, values);
        }
        old.dispose();
        return grown;
      }),
    );
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    for (const c of this.caches) c.dispose();
    for (const kv of this.cross) {
      kv.keys.dispose();
      kv.values.dispose();
    }
  }
  [Symbol.dispose](): void {
    this.dispose();
  }
}

/** A cache that belongs to the state, not to whatever tidy() scope is open when it is made. */
function newCache(backend: Backend, numHeads: number, length: number, headDim: number, dtype: DType): KVCache {
  const c = new KVCache(backend, numHeads, length, headDim, dtype);
  keep(c.keys);
  keep(c.values);
  return c;
}
