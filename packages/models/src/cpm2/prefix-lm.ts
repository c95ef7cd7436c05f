import { InvalidArgumentError } from '@bminf/core';
import type { EngineSequence } from '../engine/engine.js';
import type { CausalLM } from '../generation/causal-lm.js';
import { type GenerateChunk, type GenerateOptions, type GenerateResult, streamGenerate, streamGenerateOn } from '../generation/generate.js';
import { MAX_DECODER_TOKENS, type Cpm2Model } from './model.js';
import type { Cpm2State } from './state.js';

/** The sentinel BMInf's CPM-2 generate puts after the prefix. */
export const GENERATE_SENTINEL = 189;

/** A prefix continuation's state: the encoder runs on the first forward(), with the prefix. */
export class Cpm2PrefixState {
  inner: Cpm2State | null = null;
  get length(): number {
    return this.inner?.length ?? 0;
  }
  dispose(): void {
    this.inner?.dispose();
    this.inner = null;
  }
}

/**
 * CPM-2 seen as a causal LM, so that the shared generation loop (sampling, stop strings, abort,
 * streaming; `bminf generate`) runs it: the prompt goes to the encoder followed by <s_189>, the
 * decoder starts from <s> <s_189> and continues the text (BMInf's CPM2.generate). `<unk>` is never
 * generated, as BMInf filters it. Stop at `stopTokens` (<eod> and every sentinel).
 */
export class Cpm2PrefixLM implements CausalLM<Cpm2PrefixState> {
  constructor(readonly model: Cpm2Model) {}

  get contextLength(): number {
    return MAX_DECODER_TOKENS;
  }
  get vocabSize(): number {
    return this.model.vocabSize;
  }
  get eosId(): number {
    return this.model.tokenizer.eodId;
  }
  /** <eod> and the sentinels, where BMInf's generate stops. */
  get stopTokens(): number[] {
    return [this.eosId, ...this.model.tokenizer.sentinelIds];
  }
  encode(text: string): number[] {
    return this.model.encode(text);
  }
  decode(ids: number[]): string {
    return this.model.decode(ids);
  }
  newState(): Cpm2PrefixState {
    return new Cpm2PrefixState();
  }

  forward(ids: readonly number[], state: Cpm2PrefixState): Float32Array {
    if (!(state instanceof Cpm2PrefixState)) throw new InvalidArgumentError('Cpm2PrefixLM.forward() needs a state from newState().');
    const tok = this.model.tokenizer;
    const sentinel = tok.sentinelId(GENERATE_SENTINEL);
    let logits: Float32Array;
    if (state.inner === null) {
      state.inner = this.model.newState([...ids, sentinel]);
      logits = this.model.decoderForward([tok.sodId, sentinel], state.inner);
    } else {
      logits = this.model.decoderForward(ids, state.inner);
    }
    logits[tok.unkId] = -Infinity;
    return logits;
  }
}

/**
 * A prefix continuation's sequence over `open` (an engine's): the first forward opens it with the
 * prefix (and <s_189>) as the encoder input and feeds <s> <s_189> to the decoder, as Cpm2PrefixLM does.
 */
export function prefixSequence(model: Cpm2Model, open: (encoderIds: readonly number[]) => Promise<EngineSequence>): EngineSequence {
  const tok = model.tokenizer;
  const sentinel = tok.sentinelId(GENERATE_SENTINEL);
  let inner: EngineSequence | null = null;
  let closed = false;
  return {
    async forward(ids) {
      let logits: Float32Array;
      if (inner === null) {
        inner = await open([...ids, sentinel]);
        if (closed) inner.close();
        logits = await inner.forward([tok.sodId, sentinel]);
      } else {
        logits = await inner.forward(ids);
      }
      logits[tok.unkId] = -Infinity;
      return logits;
    },
    // The runner's greedy id already skips <unk> (Cpm2PlannedRunner); logits are masked as forward() does.
    async forwardArgmax(ids) {
      let out: Float32Array | number;
      if (inner === null) {
        inner = await open([...ids, sentinel]);
        if (closed) inner.close();
        const first = [tok.sodId, sentinel];
        out = inner.forwardArgmax ? await inner.forwardArgmax(first) : await inner.forward(first);
      } else {
        out = inner.forwardArgmax ? await inner.forwardArgmax(ids) : await inner.forward(ids);
      }
      if (typeof out !== 'number') out[tok.unkId] = -Infinity;
      return out;
    },
    get length() {
      return inner?.length ?? 0;
    },
    close() {
      closed = true;
      inner?.close();
    },
  };
}

/** streamCpm2Generate over any source of sequences (an engine's, for batched decoding). */
export function streamCpm2GenerateOn(
  model: Cpm2Model,
  open: (encoderIds: readonly number[]) => Promise<EngineSequence>,
  prefix: string | readonly number[],
  options: GenerateOptions = {},
): AsyncGenerator<GenerateChunk, GenerateResult, void> {
  const lm = new Cpm2PrefixLM(model);
  return streamGenerateOn(lm, async () => prefixSequence(model, open), prefix, { stopTokens: lm.stopTokens, ...options });
}

/** Streams CPM-2's continuation of `prefix` until <eod> (or a sentinel, a stop string, maxTokens). */
export function streamCpm2Generate(
  model: Cpm2Model,
  prefix: string | readonly number[],
  options: GenerateOptions = {},
): AsyncGenerator<GenerateChunk, GenerateResult, void> {
  const lm = new Cpm2PrefixLM(model);
  return streamGenerate(lm, prefix, { stopTokens: lm.stopTokens, ...options });
}

/** CPM-2's continuation of `prefix` as one call (see streamCpm2Generate). */
export async function cpm2Generate(model: Cpm2Model, prefix: string | readonly number[], options: GenerateOptions = {}): Promise<GenerateResult> {
  const it = streamCpm2Generate(model, prefix, options);
  for (;;) {
    const r = await it.next();
    if (r.done) return r.value;
  }
}
