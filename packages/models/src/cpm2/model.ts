import { join } from 'node:path';
import {
  type Backend,
  type DeviceRequest,
  InvalidArgumentError,
  type ModelDType,
  type Tensor,
  fromFloat16Array,
  keep,
  tidy,
} from '@bminf/core';
import { CpuBackend, cpuBackend, getBackend } from '@bminf/kernels';
import type { TensorPlan } from '../architecture.js';
import {
  CrossAttention,
  Embedding,
  GatedFeedForward,
  LayerNorm,
  Linear,
  RelativePositionBias,
  SelfAttention,
  T5DecoderBlock,
  T5EncoderBlock,
} from '@bminf/layers';
import { Cpm2Tokenizer } from '@bminf/tokenizers';
import { ModelBase } from '../model-base.js';
import { readModelConfig } from '../model-dir.js';
import { type Weights, loadWeights } from '../weights.js';
import { type Cpm2Config, parseCpm2Config } from './config.js';
import { cpm2Plan } from './plan.js';
import { stackLinears } from './stack.js';
import { Cpm2State } from './state.js';
import { loadAndAssembleModel } from '../streaming/assemble.js';
import { type LayerStreamer, type StreamingLoadOptions, cpm2RuntimeBytes, planModelStreaming, unitOf } from '../streaming/index.js';

export interface Cpm2LoadOptions extends StreamingLoadOptions {
  /** fp32, fp16, or int8 (W8A8, float16 activations); default int8. */
  dtype?: ModelDType;
  /** A backend, or which to pick: auto (CUDA when usable), cpu, cuda. */
  device?: DeviceRequest | Backend;
  /** CPU threads (1–256) for the CPU kernels, process-wide; as for CPM-1 (LoadOptions.threads). */
  threads?: number;
}

/** Encoder tokens at most (BMInf sets no limit; this bounds the [heads, n, n] score tensors). */
export const MAX_ENCODER_TOKENS = 4096;
/** Decoder tokens at most per input. */
export const MAX_DECODER_TOKENS = 4096;

/**
 * CPM-2 / EVA: BMInf's T5 (v1.1 style) encoder-decoder. RMS norms (eps 1e-6), unscaled attention with
 * one relative position bias table per stack, gated tanh-GELU FFNs without biases, cross-attention
 * whose keys/values are projected once per input, and an output embedding of its own. In int8 every
 * linear layer is W8A8; embeddings, norms, softmax and the output projection run in float16.
 */
export class Cpm2Model extends ModelBase {
  private readonly embed: Embedding;
  private readonly lmHead: Tensor;
  private readonly encoderBias: RelativePositionBias;
  private readonly decoderBias: RelativePositionBias;
  private readonly encoderBlocks: T5EncoderBlock[];
  private readonly decoderBlocks: T5DecoderBlock[];
  private readonly encoderNorm: LayerNorm;
  private readonly decoderNorm: LayerNorm;
  /** The units each pass runs, in order (for the layer streamer). */
  readonly encoderPass: readonly string[];
  readonly decoderPass: readonly string[];

  /**
   * A model over weights already on the backend (load() and randomCpm2Model() make them); it takes
   * ownership of them. Projections that read the same input are stacked here (stackLinears).
   */
  constructor(
    readonly config: Cpm2Config,
    readonly tokenizer: Cpm2Tokenizer,
    backend: Backend,
    dtype: ModelDType,
    private readonly weights: Weights,
    /** Where streamed blocks go (a model loaded with a memory limit), or null when every block is resident. */
    readonly streamer: LayerStreamer | null = null,
  ) {
    super(backend, dtype);
    const w = weights;
    const b = backend;
    const c = config;
    const S = streamer;
    [this.encoderPass, this.decoderPass] = cpm2Passes(c);
    // A streamed block's tensors come from host memory and become views into its slot (LayerStreamer).
    const sink = (name: string) => (S ? S.sink(unitOf(name)) : null);
    const norm = (name: string) => new LayerNorm(b, sink(name)?.tensor(w.tensor(name)) ?? w.tensor(name), null, c.eps, false);
    const params = (name: string) => w.linear(name, { bias: false });
    const linear = (name: string) => new Linear(b, sink(name)?.linear(params(name)) ?? params(name));
    // Projections of the same input (q, k, v; the FFN's in and gate) are stacked: one GEMM (see stackLinears),
    // on the host for a streamed block.
    const stacked = (...names: string[]) => {
      const parts = names.map(params);
      const stack = stackLinears(parts[0].weight.device.kind === 'cpu' ? cpuBackend() : b, parts);
      return new Linear(b, sink(names[0])?.linear(stack) ?? stack);
    };
    const attention = (p: string) =>
      new SelfAttention(b, {
        qkv: stacked(`${p}.q`, `${p}.k`, `${p}.v`),
        out: linear(`${p}.out`),
        numHeads: c.numHeads,
        headDim: c.headDim,
        scale: 1,
      });
    const ffn = (p: string) => new GatedFeedForward(b, { stacked: stacked(`${p}.in`, `${p}.gate`) }, linear(`${p}.out`));
    this.embed = new Embedding(b, w.tensor('embed.weight'));
    this.lmHead = w.tensor('lm_head.weight');
    const buckets = { numBuckets: c.numBuckets, maxDistance: c.maxDistance };
    this.encoderBias = new RelativePositionBias(b, w.tensor('encoder.pos_bias.weight'), { ...buckets, bidirectional: true });
    this.decoderBias = new RelativePositionBias(b, w.tensor('decoder.pos_bias.weight'), { ...buckets, bidirectional: false });
    this.encoderBlocks = Array.from({ length: c.numEncoderLayers }, (_, i) => {
      const p = `encoder.layers.${i}`;
      return new T5EncoderBlock(b, norm(`${p}.ln_attn.weight`), attention(`${p}.attn`), norm(`${p}.ln_ff.weight`), ffn(`${p}.ff`));
    });
    this.decoderBlocks = Array.from({ length: c.numDecoderLayers }, (_, i) => {
      const p = `decoder.layers.${i}`;
      return new T5DecoderBlock(
        b,
        norm(`${p}.ln_attn.weight`),
        attention(`${p}.attn`),
        norm(`${p}.ln_cross.weight`),
        new CrossAttention(b, {
          q: linear(`${p}.cross.q`),
          kv: stacked(`${p}.cross.k`, `${p}.cross.v`),
          out: linear(`${p}.cross.out`),
          numHeads: c.numHeads,
          headDim: c.headDim,
        }),
        norm(`${p}.ln_ff.weight`),
        ffn(`${p}.ff`),
      );
    });
    this.encoderNorm = norm('encoder.ln_final.weight');
    this.decoderNorm = norm('decoder.ln_final.weight');
    S?.finishBuild();
  }

  /** Runs a unit's compute, with its weights streamed in first when it is a streamed block. */
  unit<T>(id: string, fn: () => T): T {
    return this.streamer ? this.streamer.run(id, fn) : fn();
  }

  /**
   * Loads a CPM-2 / EVA checkpoint directory: a Hugging Face T5 one (config.json with model_type t5,
   * gated-gelu and an untied head; safetensors; vocab.txt) or bminf-migrate's output for it.
   */
  static async load(dir: string, options: Cpm2LoadOptions = {}): Promise<Cpm2Model> {
    const dtype = options.dtype ?? 'int8';
    if (options.threads !== undefined) CpuBackend.setThreads(options.threads);
    const raw = readModelConfig(dir);
    const config = parseCpm2Config(raw);
    const tokenizer = Cpm2Tokenizer.fromFile(join(dir, 'vocab.txt'));
    if (tokenizer.vocabSize > config.vocabSize) {
      throw new InvalidArgumentError(
        `vocab.txt has ${tokenizer.vocabSize} tokens but the model only ${config.vocabSize} embeddings.`,
        { hint: 'Use the vocab.txt that came with these weights.' },
      );
    }
    const backend = typeof options.device === 'object' ? options.device : getBackend(options.device ?? 'auto');
    const plans = cpm2Plan(raw);
    const { streamer, onHost } = cpm2Streaming(config, plans, backend, dtype, options);
    return loadAndAssembleModel(
      streamer,
      () => loadWeights(dir, raw, plans, { dtype, backend, onHost, hostBackend: cpuBackend() }),
      (weights) => new Cpm2Model(config, tokenizer, backend, dtype, weights, streamer),
    );
  }

  get vocabSize(): number {
    return this.config.vocabSize;
  }

  encode(text: string): number[] {
    return this.tokenizer.encode(text);
  }
  decode(ids: Iterable<number>): string {
    return this.tokenizer.decode(ids);
  }

  /** The encoder output [n, d] (after the final norm) for ids, as a tensor on the backend. */
  runEncoder(ids: readonly number[]): Tensor {
    this.assertAlive();
    this.checkIds(ids, 'encoder', MAX_ENCODER_TOKENS);
    const n = ids.length;
    return tidy(() => {
      let x = this.castIn(this.embed.forward(ids));
      const bias = { distanceBias: this.encoderBias.byDistance(0, n, n) }; // [H, 2n - 1], read in place
      this.streamer?.begin(this.encoderPass);
      this.encoderBlocks.forEach((blk, i) => (x = this.unit(`encoder.${i}`, () => blk.forward(x, bias))));
      return this.encoderNorm.forward(x);
    });
  }

  /** The encoder output for ids, downloaded as float32 [n * d]. */
  encoderOutput(ids: readonly number[]): Float32Array {
    const out = this.runEncoder(ids);
    try {
      return this.toHost(out);
    } finally {
      out.dispose();
    }
  }

  /**
   * Runs the encoder over ids and prepares decoding: every decoder layer's cross-attention keys and
   * values are projected here, once, and kept in the state with the (empty) self-attention caches.
   */
  newState(encoderIds: readonly number[]): Cpm2State {
    const enc = this.runEncoder(encoderIds);
    try {
      const cross = this.decoderBlocks.map((blk, i) => {
        const kv = this.unit(`cross.${i}`, () => blk.cross.project(enc));
        keep(kv.keys);
        keep(kv.values);
        return kv;
      });
      return Cpm2State.create(this.backend, encoderIds.length, cross, this.config.numHeads, this.config.headDim, this.activationDType);
    } finally {
      enc.dispose();
    }
  }

  /**
   * Appends decoder ids to the state and returns the logits as float32: of the last position
   * ([vocab]) or of every new position ([n * vocab]) with allLogits.
   */
  decoderForward(ids: readonly number[], state: Cpm2State, options: { allLogits?: boolean } = {}): Float32Array {
    this.assertAlive();
    if (!(state instanceof Cpm2State)) throw new InvalidArgumentError('decoderForward() needs a state from newState().');
    const start = state.length;
    this.checkIds(ids, 'decoder', MAX_DECODER_TOKENS - start);
    state.reserve(ids.length);
    const n = ids.length;
    const b = this.backend;
    const logits = tidy(() => {
      let x = this.castIn(this.embed.forward(ids));
      const bias = { distanceBias: this.decoderBias.byDistance(start, n, start + n) }; // [H, 2n + start - 1]
      this.streamer?.begin(this.decoderPass);
      this.decoderBlocks.forEach((blk, i) => (x = this.unit(`decoder.${i}`, () => blk.forward(x, state.caches[i], bias, state.cross[i]))));
      let h = this.decoderNorm.forward(x);
      if (!options.allLogits) h = h.narrow(0, n - 1, 1);
      return b.gemm(b.contiguous(h), this.lmHead, { transB: true });
    });
    try {
      return this.toHost(logits);
    } finally {
      logits.dispose();
    }
  }

  /** The model's layers, for runners that plan their own steps over them (Cpm2PlannedRunner). */
  get layers() {
    this.assertAlive();
    return {
      embed: this.embed,
      lmHead: this.lmHead,
      encoderBias: this.encoderBias,
      decoderBias: this.decoderBias,
      encoderBlocks: this.encoderBlocks as readonly T5EncoderBlock[],
      decoderBlocks: this.decoderBlocks as readonly T5DecoderBlock[],
      encoderNorm: this.encoderNorm,
      decoderNorm: this.decoderNorm,
    };
  }

  private checkIds(ids: readonly number[], what: 'encoder' | 'decoder', max: number): void {
    if (!Array.isArray(ids) || ids.length === 0) {
      throw new InvalidArgumentError(`The ${what} input is empty; it needs at least one token id.`);
    }
    if (ids.length > max) {
      throw new InvalidArgumentError(`The ${what} input has ${ids.length} tokens; at most ${max} fit.`, {
        hint: what === 'encoder' ? 'Shorten the input text.' : 'Lower max tokens.',
      });
    }
  }

  private toHost(t: Tensor): Float32Array {
    const host = this.backend.download(t);
    return host instanceof Uint16Array ? fromFloat16Array(host) : (host as Float32Array);
  }

  protected release(): void {
    // The blocks own the stacked projections; the rest is in weights (disposing twice is a no-op).
    for (const blk of [...this.encoderBlocks, ...this.decoderBlocks]) blk.dispose();
    this.weights.dispose();
    this.streamer?.dispose();
  }
}

/**
 * The units each pass runs, in order: the encoder pass (the encoder blocks, then every decoder block's
 * cross-attention keys/values) and the decoder pass (the decoder blocks).
 */
function cpm2Passes(c: Cpm2Config): [string[], string[]] {
  const units = (n: number, kind: string) => Array.from({ length: n }, (_, i) => `${kind}.${i}`);
  return [[...units(c.numEncoderLayers, 'encoder'), ...units(c.numDecoderLayers, 'cross')], units(c.numDecoderLayers, 'decoder')];
}

/** The layer plan of a CPM-2 / EVA model loaded with a memory limit (none without one). */
export function cpm2Streaming(config: Cpm2Config, plans: TensorPlan[], backend: Backend, dtype: ModelDType, options: StreamingLoadOptions) {
  return planModelStreaming({
    backend,
    plans,
    dtype,
    memoryLimit: options.memoryLimit,
    runtimeBytes: cpm2RuntimeBytes(config, dtype, options.plannedFor),
    passes: cpm2Passes(config),
    perToken: (unit) => unit.startsWith('decoder.'),
  });
}
