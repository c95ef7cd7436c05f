// Many batched requests leave the memory pool where it started: steps are planned once (prepare) and
// every request's slot is given back, whether it ends by eos, by its limit or by being returned early.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CpuBackend } from '@bminf/kernels';
import { availableParallelism } from 'node:os';
import { Cpm1Model, Engine } from '../src/index.js';
import { tinyDir } from './helpers.js';

async function drain<C, R>(it: AsyncGenerator<C, R, void>): Promise<R> {
  for (;;) {
    const r = await it.next();
    if (r.done) return r.value;
  }
}

describe('the engine on the CPU', () => {
  let model: Cpm1Model;
  beforeAll(async () => {
    model = await Cpm1Model.load(tinyDir, { dtype: 'int8', device: 'cpu' });
  });
  afterAll(() => model.dispose());

  it('1000 batched requests of random lengths (some abandoned early) leave the host pool at its starting level', async () => {
    const pool = (model.backend as CpuBackend).pool;
    const engine = new Engine(model, { maxBatch: 16 });
    await engine.prepare(40);
    const start = pool.stats.bytesInUse;
    let seed = 7;
    const rnd = (n: number) => ((seed = (seed * 1103515245 + 12345) >>> 0) % n);
    await Promise.all(
      Array.from({ length: 1000 }, async (_, i) => {
        const it = engine.generate(Array.from({ length: 1 + rnd(40) }, () => 10 + rnd(7000)), { maxTokens: 1 + rnd(8), seed: rnd(1000) });
        if (i % 7 !== 3) return drain(it);
        await it.next();
        return it.return(undefined as never); // a client that went away
      }),
    );
    expect(engine.stats.running).toBe(0);
    expect(pool.stats.bytesInUse).toBe(start);
    await engine.close();
  });
});

describe('the event loop while the CPU generates', () => {
  it('a 10 ms timer keeps firing (p99 lateness ≤ 20 ms) while a long prompt prefills and decodes', async () => {
    // As a server runs it: the kernels leave one core to the event loop (the demo server's default).
    const threads = Math.max(1, availableParallelism() - 1);
    const model = await Cpm1Model.load(tinyDir, { dtype: 'int8', device: 'cpu', threads });
    const engine = new Engine(model, { maxBatch: 2 });
    try {
      const prompt = Array.from({ length: 400 }, (_, i) => 10 + ((i * 37) % 7000));
      await engine.prepare(400); // planned once, before the clock runs
      const late: number[] = [];
      let last = performance.now();
      const timer = setInterval(() => {
        const now = performance.now();
        late.push(now - last - 10);
        last = now;
      }, 10);
      const t0 = performance.now();
      while (performance.now() - t0 < 3000) await Promise.all([0, 1].map(() => drain(engine.generate(prompt, { greedy: true, maxTokens: 100 }))));
      clearInterval(timer);
      late.sort((a, b) => a - b);
      const p99 = late[Math.floor(late.length * 0.99)];
      console.log(`[cpu] event loop: ${late.length} ticks in ${(performance.now() - t0).toFixed(0)} ms, p99 lateness ${p99.toFixed(2)} ms`);
      expect(late.length).toBeGreaterThan(50);
      expect(p99).toBeLessThanOrEqual(20);
    } finally {
      await engine.close();
      model.dispose();
      CpuBackend.setThreads(availableParallelism()); // the default again, for the tests after this one
    }
  });
});
