import { join } from 'node:path';
import type { ModelDType } from '@bminf/core';
import { Cpm2Model } from '@bminf/models';
import { describe, expect, it } from 'vitest';
import { FIXTURES, compareLogits, readCases } from './cpm2-compare.js';

// float16 and int8 (W8A8) on the CPU against the float32 transformers references: the error to expect
// from the reduced precisions, measured on the same fixtures. The figures are printed for the report.
for (const name of ['cpm2-tiny', 'eva-tiny']) {
  describe(`${name} in reduced precision on the CPU`, () => {
    const dir = join(FIXTURES, name);
    const cases = readCases(name);
    for (const [dtype, bound] of [
      ['fp16', 1e-2],
      ['int8', 0.1],
    ] as [ModelDType, number][]) {
      it(`${dtype}: logits within ${bound} of float32`, async () => {
        const model = await Cpm2Model.load(dir, { dtype, device: 'cpu' });
        try {
          const r = compareLogits(model, cases);
          console.log(`${name} ${dtype} cpu: relative logit error ${r.relError.toExponential(2)}, top-1 agreement ${r.top1 * r.rows}/${r.rows}`);
          expect(r.relError).toBeLessThan(bound);
          expect(r.top1).toBeGreaterThanOrEqual(dtype === 'fp16' ? 0.95 : 0.8);
        } finally {
          model.dispose();
        }
      });
    }
  });
}
