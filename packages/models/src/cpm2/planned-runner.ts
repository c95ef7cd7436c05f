import { type Backend, InvalidArgumentError, type StepGraph, type Tensor, keep, tidy, toFloat16Array } from '@bminf/core';
import type { ModelRunner, StepItem, StepOutput } from '../engine/runner.js';
import { StepInputs, bucketsUpTo, deviceArgmax, greedyIds, lengthBucket, planStep } from '../engine/step-inputs.js';
import { type DecodeEntry, checkStepItem, decodeTokenByToken } from '../engine/token-steps.js';
import { MAX_DECODER_TOKENS, MAX_ENCODER_TOKENS, type Cpm2Model } from './model.js';

/** Encoder inputs are padded to a power of two from this many tokens: few encoder steps to plan. */
const MIN_ENCODER_BUCKET = 16;

export interface Cpm2RunnerLimits {
  /** false: steps run op by op instead of recorded (the reference for tests). */
  record?: boolean;
  /** Encoder tokens a sequence may have (default 512; its cross-attention cache is this long). */
  maxEncoderLength?: number;
  /** Decoder tokens a sequence may have (default 256). */
  maxDecoderLength?: number;
}

type EncoderInputs = StepInputs<'ids' | 'rows'>;
type DecoderInputs = StepInputs<'ids' | 'lens' | 'encLens'>;

/**
 * CPM-2 and EVA on planned steps. Each slot owns rows of a cross-attention cache (the encoder output's
 * keys and values for every decoder layer, written once per sequence by the encoder step planned for
 * its length bucket) and of a self-attention cache. One decode step advances every slot: the
 * self-attention reads each slot's length and the decoder's relative position bias by distance, the
 * cross-attention each slot's encoder length, all from the step's inputs, so one recorded step (a
 * CUDA graph) serves every token. Padded encoder positions are masked out of the encoder's attention
 * and write no cache rows.
 */
export class Cpm2PlannedRunner implements ModelRunner {
  readonly maxEncoderLength: number;
  readonly maxDecoderLength: number;
  private readonly backend: Backend;
  private readonly selfKeys: Tensor[];
  private readonly selfValues: Tensor[];
  private readonly crossKeys: Tensor[];
  private readonly crossValues: Tensor[];
  /** The decoder's position bias by distance from the query, [heads, maxDecoderLength]. */
  private readonly distanceBias: Tensor;
  private readonly lengths: Int32Array;
  private readonly encoderLengths: Int32Array;
  private readonly record: boolean;
  /** Decode steps by the number of leading slots they cover (powers of two): a step computes only those rows. */
  private readonly decodePlans = new Map<number, { graph: StepGraph; inputs: DecoderInputs; logits: Tensor; ids: Tensor | null }>();
  private readonly encoderPlans = new Map<number, { graph: StepGraph; inputs: EncoderInputs; mask: Tensor; maskHost: Float32Array; positionBias: Tensor }>();

  constructor(
    readonly model: Cpm2Model,
    readonly slots: number,
    limits: Cpm2RunnerLimits = {},
  ) {
    this.record = limits.record ?? true;
    this.maxEncoderLength = limit(limits.maxEncoderLength ?? 512, MAX_ENCODER_TOKENS, 'maxEncoderLength');
    this.maxDecoderLength = limit(limits.maxDecoderLength ?? 256, MAX_DECODER_TOKENS, 'maxDecoderLength');
    const b = (this.backend = model.backend);
    const c = model.config;
    const d = c.numHeads * c.headDim;
    const act = model.activationDType;
    const cache = (rows: number) => () => keep(b.zeros([slots * rows, d], act));
    this.selfKeys = Array.from({ length: c.numDecoderLayers }, cache(this.maxDecoderLength));
    this.selfValues = Array.from({ length: c.numDecoderLayers }, cache(this.maxDecoderLength));
    this.crossKeys = Array.from({ length: c.numDecoderLayers }, cache(this.maxEncoderLength));
    this.crossValues = Array.from({ length: c.numDecoderLayers }, cache(this.maxEncoderLength));
    this.distanceBias = keep(this.makeDistanceBias());
    this.lengths = new Int32Array(slots);
    this.encoderLengths = new Int32Array(slots);
  }

  /** bias[h, δ] for a query δ positions after the key: the decoder's bias for its last position, reversed. */
  private makeDistanceBias(): Tensor {
    const L = this.maxDecoderLength;
    const H = this.model.config.numHeads;
    const b = this.backend;
    const row = this.model.layers.decoderBias.forward(L - 1, 1, L); // [H, 1, L]: keys 0..L-1
    try {
      const host = b.download(row);
      const out = host instanceof Uint16Array ? new Uint16Array(H * L) : new Float32Array(H * L);
      for (let h = 0; h < H; h++) for (let j = 0; j < L; j++) out[h * L + (L - 1 - j)] = host[h * L + j];
      return b.upload(out, [H, L]);
    } finally {
      row.dispose();
    }
  }

  async open(slot: number, encoderIds: readonly number[] | null): Promise<void> {
    if (!encoderIds || encoderIds.length === 0) throw new InvalidArgumentError('CPM-2 and EVA sequences need at least one encoder token.');
    checkStepItem({ slot, ids: encoderIds }, this.model.vocabSize, 0, this.maxEncoderLength, 'encoder');
    this.lengths[slot] = 0;
    this.encoderLengths[slot] = 0;
    await this.encode(slot, encoderIds);
    this.encoderLengths[slot] = encoderIds.length;
  }

  close(slot: number): void {
    this.lengths[slot] = 0;
    this.encoderLengths[slot] = 0;
  }

  async step(items: readonly StepItem[]): Promise<StepOutput[]> {
    const out: StepOutput[] = Array(items.length);
    items.forEach((it) => {
      if (this.encoderLengths[it.slot] === 0) throw new InvalidArgumentError(`Slot ${it.slot} is not open.`);
      checkStepItem(it, this.model.vocabSize, this.lengths[it.slot], this.maxDecoderLength, 'decoder');
    });
    await decodeTokenByToken(
      items.map((it, index) => ({ index, ...it })),
      out,
      (entries) => this.decode(entries),
    );
    return out;
  }

  private async encode(slot: number, ids: readonly number[]): Promise<void> {
    const n = ids.length;
    const plan = this.encoderPlan(lengthBucket(n, MIN_ENCODER_BUCKET, this.maxEncoderLength));
    const h = plan.inputs.host;
    for (let i = 0; i < h.ids.length; i++) {
      h.ids[i] = i < n ? ids[i] : 0;
      h.rows[i] = i < n ? slot * this.maxEncoderLength + i : -1;
      plan.maskHost[i] = i < n ? 0 : -Infinity;
    }
    plan.inputs.upload();
    this.backend.write(plan.mask, plan.mask.dtype === 'float32' ? plan.maskHost : toFloat16Array(plan.maskHost));
    await plan.graph.run();
  }

  /**
   * Plans, ahead of traffic, every decoder step (each power-of-two count of slots) and the encoder
   * steps of inputs up to maxEncoder tokens, so that no request waits for planning and memory stays
   * flat from here on.
   */
  async prepare(maxEncoder = this.maxEncoderLength): Promise<void> {
    for (const k of bucketsUpTo(1, this.slots)) this.decoderPlan(k);
    const top = lengthBucket(Math.min(maxEncoder, this.maxEncoderLength), MIN_ENCODER_BUCKET, this.maxEncoderLength);
    for (const P of bucketsUpTo(MIN_ENCODER_BUCKET, top)) this.encoderPlan(P);
  }

  // Plans are made with no cache rows to write (rows -1): on CUDA the step runs once while it is recorded.
  private encoderPlan(P: number) {
    let plan = this.encoderPlans.get(P);
    if (!plan) {
      const inputs = new StepInputs(this.backend, { ids: P, rows: P });
      inputs.host.rows.fill(-1);
      inputs.upload();
      const mask = keep(this.backend.zeros([P], this.model.activationDType));
      // The relative position bias of P positions is the same for every input of the bucket: by
      // distance, [H, 2P - 1], which the attention reads in place (not its [H, P, P] copies).
      const positionBias = keep(this.model.layers.encoderBias.byDistance(0, P, P));
      plan = { inputs, mask, maskHost: new Float32Array(P), positionBias, graph: this.planEncoder(inputs, mask, positionBias) };
      this.encoderPlans.set(P, plan);
    }
    return plan;
  }

  private decoderPlan(k: number) {
    let plan = this.decodePlans.get(k);
    if (!plan) this.decodePlans.set(k, (plan = this.planDecoder(k)));
    return plan;
  }

  private planEncoder(inputs: EncoderInputs, mask: Tensor, positionBias: Tensor): StepGraph {
    const m = this.model;
    const b = this.backend;
    const L = m.layers;
    const d = m.config.numHeads * m.config.headDim;
    const t = inputs.tensors;
    return planStep(b, () => {
      let x = this.castIn(b.embedding(t.ids, L.embed.table));
      const bias = { distanceBias: positionBias, keyBias: mask }; // padded keys masked out for every query
      m.streamer?.begin(m.encoderPass);
      L.encoderBlocks.forEach((blk, i) => (x = m.unit(`encoder.${i}`, () => blk.forward(x, bias))));
      const enc = L.encoderNorm.forward(x);
      L.decoderBlocks.forEach((blk, i) =>
        m.unit(`cross.${i}`, () => {
          const kv = blk.cross.params.kv?.forward(enc) as Tensor; // [P, 2d]: k | v
          b.scatterRows(kv.narrow(1, 0, d), this.crossKeys[i], t.rows);
          b.scatterRows(kv.narrow(1, d, d), this.crossValues[i], t.rows);
        }),
      );
    }, this.record);
  }

  private async decode(entries: (DecodeEntry | null)[]): Promise<(StepOutput | null)[]> {
    const plan = this.decoderPlan(lengthBucket(Math.max(...entries.map((e) => (e ? e.slot + 1 : 0))), 1, this.slots));
    const h = plan.inputs.host;
    h.lens.fill(0); // a slot that sits out: nothing written to its cache, nothing attended
    h.encLens.fill(0);
    for (const e of entries) {
      if (!e) continue;
      const pos = this.lengths[e.slot];
      h.ids[e.slot] = e.id;
      h.lens[e.slot] = pos + 1; // the token's k and v go to position pos (attendCache's append)
      h.encLens[e.slot] = this.encoderLengths[e.slot];
    }
    plan.inputs.upload();
    await plan.graph.run();
    // Every entry content with its greedy id: k ids cross to the host instead of k rows of logits.
    if (plan.ids && entries.every((e) => !e || e.argmax)) {
      const ids = this.backend.download(plan.ids) as Int32Array;
      return entries.map((e) => {
        if (!e) return null;
        this.lengths[e.slot]++;
        return ids[e.slot];
      });
    }
    const all = this.backend.download(plan.logits) as Float32Array;
    const vocab = this.model.vocabSize;
    return entries.map((e) => {
      if (!e) return null;
      this.lengths[e.slot]++;
      return all.slice(e.slot * vocab, (e.slot + 1) * vocab);
    });
  }

  /** The decoder step of slots 0..k-1. */
  private planDecoder(k: number) {
    const m = this.model;
    const b = this.backend;
    const L = m.layers;
    const c = m.config;
    const d = c.numHeads * c.headDim;
    // made with every length 0: the runs while it is recorded write no cache row (the append needs L ≥ 1)
    const inputs = new StepInputs(this.backend, { ids: k, lens: k, encLens: k });
    inputs.upload();
    const logits = keep(b.zeros([k, m.vocabSize], 'float32'));
    const ids = deviceArgmax(b) ? keep(b.zeros([k], 'int32')) : null;
    const part = (t: Tensor, rowsPerSlot: number) => t.narrow(0, 0, k * rowsPerSlot);
    const t = inputs.tensors;
    const graph = planStep(b, () => {
      let x = this.castIn(b.embedding(t.ids, L.embed.table));
      m.streamer?.begin(m.decoderPass);
      L.decoderBlocks.forEach((blk, i) => m.unit(`decoder.${i}`, () => {
        const qkv = blk.attn.params.qkv?.forwardNormed(blk.lnAttn, x) as Tensor; // the norm fused where it can be
        const selfKeys = part(this.selfKeys[i], this.maxDecoderLength);
        const selfValues = part(this.selfValues[i], this.maxDecoderLength);
        // this token's k and v go into the cache at position lens - 1 inside the attention (one kernel)
        const self = b.attendCache(qkv.narrow(1, 0, d), selfKeys, selfValues, t.lens, {
          heads: c.numHeads,
          scale: 1,
          slotRows: this.maxDecoderLength,
          distanceBias: this.distanceBias,
          append: { keys: qkv.narrow(1, d, d), values: qkv.narrow(1, 2 * d, d) },
        });
        x = blk.attn.params.out.forwardAdd(self, x);
        const q = blk.cross.params.q.forwardNormed(blk.lnCross, x);
        const cross = b.attendCache(q, part(this.crossKeys[i], this.maxEncoderLength), part(this.crossValues[i], this.maxEncoderLength), t.encLens, {
          heads: c.numHeads,
          scale: 1,
          slotRows: this.maxEncoderLength,
        });
        x = blk.cross.params.out.forwardAdd(cross, x);
        x = blk.ffn.forward(x, x, blk.lnFF);
      }));
      const y = b.gemm(b.contiguous(L.decoderNorm.forward(x)), L.lmHead, { transB: true });
      b.copy(y.dtype === 'float32' ? y : b.cast(y, 'float32'), logits);
      // BMInf's CPM-2 generation never picks <unk> (prefix-lm.ts masks it): nor does the greedy id here
      if (ids) b.copy(greedyIds(b, logits, m.tokenizer.unkId), ids);
    }, this.record);
    return { graph, inputs, logits, ids };
  }

  private castIn(x: Tensor): Tensor {
    const act = this.model.activationDType;
    return x.dtype === act ? x : this.backend.cast(x, act);
  }

  dispose(): void {
    tidy(() => {
      for (const p of this.decodePlans.values()) {
        p.graph.dispose();
        p.inputs.dispose();
        p.logits.dispose();
        p.ids?.dispose();
      }
      for (const p of this.encoderPlans.values()) {
        p.graph.dispose();
        p.inputs.dispose();
        p.mask.dispose();
        p.positionBias.dispose();
      }
      for (const x of [...this.selfKeys, ...this.selfValues, ...this.crossKeys, ...this.crossValues, this.distanceBias]) x.dispose();
    });
    this.decodePlans.clear();
    this.encoderPlans.clear();
  }
}

function limit(v: number, max: number, name: string): number {
  if (!Number.isInteger(v) || v < 1 || v > max) throw new InvalidArgumentError(`${name} must be an integer from 1 to ${max}, not ${String(v)}.`);
  return v;
}

