// CPM-2 and EVA on the engine's planned runner: the encoder step per length bucket, the cross- and
// self-attention caches per slot, one decode step for every sequence.
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Cpm2Model, Engine, cpm2Generate, dialogue, fillBlank } from '../src/index.js';

const FIXTURES = join(import.meta.dirname, '../../../models/fixtures');

async function drain<C, R>(it: AsyncGenerator<C, R, void>): Promise<R> {
  for (;;) {
    const r = await it.next();
    if (r.done) return r.value;
  }
}

describe.each(['fp32', 'int8'] as const)('the planned CPM-2 runner (%s, CPU)', (dtype) => {
  let cpm2: Cpm2Model;
  let eva: Cpm2Model;
  beforeAll(async () => {
    cpm2 = await Cpm2Model.load(join(FIXTURES, 'cpm2-tiny'), { dtype, device: 'cpu' });
    eva = await Cpm2Model.load(join(FIXTURES, 'eva-tiny'), { dtype, device: 'cpu' });
  });
  afterAll(() => {
    cpm2.dispose();
    eva.dispose();
  });

  const texts = ['天地玄黄', '宇宙洪荒，日月盈昃，辰宿列张。寒来暑往', '春'];

  it('gives batched sequences the ids they get alone', async () => {
    const solo = new Engine(cpm2, { maxBatch: 1 });
    const alone = [];
    for (const t of texts) alone.push(await drain(solo.generate(t, { greedy: true, maxTokens: 12 })));
    const blanks = await drain(solo.fillBlank('天<span>地<span>', { greedy: true, maxTokens: 10 }));
    await solo.close();
    const engine = new Engine(cpm2, { maxBatch: 4 });
    const [batched, blanksBatched] = await Promise.all([
      Promise.all(texts.map((t) => drain(engine.generate(t, { greedy: true, maxTokens: 12 })))),
      drain(engine.fillBlank('天<span>地<span>', { greedy: true, maxTokens: 10 })),
    ]);
    batched.forEach((r, i) => expect(r.ids, texts[i]).toEqual(alone[i].ids));
    expect(blanksBatched).toEqual(blanks);
    await engine.close();
  });

  it.runIf(dtype === 'fp32')('matches the eager path: generate, fillBlank, and EVA dialogue', async () => {
    const engine = new Engine(cpm2, { maxBatch: 4 });
    for (const t of texts) {
      const eager = await cpm2Generate(cpm2, t, { greedy: true, maxTokens: 12 });
      expect((await drain(engine.generate(t, { greedy: true, maxTokens: 12 }))).ids).toEqual(eager.ids);
    }
    const eagerBlanks = await fillBlank(cpm2, '天<span>地<span>', { greedy: true, maxTokens: 10 });
    expect(await drain(engine.fillBlank('天<span>地<span>', { greedy: true, maxTokens: 10 }))).toEqual(eagerBlanks);
    await engine.close();
    const evaEngine = new Engine(eva, { maxBatch: 2 });
    const context = ['你好', '你好，你是谁？'];
    expect(await drain(evaEngine.dialogue(context, { greedy: true, maxTokens: 10 }))).toEqual(await dialogue(eva, context, { greedy: true, maxTokens: 10 }));
    await evaEngine.close();
  });

  it('refuses an encoder input longer than the runner holds, naming the limit', async () => {
    const engine = new Engine(cpm2, { maxBatch: 1, maxEncoderLength: 8 });
    await expect(drain(engine.generate('天地玄黄宇宙洪荒日月盈昃辰宿列张', { maxTokens: 2 }))).rejects.toThrow(/exceed the 8/);
    expect(engine.stats.running).toBe(0);
    await engine.close();
  });
});
