// `bminf generate` (a fresh process per run: model load, JIT, thread-pool start, first touches) against
// the same generation warm in one process, on tiny-cpm1 in int8, 256 new tokens; the two take turns
// per round. Both go through an Engine (Cpm1PlannedRunner), as the CLI does.
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { Cpm1Model, Engine } from '@bminf/models';
import { median, medianRange as fmt, repoRoot } from '../lib.mjs';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const TOKENS = 256;
const PROMPT = '春眠不觉晓，';


export default {
  title: 'CPU: bminf generate (cold process) vs warm in-process generation',
  async run() {
    const dir = join(repoRoot, 'models', 'tiny-cpm1');
    const bin = join(repoRoot, 'apps', 'cli', 'dist', 'bin.js');
    const options = { maxTokens: TOKENS, greedy: true, stopTokens: [] };
    const model = await Cpm1Model.load(dir, { dtype: 'int8', device: 'cpu' });
    const engine = new Engine(model, { maxBatch: 1 });
    const generate = async () => {
      const it = engine.generate(PROMPT, options);
      let r = await it.next();
      while (!r.done) r = await it.next();
      return r.value;
    };
    await generate(); // warm-up: plans the steps, JIT, first touches
    const cli = [];
    const warm = [];
    for (let r = 0; r < ROUNDS; r++) {
      const out = execFileSync(process.execPath, [bin, 'generate', '--model', dir, '--prompt', PROMPT, '--max-tokens', String(TOKENS), '--greedy', '--ignore-eos', '--device', 'cpu', '--json'], { encoding: 'utf8' });
      const res = JSON.parse(out);
      if (res.ids.length !== TOKENS) throw new Error(`bminf generate made ${res.ids.length} tokens, not ${TOKENS}`);
      cli.push(res.tokensPerSecond);
      warm.push((await generate()).tokensPerSecond);
    }
    await engine.close();
    model.dispose();
    const ratio = median(cli) / median(warm);
    return {
      columns: ['run', `tok/s for ${TOKENS} new tokens: median (min–max)`, '÷ warm'],
      rows: [
        ['`bminf generate --json` (a new process each run)', fmt(cli), ratio.toFixed(2)],
        ['Engine.generate() warm in one process', fmt(warm), '1.00'],
      ],
      notes:
        `Both report GenerateResult.tokensPerSecond: ${TOKENS} greedy new tokens (\`--ignore-eos\`, so every run makes them all) ÷ wall time ` +
        `from the prompt's forward pass to the last token, prefill included, model load excluded; int8, default threads. ` +
          `The warm run reuses one Engine (\`new Engine(model, { maxBatch: 1 })\`, as the CLI makes for one prompt) whose steps were planned ` +
          `by a warm-up generation; the CLI plans its own in each new process. ${ROUNDS} rounds, ` +
        `the CLI run and the warm run taking turns. Target: the CLI within 30 % of the warm rate (≥ 0.70×): ${ratio >= 0.7 ? 'met' : 'not met'} (${ratio.toFixed(2)}×).`,
    };
  },
};
