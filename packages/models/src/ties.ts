// Tied copies of a tensor (TensorPlan.ties): checked against the copy bminf runs, by the loader and the migrator.
import type { CheckpointSource } from '@bminf/checkpoint';
import { CheckpointError } from '@bminf/core';
import type { TensorPlan } from './architecture.js';

const sameBytes = (a: ArrayBufferView, b: ArrayBufferView) =>
  a.byteLength === b.byteLength && Buffer.compare(Buffer.from(a.buffer, a.byteOffset, a.byteLength), Buffer.from(b.buffer, b.byteOffset, b.byteLength)) === 0;

/**
 * Refuses a tied copy (plan.ties) that differs from the tensor read under `name`: transformers would
 * run it (T5 uses each stack's own embed_tokens), and bminf, running one table, would silently not.
 */
export async function checkTies(source: CheckpointSource, plan: TensorPlan, name: string, data: ArrayBufferView): Promise<void> {
  const names = new Set(source.names());
  for (const tie of plan.ties ?? []) {
    if (tie === name || !names.has(tie)) continue;
    const copy = await source.read(tie);
    if (!sameBytes(copy.data, data)) {
      throw new CheckpointError(`tensor "${tie}" differs from "${name}": bminf runs one table for "${plan.name}" and cannot honour a separate "${tie}".`, {
        file: source.path,
        hint: `Make the checkpoint's copies equal (tie them as the model was trained), or remove "${tie}" if "${name}" is the table to use.`,
      });
    }
  }
}

