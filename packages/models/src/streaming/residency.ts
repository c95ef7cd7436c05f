// Which blocks stay on the GPU and which stream from pinned host memory (BMInf's layer scheduler),
// decided once when a model is loaded with a memory limit. Pure arithmetic, tested on its own.
import { InvalidArgumentError, formatBytes } from '@bminf/core';

export interface ResidencyUnit {
  id: string;
  bytes: number;
  /** Runs in every decode step (a decoder block), not once per request (an encoder block). */
  perToken: boolean;
}

export interface ResidencyInput {
  units: readonly ResidencyUnit[];
  /** Embeddings, output head, final norms: always on the GPU. */
  fixedBytes: number;
  /** Activations, caches and step arenas for the batch the model is loaded for. */
  runtimeBytes: number;
  /** Device memory the model may use in all. */
  limit: number;
  /** Device slots streamed units pass through (at least two, so that a copy overlaps compute). */
  slots?: number;
}

export interface Residency {
  resident: ReadonlySet<string>;
  /** Streamed unit ids, in the input's order. */
  streamed: readonly string[];
  slots: number;
  /** Bytes of one slot (the largest streamed unit); 0 when nothing streams. */
  slotBytes: number;
  /** Bytes the limit must hold at least: fixed parts, the slots (two of the largest unit), the runtime. */
  minimum: number;
  residentBytes: number;
  /** Bytes copied from host memory per decode step, and per encoder pass (a request's prompt). */
  bytesPerDecodeStep: number;
  bytesPerEncoderPass: number;
}

/**
 * Keeps as many units resident as the limit allows, decoder (per-token) units first, since each of
 * those streamed costs its bytes every token while an encoder unit costs them once per request; the
 * rest stream through `slots` slots of the largest streamed unit's size.
 */
export function planResidency(input: ResidencyInput): Residency {
  const slots = input.slots ?? 2;
  if (!Number.isInteger(slots) || slots < 2) throw new InvalidArgumentError(`Streaming needs at least 2 slots, not ${String(slots)}.`);
  const all = input.units;
  const total = input.fixedBytes + input.runtimeBytes + all.reduce((s, u) => s + u.bytes, 0);
  const largest = Math.max(0, ...all.map((u) => u.bytes));
  if (total <= input.limit || all.length === 0) {
    return {
      resident: new Set(all.map((u) => u.id)),
      streamed: [],
      slots: 0,
      slotBytes: 0,
      minimum: total,
      residentBytes: all.reduce((s, u) => s + u.bytes, 0),
      bytesPerDecodeStep: 0,
      bytesPerEncoderPass: 0,
    };
  }
  const minimum = input.fixedBytes + input.runtimeBytes + slots * largest;
  if (input.limit < minimum) {
    throw new InvalidArgumentError(
      `A memory limit of ${formatBytes(input.limit)} is below the ${formatBytes(minimum)} this model needs at least: ` +
        `${formatBytes(input.fixedBytes)} for the embeddings, output head and norms, ${slots} slots of ${formatBytes(largest)} ` +
        `(its largest block) to stream blocks through, and ${formatBytes(input.runtimeBytes)} for activations and caches.`,
      { hint: `Raise the memory limit to at least ${formatBytes(minimum)}, or load the model for a smaller batch or shorter inputs.` },
    );
  }
  // Per-token units first, the largest first within each kind (fewer bytes left over); then fill.
  const order = [...all].sort((a, b) => Number(b.perToken) - Number(a.perToken) || b.bytes - a.bytes);
  // Keeping the largest units resident can shrink the slots, which frees room for more: repeat while
  // the slots shrink, keeping the last choice whose streamed units all fit a slot.
  let slotBytes = largest;
  let resident = new Set<string>();
  for (let candidate = largest; ; ) {
    let room = input.limit - input.fixedBytes - input.runtimeBytes - slots * candidate;
    const next = new Set<string>();
    for (const u of order) {
      if (u.bytes <= room) {
        next.add(u.id);
        room -= u.bytes;
      }
    }
    const streamedMax = Math.max(0, ...all.filter((u) => !next.has(u.id)).map((u) => u.bytes));
    if (streamedMax > candidate) break; // not valid with slots this small: keep the previous choice
    resident = next;
    slotBytes = candidate;
    if (streamedMax === candidate || streamedMax === 0) break;
    candidate = streamedMax;
  }
  const streamed = all.filter((u) => !resident.has(u.id));
  if (streamed.length === 0) slotBytes = 0;
  return {
    resident,
    streamed: streamed.map((u) => u.id),
    slots: streamed.length === 0 ? 0 : slots,
    slotBytes,
    minimum,
    residentBytes: all.filter((u) => resident.has(u.id)).reduce((s, u) => s + u.bytes, 0),
    bytesPerDecodeStep: streamed.filter((u) => u.perToken).reduce((s, u) => s + u.bytes, 0),
    bytesPerEncoderPass: streamed.filter((u) => !u.perToken).reduce((s, u) => s + u.bytes, 0),
  };
}
