import { UnsupportedError } from '@bminf/core';
import type { CheckpointSource } from './types.js';
export async function openTorch(file: string): Promise<CheckpointSource> {
  throw new UnsupportedError(`${file}: PyTorch checkpoints are not readable yet.`);
}
