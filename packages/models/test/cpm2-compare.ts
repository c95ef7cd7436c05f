// Comparing a CPM-2/EVA model's decoder logits with the float32 transformers references of the
// fixtures (used by the CPU precision tests and the GPU tests).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { type Cpm2Model, argmax } from '@bminf/models';

export const FIXTURES = join(import.meta.dirname, '../../../models/fixtures');

export interface RefCase {
  name: string;
  encoder_ids: number[];
  decoder_ids: number[];
  decoder_logits: number[][];
}

/** The largest logit error relative to the largest reference logit, and how often the argmax agrees. */
export function compareLogits(model: Cpm2Model, cases: RefCase[]): { relError: number; top1: number; rows: number } {
  let err = 0;
  let scale = 0;
  let agree = 0;
  let rows = 0;
  const v = model.vocabSize;
  for (const c of cases) {
    const state = model.newState(c.encoder_ids);
    try {
      const all = model.decoderForward(c.decoder_ids, state, { allLogits: true });
      c.decoder_logits.forEach((ref, i) => {
        const row = all.subarray(i * v, (i + 1) * v);
        for (let j = 0; j < v; j++) {
          err = Math.max(err, Math.abs(row[j] - ref[j]));
          scale = Math.max(scale, Math.abs(ref[j]));
        }
        if (argmax(row) === argmax(Float32Array.from(ref))) agree++;
        rows++;
      });
    } finally {
      state.dispose();
    }
  }
  return { relError: err / scale, top1: agree / rows, rows };
}

export function readCases(name: string): RefCase[] {
  return (JSON.parse(readFileSync(join(FIXTURES, name, 'reference.json'), 'utf8')) as { cases: RefCase[] }).cases;
}
