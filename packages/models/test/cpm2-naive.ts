// A plain float64 T5 (CPM-2/EVA structure) in TypeScript, independent of the backends: the yardstick
// for checking our layers one by one. Slow; for the tiny fixtures only.
import { openCheckpoint } from '@bminf/checkpoint';
import { fromFloat16Array } from '@bminf/core';
import { relativePositionBucket } from '@bminf/layers';

export type Mat = Float64Array[]; // rows

export class NaiveT5 {
  private constructor(
    private readonly w: Map<string, { shape: number[]; data: Float64Array }>,
    readonly cfg: { d: number; heads: number; dkv: number; buckets: number; maxDistance: number; enc: number; dec: number; eps: number },
  ) {}

  static async load(dir: string, config: Record<string, number>): Promise<NaiveT5> {
    const src = await openCheckpoint(dir);
    const w = new Map<string, { shape: number[]; data: Float64Array }>();
    for (const name of src.names()) {
      const t = await src.read(name);
      const f = t.dtype === 'float16' ? fromFloat16Array(t.data as Uint16Array) : (t.data as Float32Array);
      w.set(name, { shape: [...t.shape], data: Float64Array.from(f) });
    }
    await src.close();
    return new NaiveT5(w, {
      d: config.d_model,
      heads: config.num_heads,
      dkv: config.d_kv,
      buckets: config.relative_attention_num_buckets,
      maxDistance: config.relative_attention_max_distance,
      enc: config.num_layers,
      dec: config.num_decoder_layers ?? config.num_layers,
      eps: config.layer_norm_epsilon,
    });
  }

  private get(name: string) {
    const t = this.w.get(name);
    if (!t) throw new Error(`no ${name}`);
    return t;
  }

  /** x Wᵀ for W [out, in]. */
  linear(x: Mat, name: string): Mat {
    const { shape, data } = this.get(name);
    const [out, inp] = shape;
    return x.map((row) => {
      const y = new Float64Array(out);
      for (let o = 0; o < out; o++) {
        let s = 0;
        for (let i = 0; i < inp; i++) s += row[i] * data[o * inp + i];
        y[o] = s;
      }
      return y;
    });
  }

  rms(x: Mat, name: string): Mat {
    const wt = this.get(name).data;
    return x.map((row) => {
      let ms = 0;
      for (const v of row) ms += v * v;
      const r = 1 / Math.sqrt(ms / row.length + this.cfg.eps);
      return row.map((v, i) => v * r * wt[i]);
    });
  }

  embed(ids: number[], name = 'shared.weight'): Mat {
    const { shape, data } = this.get(name);
    const d = shape[1];
    return ids.map((id) => data.slice(id * d, (id + 1) * d));
  }

  bias(stack: 'encoder' | 'decoder', qStart: number, n: number, L: number): number[][][] {
    const { data } = this.get(`${stack}.block.0.layer.0.SelfAttention.relative_attention_bias.weight`);
    const H = this.cfg.heads;
    return Array.from({ length: H }, (_, h) =>
      Array.from({ length: n }, (_, i) =>
        Array.from({ length: L }, (_, j) => data[relativePositionBucket(j - (qStart + i), stack === 'encoder', this.cfg.buckets, this.cfg.maxDistance) * H + h]),
      ),
    );
  }

  attention(xq: Mat, xkv: Mat, prefix: string, bias: number[][][] | null, causalStart: number | null): Mat {
    const { heads: H, dkv } = this.cfg;
    const q = this.linear(xq, `${prefix}.q.weight`);
    const k = this.linear(xkv, `${prefix}.k.weight`);
    const v = this.linear(xkv, `${prefix}.v.weight`);
    const ctx = xq.map(() => new Float64Array(H * dkv));
    for (let h = 0; h < H; h++) {
      for (let i = 0; i < xq.length; i++) {
        const s = k.map((kr, j) => {
          if (causalStart !== null && j > causalStart + i) return -Infinity;
          let dot = 0;
          for (let e = 0; e < dkv; e++) dot += q[i][h * dkv + e] * kr[h * dkv + e];
          return dot + (bias ? bias[h][i][j] : 0);
        });
        const m = Math.max(...s);
        const p = s.map((x) => Math.exp(x - m));
        const z = p.reduce((a, b) => a + b, 0);
        for (let j = 0; j < k.length; j++) for (let e = 0; e < dkv; e++) ctx[i][h * dkv + e] += (p[j] / z) * v[j][h * dkv + e];
      }
    }
    return this.linear(ctx, `${prefix}.o.weight`);
  }

  ffn(x: Mat, prefix: string): Mat {
    const a = this.linear(x, `${prefix}.wi_0.weight`);
    const g = this.linear(x, `${prefix}.wi_1.weight`);
    const gelu = (t: number) => 0.5 * t * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (t + 0.044715 * t ** 3)));
    return this.linear(
      a.map((row, i) => row.map((t, j) => gelu(t) * g[i][j])),
      `${prefix}.wo.weight`,
    );
  }

  static add(a: Mat, b: Mat): Mat {
    return a.map((row, i) => row.map((v, j) => v + b[i][j]));
  }

  encoder(ids: number[]): Mat {
    let x = this.embed(ids);
    const bias = this.bias('encoder', 0, ids.length, ids.length);
    for (let l = 0; l < this.cfg.enc; l++) {
      const p = `encoder.block.${l}.layer`;
      x = NaiveT5.add(x, this.attention(this.rms(x, `${p}.0.layer_norm.weight`), this.rms(x, `${p}.0.layer_norm.weight`), `${p}.0.SelfAttention`, bias, null));
      x = NaiveT5.add(x, this.ffn(this.rms(x, `${p}.1.layer_norm.weight`), `${p}.1.DenseReluDense`));
    }
    return this.rms(x, 'encoder.final_layer_norm.weight');
  }

  /** Logits for every position of decoderIds. */
  decoder(encOut: Mat, decoderIds: number[]): Mat {
    let x = this.embed(decoderIds);
    const n = decoderIds.length;
    const bias = this.bias('decoder', 0, n, n);
    for (let l = 0; l < this.cfg.dec; l++) {
      const p = `decoder.block.${l}.layer`;
      const h = this.rms(x, `${p}.0.layer_norm.weight`);
      x = NaiveT5.add(x, this.attention(h, h, `${p}.0.SelfAttention`, bias, 0));
      x = NaiveT5.add(x, this.attention(this.rms(x, `${p}.1.layer_norm.weight`), encOut, `${p}.1.EncDecAttention`, null, null));
      x = NaiveT5.add(x, this.ffn(this.rms(x, `${p}.2.layer_norm.weight`), `${p}.2.DenseReluDense`));
    }
    return this.linear(this.rms(x, 'decoder.final_layer_norm.weight'), 'lm_head.weight');
  }
}
