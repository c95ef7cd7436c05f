import { InvalidArgumentError } from '@bminf/core';
import { Cpm1Model, type Cpm1State } from '../cpm1/model.js';
import type { Cpm2Model } from '../cpm2/model.js';
import type { Cpm2State } from '../cpm2/state.js';

/** The models an engine serves: CPM-1 (decoder only), CPM-2 and EVA (encoder-decoder). */
export type EngineModel = Cpm1Model | Cpm2Model;

/** One sequence's input to a step: the ids to append to its slot's state. */
export interface StepItem {
  slot: number;
  ids: readonly number[];
  /**
   * Only the greedy pick after the last id is wanted (no penalties): a runner that can take the argmax
   * on the device answers with that id instead of the logits, and a step whose items all ask for it
   * sends back a few ids instead of rows of logits. CPM-2 and EVA runners never pick <unk> this way
   * (their generation masks it, prefix-lm.ts).
   */
  argmax?: boolean;
}

/**
 * What a step gives for an item: the logits after its last id, or, for an item that asked for `argmax`
 * where the runner computes it on the device, the greedy id (the lowest index of the largest logit; -1
 * where every logit is NaN or -Infinity).
 */
export type StepOutput = Float32Array | number;

/**
 * What the engine needs of a model: a fixed number of slots, each holding one sequence's state (KV
 * caches; for encoder-decoder models the encoder's cross-attention keys and values), and a step that
 * advances several slots at once. Every method that computes returns a Promise; a runner that plans
 * its steps runs them off the event loop.
 */
export interface ModelRunner {
  readonly model: EngineModel;
  /** How many sequences can be open at once. */
  readonly slots: number;
  /** Prepares `slot` for a new sequence: for CPM-2/EVA runs the encoder over encoderIds. */
  open(slot: number, encoderIds: readonly number[] | null): Promise<void>;
  /** Appends each item's ids to its slot and resolves to each item's output (StepOutput), in order. */
  step(items: readonly StepItem[]): Promise<StepOutput[]>;
  /**
   * Optional: plans ahead of traffic every step that inputs up to maxInput tokens can need (planned
   * runners), so that no request waits for planning and memory stays flat from then on.
   */
  prepare?(maxInput?: number): Promise<void>;
  /** Frees what `slot` holds; it can be opened again. */
  close(slot: number): void;
  dispose(): void;
}

/**
 * The runner over the models' own forward passes, one sequence after another: correct on every
 * backend and dtype, the reference the planned runners are tested against.
 */
export class EagerRunner implements ModelRunner {
  private readonly states: (Cpm1State | Cpm2State | null)[];

  constructor(
    readonly model: EngineModel,
    readonly slots: number,
  ) {
    this.states = Array(slots).fill(null);
  }

  async open(slot: number, encoderIds: readonly number[] | null): Promise<void> {
    this.close(slot);
    if (this.model instanceof Cpm1Model) {
      this.states[slot] = this.model.newState();
    } else {
      if (!encoderIds) throw new InvalidArgumentError('CPM-2 and EVA sequences need encoder ids.');
      this.states[slot] = this.model.newState(encoderIds);
    }
  }

  async step(items: readonly StepItem[]): Promise<StepOutput[]> {
    return items.map(({ slot, ids }) => {
      const state = this.states[slot];
      if (!state) throw new InvalidArgumentError(`Slot ${slot} is not open.`);
      return this.model instanceof Cpm1Model
        ? this.model.forward(ids, state as Cpm1State)
        : this.model.decoderForward(ids, state as Cpm2State);
    });
  }

  close(slot: number): void {
    this.states[slot]?.dispose();
    this.states[slot] = null;
  }

  dispose(): void {
    for (let i = 0; i < this.slots; i++) this.close(i);
  }
}
