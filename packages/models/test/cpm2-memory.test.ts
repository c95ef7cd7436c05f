import { join } from 'node:path';
import { createCpuBackend } from '@bminf/kernels';
import { Cpm2Model, cpm2Generate, dialogue, fillBlank } from '@bminf/models';
import { describe, expect, it } from 'vitest';

const FIXTURES = join(import.meta.dirname, '../../../models/fixtures');

describe('CPM-2 memory', () => {
  it.each(['fp32', 'int8'] as const)('%s: every byte goes back to the pool once the model is disposed', async (dtype) => {
    const backend = createCpuBackend();
    const model = await Cpm2Model.load(join(FIXTURES, 'cpm2-tiny'), { dtype, device: backend });
    const loaded = backend.pool.stats.bytesInUse;
    expect(loaded).toBeGreaterThan(0);
    await fillBlank(model, '床前明月<span>，疑是地上<span>。', { greedy: true, maxTokens: 70 }); // grows the decoder caches
    await dialogue(model, ['你好'], { maxTokens: 5, seed: 1 });
    await cpm2Generate(model, '床前明月光', { maxTokens: 5, seed: 1 });
    const state = model.newState([10, 11]);
    model.decoderForward(Array.from({ length: 100 }, (_, i) => 100 + i), state);
    state.dispose();
    model.encoderOutput([1, 2, 3]);
    // tasks leave nothing behind
    expect(backend.pool.stats.bytesInUse).toBe(loaded);
    model.dispose();
    expect(backend.pool.stats.bytesInUse).toBe(0);
    backend.dispose();
  });
});
