// Streaming, sharded safetensors writing. The tensor list (names, dtypes, shapes) is given first so
// every shard's header can be written before its data; the data then arrives one tensor at a time,
// in that order, and is written straight to disk (the whole model is never in memory).
import { open, writeFile, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { CheckpointError, type DType, InvalidArgumentError, isDType } from '@bminf/core';
import { isSourceDType, numelOf, SOURCE_DTYPES, sourceDTypeOf, sourceDTypeSize } from './dtypes.js';
import { StagingDir } from './staging.js';
import type { SourceDType } from './types.js';

export interface TensorSpec {
  name: string;
  dtype: SourceDType | DType;
  shape: readonly number[];
}

export interface WriterOptions {
  /** Shards are filled up to this many bytes of tensor data (a larger tensor gets a shard of its own). Default 2 GiB. */
  maxShardBytes?: number;
  /** Replace an existing target folder (default: refuse). */
  overwrite?: boolean;
  /** Extra `__metadata__` strings for every shard (`format: "pt"` is always set, as Hugging Face expects). */
  metadata?: Record<string, string>;
}

export const DEFAULT_MAX_SHARD_BYTES = 2 * 1024 ** 3;

interface Planned {
  name: string;
  dtype: SourceDType;
  shape: number[];
  byteLength: number;
  shard: number;
  /** Absolute position in its shard file. */
  position: number;
}

interface Shard {
  file: string;
  header: Uint8Array;
  tensors: Planned[];
}

export function shardFileName(k: number, n: number): string {
  const pad = (x: number) => String(x).padStart(5, '0');
  return `model-${pad(k)}-of-${pad(n)}.safetensors`;
}

function encodeHeader(tensors: Planned[], metadata: Record<string, string>): Uint8Array {
  const header: Record<string, unknown> = { __metadata__: metadata };
  let off = 0;
  for (const t of tensors) {
    header[t.name] = { dtype: t.dtype, shape: t.shape, data_offsets: [off, off + t.byteLength] };
    off += t.byteLength;
  }
  // Padded with spaces to a multiple of 8, as the format asks, so the data area starts aligned.
  const text = JSON.stringify(header);
  const raw = new TextEncoder().encode(text);
  const len = Math.ceil(raw.length / 8) * 8;
  const out = new Uint8Array(8 + len).fill(0x20);
  new DataView(out.buffer).setBigUint64(0, BigInt(len), true);
  out.set(raw, 8);
  return out;
}

function planShards(specs: readonly TensorSpec[], maxShardBytes: number, metadata: Record<string, string>): Shard[] {
  const groups: Planned[][] = [];
  let current: Planned[] = [];
  let bytes = 0;
  const seen = new Set<string>();
  for (const s of specs) {
    if (typeof s.name !== 'string' || s.name === '' || s.name === '__metadata__') {
      throw new InvalidArgumentError(`Tensor name ${JSON.stringify(s.name)} cannot be written to safetensors.`);
    }
    if (seen.has(s.name)) throw new InvalidArgumentError(`Tensor "${s.name}" is listed twice.`, { hint: 'Give each tensor once.' });
    seen.add(s.name);
    const dtype = isSourceDType(s.dtype) ? s.dtype : isDType(s.dtype) ? sourceDTypeOf(s.dtype) : undefined;
    if (!dtype) {
      throw new InvalidArgumentError(`Tensor "${s.name}" has unknown dtype ${JSON.stringify(s.dtype)}.`, {
        hint: `Use one of ${SOURCE_DTYPES.join(', ')} or int8, int32, float16, float32.`,
      });
    }
    if (!Array.isArray(s.shape) || !s.shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      throw new InvalidArgumentError(`Tensor "${s.name}" has shape ${JSON.stringify(s.shape)}, not a list of non-negative integers.`);
    }
    const byteLength = numelOf(s.shape) * sourceDTypeSize(dtype);
    if (current.length > 0 && bytes + byteLength > maxShardBytes) {
      groups.push(current);
      current = [];
      bytes = 0;
    }
    current.push({ name: s.name, dtype, shape: [...s.shape], byteLength, shard: groups.length, position: 0 });
    bytes += byteLength;
  }
  if (current.length > 0 || groups.length === 0) groups.push(current);
  return groups.map((tensors, k) => {
    const header = encodeHeader(tensors, metadata);
    let pos = header.length;
    for (const t of tensors) {
      t.position = pos;
      pos += t.byteLength;
    }
    return { file: shardFileName(k + 1, groups.length), header, tensors };
  });
}

export class SafetensorsWriter {
  /** The temporary folder; other files (config, tokenizer) may be written into it before `commit()`. */
  readonly stagingDir: string;
  readonly target: string;
  private readonly staging: StagingDir;
  private readonly shards: Shard[];
  private readonly order: Planned[];
  private next = 0;
  private fh: FileHandle | undefined;
  private failed: unknown;
  readonly totalBytes: number;

  private constructor(staging: StagingDir, shards: Shard[]) {
    this.staging = staging;
    this.stagingDir = staging.dir;
    this.target = staging.target;
    this.shards = shards;
    this.order = shards.flatMap((s) => s.tensors);
    this.totalBytes = this.order.reduce((a, t) => a + t.byteLength, 0);
  }

  /** Plans the shards and creates the temporary folder beside `targetDir`. */
  static async create(targetDir: string, specs: readonly TensorSpec[], options: WriterOptions = {}): Promise<SafetensorsWriter> {
    const max = options.maxShardBytes ?? DEFAULT_MAX_SHARD_BYTES;
    if (!Number.isSafeInteger(max) || max <= 0) {
      throw new InvalidArgumentError(`maxShardBytes must be a positive integer, but received ${max}.`);
    }
    const shards = planShards(specs, max, { ...options.metadata, format: 'pt' });
    const staging = await StagingDir.create(targetDir, { overwrite: options.overwrite });
    return new SafetensorsWriter(staging, shards);
  }

  /** Shard file names and the tensors in each, in writing order. */
  get layout(): { file: string; names: string[] }[] {
    return this.shards.map((s) => ({ file: s.file, names: s.tensors.map((t) => t.name) }));
  }

  /** Writes the next tensor's data (tensors must come in the order they were listed). */
  async write(name: string, data: ArrayBufferView): Promise<void> {
    if (this.failed !== undefined) throw new CheckpointError('the writer failed earlier and was aborted.', { file: this.target, cause: this.failed });
    const t = this.order[this.next];
    if (!t) throw new InvalidArgumentError(`Tensor "${name}" was written after every listed tensor.`);
    if (t.name !== name) {
      throw new InvalidArgumentError(`Tensors must be written in the listed order: expected "${t.name}" but received "${name}".`);
    }
    if (data.byteLength !== t.byteLength) {
      throw new InvalidArgumentError(
        `Tensor "${name}" (${t.dtype} [${t.shape.join(', ')}]) needs ${t.byteLength} bytes but received ${data.byteLength}.`,
      );
    }
    const shard = this.shards[t.shard];
    const path = join(this.stagingDir, shard.file);
    try {
      if (t === shard.tensors[0]) {
        this.fh = await open(path, 'w');
        await this.fh.write(shard.header, 0, shard.header.length, 0);
      }
      const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
      for (let done = 0; done < bytes.length; ) {
        const len = Math.min(1 << 30, bytes.length - done);
        const { bytesWritten } = await this.fh!.write(bytes, done, len, t.position + done);
        done += bytesWritten;
      }
      if (t === shard.tensors[shard.tensors.length - 1]) {
        const fh = this.fh!;
        this.fh = undefined;
        await fh.close();
      }
    } catch (cause) {
      this.failed = cause;
      // Named as the file will be called at the target: the temporary folder is removed on abort.
      throw new CheckpointError(`writing tensor "${name}" failed (${(cause as Error).message}).`, {
        file: join(this.target, shard.file),
        hint: 'Check the free space and permissions of the output folder.',
        cause,
      });
    }
    this.next++;
  }

  /** Writes the index and moves the output into place; every listed tensor must have been written. */
  async commit(): Promise<void> {
    if (this.next !== this.order.length) {
      const missing = this.order.length - this.next;
      throw new InvalidArgumentError(`commit() before every tensor was written: ${missing} remain, the next is "${this.order[this.next].name}".`);
    }
    // Empty shards (a checkpoint without tensors) still get their header.
    for (const s of this.shards) if (s.tensors.length === 0) await writeFile(join(this.stagingDir, s.file), s.header);
    const weightMap: Record<string, string> = {};
    for (const s of this.shards) for (const t of s.tensors) weightMap[t.name] = s.file;
    const index = { metadata: { total_size: this.totalBytes }, weight_map: weightMap };
    await writeFile(join(this.stagingDir, 'model.safetensors.index.json'), `${JSON.stringify(index, null, 2)}\n`);
    await this.staging.commit();
  }

  /** Discards everything written; the target is left as it was. */
  async abort(): Promise<void> {
    const fh = this.fh;
    this.fh = undefined;
    await fh?.close().catch(() => {});
    await this.staging.abort();
  }
}

export interface TensorSource extends TensorSpec {
  /** The data, or a function producing it when its turn comes (so only one tensor is in memory). */
  data: ArrayBufferView | (() => ArrayBufferView | Promise<ArrayBufferView>);
}

/** Writes a whole sharded checkpoint into `targetDir`; on any failure nothing is left there. */
export async function writeSafetensors(targetDir: string, tensors: readonly TensorSource[], options: WriterOptions = {}): Promise<void> {
  const writer = await SafetensorsWriter.create(targetDir, tensors, options);
  try {
    for (const t of tensors) {
      const data = typeof t.data === 'function' ? await t.data() : t.data;
      await writer.write(t.name, data);
    }
    await writer.commit();
  } catch (e) {
    await writer.abort();
    throw e;
  }
}
