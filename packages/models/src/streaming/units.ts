// The units the layer scheduler keeps on the GPU or streams: a transformer block's weights. For CPM-2
// and EVA a decoder block's cross-attention keys/values projection is a unit of its own, because it
// runs in the encoder pass (once per request) while the rest of the block runs every token.
import { type ModelDType, dtypeSize } from '@bminf/core';
import type { TensorPlan } from '../architecture.js';

/** The unit a planned tensor belongs to, or null for the parts that always stay on the GPU. */
export function unitOf(tensorName: string): string | null {
  // Names or prefixes: 'decoder.layers.3.cross.k.weight' and the layer's 'decoder.layers.3.cross.k'.
  let m = /^decoder\.layers\.(\d+)\.cross\.(?:k|v)(?:\.|$)/.exec(tensorName);
  if (m) return `cross.${m[1]}`;
  m = /^(encoder|decoder)\.layers\.(\d+)\./.exec(tensorName);
  if (m) return `${m[1]}.${m[2]}`;
  m = /^layers\.(\d+)\./.exec(tensorName);
  if (m) return `block.${m[1]}`;
  return null;
}

/** Streamed units and fixed parts are laid out at this alignment (what the kernels' 16-byte loads and cuMemAlloc give). */
export const UNIT_ALIGNMENT = 256;
export const alignUp = (n: number): number => Math.ceil(n / UNIT_ALIGNMENT) * UNIT_ALIGNMENT;

/**
 * The bytes a planned tensor takes on the GPU: int8 values and float16 row scales for a quantized
 * linear weight in an int8 model, else float16 (fp16, int8) or float32 (fp32); each part aligned.
 * Stacking parts (q, k, v into one) only lowers the aligned sum, so a unit's sum bounds its layout.
 */
export function plannedBytes(plan: TensorPlan, dtype: ModelDType): number {
  const n = plan.shape.reduce((a, b) => a * b, 1);
  if (plan.quantize && dtype === 'int8') return alignUp(n) + alignUp(plan.shape[0] * 2);
  return alignUp(n * dtypeSize(dtype === 'fp32' ? 'float32' : 'float16'));
}

export interface UnitSizes {
  /** Bytes of each unit, by id, in the plan's order. */
  units: Map<string, number>;
  /** Bytes of everything else (embeddings, output head, final norms, position tables). */
  fixed: number;
}

export function unitSizes(plans: readonly TensorPlan[], dtype: ModelDType): UnitSizes {
  const units = new Map<string, number>();
  let fixed = 0;
  for (const p of plans) {
    const u = unitOf(p.name);
    const bytes = plannedBytes(p, dtype);
    if (u) units.set(u, (units.get(u) ?? 0) + bytes);
    else fixed += bytes;
  }
  return { units, fixed };
}
