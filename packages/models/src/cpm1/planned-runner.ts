import { type Backend, InvalidArgumentError, type StepGraph, type Tensor, keep, tidy } from '@bminf/core';
import { attend } from '@bminf/layers';
import type { ModelRunner, StepItem, StepOutput } from '../engine/runner.js';
import { StepInputs, bucketsUpTo, deviceArgmax, greedyIds, lengthBucket, planStep } from '../engine/step-inputs.js';
import { type DecodeEntry, checkStepItem, decodeTokenByToken } from '../engine/token-steps.js';
import type { Cpm1Model } from './model.js';

/** Prompts are padded to a power of two from this many tokens: few prefill steps to plan. */
const MIN_PREFILL_BUCKET = 16;
/** Floats per slab of decode logits (1 MiB): 32 steps of an 8 000-token vocabulary. */
const LOGITS_SLAB = 1 << 18;

/**
 * CPM-1 on planned steps. Every slot owns rows slot·maxLength … of one KV cache per layer, allocated
 * once; a decode step advances all slots at once (inactive ones compute and write nothing that is
 * read), reading each slot's position and cache length from its inputs, so one recorded step (a CUDA
 * graph on the GPU) serves every token. A fresh prompt runs through a prefill step planned for its
 * length bucket (padded positions write no cache rows and the causal mask hides them). The steps run
 * off the JS thread; only their inputs and the logits cross to the host.
 */
export class Cpm1PlannedRunner implements ModelRunner {
  readonly maxLength: number;
  private readonly backend: Backend;
  private readonly keys: Tensor[];
  private readonly values: Tensor[];
  private readonly lengths: Int32Array;
  /** Decode steps by the number of leading slots they cover (powers of two): a step computes only those rows. */
  private readonly decodePlans = new Map<number, { graph: StepGraph; inputs: StepInputs<'ids' | 'pos' | 'lens'>; logits: Tensor; ids: Tensor | null }>();
  private slab: Float32Array | null = null;
  private slabAt = 0;
  private readonly prefillPlans = new Map<number, { graph: StepGraph; inputs: StepInputs<'ids' | 'pos' | 'rows' | 'last'>; logits: Tensor }>();

  constructor(
    readonly model: Cpm1Model,
    readonly slots: number,
    maxLength = model.contextLength,
    /** false: steps run op by op instead of recorded (the reference for tests). */
    private readonly record = true,
  ) {
    if (!Number.isInteger(maxLength) || maxLength < 1 || maxLength > model.contextLength) {
      throw new InvalidArgumentError(`maxLength must be an integer from 1 to the model's context (${model.contextLength}), not ${String(maxLength)}.`);
    }
    this.maxLength = maxLength;
    this.backend = model.backend;
    const d = model.config.numHeads * model.config.headDim;
    const cache = () => keep(this.backend.zeros([slots * maxLength, d], model.activationDType));
    this.keys = Array.from({ length: model.config.numLayers }, cache);
    this.values = Array.from({ length: model.config.numLayers }, cache);
    this.lengths = new Int32Array(slots);
  }

  async open(slot: number): Promise<void> {
    this.lengths[slot] = 0;
  }

  close(slot: number): void {
    this.lengths[slot] = 0;
  }

  async step(items: readonly StepItem[]): Promise<StepOutput[]> {
    const out: StepOutput[] = Array(items.length);
    const decoding: { index: number; slot: number; ids: readonly number[]; argmax?: boolean }[] = [];
    for (let i = 0; i < items.length; i++) {
      const { slot, ids } = items[i];
      checkStepItem(items[i], this.model.vocabSize, this.lengths[slot], this.maxLength, 'CPM-1');
      // A fresh prompt of several tokens: a prefill. Everything else: one token per decode step, every
      // slot together.
      if (this.lengths[slot] === 0 && ids.length > 1) out[i] = await this.prefill(slot, ids);
      else decoding.push({ index: i, slot, ids, argmax: items[i].argmax });
    }
    await decodeTokenByToken(decoding, out, (entries) => this.decode(entries));
    return out;
  }

  /** One decode step: entries are (slot, token) or null for slots that sit this step out. */
  private async decode(entries: (DecodeEntry | null)[]): Promise<(StepOutput | null)[]> {
    const plan = this.decodePlan(lengthBucket(Math.max(...entries.map((e) => (e ? e.slot + 1 : 0))), 1, this.slots));
    const h = plan.inputs.host;
    h.lens.fill(0); // a slot that sits out: nothing written to its cache, nothing attended
    for (const e of entries) {
      if (!e) continue;
      const pos = this.lengths[e.slot];
      h.ids[e.slot] = e.id;
      h.pos[e.slot] = pos;
      h.lens[e.slot] = pos + 1; // the token's k and v go to position pos (attendCache's append)
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
    const all = this.readLogits(plan.logits);
    const vocab = this.model.vocabSize;
    return entries.map((e) => {
      if (!e) return null;
      this.lengths[e.slot]++;
      return all.subarray(e.slot * vocab, (e.slot + 1) * vocab); // views of this step's own download
    });
  }

  /**
   * A decode step's logits, copied out of the step's tensor (the next step overwrites it): where the
   * backend can, into the next free part of a slab shared by many steps, so that a step allocates no
   * array of its own (on the CPU that allocation, zeroed, cost as much as a tenth of a small model's
   * step). Each step gets its own part, never reused: logits handed out stay valid. (A caller holding
   * one holds its slab, about a megabyte.)
   */
  private readLogits(t: Tensor): Float32Array {
    const n = t.numel;
    if (!this.backend.downloadInto) return this.backend.download(t) as Float32Array;
    if (!this.slab || this.slabAt + n > this.slab.length) {
      this.slab = new Float32Array(Math.max(n, LOGITS_SLAB));
      this.slabAt = 0;
    }
    this.backend.downloadInto(t, this.slab, this.slabAt);
    const out = this.slab.subarray(this.slabAt, this.slabAt + n);
    this.slabAt += n;
    return out;
  }

  private async prefill(slot: number, ids: readonly number[]): Promise<Float32Array> {
    const n = ids.length;
    const plan = this.prefillPlan(lengthBucket(n, MIN_PREFILL_BUCKET, this.maxLength));
    const h = plan.inputs.host;
    for (let i = 0; i < h.ids.length; i++) {
      h.ids[i] = i < n ? ids[i] : 0;
      h.pos[i] = i;
      h.rows[i] = i < n ? slot * this.maxLength + i : -1;
    }
    h.last[0] = n - 1;
    plan.inputs.upload();
    await plan.graph.run();
    this.lengths[slot] = n;
    return this.backend.download(plan.logits) as Float32Array;
  }

  /**
   * Plans, ahead of traffic, every decode step (each power-of-two count of slots) and the prefill steps
   * of prompts up to maxPrompt tokens, so that no request waits for planning (or on the GPU for the
   * tuning and capture that planning does) and memory stays flat from here on.
   */
  async prepare(maxPrompt = this.maxLength): Promise<void> {
    for (const k of bucketsUpTo(1, this.slots)) this.decodePlan(k);
    const top = lengthBucket(Math.min(maxPrompt, this.maxLength), MIN_PREFILL_BUCKET, this.maxLength);
    for (const P of bucketsUpTo(MIN_PREFILL_BUCKET, top)) this.prefillPlan(P);
  }

  // Plans are made with no cache rows to write (rows -1): on CUDA the step runs once while it is recorded.
  private prefillPlan(P: number) {
    let plan = this.prefillPlans.get(P);
    if (!plan) {
      const inputs = new StepInputs(this.backend, { ids: P, pos: P, rows: P, last: 1 });
      inputs.host.rows.fill(-1);
      inputs.upload();
      plan = this.planPrefill(P, inputs);
      this.prefillPlans.set(P, plan);
    }
    return plan;
  }

  private decodePlan(k: number) {
    let plan = this.decodePlans.get(k);
    if (!plan) this.decodePlans.set(k, (plan = this.planDecode(k)));
    return plan;
  }

  /** The decode step of slots 0..k-1. */
  private planDecode(k: number) {
    // made with every length 0: the runs while it is recorded write no cache row (the append needs L ≥ 1)
    const inputs = new StepInputs(this.backend, { ids: k, pos: k, lens: k });
    inputs.upload();
    const logits = keep(this.backend.zeros([k, this.model.vocabSize], 'float32'));
    const ids = deviceArgmax(this.backend) ? keep(this.backend.zeros([k], 'int32')) : null;
    const rows = k * this.maxLength;
    const t = inputs.tensors;
    const graph = planStep(this.backend, () => {
      const { cfg, b, embedIn, blocks, head } = this.parts();
      let x = embedIn(t.ids, t.pos);
      this.model.streamer?.begin(this.model.pass);
      blocks.forEach((blk, i) => this.model.unit(`block.${i}`, () => {
        const qkv = blk.attn.params.qkv?.forwardNormed(blk.lnAttn, x) as Tensor; // the LayerNorm fused where it can be
        const d = cfg.numHeads * cfg.headDim;
        const keys = this.keys[i].narrow(0, 0, rows);
        const values = this.values[i].narrow(0, 0, rows);
        // this token's k and v go into the cache at position lens - 1 inside the attention (one kernel)
        const ctx = b.attendCache(qkv.narrow(1, 0, d), keys, values, t.lens, {
          heads: cfg.numHeads,
          scale: blk.attn.params.scale,
          slotRows: this.maxLength,
          append: { keys: qkv.narrow(1, d, d), values: qkv.narrow(1, 2 * d, d) },
        });
        x = blk.attn.params.out.forwardAdd(ctx, x);
        x = blk.ffn.forwardNormed(blk.lnFF, x, x); // LayerNorm and GELU fused into the input linear where they can be
      }));
      b.copy(head(x), logits);
      if (ids) b.copy(greedyIds(b, logits), ids);
    }, this.record);
    return { graph, inputs, logits, ids };
  }

  private planPrefill(P: number, inputs: StepInputs<'ids' | 'pos' | 'rows' | 'last'>) {
    const logits = keep(this.backend.zeros([1, this.model.vocabSize], 'float32'));
    const t = inputs.tensors;
    const graph = planStep(this.backend, () => {
      const { cfg, b, embedIn, blocks, head } = this.parts();
      const d = cfg.numHeads * cfg.headDim;
      let x = embedIn(t.ids, t.pos);
      this.model.streamer?.begin(this.model.pass);
      blocks.forEach((blk, i) => this.model.unit(`block.${i}`, () => {
        const qkv = blk.attn.params.qkv?.forwardNormed(blk.lnAttn, x) as Tensor; // the LayerNorm fused where it can be
        const parts = qkv.reshape([P, 3, cfg.numHeads, cfg.headDim]).permute([1, 2, 0, 3]); // [3, h, P, dh]
        b.scatterRows(qkv.narrow(1, d, d), this.keys[i], t.rows);
        b.scatterRows(qkv.narrow(1, 2 * d, d), this.values[i], t.rows);
        const ctx = attend(b, parts.select(0, 0), parts.select(0, 1), parts.select(0, 2), { scale: blk.attn.params.scale, causalOffset: 0 });
        x = blk.attn.params.out.forwardAdd(ctx, x);
        x = blk.ffn.forwardNormed(blk.lnFF, x, x); // LayerNorm and GELU fused into the input linear where they can be
      }));
      b.copy(head(b.embedding(t.last, b.contiguous(x))), logits);
    }, this.record);
    return { graph, inputs, logits };
  }

  /** What both steps are made of: token + position embeddings in, final norm and tied head out. */
  private parts() {
    const m = this.model;
    const b = this.backend;
    const { embed, pos, blocks, lnFinal } = m.layers;
    const act = m.activationDType;
    const castIn = (x: Tensor) => (x.dtype === act ? x : b.cast(x, act));
    return {
      cfg: m.config,
      b,
      blocks,
      embedIn: (ids: Tensor, positions: Tensor) => b.add(castIn(b.embedding(ids, embed.table)), castIn(b.embedding(positions, pos.table))),
      head: (x: Tensor) => m.outputHead(lnFinal.forward(x)),
    };
  }

  dispose(): void {
    tidy(() => {
      for (const p of [...this.decodePlans.values(), ...this.prefillPlans.values()]) {
        p.graph.dispose();
        p.inputs.dispose();
        p.logits.dispose();
        if ('ids' in p) p.ids?.dispose();
      }
      for (const t of [...this.keys, ...this.values]) t.dispose();
    });
    this.decodePlans.clear();
    this.prefillPlans.clear();
  }
}
