// safetensors reading: one file or a sharded set through its *.index.json. Only the headers are read
// at open; each tensor is read later by one positional read of its byte range.
import { stat, type FileHandle } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { CheckpointError, readRegularFile, utf8Text } from '@bminf/core';
import { toTensorData } from './dtypes.js';
import { openRegular, readExactly, readFresh } from './io.js';
import { type HeaderEntry, parseHeader, parseHeaderLength } from './safetensors-header.js';
import { lookupTensor } from './lookup.js';
import type { CheckpointSource, ReadOptions, TensorData, TensorInfo } from './types.js';

/** Shard indexes hold one line per tensor: kilobytes to a few megabytes. */
const MAX_INDEX_BYTES = 64 * 1024 * 1024;

interface Located {
  entry: HeaderEntry;
  file: string;
  fh: FileHandle;
}

class SafetensorsSource implements CheckpointSource {
  readonly path: string;
  private readonly tensors: Map<string, Located>;
  private readonly handles: FileHandle[];
  readonly metadata: Record<string, string> | undefined;

  constructor(path: string, tensors: Map<string, Located>, handles: FileHandle[], metadata?: Record<string, string>) {
    this.path = path;
    this.tensors = tensors;
    this.handles = handles;
    this.metadata = metadata;
  }

  names(): string[] {
    return [...this.tensors.keys()];
  }

  private locate(name: string): Located {
    return lookupTensor(this.tensors, name, this.path);
  }

  info(name: string): TensorInfo {
    const { entry, file } = this.locate(name);
    return { name, dtype: entry.dtype, shape: [...entry.shape], byteLength: entry.end - entry.begin, file };
  }

  async read(name: string, options?: ReadOptions): Promise<TensorData> {
    if (this.handles.length === 0) throw new CheckpointError(`was closed; tensor "${name}" cannot be read.`, { file: this.path, hint: 'Open it again.' });
    const { entry, file, fh } = this.locate(name);
    const bytes = await readFresh(fh, entry.end - entry.begin, entry.begin, file, `tensor "${name}"`, options?.buffer);
    return toTensorData(entry.dtype, entry.shape, bytes, { name, file });
  }

  async close(): Promise<void> {
    await Promise.all(this.handles.splice(0).map((h) => h.close()));
  }
}

/** Opens one safetensors file and validates its header; the handle stays open for reads. */
async function openShard(file: string): Promise<{ fh: FileHandle; entries: HeaderEntry[]; metadata?: Record<string, string> }> {
  const fh = await openRegular(file);
  try {
    const { size } = await fh.stat();
    const first8 = new Uint8Array(8);
    if (size >= 8) await readExactly(fh, first8, 0, file, 'the header length');
    const n = parseHeaderLength(first8, size, file);
    const headerBytes = await readFresh(fh, n, 8, file, 'the header');
    const { entries, metadata } = parseHeader(headerBytes, size, file);
    return { fh, entries, metadata };
  } catch (e) {
    await fh.close();
    throw e;
  }
}

export async function openSafetensors(file: string): Promise<CheckpointSource> {
  const path = resolve(file);
  const { fh, entries, metadata } = await openShard(path);
  const map = new Map<string, Located>();
  for (const entry of entries) map.set(entry.name, { entry, file: path, fh });
  return new SafetensorsSource(path, map, [fh], metadata);
}

/** Opens a sharded checkpoint through its index (`weight_map`: tensor name → shard file name). */
export async function openSafetensorsIndex(indexFile: string): Promise<CheckpointSource> {
  const path = resolve(indexFile);
  const dir = dirname(path);
  const text = utf8Text(await readRegularFile(path, { what: 'the shard index', maxBytes: MAX_INDEX_BYTES, error: (m, hint) => new CheckpointError(m, { hint }) }));
  let index: unknown;
  try {
    index = JSON.parse(text);
  } catch (cause) {
    throw new CheckpointError(`cannot be read as JSON (${(cause as Error).message}).`, {
      file: path,
      hint: 'Re-download the index, or open a single .safetensors file instead.',
      cause,
    });
  }
  const weightMap = (index as { weight_map?: unknown } | null)?.weight_map;
  if (weightMap === null || typeof weightMap !== 'object' || Array.isArray(weightMap)) {
    throw new CheckpointError('has no "weight_map" object (tensor name → shard file).', { file: path, hint: 'Re-download the index.' });
  }
  const byShard = new Map<string, string[]>();
  for (const [name, shard] of Object.entries(weightMap as Record<string, unknown>)) {
    if (typeof shard !== 'string' || shard.includes('/') || shard.includes('\\') || shard.startsWith('.')) {
      throw new CheckpointError(`weight_map gives tensor "${name}" the shard ${JSON.stringify(shard)}, which is not a file name in this folder.`, {
        file: path,
        hint: 'Re-download the index.',
      });
    }
    (byShard.get(shard) ?? byShard.set(shard, []).get(shard)!).push(name);
  }
  // Every shard must exist before anything else is opened, so the error lists them all at once.
  const missing: string[] = [];
  for (const shard of byShard.keys()) {
    try {
      await stat(join(dir, shard));
    } catch {
      missing.push(shard);
    }
  }
  if (missing.length > 0) {
    throw new CheckpointError(`names ${missing.length} shard file(s) that do not exist in ${dir}: ${missing.join(', ')}.`, {
      file: path,
      hint: 'Download the missing shards into the same folder.',
    });
  }
  const map = new Map<string, Located>();
  const handles: FileHandle[] = [];
  try {
    for (const [shard, names] of byShard) {
      const file = join(dir, shard);
      const { fh, entries } = await openShard(file);
      handles.push(fh);
      const byName = new Map(entries.map((e) => [e.name, e]));
      for (const name of names) {
        const entry = byName.get(name);
        if (!entry) {
          throw new CheckpointError(`the index puts tensor "${name}" in this shard, but its header has no such tensor.`, {
            file,
            hint: 'The index and the shards disagree: re-download them together.',
          });
        }
        map.set(name, { entry, file, fh });
      }
    }
  } catch (e) {
    await Promise.all(handles.map((h) => h.close()));
    throw e;
  }
  return new SafetensorsSource(path, map, handles);
}

