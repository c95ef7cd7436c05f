import { AbortedError, InvalidArgumentError } from '@bminf/core';
import { sampleRowsFloat32 } from '@bminf/kernels';
import { Cpm1Model } from '../cpm1/model.js';
import { Cpm1PlannedRunner } from '../cpm1/planned-runner.js';
import { type Cpm2RunnerLimits, Cpm2PlannedRunner } from '../cpm2/planned-runner.js';
import { type DialogueChunk, type DialogueOptions, type DialogueResult, streamDialogueOn } from '../cpm2/dialogue.js';
import { type FillBlankChunk, type FillBlankResult, streamFillBlankOn } from '../cpm2/fill-blank.js';
import { streamCpm2GenerateOn } from '../cpm2/prefix-lm.js';
import type { Cpm2TaskOptions } from '../cpm2/task-options.js';
import { type GenerateChunk, type GenerateOptions, type GenerateResult, streamGenerateOn } from '../generation/generate.js';
import type { SampleDraw } from '../generation/sampling.js';
import type { EngineModel, ModelRunner, StepOutput } from './runner.js';

export interface EngineOptions extends Cpm2RunnerLimits {
  /** Sequences decoded together at most, and open at once (default 8). */
  maxBatch?: number;
  /** CPM-1: tokens a sequence may have, prompt included (default: the model's context). */
  maxLength?: number;
  /** The runner (default: the model's planned runner, Cpm1PlannedRunner or Cpm2PlannedRunner; EagerRunner is the reference). */
  runner?: ModelRunner;
}

export interface EngineStats {
  /** Sequences open (holding a slot). */
  running: number;
  /** Sequences waiting for a slot. */
  waiting: number;
  /** Sequences advanced by the last step. */
  lastBatchSize: number;
  /** Steps run so far. */
  steps: number;
  /** Tokens fed to the model so far (prompts included). */
  tokensIn: number;
}

/**
 * One sequence of an engine: a slot of the runner. forward() appends ids and resolves to the logits
 * after the last one; the engine gathers the forwards of all open sequences into batched steps.
 */
export interface EngineSequence {
  forward(ids: readonly number[]): Promise<Float32Array>;
  /**
   * Optional: forward() for a caller that wants only the greedy pick after the last id (greedy decoding
   * without penalties). Resolves to that id (-1 where every logit is NaN or -Infinity) where the runner
   * takes the argmax on the device, else to the logits.
   */
  forwardArgmax?(ids: readonly number[]): Promise<StepOutput>;
  /**
   * Optional: forward() for a caller that samples (Sampler.draw made the draw): resolves to the token
   * that draw picks from the logits after the last id (-1 where every logit is NaN or -Infinity). An
   * engine samples all of a step's such sequences in one native call on the CPU's thread pool.
   */
  forwardSample?(ids: readonly number[], draw: SampleDraw): Promise<number>;
  /** Tokens in the sequence's state so far. */
  readonly length: number;
  /** Frees the slot (idempotent). */
  close(): void;
  /**
   * True when every forward() gives the event loop a turn before it computes (an engine's sequences
   * do: their forwards wait for the next step, run from setImmediate), so a caller's loop need not
   * yield between forwards itself.
   */
  readonly yieldsToEventLoop?: boolean;
}

interface Pending {
  slot: number;
  ids: readonly number[];
  argmax: boolean;
  draw?: SampleDraw;
  resolve: (out: StepOutput) => void;
  reject: (e: unknown) => void;
}

/**
 * Continuous batching: many independent sequences (requests) share the model's forward passes. Each
 * request opens a sequence (waiting for a free slot when all are taken), drives it token by token, and
 * closes it; whenever forwards are pending, the engine runs them as one step, so sequences join and
 * leave between steps. The generation functions of this package (generate, fillBlank, dialogue) run on
 * an engine through `Engine.generate`, `Engine.fillBlank` and `Engine.dialogue` (see tasks.ts).
 */
export class Engine {
  readonly runner: ModelRunner;
  private readonly free: number[];
  private readonly waiters: { resolve: (slot: number) => void; reject: (e: unknown) => void; signal?: AbortSignal }[] = [];
  private pending: Pending[] = [];
  private scheduled = false;
  private running = false;
  private closed = false;
  private idle: (() => void)[] = [];
  /** The runner's last call: its calls run one at a time (see exclusive). */
  private serial: Promise<unknown> = Promise.resolve();
  private readonly _stats: EngineStats = { running: 0, waiting: 0, lastBatchSize: 0, steps: 0, tokensIn: 0 };

  constructor(
    readonly model: EngineModel,
    options: EngineOptions = {},
  ) {
    const maxBatch = options.maxBatch ?? 8;
    if (!Number.isInteger(maxBatch) || maxBatch < 1 || maxBatch > 256) {
      throw new InvalidArgumentError(`maxBatch must be an integer from 1 to 256, but is ${String(maxBatch)}.`);
    }
    this.runner =
      options.runner ??
      (model instanceof Cpm1Model ? new Cpm1PlannedRunner(model, maxBatch, options.maxLength) : new Cpm2PlannedRunner(model, maxBatch, options));
    this.free = Array.from({ length: this.runner.slots }, (_, i) => this.runner.slots - 1 - i);
  }

  get stats(): EngineStats {
    return { ...this._stats, running: this.runner.slots - this.free.length, waiting: this.waiters.length };
  }

  /**
   * Plans every step that prompts (CPM-1) or encoder inputs (CPM-2, EVA) of up to maxInput tokens can
   * need, ahead of traffic: a server calls this before it takes requests, so the first ones do not wait
   * for planning and device memory stays flat from then on. Optional; steps are otherwise planned on
   * first use.
   */
  async prepare(maxInput?: number): Promise<void> {
    await this.exclusive(async () => this.runner.prepare?.(maxInput));
  }

  /** Opens a sequence (for CPM-2/EVA over encoderIds), waiting for a free slot if all are taken. */
  async open(encoderIds: readonly number[] | null = null, signal?: AbortSignal): Promise<EngineSequence> {
    if (this.closed) throw new InvalidArgumentError('This engine is closed.');
    const slot = this.free.length > 0 ? (this.free.pop() as number) : await this.waitForSlot(signal);
    try {
      if (encoderIds) this._stats.tokensIn += encoderIds.length;
      await this.exclusive(() => this.runner.open(slot, encoderIds));
    } catch (e) {
      this.release(slot);
      throw e;
    }
    let length = 0;
    let open = true;
    return {
      forward: (ids) => {
        if (!open) return Promise.reject(new InvalidArgumentError('This sequence was closed.'));
        length += ids.length;
        return this.request(slot, ids, false) as Promise<Float32Array>; // logits asked, logits given
      },
      forwardArgmax: (ids) => {
        if (!open) return Promise.reject(new InvalidArgumentError('This sequence was closed.'));
        length += ids.length;
        return this.request(slot, ids, true);
      },
      forwardSample: (ids, draw) => {
        if (!open) return Promise.reject(new InvalidArgumentError('This sequence was closed.'));
        length += ids.length;
        return this.request(slot, ids, false, draw) as Promise<number>; // the logits, sampled in tick()
      },
      get length() {
        return length;
      },
      yieldsToEventLoop: true,
      close: () => {
        if (!open) return;
        open = false;
        this.runner.close(slot);
        this.release(slot);
      },
    };
  }

  private waitForSlot(signal?: AbortSignal): Promise<number> {
    return new Promise((resolve, reject) => {
      const w = { resolve, reject, ...(signal ? { signal } : {}) };
      this.waiters.push(w);
      signal?.addEventListener(
        'abort',
        () => {
          const i = this.waiters.indexOf(w);
          if (i >= 0) this.waiters.splice(i, 1);
          reject(new AbortedError('Generation was aborted while waiting for a free slot.'));
        },
        { once: true },
      );
    });
  }

  private release(slot: number): void {
    const w = this.waiters.shift();
    if (w) w.resolve(slot);
    else this.free.push(slot);
    this.notifyIdle();
  }

  private request(slot: number, ids: readonly number[], argmax: boolean, draw?: SampleDraw): Promise<StepOutput> {
    return new Promise((resolve, reject) => {
      this.pending.push({ slot, ids, argmax, ...(draw ? { draw } : {}), resolve, reject });
      this.schedule();
    });
  }

  /**
   * Runs fn after the runner's previous call has settled. A planned runner writes a step's inputs and
   * then awaits its run, and runs of one step must not overlap (StepGraph): an open() (an encoder
   * step) arriving while a step runs, or two opens of one length bucket, would otherwise do both.
   */
  private exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const call = this.serial.then(fn);
    this.serial = call.catch(() => undefined);
    return call;
  }

  /** Runs a step on the next turn of the event loop, so that every sequence ready by then joins it. */
  private schedule(): void {
    if (this.scheduled || this.running || this.pending.length === 0) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      void this.tick();
    });
  }

  private async tick(): Promise<void> {
    this.running = true;
    const batch = this.pending;
    this.pending = [];
    try {
      const outputs = await this.exclusive(() => this.runner.step(batch.map(({ slot, ids, argmax }) => ({ slot, ids, argmax }))));
      // The sequences that sample: all in one native call, its rows on the CPU's thread pool.
      const drawn = batch.flatMap((p, i) => (p.draw && outputs[i] instanceof Float32Array ? [i] : []));
      if (drawn.length > 0) {
        const ids = sampleRowsFloat32(drawn.map((i) => ({ logits: outputs[i] as Float32Array, ...(batch[i].draw as SampleDraw) })));
        drawn.forEach((i, j) => (outputs[i] = ids[j]));
      }
      this._stats.steps++;
      this._stats.lastBatchSize = batch.length;
      for (const p of batch) this._stats.tokensIn += p.ids.length;
      batch.forEach((p, i) => p.resolve(outputs[i]));
    } catch (e) {
      for (const p of batch) p.reject(e);
    } finally {
      this.running = false;
      this.schedule();
      this.notifyIdle();
    }
  }

  private notifyIdle(): void {
    if (this.running || this.pending.length > 0 || this.free.length < this.runner.slots) return;
    for (const f of this.idle.splice(0)) f();
  }

  /**
   * Streams a continuation of `prompt` (CPM-1; for CPM-2 and EVA, BMInf's prefix continuation), decoded
   * in batches with every other request on this engine. Same chunks and result as streamGenerate.
   * Call `return()` on the iterator (a `for await` loop's `break` does) to stop early and free the slot.
   */
  generate(prompt: string | readonly number[], options: GenerateOptions = {}): AsyncGenerator<GenerateChunk, GenerateResult, void> {
    const m = this.model;
    if (m instanceof Cpm1Model) return streamGenerateOn(m, () => this.open(null, options.signal), prompt, options);
    return streamCpm2GenerateOn(m, (ids) => this.open(ids, options.signal), prompt, options);
  }

  /** CPM-2's fill-in-the-blank on this engine (see streamFillBlank). */
  fillBlank(text: string, options: Cpm2TaskOptions = {}): AsyncGenerator<FillBlankChunk, FillBlankResult, void> {
    return streamFillBlankOn(this.cpm2('fillBlank'), (ids) => this.open(ids, options.signal), text, options);
  }

  /** EVA's dialogue on this engine (see streamDialogue). */
  dialogue(context: readonly string[], options: DialogueOptions = {}): AsyncGenerator<DialogueChunk, DialogueResult, void> {
    return streamDialogueOn(this.cpm2('dialogue'), (ids) => this.open(ids, options.signal), context, options);
  }

  private cpm2(task: string) {
    if (this.model instanceof Cpm1Model) {
      throw new InvalidArgumentError(`${task} needs a CPM-2 or EVA model; this engine serves CPM-1.`, { hint: 'Use generate() with CPM-1.' });
    }
    return this.model;
  }

  /**
   * Stops taking new sequences and resolves once every open one has closed (requests in flight finish).
   * The runner's memory is freed then; the model stays loaded (dispose it yourself).
   */
  async close(): Promise<void> {
    this.closed = true;
    for (const w of this.waiters.splice(0)) w.reject(new InvalidArgumentError('The engine was closed before a slot came free.'));
    await new Promise<void>((resolve) => {
      this.idle.push(resolve);
      this.notifyIdle();
    });
    this.runner.dispose();
  }
}
