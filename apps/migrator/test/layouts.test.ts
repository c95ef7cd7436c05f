// The original CPM-1 (Megatron) and CPM-2/EVA releases' layouts, built here from Hugging Face-named
// checkpoints by fusing and renaming exactly as BMInf's migrate_*.py scripts undo it: migrating either
// form must give the same bytes.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openCheckpoint, writeSafetensors, type TensorSource } from '@bminf/checkpoint';
import { CheckpointError, type HostArray } from '@bminf/core';
import { migrate } from '@bminf/migrator';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { root, writeTinyCheckpoint } from './helpers.js';

let tmp: string;
beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), 'bminf-layouts-'));
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const concat = (parts: HostArray[]): HostArray => {
  const out = new (parts[0].constructor as new (n: number) => HostArray)(parts.reduce((a, p) => a + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p as never, o);
    o += p.length;
  }
  return out;
};
const transpose = (d: HostArray, rows: number, cols: number): HostArray => {
  const out = new (d.constructor as new (n: number) => HostArray)(d.length);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = d[r * cols + c];
  return out;
};
const dtypeOf = (d: HostArray) => (d instanceof Uint16Array ? 'F16' : 'F32');

/** Writes `tensors` (original names) + the config of `from` into `dir`. */
async function writeOriginal(dir: string, from: string, tensors: Map<string, { shape: number[]; data: HostArray }>) {
  const list: TensorSource[] = [...tensors].map(([name, t]) => ({ name, dtype: dtypeOf(t.data), shape: t.shape, data: t.data }));
  await writeSafetensors(dir, list);
  writeFileSync(join(dir, 'config.json'), readFileSync(join(from, 'config.json')));
}

async function expectSameOutput(a: string, b: string) {
  const x = await openCheckpoint(a);
  const y = await openCheckpoint(b);
  try {
    expect(y.names()).toEqual(x.names());
    for (const n of x.names()) {
      const [p, q] = [await x.read(n), await y.read(n)];
      expect(q.shape, n).toEqual(p.shape);
      expect(Buffer.from(q.data.buffer, q.data.byteOffset, q.data.byteLength).equals(Buffer.from(p.data.buffer, p.data.byteOffset, p.data.byteLength)), n).toBe(true);
    }
  } finally {
    await x.close();
    await y.close();
  }
}

describe('original release layouts', () => {
  it.each(['cpm2-tiny', 'eva-tiny'])('%s in the original CPM-2/EVA layout (with a module. prefix) migrates to the same bytes', async (fixture) => {
    const hf = join(root, 'models/fixtures', fixture);
    const src = await openCheckpoint(hf);
    const get = async (n: string) => {
      const t = await src.read(n);
      return { shape: t.shape, data: t.data };
    };
    const orig = new Map<string, { shape: number[]; data: HostArray }>();
    const put = (n: string, t: { shape: number[]; data: HostArray }) => orig.set(`module.${n}`, t);
    put('word_embeds.weight', await get('shared.weight'));
    put('lm_head.weight', await get('lm_head.weight'));
    for (const stack of ['encoder', 'decoder']) {
      put(`${stack}.final_layernorm.weight`, await get(`${stack}.final_layer_norm.weight`));
      put(`${stack}.blocks.0.self_attn.self_attn.relative_attention_bias.weight`, await get(`${stack}.block.0.layer.0.SelfAttention.relative_attention_bias.weight`));
      for (let i = 0; src.names().includes(`${stack}.block.${i}.layer.0.layer_norm.weight`); i++) {
        const t = `${stack}.block.${i}.layer`;
        const s = `${stack}.blocks.${i}`;
        put(`${s}.self_attn.layer_norm.weight`, await get(`${t}.0.layer_norm.weight`));
        const qkv = await Promise.all(['q', 'k', 'v'].map((x) => get(`${t}.0.SelfAttention.${x}.weight`)));
        put(`${s}.self_attn.self_attn.project.weight`, { shape: [3 * qkv[0].shape[0], qkv[0].shape[1]], data: concat(qkv.map((x) => x.data)) });
        put(`${s}.self_attn.self_attn.dense.weight`, await get(`${t}.0.SelfAttention.o.weight`));
        let ff = 1;
        if (stack === 'decoder') {
          put(`${s}.cross_attn.layer_norm.weight`, await get(`${t}.1.layer_norm.weight`));
          put(`${s}.cross_attn.cross_attn.project_q.weight`, await get(`${t}.1.EncDecAttention.q.weight`));
          const kv = await Promise.all(['k', 'v'].map((x) => get(`${t}.1.EncDecAttention.${x}.weight`)));
          put(`${s}.cross_attn.cross_attn.project_kv.weight`, { shape: [2 * kv[0].shape[0], kv[0].shape[1]], data: concat(kv.map((x) => x.data)) });
          put(`${s}.cross_attn.cross_attn.dense.weight`, await get(`${t}.1.EncDecAttention.o.weight`));
          ff = 2;
        }
        put(`${s}.ff.layer_norm.weight`, await get(`${t}.${ff}.layer_norm.weight`));
        for (const w of ['wi_0', 'wi_1', 'wo']) put(`${s}.ff.dense_relu_dense.${w}.weight`, await get(`${t}.${ff}.DenseReluDense.${w}.weight`));
      }
    }
    await src.close();
    const origDir = join(tmp, `${fixture}-orig`);
    await writeOriginal(origDir, hf, orig);
    const a = await migrate({ input: hf, output: join(tmp, `${fixture}-a`) });
    const b = await migrate({ input: origDir, output: join(tmp, `${fixture}-b`) });
    expect(a.layout).toBe('huggingface');
    expect(b.layout).toBe('cpm2-original');
    expect(b.tensors).toBe(a.tensors);
    await expectSameOutput(join(tmp, `${fixture}-a`), join(tmp, `${fixture}-b`));
    expect(JSON.parse(readFileSync(join(tmp, `${fixture}-b`, 'config.json'), 'utf8')).bminf.sourceLayout).toBe('cpm2-original');
  });

  it('CPM-1 in the original Megatron layout migrates to the same bytes, and a missing tensor is named as stored', async () => {
    const hf = join(tmp, 'gpt2');
    writeTinyCheckpoint(hf);
    const src = await openCheckpoint(hf);
    const get = async (n: string) => {
      const t = await src.read(n);
      return { shape: t.shape, data: t.data };
    };
    const orig = new Map<string, { shape: number[]; data: HostArray }>();
    orig.set('word_embeddings.weight', await get('transformer.wte.weight'));
    orig.set('position_embeddings.weight', await get('transformer.wpe.weight'));
    orig.set('transformer.final_layernorm.weight', await get('transformer.ln_f.weight'));
    orig.set('transformer.final_layernorm.bias', await get('transformer.ln_f.bias'));
    for (let i = 0; src.names().includes(`transformer.h.${i}.ln_1.weight`); i++) {
      for (const [h, m, linear] of [
        ['ln_1', 'input_layernorm', false],
        ['attn.c_attn', 'attention.query_key_value', true],
        ['attn.c_proj', 'attention.dense', true],
        ['ln_2', 'post_attention_layernorm', false],
        ['mlp.c_fc', 'mlp.dense_h_to_4h', true],
        ['mlp.c_proj', 'mlp.dense_4h_to_h', true],
      ] as const) {
        const w = await get(`transformer.h.${i}.${h}.weight`);
        // Megatron's Linear stores [out, in]; GPT-2's Conv1D [in, out].
        orig.set(`transformer.layers.${i}.${m}.weight`, linear ? { shape: [w.shape[1], w.shape[0]], data: transpose(w.data, w.shape[0], w.shape[1]) } : w);
        orig.set(`transformer.layers.${i}.${m}.bias`, await get(`transformer.h.${i}.${h}.bias`));
      }
    }
    await src.close();
    const origDir = join(tmp, 'gpt2-orig');
    await writeOriginal(origDir, hf, orig);
    await migrate({ input: hf, output: join(tmp, 'gpt2-a') });
    const b = await migrate({ input: origDir, output: join(tmp, 'gpt2-b') });
    expect(b.layout).toBe('cpm1-original');
    await expectSameOutput(join(tmp, 'gpt2-a'), join(tmp, 'gpt2-b'));

    orig.delete('transformer.layers.1.mlp.dense_h_to_4h.weight');
    const broken = join(tmp, 'gpt2-broken');
    await writeOriginal(broken, hf, orig);
    const err = await migrate({ input: broken, output: join(tmp, 'gpt2-c') }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CheckpointError);
    expect((err as Error).message).toMatch(/lacks 1 tensor\(s\) that cpm1 needs: "transformer\.layers\.1\.mlp\.dense_h_to_4h\.weight" \(for layers\.1\.ff\.in\.weight\)/);
  });
});
