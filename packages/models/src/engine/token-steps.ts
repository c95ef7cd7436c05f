import { InvalidArgumentError } from '@bminf/core';
import type { StepItem, StepOutput } from './runner.js';

/** One slot's token in a decode step. */
export interface DecodeEntry {
  slot: number;
  id: number;
  /** The logits after this token are not wanted: its greedy id will do (or nothing, mid-item). */
  argmax: boolean;
}

/**
 * Feeds items to one-token decode steps: every item's first id in the first step, its second in the
 * next (items of one id, the usual case, all take one step together), resolving each item to the
 * output after its last id. `decode` gets an entry per item still feeding, null for those done; an
 * entry before an item's last id wants no output (argmax: the cheapest), its last one what the item asks.
 */
export async function decodeTokenByToken(
  items: readonly { index: number; slot: number; ids: readonly number[]; argmax?: boolean }[],
  out: StepOutput[],
  decode: (entries: (DecodeEntry | null)[]) => Promise<(StepOutput | null)[]>,
): Promise<void> {
  for (let t = 0; items.some((it) => t < it.ids.length); t++) {
    const entries = items.map((it) =>
      t < it.ids.length ? { slot: it.slot, id: it.ids[t], argmax: t < it.ids.length - 1 || it.argmax === true } : null,
    );
    const outputs = await decode(entries);
    items.forEach((it, k) => {
      if (t === it.ids.length - 1) out[it.index] = outputs[k] as StepOutput;
    });
  }
}

/** Throws unless every id is in the vocabulary and the slot has room for them. */
export function checkStepItem(item: StepItem, vocab: number, length: number, maxLength: number, what: string): void {
  for (const id of item.ids) {
    if (!Number.isInteger(id) || id < 0 || id >= vocab) throw new InvalidArgumentError(`Token id ${id} is out of range (vocabulary: 0..${vocab - 1}).`);
  }
  if (length + item.ids.length > maxLength) {
    throw new InvalidArgumentError(`${length + item.ids.length} ${what} tokens exceed the ${maxLength} this runner holds per sequence.`, {
      hint: 'Shorten the input or lower max tokens (or load the engine with a larger maximum length).',
    });
  }
}
