// How much GPU memory a model's planned runner takes beyond its weights, for a batch and lengths: the
// KV caches exactly, and the step arenas bounded from above (the peak of one step's live intermediates
// at the longest bucket, twice: the shorter buckets' arenas together are at most as large again). A
// memory limit leaves this much room; being generous here costs resident blocks, being short costs an
// out-of-memory error later, which names the limit to raise.
import type { ModelDType } from '@bminf/core';
import type { Cpm1Config } from '../cpm1/config.js';
import type { Cpm2Config } from '../cpm2/config.js';
import type { PlannedFor } from './plan-model.js';

const MARGIN = 64 * 2 ** 20;

/** Bytes of one step's live intermediates over P rows (activations, int8 copies, int32 products, scores). */
function stepPeak(P: number, d: number, ff: number, heads: number, act: number, gatedFF: boolean): number {
  const ffOut = gatedFF ? 2 * ff : ff;
  const perRow = d * 4 * act + 3 * d * (act + 4 + 1) + ffOut * (act + 4 + 1) + ff * act;
  return P * perRow + 3 * heads * P * P * 4;
}

const actBytes = (dtype: ModelDType): number => (dtype === 'fp32' ? 4 : 2);

export function cpm1RuntimeBytes(c: Cpm1Config, dtype: ModelDType, p: PlannedFor = {}): number {
  const slots = p.maxBatch ?? 8;
  const len = Math.min(p.maxLength ?? c.maxPositions, c.maxPositions);
  const act = actBytes(dtype);
  const caches = 2 * c.numLayers * slots * len * c.dModel * act;
  const arenas = 2 * stepPeak(len, c.dModel, c.dFF, c.numHeads, act, false) + 2 * slots * c.vocabSize * (4 + act);
  return caches + arenas + MARGIN;
}

export function cpm2RuntimeBytes(c: Cpm2Config, dtype: ModelDType, p: PlannedFor = {}): number {
  const slots = p.maxBatch ?? 8;
  const enc = p.maxEncoderLength ?? 512;
  const dec = p.maxDecoderLength ?? 256;
  const act = actBytes(dtype);
  const d = c.numHeads * c.headDim;
  const caches = 2 * c.numDecoderLayers * slots * (enc + dec) * d * act;
  const arenas = 2 * stepPeak(enc, c.dModel, c.dFF, c.numHeads, act, true) + 2 * slots * c.vocabSize * (4 + act);
  return caches + arenas + MARGIN;
}
