import { type Backend, InvalidArgumentError, ShapeMismatchError, type Tensor, shapeToString, tidy } from '@bminf/core';

/**
 * T5's relative position bucket (transformers' `_relative_position_bucket`, BMInf's position_bucket
 * kernel) for relative = key position − query position. Bidirectional (encoder): half the buckets
 * for keys after the query; causal (decoder): only keys at or before it count, later ones share
 * bucket 0 (they are masked anyway). Distances below half the buckets get a bucket each; longer ones
 * share log-spaced buckets up to maxDistance, beyond which all fall in the last.
 * Computed in float64; float32 (as PyTorch computes it) gives the same buckets for every distance
 * below 5000 with 16 or 32 buckets and max distance 128 or 256.
 */
export function relativePositionBucket(relative: number, bidirectional: boolean, numBuckets: number, maxDistance: number): number {
  let buckets = numBuckets;
  let bucket = 0;
  let distance: number;
  if (bidirectional) {
    buckets = Math.floor(buckets / 2);
    if (relative > 0) bucket += buckets;
    distance = Math.abs(relative);
  } else {
    distance = -Math.min(relative, 0);
  }
  const maxExact = Math.floor(buckets / 2);
  if (distance < maxExact) return bucket + distance;
  const large = maxExact + Math.trunc((Math.log(distance / maxExact) / Math.log(maxDistance / maxExact)) * (buckets - maxExact));
  return bucket + Math.min(large, buckets - 1);
}

function checkPositions(queryStart: number, n: number, keyLength: number): void {
  for (const [name, v] of [['queryStart', queryStart], ['n', n], ['keyLength', keyLength]] as const) {
    if (!Number.isInteger(v) || v < 0) throw new InvalidArgumentError(`RelativePositionBias: ${name} must be a non-negative integer but is ${v}.`);
  }
}

export interface PositionBiasConfig {
  numBuckets: number;
  maxDistance: number;
  /** true in the encoder, false (causal) in the decoder. */
  bidirectional: boolean;
}

/**
 * The relative position bias of one stack (one table shared by all its layers, as T5 and BMInf do):
 * a learned scalar per head and bucket, added to the attention scores before the softmax.
 */
export class RelativePositionBias {
  readonly numHeads: number;

  /** table: [numBuckets, numHeads], as transformers stores `relative_attention_bias.weight`. */
  constructor(
    readonly backend: Backend,
    readonly table: Tensor,
    readonly config: PositionBiasConfig,
  ) {
    if (table.rank !== 2 || table.shape[0] !== config.numBuckets) {
      throw new ShapeMismatchError(
        `RelativePositionBias: the table must be [${config.numBuckets} buckets, heads] but is ${shapeToString(table.shape)}.`,
      );
    }
    if (!Number.isInteger(config.numBuckets) || config.numBuckets < 2 || !(config.maxDistance > 0)) {
      throw new InvalidArgumentError(
        `RelativePositionBias: numBuckets must be an integer >= 2 and maxDistance positive, but are ${config.numBuckets} and ${config.maxDistance}.`,
      );
    }
    this.numHeads = table.shape[1];
  }

  /**
   * Bucket ids by distance for n queries from position queryStart over keys 0..keyLength-1: entry
   * c = j - i + n - 1 is the bucket of key j and query i (relative j - queryStart - i), n + keyLength - 1
   * of them. The bucket depends only on key − query, so each distinct distance is computed once.
   */
  distanceBuckets(queryStart: number, n: number, keyLength: number): Int32Array {
    const { numBuckets, maxDistance, bidirectional } = this.config;
    const out = new Int32Array(Math.max(0, n + keyLength - 1));
    for (let c = 0; c < out.length; c++) out[c] = relativePositionBucket(c - (n - 1) - queryStart, bidirectional, numBuckets, maxDistance);
    return out;
  }

  /** Bucket ids for queries at positions queryStart..queryStart+n-1 over keys 0..keyLength-1, row-major [n, keyLength]. */
  buckets(queryStart: number, n: number, keyLength: number): Int32Array {
    const byDistance = this.distanceBuckets(queryStart, n, keyLength);
    const out = new Int32Array(n * keyLength);
    for (let i = 0; i < n; i++) for (let j = 0; j < keyLength; j++) out[i * keyLength + j] = byDistance[j - i + n - 1];
    return out;
  }

  /**
   * The bias [heads, n, keyLength] in the table's dtype for n queries starting at absolute position
   * queryStart (the encoder: 0 and n = keyLength; a decoder step: its position and n = 1).
   */
  forward(queryStart: number, n: number, keyLength: number): Tensor {
    checkPositions(queryStart, n, keyLength);
    const b = this.backend;
    return tidy(() => {
      const ids = b.upload(this.buckets(queryStart, n, keyLength), [n * keyLength]);
      const rows = b.embedding(ids, this.table); // [n * keyLength, heads]
      return b.contiguous(rows.reshape([n, keyLength, this.numHeads]).permute([2, 0, 1]));
    });
  }

  /**
   * The same bias by distance, [heads, n + keyLength - 1] (ScoreBias.distanceBias): column c holds the
   * bias of key j and query i with j - i = c - (n - 1), for n queries from position queryStart. One
   * row of distances instead of n · keyLength entries; Backend.attention reads it in place.
   */
  byDistance(queryStart: number, n: number, keyLength: number): Tensor {
    checkPositions(queryStart, n, keyLength);
    if (n === 0 || keyLength === 0) throw new InvalidArgumentError('RelativePositionBias.byDistance: n and keyLength must be at least 1.');
    const ids = this.distanceBuckets(queryStart, n, keyLength);
    const b = this.backend;
    return tidy(() => b.contiguous(b.embedding(b.upload(ids, [ids.length]), this.table).permute([1, 0])));
  }

  dispose(): void {
    this.table.dispose();
  }
}
