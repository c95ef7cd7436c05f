// Bad input gets a typed error that says what was wrong: never a crash or a hang.
import { cpSync, mkdtempSync, openSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync, closeSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CheckpointError, InvalidArgumentError, ModelConfigError, parseModelDType } from '@bminf/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Cpm1Model, generate } from '../src/index.js';
import { tinyDir } from './helpers.js';

let tmp: string;
beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), 'bminf-bad-'));
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** A copy of the demo model that a test may damage. */
function copyModel(name: string): string {
  const dir = join(tmp, name);
  cpSync(tinyDir, dir, { recursive: true });
  return dir;
}

describe('loading', () => {
  it('a missing model directory', async () => {
    await expect(Cpm1Model.load(join(tmp, 'nope'), { device: 'cpu' })).rejects.toThrow(InvalidArgumentError);
    await expect(Cpm1Model.load(join(tmp, 'nope'), { device: 'cpu' })).rejects.toThrow(/does not exist/);
  });

  it('a truncated safetensors shard', async () => {
    const dir = copyModel('truncated');
    const shard = join(dir, 'model-00002-of-00002.safetensors');
    truncateSync(shard, statSync(shard).size - 1000);
    const p = Cpm1Model.load(dir, { dtype: 'fp32', device: 'cpu' });
    await expect(p).rejects.toThrow(CheckpointError);
    await expect(Cpm1Model.load(dir, { dtype: 'fp32', device: 'cpu' })).rejects.toThrow(/model-00002-of-00002\.safetensors/);
  });

  it('a header length beyond the file', async () => {
    const dir = copyModel('header');
    const shard = join(dir, 'model-00001-of-00002.safetensors');
    const fd = openSync(shard, 'r+');
    const len = Buffer.alloc(8);
    len.writeBigUInt64LE(BigInt(statSync(shard).size) * 2n);
    writeSync(fd, len, 0, 8, 0);
    closeSync(fd);
    await expect(Cpm1Model.load(dir, { dtype: 'fp32', device: 'cpu' })).rejects.toThrow(CheckpointError);
    await expect(Cpm1Model.load(dir, { dtype: 'fp32', device: 'cpu' })).rejects.toThrow(/header/i);
  });

  it('an unknown dtype', () => {
    expect(() => parseModelDType('int4')).toThrow(InvalidArgumentError);
    expect(() => parseModelDType('int4')).toThrow(/fp32, fp16, int8/);
  });

  it('tensor shapes that do not match the config', async () => {
    const dir = copyModel('shapes');
    const cfg = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
    cfg.n_inner = 512;
    writeFileSync(join(dir, 'config.json'), JSON.stringify(cfg));
    await expect(Cpm1Model.load(dir, { dtype: 'fp32', device: 'cpu' })).rejects.toThrow(ModelConfigError);
    await expect(Cpm1Model.load(dir, { dtype: 'fp32', device: 'cpu' })).rejects.toThrow(/mlp\.c_fc\.weight" has shape \[256, 1024\], but config\.json implies \[256, 512\]/);
  });

  it('a config that is not CPM-1', async () => {
    const dir = copyModel('config');
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ model_type: 'gpt2', n_embd: 'big' }));
    await expect(Cpm1Model.load(dir, { device: 'cpu' })).rejects.toThrow(/n_embd/);
  });
});

describe('running', () => {
  let model: Cpm1Model;
  beforeAll(async () => {
    model = await Cpm1Model.load(tinyDir, { dtype: 'int8', device: 'cpu' });
  });
  afterAll(() => model?.dispose());

  it('token ids out of range', async () => {
    await expect(generate(model, [5, 8000], { greedy: true })).rejects.toThrow(/token id 8000 is out of range/i);
    expect(() => model.forward([-1], null)).toThrow(InvalidArgumentError);
  });

  it('a prompt longer than the context', async () => {
    const long = Array.from({ length: 600 }, () => 2322);
    await expect(generate(model, long, { greedy: true })).rejects.toThrow(/600 tokens.*context holds 512/);
  });

  it.each([
    [{ temperature: 0 }, /temperature/],
    [{ temperature: -1 }, /temperature/],
    [{ topP: 1.5 }, /topP|top-p|top_p/i],
    [{ topP: 0 }, /topP|top-p|top_p/i],
    [{ topK: -2 }, /topK|top-k|top_k/i],
    [{ topK: 2.5 }, /topK|top-k|top_k/i],
    [{ frequencyPenalty: Number.NaN }, /frequency/i],
    [{ seed: 1.5 }, /seed/],
    [{ maxTokens: 0 }, /maxTokens/],
  ])('invalid sampling parameters %o', async (opts, msg) => {
    await expect(generate(model, '床前明月光，', opts)).rejects.toThrow(InvalidArgumentError);
    await expect(generate(model, '床前明月光，', opts)).rejects.toThrow(msg);
  });

  it('an aborted signal stops generation', async () => {
    const ac = new AbortController();
    ac.abort();
    await expect(generate(model, '床前明月光，', { signal: ac.signal })).rejects.toThrow(/aborted/);
  });

  it('use after dispose', async () => {
    const m = await Cpm1Model.load(tinyDir, { dtype: 'fp32', device: 'cpu' });
    m.dispose();
    expect(() => m.forward([5], null)).toThrow(/disposed/);
  });
});

describe('generation behaviour', () => {
  it('stop strings cut the text before them; the stream pieces add up to the text', async () => {
    const model = await Cpm1Model.load(tinyDir, { dtype: 'fp32', device: 'cpu' });
    try {
      const { streamGenerate } = await import('../src/index.js');
      const it = streamGenerate(model, '床前明月光，', { greedy: true, maxTokens: 48, stop: ['。'] });
      let streamed = '';
      let r = await it.next();
      while (!r.done) {
        streamed += r.value.text;
        r = await it.next();
      }
      expect(r.value.finishReason).toBe('stop');
      expect(r.value.text).toBe('夜窗灯');
      expect(streamed).toBe(r.value.text);
      // the same seed gives the same sample
      const a = await generate(model, '床前明月光，', { temperature: 0.9, topP: 0.9, seed: 42, maxTokens: 24 });
      const b = await generate(model, '床前明月光，', { temperature: 0.9, topP: 0.9, seed: 42, maxTokens: 24 });
      expect(a.ids).toEqual(b.ids);
    } finally {
      model.dispose();
    }
  });
});
