// RoutePolicy.decodePhases on CUDA: a one-sequence decode whose GEMV linears and attentions run as the phases
// of one cooperative launch (decode_phases) gives the logits of the same steps run kernel by kernel, bit for
// bit, recorded as a graph and op by op, with 2 and 3 blocks an SM; on tiny-cpm1 (LayerNorm, GELU) and the
// CPM-2 / EVA fixtures (RMS norm, gated FFN, the attention's bias by distance). Skips where no usable GPU is.
import { join } from 'node:path';
import { type CudaBackend, cudaAvailability } from '@bminf/kernels';
import { Cpm1Model, Cpm1PlannedRunner, Cpm2Model, Cpm2PlannedRunner, type ModelRunner } from '@bminf/models';
import { describe, expect, it } from 'vitest';
import { reference, tinyDir } from '../test/helpers.js';

const avail = cudaAvailability();
if (!avail.available) console.log(`[gpu tests] decode phases skipped: CUDA is unavailable: ${avail.reason}`);
const FIXTURES = join(import.meta.dirname, '../../../models/fixtures');

/**
 * One sequence through both runners, `steps` tokens: `plain` with decodePhases 0, `phased` with perSm. The
 * policy is set before each call, since a runner plans (and op by op, runs) its steps with the policy of that moment.
 */
async function samePhased(backend: CudaBackend, plain: ModelRunner, phased: ModelRunner, perSm: number, encoder: number[] | null, prompt: number[], steps: number) {
  const as = async <T>(p: number, f: () => Promise<T>): Promise<T> => {
    backend.routes.decodePhases = p;
    try {
      return await f();
    } finally {
      backend.routes.decodePhases = 0;
    }
  };
  await as(0, () => plain.open(0, encoder));
  await as(perSm, () => phased.open(0, encoder));
  let ids = prompt;
  for (let t = 0; t < steps; t++) {
    const [a] = await as(0, () => plain.step([{ slot: 0, ids }]));
    const [b] = await as(perSm, () => phased.step([{ slot: 0, ids }]));
    expect(b, `step ${t}`).toEqual(a);
    ids = [(11 * t + 5) % 400];
  }
}

describe.skipIf(!avail.available)('decode phases on CUDA', () => {
  it.each([2, 3])('tiny-cpm1 int8, %i blocks an SM: the phased steps equal the kernels one by one, recorded and op by op', async (perSm) => {
    const model = await Cpm1Model.load(tinyDir, { dtype: 'int8', device: 'cuda' });
    const backend = model.backend as CudaBackend;
    try {
      for (const record of [true, false]) {
        const plain = new Cpm1PlannedRunner(model, 1, 256, record);
        const phased = new Cpm1PlannedRunner(model, 1, 256, record);
        try {
          await samePhased(backend, plain, phased, perSm, null, reference[1].prompt_ids, 12);
        } finally {
          plain.dispose();
          phased.dispose();
        }
      }
    } finally {
      model.dispose();
    }
  });

  it.each(['cpm2-tiny', 'eva-tiny'])('%s int8 and fp16: the phased steps equal the kernels one by one, recorded and op by op', async (name) => {
    for (const dtype of ['int8', 'fp16'] as const) {
      const model = await Cpm2Model.load(join(FIXTURES, name), { dtype, device: 'cuda' });
      const backend = model.backend as CudaBackend;
      try {
        for (const [record, perSm] of [[true, 2], [true, 3], [false, 2]] as const) {
          const plain = new Cpm2PlannedRunner(model, 1, { record });
          const phased = new Cpm2PlannedRunner(model, 1, { record });
          try {
            await samePhased(backend, plain, phased, perSm, [5, 6, 7, 8, 9, 10, 11], [2], 10);
          } finally {
            plain.dispose();
            phased.dispose();
          }
        }
      } finally {
        model.dispose();
      }
    }
  });
});
