import { join } from 'node:path';
import {
  type Backend,
  type DeviceRequest,
  InvalidArgumentError,
  type ModelDType,
  type Tensor,
  keep,
  tidy,
} from '@bminf/core';
import { CpuBackend, cpuBackend, getBackend } from '@bminf/kernels';
import type { TensorPlan } from '../architecture.js';
import { loadAndAssembleModel } from '../streaming/assemble.js';
import { type LayerStreamer, type StreamingLoadOptions, cpm1RuntimeBytes, planModelStreaming, unitOf } from '../streaming/index.js';
import { Embedding, FeedForward, KVCache, LayerNorm, Linear, PositionEmbedding, SelfAttention } from '@bminf/layers';
import { SentencePieceTokenizer } from '@bminf/tokenizers';
import type { CausalLM } from '../generation/causal-lm.js';
import type { StreamDecoder } from '../generation/incremental-text.js';
import { ModelBase } from '../model-base.js';
import { readModelConfig } from '../model-dir.js';
import { type Weights, loadWeights } from '../weights.js';
import { type Cpm1Config, parseCpm1Config } from './config.js';
import { cpm1Plan } from './plan.js';

export interface LoadOptions extends StreamingLoadOptions {
  /** fp32, fp16, or int8 (W8A8, float16 activations); default int8. */
  dtype?: ModelDType;
  /** A backend, or which to pick: auto (CUDA when usable), cpu, cuda. */
  device?: DeviceRequest | Backend;
  /**
   * CPU threads (1–256) for the CPU kernels, process-wide (the thread pool is shared); default: every
   * hardware thread, or BMINF_CPU_THREADS. Each op uses as many as its size repays.
   */
  threads?: number;
}

export interface Cpm1Block {
  lnAttn: LayerNorm;
  attn: SelfAttention;
  lnFF: LayerNorm;
  ffn: FeedForward;
}

/** The int8 output projection: the embedding table [vocab, d] quantized per row, as the linear weights are. */
function int8Head(b: Backend, table: Tensor): Linear {
  const q = b.quantizeRows(b.contiguous(table));
  return new Linear(b, { kind: 'int8', weight: keep(q.values), scale: keep(q.scales), bias: null });
}

/** The tokens seen so far in one generation: one KV cache per layer. */
export class Cpm1State {
  constructor(readonly caches: KVCache[]) {}
  get length(): number {
    return this.caches[0]?.length ?? 0;
  }
  dispose(): void {
    for (const c of this.caches) c.dispose();
  }
  [Symbol.dispose](): void {
    this.dispose();
  }
}

/**
 * CPM-1: a GPT-2 decoder (pre-LayerNorm blocks, tanh GELU, learned positions, output tied to the token
 * embedding). In int8 every linear layer is W8A8 and everything else runs in float16, as in BMInf.
 */
export class Cpm1Model extends ModelBase implements CausalLM<Cpm1State> {
  private readonly embed: Embedding;
  private readonly pos: PositionEmbedding;
  private readonly blocks: Cpm1Block[];
  private readonly lnFinal: LayerNorm;
  /** int8 on the CPU: the tied output projection as a W8A8 linear layer (see outputHead). */
  private readonly headInt8: Linear | null;

  /** A model over weights already on the backend (load() and randomCpm1Model() make them); it takes ownership of them. */
  constructor(
    readonly config: Cpm1Config,
    readonly tokenizer: SentencePieceTokenizer,
    backend: Backend,
    dtype: ModelDType,
    private readonly weights: Weights,
    /** Where streamed blocks go (a model loaded with a memory limit), or null when every block is resident. */
    readonly streamer: LayerStreamer | null = null,
  ) {
    super(backend, dtype);
    const b = backend;
    this.pass = cpm1Pass(config);
    // A streamed block's tensors come from host memory and become views into its slot (LayerStreamer).
    const sink = (name: string) => streamer?.sink(unitOf(name));
    const w = {
      tensor: (name: string) => sink(name)?.tensor(weights.tensor(name)) ?? weights.tensor(name),
      linear: (name: string) => sink(name)?.linear(weights.linear(name)) ?? weights.linear(name),
    };
    this.embed = new Embedding(b, w.tensor('embed.weight'));
    this.pos = new PositionEmbedding(b, w.tensor('pos_embed.weight'));
    const scale = config.scaleAttention ? 1 / Math.sqrt(config.headDim) : 1;
    this.blocks = Array.from({ length: config.numLayers }, (_, i) => {
      const p = `layers.${i}`;
      return {
        lnAttn: new LayerNorm(b, w.tensor(`${p}.ln_attn.weight`), w.tensor(`${p}.ln_attn.bias`), config.eps),
        attn: new SelfAttention(b, {
          qkv: new Linear(b, w.linear(`${p}.attn.qkv`)),
          out: new Linear(b, w.linear(`${p}.attn.out`)),
          numHeads: config.numHeads,
          headDim: config.headDim,
          scale,
        }),
        lnFF: new LayerNorm(b, w.tensor(`${p}.ln_ff.weight`), w.tensor(`${p}.ln_ff.bias`), config.eps),
        ffn: new FeedForward(b, new Linear(b, w.linear(`${p}.ff.in`)), new Linear(b, w.linear(`${p}.ff.out`))),
      };
    });
    this.lnFinal = new LayerNorm(b, w.tensor('ln_final.weight'), w.tensor('ln_final.bias'), config.eps);
    this.headInt8 = dtype === 'int8' && b.name === 'cpu' ? int8Head(b, this.embed.table) : null;
    streamer?.finishBuild();
  }

  /** The units every pass runs, in order (for the layer streamer). */
  readonly pass: readonly string[];

  /** Runs a unit's compute, with its weights streamed in first when it is a streamed block. */
  unit<T>(id: string, fn: () => T): T {
    return this.streamer ? this.streamer.run(id, fn) : fn();
  }

  /** Loads a CPM-1 checkpoint directory: Hugging Face GPT-2 (safetensors, sharded or not, or a PyTorch .bin) or bminf-migrate's output. */
  static async load(dir: string, options: LoadOptions = {}): Promise<Cpm1Model> {
    const dtype = options.dtype ?? 'int8';
    if (options.threads !== undefined) CpuBackend.setThreads(options.threads);
    const backend = typeof options.device === 'object' ? options.device : getBackend(options.device ?? 'auto');
    const raw = readModelConfig(dir);
    const config = parseCpm1Config(raw);
    const tokenizer = await SentencePieceTokenizer.fromFile(join(dir, 'tokenizer.model'));
    if (tokenizer.vocabSize > config.vocabSize) {
      throw new InvalidArgumentError(
        `The tokenizer has ${tokenizer.vocabSize} pieces but the model only ${config.vocabSize} embeddings.`,
        { hint: 'Use the tokenizer.model that came with these weights.' },
      );
    }
    const plans = cpm1Plan(raw);
    const { streamer, onHost } = cpm1Streaming(config, plans, backend, dtype, options);
    return loadAndAssembleModel(
      streamer,
      () => loadWeights(dir, raw, plans, { dtype, backend, onHost, hostBackend: cpuBackend() }),
      (weights) => new Cpm1Model(config, tokenizer, backend, dtype, weights, streamer),
    );
  }

  get contextLength(): number {
    return this.config.maxPositions;
  }
  get vocabSize(): number {
    return this.config.vocabSize;
  }
  get eosId(): number {
    return this.config.eosId;
  }
  encode(text: string): number[] {
    return this.tokenizer.encode(text);
  }
  decode(ids: number[]): string {
    return this.tokenizer.decode(ids);
  }
  streamDecoder(): StreamDecoder {
    return this.tokenizer.streamDecoder();
  }

  newState(): Cpm1State {
    this.assertAlive();
    const c = this.config;
    return new Cpm1State(
      Array.from({ length: c.numLayers }, () => new KVCache(this.backend, c.numHeads, c.maxPositions, c.headDim, this.activationDType)),
    );
  }

  /**
   * Runs ids through the model, appending them to `state` (or with no cache when state is null), and
   * returns the logits as float32: of the last position ([vocab]) or of every position ([n * vocab]).
   */
  forward(ids: readonly number[], state: Cpm1State | null, options: { allLogits?: boolean } = {}): Float32Array {
    this.assertAlive();
    if (ids.length === 0) throw new InvalidArgumentError('forward() needs at least one token id.');
    const start = state?.length ?? 0;
    if (start + ids.length > this.contextLength) {
      throw new InvalidArgumentError(
        `${start + ids.length} tokens exceed the model's context of ${this.contextLength}.`,
        { hint: 'Shorten the prompt or lower max tokens.' },
      );
    }
    const b = this.backend;
    const logits = tidy(() => {
      let x: Tensor = b.add(this.castIn(this.embed.forward(ids)), this.castIn(this.pos.forward(start, ids.length)));
      this.streamer?.begin(this.pass);
      this.blocks.forEach((blk, i) =>
        this.unit(`block.${i}`, () => {
          const a = blk.attn.forward(blk.lnAttn.forward(x), state ? state.caches[i] : null, { causal: true });
          x = b.add(x, a);
          const f = blk.ffn.forward(blk.lnFF.forward(x));
          x = b.add(x, f);
        }),
      );
      let h = this.lnFinal.forward(x);
      if (!options.allLogits) h = h.narrow(0, ids.length - 1, 1);
      return this.outputHead(h);
    });
    try {
      return b.download(logits) as Float32Array;
    } finally {
      logits.dispose();
    }
  }

  /**
   * Logits (float32, [n, vocab]) of final hidden states h [n, d] (after ln_final): h times the token
   * embedding, transposed (GPT-2's tied output). Float16 on the GPU and for fp16/fp32; for int8 on the
   * CPU a W8A8 linear layer over an int8 copy of the embedding (per-row scales, made at load), like
   * every other linear layer: there float16 weights are widened to float32 one by one, which made
   * the head, the largest GEMV of a decode step, half its time (tiny-cpm1); the int8 GEMV reads half
   * the bytes and multiplies 64 at a time (VNNI). Widened to float32 natively, not in JS.
   */
  outputHead(h: Tensor): Tensor {
    const b = this.backend;
    const out = this.headInt8 ? this.headInt8.forward(b.contiguous(h)) : b.gemm(b.contiguous(h), this.embed.table, { transB: true });
    return out.dtype === 'float32' ? out : b.cast(out, 'float32');
  }

  /** The model's layers, for runners that plan their own steps over them (Cpm1PlannedRunner). */
  get layers(): { embed: Embedding; pos: PositionEmbedding; blocks: readonly Cpm1Block[]; lnFinal: LayerNorm } {
    this.assertAlive();
    return { embed: this.embed, pos: this.pos, blocks: this.blocks, lnFinal: this.lnFinal };
  }

  protected release(): void {
    if (this.headInt8) {
      this.headInt8.params.weight.dispose();
      if (this.headInt8.params.kind === 'int8') this.headInt8.params.scale.dispose();
    }
    this.weights.dispose();
    this.streamer?.dispose();
  }
}

/** The units every pass of CPM-1 runs, in order: its blocks. */
function cpm1Pass(c: Cpm1Config): string[] {
  return Array.from({ length: c.numLayers }, (_, i) => `block.${i}`);
}

/** The layer plan of a CPM-1 model loaded with a memory limit (none without one). */
export function cpm1Streaming(config: Cpm1Config, plans: TensorPlan[], backend: Backend, dtype: ModelDType, options: StreamingLoadOptions) {
  return planModelStreaming({
    backend,
    plans,
    dtype,
    memoryLimit: options.memoryLimit,
    runtimeBytes: cpm1RuntimeBytes(config, dtype, options.plannedFor),
    passes: [cpm1Pass(config)],
    perToken: () => true,
  });
}
