// SentencePiece (tiny-cpm1's BPE model) encode/decode throughput, and the cost of choosing one token
// from CPM-1-sized logits (vocabulary 30000) with each sampling setting.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { SentencePieceTokenizer } from '@bminf/tokenizers';
import { TokenCounts, createSampler } from '@bminf/models';
import { repoRoot, timeIt } from '../lib.mjs';


export default {
  title: 'CPU: SentencePiece and sampling',
  async run() {
    const model = join(repoRoot, 'models', 'tiny-cpm1');
    const tok = await SentencePieceTokenizer.fromFile(join(model, 'tokenizer.model'));
    const corpus = join(repoRoot, '..', 'shared', 'data', 'corpus.txt');
    const source = existsSync(corpus)
      ? readFileSync(corpus, 'utf8')
      : JSON.parse(readFileSync(join(model, 'tokenizer_cases.json'), 'utf8')).map((c) => c.text).join('\n');
    const text = source.repeat(Math.ceil(100_000 / source.length)).slice(0, 100_000);
    const ids = tok.encode(text);
    const enc = timeIt(() => tok.encode(text));
    const dec = timeIt(() => tok.decode(ids));
    const rows = [
      [`encode 100 000 characters (${existsSync(corpus) ? 'corpus.txt' : 'tokenizer cases'})`, enc * 1e3, ids.length / enc],
      [`decode the ${ids.length} ids`, dec * 1e3, ids.length / dec],
    ];

    const vocab = 30000;
    const logits = new Float32Array(vocab);
    let x = 12345;
    for (let i = 0; i < vocab; i++) {
      x = (Math.imul(x, 1103515245) + 12345) >>> 0;
      logits[i] = (x / 2 ** 32) * 16 - 8; // spread like a trained model's logits
    }
    const prompt = Array.from({ length: 64 }, (_, i) => (i * 7919) % vocab);
    const settings = [
      ['greedy', { greedy: true }],
      ['temperature 0.8', { temperature: 0.8 }],
      ['top-k 50', { topK: 50 }],
      ['top-p 0.9', { topP: 0.9 }],
      ['top-k 50, top-p 0.9, penalties', { topK: 50, topP: 0.9, frequencyPenalty: 0.5, presencePenalty: 0.5 }],
    ];
    // float32 logits (what a model gives) take the native sampler; the same values as float64 take the
    // TypeScript reference it mirrors: both timed here, in the same run
    const reference = Float64Array.from(logits);
    for (const [name, opts] of settings) {
      const sampler = createSampler({ ...opts, seed: 1 });
      const counts = new TokenCounts(prompt);
      const t = timeIt(() => sampler.sample(logits, counts), 1);
      const ts = timeIt(() => sampler.sample(reference, counts), 1);
      rows.push([`sample one token, vocab ${vocab}: ${name}`, t * 1e3, 1 / t, ts * 1e3, ts / t]);
    }
    return {
      columns: ['operation', 'ms', 'tokens/s', 'TypeScript reference ms', 'speed-up'],
      rows: rows.map((r) => (r.length === 3 ? [...r, '', ''] : r)),
      notes:
        'One core. Encoding is the reference BPE (heap of candidate merges), in TypeScript. Sampling a token (createSampler().sample): float32 logits go to the native sampler (native/src/cpu/sample.cc: penalties, temperature, top-k, top-p and the draw in float64, e^x 4 wide on AVX2); the TypeScript reference (float64 logits) copies them to float64, applies the same steps (top-p sorts only the probability bucket where the nucleus ends) and draws with the same xoshiro128** stream. Greedy is an argmax either way (native for float32).',
    };
  },
};
