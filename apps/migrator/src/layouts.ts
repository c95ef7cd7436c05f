// Source layouts other than Hugging Face's, presented under Hugging Face names so that the
// architectures' tensor plans apply unchanged: the original CPM-1 (Megatron) and CPM-2/EVA releases,
// as BMInf's tools/migrate_cpm1.py, migrate_cpm2.py and migrate_eva.py read them (their merged
// `merge.pt`). Fused projections are split by rows (q|k|v, k|v), and Megatron's [out, in] linear
// weights are shown as GPT-2's [in, out].
import { CheckpointError } from '@bminf/core';
import type { CheckpointSource, ReadOptions, TensorData, TensorInfo } from '@bminf/checkpoint';

interface Mapping {
  source: string;
  /** Rows [index/count] of the source's first dimension. */
  part?: { index: number; count: number };
  transpose?: boolean;
}

export interface Layout {
  name: string;
  description: string;
  detect(names: Set<string>): boolean;
  /** Hugging Face name → where it lives in this layout. */
  map(names: Set<string>): Map<string, Mapping>;
}

/** How many consecutive layers 0, 1, ... have a tensor named `at(i)`. */
const count = (names: Set<string>, at: (i: number) => string) => {
  let n = 0;
  while (names.has(at(n))) n++;
  return n;
};

/** CPM-2 / EVA as released (BMInf's migrate_cpm2.py / migrate_eva.py): → T5 names. */
const cpm2Original: Layout = {
  name: 'cpm2-original',
  description: 'the original CPM-2/EVA release (word_embeds, encoder.blocks.N.self_attn.self_attn.project, ...)',
  detect: (names) => names.has('word_embeds.weight') && names.has('encoder.blocks.0.self_attn.self_attn.project.weight'),
  map(names) {
    const m = new Map<string, Mapping>();
    m.set('shared.weight', { source: 'word_embeds.weight' });
    if (names.has('lm_head.weight')) m.set('lm_head.weight', { source: 'lm_head.weight' });
    for (const stack of ['encoder', 'decoder']) {
      m.set(`${stack}.final_layer_norm.weight`, { source: `${stack}.final_layernorm.weight` });
      m.set(`${stack}.block.0.layer.0.SelfAttention.relative_attention_bias.weight`, {
        source: `${stack}.blocks.0.self_attn.self_attn.relative_attention_bias.weight`,
      });
      const layers = count(names, (i) => `${stack}.blocks.${i}.self_attn.layer_norm.weight`);
      for (let i = 0; i < layers; i++) {
        const s = `${stack}.blocks.${i}`;
        const t = `${stack}.block.${i}.layer`;
        m.set(`${t}.0.layer_norm.weight`, { source: `${s}.self_attn.layer_norm.weight` });
        ['q', 'k', 'v'].forEach((x, index) =>
          m.set(`${t}.0.SelfAttention.${x}.weight`, { source: `${s}.self_attn.self_attn.project.weight`, part: { index, count: 3 } }),
        );
        m.set(`${t}.0.SelfAttention.o.weight`, { source: `${s}.self_attn.self_attn.dense.weight` });
        let ff = 1;
        if (stack === 'decoder') {
          m.set(`${t}.1.layer_norm.weight`, { source: `${s}.cross_attn.layer_norm.weight` });
          m.set(`${t}.1.EncDecAttention.q.weight`, { source: `${s}.cross_attn.cross_attn.project_q.weight` });
          ['k', 'v'].forEach((x, index) =>
            m.set(`${t}.1.EncDecAttention.${x}.weight`, { source: `${s}.cross_attn.cross_attn.project_kv.weight`, part: { index, count: 2 } }),
          );
          m.set(`${t}.1.EncDecAttention.o.weight`, { source: `${s}.cross_attn.cross_attn.dense.weight` });
          ff = 2;
        }
        m.set(`${t}.${ff}.layer_norm.weight`, { source: `${s}.ff.layer_norm.weight` });
        for (const w of ['wi_0', 'wi_1', 'wo']) m.set(`${t}.${ff}.DenseReluDense.${w}.weight`, { source: `${s}.ff.dense_relu_dense.${w}.weight` });
      }
    }
    return m;
  },
};

/** CPM-1 as released (Megatron names, BMInf's migrate_cpm1.py): → GPT-2 names. */
const cpm1Original: Layout = {
  name: 'cpm1-original',
  description: 'the original CPM-1 (Megatron) release (word_embeddings, transformer.layers.N.attention.query_key_value, ...)',
  detect: (names) => names.has('word_embeddings.weight') && names.has('transformer.layers.0.attention.query_key_value.weight'),
  map(names) {
    const m = new Map<string, Mapping>();
    m.set('transformer.wte.weight', { source: 'word_embeddings.weight' });
    m.set('transformer.wpe.weight', { source: 'position_embeddings.weight' });
    m.set('transformer.ln_f.weight', { source: 'transformer.final_layernorm.weight' });
    m.set('transformer.ln_f.bias', { source: 'transformer.final_layernorm.bias' });
    const layers = count(names, (i) => `transformer.layers.${i}.input_layernorm.weight`);
    for (let i = 0; i < layers; i++) {
      const s = `transformer.layers.${i}`;
      const t = `transformer.h.${i}`;
      const pairs: [string, string, boolean][] = [
        ['ln_1', 'input_layernorm', false],
        ['attn.c_attn', 'attention.query_key_value', true],
        ['attn.c_proj', 'attention.dense', true],
        ['ln_2', 'post_attention_layernorm', false],
        ['mlp.c_fc', 'mlp.dense_h_to_4h', true],
        ['mlp.c_proj', 'mlp.dense_4h_to_h', true],
      ];
      for (const [hf, mg, linear] of pairs) {
        m.set(`${t}.${hf}.weight`, { source: `${s}.${mg}.weight`, transpose: linear });
        m.set(`${t}.${hf}.bias`, { source: `${s}.${mg}.bias` });
      }
    }
    return m;
  },
};

export const LAYOUTS: readonly Layout[] = [cpm2Original, cpm1Original];

/** A source seen through a layout's name map (row parts are views; transposes are copies). */
export class MappedSource implements CheckpointSource {
  private readonly map: Map<string, Mapping>;

  constructor(
    private readonly base: CheckpointSource,
    private readonly all: Map<string, Mapping>,
    private readonly prefix: string,
  ) {
    const names = new Set(base.names());
    this.map = new Map([...all].filter(([, m]) => names.has(prefix + m.source)));
  }

  /** The stored name behind a Hugging Face name (also for tensors the file lacks), for messages. */
  storedName(name: string): string | undefined {
    const m = this.all.get(name);
    return m && this.prefix + m.source;
  }

  /** Bytes of the stored tensor a read loads (a fused projection is read whole, then split). */
  storedByteLength(name: string): number {
    return this.base.info(this.mapping(name).source).byteLength;
  }

  get path(): string {
    return this.base.path;
  }

  names(): string[] {
    return [...this.map.keys()];
  }

  private mapping(name: string): Mapping & { source: string } {
    const m = this.map.get(name);
    if (!m) {
      throw new CheckpointError(`has no tensor that maps to "${name}".`, { file: this.base.path, hint: 'Check that the checkpoint matches config.json.' });
    }
    return { ...m, source: this.prefix + m.source };
  }

  info(name: string): TensorInfo {
    const m = this.mapping(name);
    const i = this.base.info(m.source);
    let shape = [...i.shape];
    if (m.part) {
      if (shape.length < 1 || shape[0] % m.part.count !== 0) {
        throw new CheckpointError(`tensor "${m.source}" (shape [${shape.join(', ')}]) cannot be split into ${m.part.count} equal parts by rows.`, {
          file: i.file,
          hint: 'This checkpoint does not have the fused projection layout of the original release.',
        });
      }
      shape[0] /= m.part.count;
    }
    if (m.transpose) shape = shape.reverse();
    const per = i.byteLength / Math.max(1, i.shape.reduce((a, b) => a * b, 1));
    return { name, dtype: i.dtype, shape, byteLength: shape.reduce((a, b) => a * b, 1) * per, file: i.file };
  }

  async read(name: string, options?: ReadOptions): Promise<TensorData> {
    const m = this.mapping(name);
    const shape = this.info(name).shape;
    const t = await this.base.read(m.source, options);
    let data = t.data;
    if (m.part) {
      const n = data.length / m.part.count;
      data = data.subarray(m.part.index * n, (m.part.index + 1) * n);
    }
    if (m.transpose) {
      const [rows, cols] = [shape[1], shape[0]]; // the stored [out, in]
      const out = new (data.constructor as new (n: number) => typeof data)(data.length);
      for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = data[r * cols + c];
      data = out;
    }
    return { dtype: t.dtype, shape, data };
  }

  close(): Promise<void> {
    return this.base.close();
  }
}

/** Wraps `source` when it is in a known non-Hugging-Face layout (a `module.` prefix is allowed). */
export function adaptLayout(source: CheckpointSource): { source: CheckpointSource; layout?: Layout } {
  const all = source.names();
  const prefix = all.length > 0 && all.every((n) => n.startsWith('module.')) ? 'module.' : '';
  const names = new Set(all.map((n) => n.slice(prefix.length)));
  const layout = LAYOUTS.find((l) => l.detect(names));
  if (!layout) return { source };
  return { source: new MappedSource(source, layout.map(names), prefix), layout };
}
