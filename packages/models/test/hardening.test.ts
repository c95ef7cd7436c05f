// The model loader and the generation loops against damaged checkpoints and careless callers
// (issue 11, items 5, 6 and 7): damaged weights and mismatched tied tables are refused, unused
// tensors are reported, streams add up to their result and give their memory back when dropped.
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runInNewContext } from 'node:vm';
import { setFlagsFromString } from 'node:v8';
import { CheckpointError, InvalidArgumentError } from '@bminf/core';
import { createCpuBackend } from '@bminf/kernels';
import { Cpm1Model, Cpm2Model, generate, streamDialogue, streamFillBlank, streamGenerate } from '@bminf/models';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { repoRoot, tinyDir } from './helpers.js';

const cpm2Dir = join(repoRoot, 'models', 'fixtures', 'cpm2-tiny');
let tmp: string;
beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), 'bminf-models-hard-'));
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** What loading gives: the error, or 'loaded' (the model disposed; printing a model in a failure would be huge). */
const outcome = (p: Promise<{ dispose(): void }>): Promise<unknown> =>
  p.then(
    (m) => {
      m.dispose();
      return 'loaded';
    },
    (e: unknown) => e,
  );

/** Copies `src` and rewrites the bytes of `tensor` in the safetensors file `file` that holds it. */
function withTensorBytes(src: string, name: string, file: string, tensor: string, edit: (data: Buffer) => void): string {
  const dir = join(tmp, name);
  cpSync(src, dir, { recursive: true });
  const path = join(dir, file);
  const bytes = readFileSync(path);
  const n = Number(bytes.readBigUInt64LE(0));
  const [begin, end] = JSON.parse(bytes.subarray(8, 8 + n).toString('utf8'))[tensor].data_offsets as [number, number];
  edit(bytes.subarray(8 + n + begin, 8 + n + end));
  writeFileSync(path, bytes);
  return dir;
}

describe('item 6: damaged weights and mismatched checkpoints', () => {
  it.each(['int8', 'fp16'] as const)('%s: one NaN or infinity in a linear weight is refused, naming the tensor (once int8 generated other text)', async (dtype) => {
    for (const [name, value] of [['nan', Number.NaN], ['inf', Number.POSITIVE_INFINITY]] as const) {
      const dir = withTensorBytes(tinyDir, `${name}-${dtype}`, 'model-00001-of-00002.safetensors', 'transformer.h.0.mlp.c_fc.weight', (d) => d.writeFloatLE(value, 40));
      const e = await outcome(Cpm1Model.load(dir, { dtype, device: 'cpu' }));
      expect(e).toBeInstanceOf(CheckpointError);
      expect((e as Error).message).toMatch(/tensor "transformer\.h\.0\.mlp\.c_fc\.weight" holds 1 NaN or infinite value\(s\) of 262144: the weights are damaged/);
    }
  });

  it('a T5 encoder.embed_tokens that differs from shared is refused (once run with shared, silently)', async () => {
    const dir = withTensorBytes(cpm2Dir, 't5-embed', 'model.safetensors', 'encoder.embed_tokens.weight', (d) => d.writeUInt16LE(0x3c00, 0));
    const e = await outcome(Cpm2Model.load(dir, { dtype: 'fp32', device: 'cpu' }));
    expect(e).toBeInstanceOf(CheckpointError);
    expect((e as Error).message).toMatch(/tensor "encoder\.embed_tokens\.weight" differs from "shared\.weight": bminf runs one table for "embed\.weight"/);
  });

  it('n_layer 1 on the 4-layer demo loads, with a warning naming the 36 unused tensors (once silent)', async () => {
    const dir = join(tmp, 'one-layer');
    cpSync(tinyDir, dir, { recursive: true });
    const config = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ ...config, n_layer: 1 }));
    const write = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    try {
      const m = await Cpm1Model.load(dir, { dtype: 'fp32', device: 'cpu' });
      m.dispose();
      const warned = write.mock.calls.map((c) => String(c[0])).join('');
      expect(warned).toMatch(/36 tensor\(s\) of the checkpoint are not used by the model config\.json describes \(transformer\.h\.1\..*check n_layer/);
    } finally {
      write.mockRestore();
    }
  });
});

describe('items 5 and 8: the generation API', () => {
  let model: Cpm1Model;
  beforeAll(async () => {
    model = await Cpm1Model.load(tinyDir, { dtype: 'int8', device: 'cpu' });
  });
  afterAll(() => model.dispose());

  it('joined stream chunks equal result.text whatever ends the generation (once 4 of 120 runs differed)', async () => {
    let heldAtEnd = 0;
    for (let seed = 0; seed < 40; seed++) {
      const options = { maxTokens: 7, seed, stop: ['。X', '，Y'] };
      const it = streamGenerate(model, '床前明月光，', options);
      let joined = '';
      let r = await it.next();
      while (!r.done) {
        joined += r.value.text;
        r = await it.next();
      }
      expect(joined).toBe(r.value.text);
      if (/[。，]$/.test(r.value.text) && r.value.finishReason === 'length') heldAtEnd++;
    }
    expect(heldAtEnd).toBeGreaterThan(0); // the case that lost its end: a stop string's prefix held at the length limit
  });

  it('generate(model, 42) is an InvalidArgumentError (once "TypeError: prompt is not iterable")', async () => {
    await expect(generate(model, 42 as unknown as string)).rejects.toThrow(InvalidArgumentError);
    await expect(generate(model, 42 as unknown as string)).rejects.toThrow(/Expected the prompt to be a string or an array of token ids but received number/);
  });
});

describe('item 7: abandoned streams give their memory back', () => {
  // A real garbage collection, as the FinalizationRegistry backstop needs one.
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  const collect = async () => {
    for (let i = 0; i < 4; i++) {
      gc();
      await new Promise((r) => setTimeout(r, 20));
    }
  };

  it('streams dropped without return() are disposed once collected (once 1 500 of them held 3.1 GB)', async () => {
    const backend = createCpuBackend();
    const cpm1 = await Cpm1Model.load(tinyDir, { dtype: 'int8', device: backend });
    const cpm2 = await Cpm2Model.load(cpm2Dir, { dtype: 'int8', device: backend });
    const loaded = backend.pool.stats.bytesInUse;
    const started = async () => {
      for (let i = 0; i < 10; i++) {
        await streamGenerate(cpm1, '床前明月光，', { maxTokens: 20, seed: i }).next();
        await streamFillBlank(cpm2, '天<span>地', { maxTokens: 20, seed: i }).next();
        await streamDialogue(cpm2, ['你好'], { maxTokens: 20, seed: i }).next();
      }
      return backend.pool.stats.bytesInUse;
    };
    expect(await started()).toBeGreaterThan(loaded); // 30 states hold KV caches
    await collect();
    expect(backend.pool.stats.bytesInUse).toBe(loaded);
    cpm1.dispose();
    cpm2.dispose();
    backend.dispose();
  });
});
