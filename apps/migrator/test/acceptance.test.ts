// Issue 3's acceptance on the demo model, on the CPU: the migrated checkpoints (from safetensors and
// from the PyTorch .bin) load, score the eval tokens exactly as quantizing while loading from the same
// source does (within 3 % of the float32 reference loss), and generate the same greedy text.
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { migrate } from '@bminf/migrator';
import { Cpm1Model, generate, perplexity } from '@bminf/models';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { demo, demoBin } from './helpers.js';

const evalIds = (JSON.parse(readFileSync(join(demo, 'eval_tokens.json'), 'utf8')) as { ids: number[] }).ids;
const referenceLoss = (JSON.parse(readFileSync(join(demo, 'reference_loss.json'), 'utf8')) as { first_4096_tokens_loss: number })
  .first_4096_tokens_loss;
const prompts = (JSON.parse(readFileSync(join(demo, 'reference.json'), 'utf8')) as { prompt_ids: number[] }[]).map((c) => c.prompt_ids);

let tmp: string;
beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), 'bminf-accept-'));
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

async function compare(source: string, migrated: string) {
  const onLoad = await Cpm1Model.load(source, { dtype: 'int8', device: 'cpu' });
  const pre = await Cpm1Model.load(migrated, { dtype: 'int8', device: 'cpu' });
  try {
    const a = perplexity(onLoad, evalIds, 512);
    const b = perplexity(pre, evalIds, 512);
    expect(b.tokens).toBe(8 * 511);
    expect(b.loss).toBe(a.loss);
    expect(Math.abs(b.loss / referenceLoss - 1)).toBeLessThan(0.03);
    for (const p of prompts) {
      const x = await generate(onLoad, p, { greedy: true, maxTokens: 48 });
      const y = await generate(pre, p, { greedy: true, maxTokens: 48 });
      expect(y.ids).toEqual(x.ids);
    }
  } finally {
    onLoad.dispose();
    pre.dispose();
  }
}

describe('acceptance: migrated demo model', () => {
  it('from safetensors: same loss as quantize-on-load (within 3 % of float32), same greedy text', async () => {
    const out = join(tmp, 'st');
    await migrate({ input: demo, output: out });
    await compare(demo, out);
  });

  it.skipIf(!existsSync(demoBin))('from pytorch_model.fp16.bin: the same (skipped without ../shared)', async () => {
    const input = join(tmp, 'bin');
    mkdirSync(input);
    for (const f of ['config.json', 'tokenizer.model']) copyFileSync(join(demo, f), join(input, f));
    copyFileSync(demoBin, join(input, 'pytorch_model.bin'));
    const out = join(tmp, 'bin-int8');
    await migrate({ input, output: out });
    await compare(input, out);
  });
});
