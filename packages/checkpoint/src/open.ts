// openCheckpoint: one entry point for a folder or a single file of any supported format.
import { readdir, stat } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { CheckpointError } from '@bminf/core';
import { openSafetensors, openSafetensorsIndex } from './safetensors-reader.js';
import { openTorch } from './torch-reader.js';
import type { CheckpointSource } from './types.js';

const TORCH_NAMES = ['pytorch_model.bin'];

/**
 * Opens a checkpoint. `path` is a folder (model.safetensors.index.json → sharded; else model.safetensors;
 * else pytorch_model.bin, or a single *.bin / *.pt) or one .safetensors / .bin / .pt / .index.json file.
 */
export async function openCheckpoint(path: string): Promise<CheckpointSource> {
  const abs = resolve(path);
  let st;
  try {
    st = await stat(abs);
  } catch (cause) {
    throw new CheckpointError('does not exist.', { file: abs, hint: 'Give the folder or file of a checkpoint.', cause });
  }
  if (st.isDirectory()) return openDirectory(abs);
  return openFile(abs);
}

function openFile(file: string): Promise<CheckpointSource> {
  const name = basename(file).toLowerCase();
  if (name.endsWith('.index.json')) return openSafetensorsIndex(file);
  if (name.endsWith('.safetensors')) return openSafetensors(file);
  if (name.endsWith('.bin') || name.endsWith('.pt') || name.endsWith('.pth')) return openTorch(file);
  throw new CheckpointError('is not a checkpoint bminf can read (by its extension).', {
    file,
    hint: 'Give a .safetensors, .safetensors.index.json, .bin, .pt or .pth file, or the folder holding one.',
  });
}

async function openDirectory(dir: string): Promise<CheckpointSource> {
  const files = (await readdir(dir)).sort();
  if (files.includes('model.safetensors.index.json')) return openSafetensorsIndex(join(dir, 'model.safetensors.index.json'));
  if (files.includes('model.safetensors')) return openSafetensors(join(dir, 'model.safetensors'));
  const indexes = files.filter((f) => f.endsWith('.safetensors.index.json'));
  if (indexes.length === 1) return openSafetensorsIndex(join(dir, indexes[0]));
  const singles = files.filter((f) => f.endsWith('.safetensors'));
  if (singles.length === 1) return openSafetensors(join(dir, singles[0]));
  for (const n of TORCH_NAMES) if (files.includes(n)) return openTorch(join(dir, n));
  const torch = files.filter((f) => /\.(bin|pt|pth)$/i.test(f));
  if (torch.length === 1) return openTorch(join(dir, torch[0]));
  if (torch.length > 1 || singles.length > 1 || indexes.length > 1) {
    throw new CheckpointError(
      `holds several candidate checkpoint files (${[...indexes, ...singles, ...torch].join(', ')}) and none of the standard names.`,
      { file: dir, hint: 'Give the file to read instead of the folder.' },
    );
  }
  throw new CheckpointError(
    'holds no checkpoint: looked for model.safetensors.index.json, model.safetensors, *.safetensors, pytorch_model.bin, *.bin, *.pt and *.pth.',
    { file: dir, hint: 'Give the folder that holds the weights, or the weights file itself.' },
  );
}
