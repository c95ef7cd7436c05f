import { CheckpointError } from '@bminf/core';

/** The entry of tensor `name` in a checkpoint's table, or a CheckpointError naming the file. */
export function lookupTensor<T>(tensors: ReadonlyMap<string, T>, name: string, file: string): T {
  const t = tensors.get(name);
  if (t === undefined) {
    throw new CheckpointError(`has no tensor named "${name}" (it holds ${tensors.size} tensors).`, {
      file,
      hint: 'Check the name, or that this is the checkpoint of the model you meant.',
    });
  }
  return t;
}
