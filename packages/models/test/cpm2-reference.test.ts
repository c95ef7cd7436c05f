import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { tidy } from '@bminf/core';
import { Cpm2Model, argmax, cpm2Generate, dialogue, dialogueInput, fillBlank, fillBlankInput } from '@bminf/models';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// Our float32 CPU implementation against transformers' T5ForConditionalGeneration on the committed
// random fixtures (models/fixtures, made by tooling/fixtures/make_t5_fixtures.py).
const FIXTURES = join(import.meta.dirname, '../../../models/fixtures');

interface RefCase {
  name: string;
  text?: string;
  turns?: string[];
  encoder_ids: number[];
  decoder_start: number;
  decoder_ids: number[];
  max_new_tokens: number;
  encoder_output_first: number[];
  encoder_output_last: number[];
  decoder_logits: number[][];
  greedy_ids: number[];
}
interface Reference {
  cases: RefCase[];
  special_ids: Record<string, number>;
}

/** max |a - b| / max |b|: the error relative to the largest reference value. */
function relError(actual: ArrayLike<number>, expected: ArrayLike<number>): number {
  expect(actual.length).toBe(expected.length);
  let err = 0;
  let scale = 0;
  for (let i = 0; i < expected.length; i++) {
    err = Math.max(err, Math.abs(actual[i] - expected[i]));
    scale = Math.max(scale, Math.abs(expected[i]));
  }
  return err / scale;
}

function greedyDecode(model: Cpm2Model, c: RefCase): number[] {
  const state = model.newState(c.encoder_ids);
  try {
    const ids = [c.decoder_start];
    for (let i = 0; i < c.max_new_tokens; i++) {
      const id = argmax(model.decoderForward([ids[ids.length - 1]], state));
      ids.push(id);
      if (id === 4) break; // <eod>, as generate() was told
    }
    return ids;
  } finally {
    state.dispose();
  }
}

for (const name of ['cpm2-tiny', 'eva-tiny']) {
  describe(`${name} float32 on the CPU against transformers`, () => {
    const dir = join(FIXTURES, name);
    const ref = JSON.parse(readFileSync(join(dir, 'reference.json'), 'utf8')) as Reference;
    let model: Cpm2Model;
    beforeAll(async () => {
      model = await Cpm2Model.load(dir, { dtype: 'fp32', device: 'cpu' });
    });
    afterAll(() => model?.dispose());

    for (const c of ref.cases) {
      it(`${c.name}: encoder output within 1e-4`, () => {
        const out = model.encoderOutput(c.encoder_ids);
        const d = model.config.dModel;
        expect(out.length).toBe(c.encoder_ids.length * d);
        expect(relError(out.subarray(0, d), c.encoder_output_first)).toBeLessThan(1e-4);
        expect(relError(out.subarray(out.length - d), c.encoder_output_last)).toBeLessThan(1e-4);
      });

      it(`${c.name}: decoder logits within 1e-4, all at once and step by step`, () => {
        const v = model.vocabSize;
        const state = model.newState(c.encoder_ids);
        const all = model.decoderForward(c.decoder_ids, state, { allLogits: true });
        state.dispose();
        const steps = model.newState(c.encoder_ids);
        c.decoder_logits.forEach((row, i) => {
          expect(relError(all.subarray(i * v, (i + 1) * v), row)).toBeLessThan(1e-4);
          expect(relError(model.decoderForward([c.decoder_ids[i]], steps), row)).toBeLessThan(1e-4);
        });
        steps.dispose();
      });

      it(`${c.name}: greedy ids identical to generate()`, () => {
        expect(greedyDecode(model, c)).toEqual(c.greedy_ids);
      });
    }
  });
}

describe('tasks on the fixtures', () => {
  it('fillBlank tokenizes as the reference and starts its fill with the reference argmax', async () => {
    const ref = JSON.parse(readFileSync(join(FIXTURES, 'cpm2-tiny/reference.json'), 'utf8')) as Reference;
    const model = await Cpm2Model.load(join(FIXTURES, 'cpm2-tiny'), { dtype: 'fp32', device: 'cpu' });
    try {
      for (const c of ref.cases) {
        expect(fillBlankInput(model, c.text!).encoderIds).toEqual(c.encoder_ids);
      }
      const c = ref.cases[0];
      const r = await fillBlank(model, c.text!, { greedy: true, maxTokens: 6 });
      // decoder input <s> <s_0> (as decoder_ids[0..1]): the next token is the row-1 argmax
      expect(r.ids[0]).toBe(ref.special_ids['<s_0>']);
      expect(r.ids[1]).toBe(argmax(Float32Array.from(c.decoder_logits[1])));
      expect(r.ids).toHaveLength(7);
      expect(r.fills).toHaveLength(2);
      expect(r.encoderIds).toEqual(c.encoder_ids);
    } finally {
      model.dispose();
    }
  });

  it('dialogue tokenizes as the reference and replies with the greedy ids of generate()', async () => {
    const ref = JSON.parse(readFileSync(join(FIXTURES, 'eva-tiny/reference.json'), 'utf8')) as Reference;
    const model = await Cpm2Model.load(join(FIXTURES, 'eva-tiny'), { dtype: 'fp32', device: 'cpu' });
    try {
      for (const c of ref.cases) {
        expect(dialogueInput(model, c.turns!)).toEqual(c.encoder_ids);
      }
      const c = ref.cases[0];
      const r = await dialogue(model, c.turns!, { greedy: true, maxTokens: c.max_new_tokens });
      // no <sep> (5) or <unk> (1) on this greedy path, so the whole path comes back
      expect(c.greedy_ids.slice(1)).not.toContain(5);
      expect(r.ids).toEqual(c.greedy_ids.slice(1));
      expect(r.finishReason).toBe('length');
      expect(r.reply).toBe(model.decode(c.greedy_ids.slice(1)));
    } finally {
      model.dispose();
    }
  });
});

describe('CPM-2 generate', () => {
  it('encodes prefix + <s_189>, starts the decoder from <s> <s_189>, and stops at <eod> or a sentinel', async () => {
    const model = await Cpm2Model.load(join(FIXTURES, 'cpm2-tiny'), { dtype: 'fp32', device: 'cpu' });
    try {
      const tok = model.tokenizer;
      const prefix = '床前明月光，疑是地上霜。';
      const r = await cpm2Generate(model, prefix, { greedy: true, maxTokens: 12 });
      expect(r.promptIds).toEqual(tok.encode(prefix));
      // the same path by hand
      const state = model.newState([...tok.encode(prefix), tok.sentinelId(189)]);
      const ids: number[] = [];
      let logits = model.decoderForward([tok.sodId, tok.sentinelId(189)], state);
      const stops = new Set([tok.eodId, ...tok.sentinelIds]);
      for (let i = 0; i < 12; i++) {
        logits[tok.unkId] = -Infinity;
        const id = argmax(logits);
        ids.push(id);
        if (stops.has(id)) break;
        logits = model.decoderForward([id], state);
      }
      state.dispose();
      expect(r.ids).toEqual(ids);
      expect(r.text).toBe(model.decode(ids.filter((id) => !stops.has(id))));
    } finally {
      model.dispose();
    }
  });

  it('keeps its state usable inside a tidy() scope', async () => {
    const model = await Cpm2Model.load(join(FIXTURES, 'cpm2-tiny'), { dtype: 'fp32', device: 'cpu' });
    try {
      const state = tidy(() => model.newState([10, 11, 12]));
      tidy(() => model.decoderForward(Array.from({ length: 70 }, (_, i) => 100 + i), state)); // grows the caches
      expect(model.decoderForward([5], state).length).toBe(model.vocabSize);
      state.dispose();
    } finally {
      model.dispose();
    }
  });
});
