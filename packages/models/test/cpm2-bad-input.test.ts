import { copyFileSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InvalidArgumentError, ModelConfigError, TokenizerError } from '@bminf/core';
import { Cpm2Model, cpm2Generate, detectArchitecture, dialogue, fillBlank, parseCpm2Config } from '@bminf/models';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const FIXTURES = join(import.meta.dirname, '../../../models/fixtures');
const CPM2 = join(FIXTURES, 'cpm2-tiny');
const config = () => JSON.parse(readFileSync(join(CPM2, 'config.json'), 'utf8')) as Record<string, unknown>;

/** A copy of cpm2-tiny with some files replaced. */
function modelDir(replace: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'cpm2-bad-'));
  for (const f of ['config.json', 'model.safetensors', 'vocab.txt']) copyFileSync(join(CPM2, f), join(dir, f));
  for (const [f, text] of Object.entries(replace)) writeFileSync(join(dir, f), text);
  return dir;
}

describe('CPM-2 tasks reject bad input', () => {
  let model: Cpm2Model;
  beforeAll(async () => {
    model = await Cpm2Model.load(CPM2, { dtype: 'fp32', device: 'cpu' });
  });
  afterAll(() => model?.dispose());

  it('fillBlank without <span>', async () => {
    await expect(fillBlank(model, '床前明月光')).rejects.toThrow(InvalidArgumentError);
    await expect(fillBlank(model, '床前明月光')).rejects.toThrow(/has no <span> to fill/);
  });

  it('fillBlank with more than 16 spans', async () => {
    await expect(fillBlank(model, '月<span>'.repeat(17))).rejects.toThrow(/17 <span> blanks; at most 16/);
    // 16 are fine
    const r = await fillBlank(model, '月<span>'.repeat(16), { greedy: true, maxTokens: 1 });
    expect(r.fills).toHaveLength(16);
  });

  it('fillBlank with a non-string text', async () => {
    await expect(fillBlank(model, 42 as never)).rejects.toThrow(/takes a string but received number/);
  });

  it('dialogue with an empty context or a turn that is not a string', async () => {
    await expect(dialogue(model, [])).rejects.toThrow(InvalidArgumentError);
    await expect(dialogue(model, [])).rejects.toThrow(/context is empty/);
    await expect(dialogue(model, '你好' as never)).rejects.toThrow(/context is empty/);
    await expect(dialogue(model, ['你好', 3 as never])).rejects.toThrow(/turn 1 is number/);
  });

  it('bad task options, each named', async () => {
    await expect(dialogue(model, ['你好'], { maxTokens: 0 })).rejects.toThrow(/maxTokens to be a positive integer but received 0/);
    await expect(dialogue(model, ['你好'], { filterTokens: [100000] })).rejects.toThrow(/filterTokens to be token ids in 0..597/);
    await expect(dialogue(model, ['你好'], { truncation: -1 })).rejects.toThrow(/truncation to be a positive integer/);
    await expect(fillBlank(model, '<span>', { temperature: -1 })).rejects.toThrow(/temperature/);
    await expect(cpm2Generate(model, '')).rejects.toThrow(/prompt is empty/);
  });

  it('decoder and encoder inputs out of range', () => {
    expect(() => model.encoderOutput([])).toThrow(/encoder input is empty/);
    expect(() => model.encoderOutput([598])).toThrow(/Token id 598 is out of range/);
    const state = model.newState([10, 11]);
    try {
      expect(() => model.decoderForward([-1], state)).toThrow(/Token id -1 is out of range/);
      expect(() => model.decoderForward([], state)).toThrow(/decoder input is empty/);
    } finally {
      state.dispose();
    }
    expect(() => model.decoderForward([2], {} as never)).toThrow(/needs a state from newState/);
  });
});

describe('CPM-2 loading rejects bad model directories', () => {
  it('a vocab.txt without the special tokens', async () => {
    const words = readFileSync(join(CPM2, 'vocab.txt'), 'utf8').split('\n').filter((w) => w !== '<sep>' && w !== '<eod>');
    const dir = modelDir({ 'vocab.txt': words.join('\n') });
    await expect(Cpm2Model.load(dir, { dtype: 'fp32', device: 'cpu' })).rejects.toThrow(TokenizerError);
    await expect(Cpm2Model.load(dir, { dtype: 'fp32', device: 'cpu' })).rejects.toThrow(/lacks the special tokens <eod>, <sep>/);
  });

  it('a vocab larger than the embedding', async () => {
    const words = readFileSync(join(CPM2, 'vocab.txt'), 'utf8').trim().split('\n');
    const dir = modelDir({ 'vocab.txt': [...words, 'extra1', 'extra2'].join('\n') });
    await expect(Cpm2Model.load(dir, { device: 'cpu' })).rejects.toThrow(/vocab.txt has 600 tokens but the model only 598 embeddings/);
  });

  it('configs that are not CPM-2/EVA', async () => {
    const tied = modelDir({ 'config.json': JSON.stringify({ ...config(), tie_word_embeddings: true }) });
    await expect(Cpm2Model.load(tied, { device: 'cpu' })).rejects.toThrow(ModelConfigError);
    await expect(Cpm2Model.load(tied, { device: 'cpu' })).rejects.toThrow(/tie_word_embeddings is true/);
    const raw = config();
    expect(() => parseCpm2Config({ ...raw, feed_forward_proj: 'relu', is_gated_act: false, dense_act_fn: 'relu' })).toThrow(/gated tanh GELU.*"relu"/);
    expect(() => parseCpm2Config({ ...raw, d_model: 'big' })).toThrow(/d_model/);
    expect(() => parseCpm2Config({ ...raw, num_heads: 3 })).toThrow(/num_heads × d_kv \(3 × 32\) must equal d_model \(128\)/);
  });

  it('weights that disagree with config.json', async () => {
    const dir = modelDir({ 'config.json': JSON.stringify({ ...config(), d_ff: 512 }) });
    await expect(Cpm2Model.load(dir, { dtype: 'fp32', device: 'cpu' })).rejects.toThrow(/has shape \[320, 128\], but config.json implies \[512, 128\]/);
  });

  it('detects CPM-2 and EVA from a T5 config', () => {
    expect(detectArchitecture(config()).name).toBe('cpm2');
    expect(detectArchitecture({ ...config(), relative_attention_max_distance: 256 }).name).toBe('eva');
  });
});
