import { readFileSync } from 'node:fs';
import { join } from 'node:path';

export const repoRoot = join(import.meta.dirname, '..', '..', '..');
export const tinyDir = join(repoRoot, 'models', 'tiny-cpm1');
export const sharedTinyDir = join(repoRoot, '..', 'shared', 'models', 'tiny-cpm1');

export interface ReferenceCase {
  prompt: string;
  prompt_ids: number[];
  greedy_ids: number[];
  greedy_text: string;
  last_logits_top5_ids: number[];
  last_logprobs_top5: number[];
  logits_first_pos_first8: number[];
  logits_last_pos_first8: number[];
}

export const reference: ReferenceCase[] = JSON.parse(readFileSync(join(tinyDir, 'reference.json'), 'utf8'));
export const evalIds: number[] = JSON.parse(readFileSync(join(tinyDir, 'eval_tokens.json'), 'utf8')).ids;
export const referenceLoss: number = JSON.parse(readFileSync(join(tinyDir, 'reference_loss.json'), 'utf8')).first_4096_tokens_loss;

export function logSoftmax(logits: Float32Array): Float64Array {
  let max = -Infinity;
  for (const v of logits) if (v > max) max = v;
  let sum = 0;
  for (const v of logits) sum += Math.exp(v - max);
  const lse = max + Math.log(sum);
  return Float64Array.from(logits, (v) => v - lse);
}

export function topK(values: ArrayLike<number>, k: number): number[] {
  return Array.from({ length: values.length }, (_, i) => i)
    .sort((a, b) => values[b] - values[a] || a - b)
    .slice(0, k);
}
