// PyTorch checkpoints in torch.save's zip format: <archive>/data.pkl (a pickle holding the state dict)
// and <archive>/data/<key> (raw little-endian storages). The pickle is read by the restricted
// unpickler; tensors are read later, one at a time, from their storage entries.
import type { FileHandle } from 'node:fs/promises';
import { resolve } from 'node:path';
import { CheckpointError } from '@bminf/core';
import { numelOf, sourceDTypeSize, toTensorData } from './dtypes.js';
import { openRegular, readExactly, readFresh } from './io.js';
import { describe, unpickle } from './pickle.js';
import { StorageRef, TensorRef, TorchDType, torchGlobals } from './torch-globals.js';
import { lookupTensor } from './lookup.js';
import type { CheckpointSource, ReadOptions, TensorData, TensorInfo } from './types.js';
import { readZipDirectory, type ZipEntry, zipEntryDataStart } from './zip.js';

const MAX_PICKLE_BYTES = 512 * 1024 * 1024;

class TorchSource implements CheckpointSource {
  readonly path: string;
  private readonly fh: FileHandle;
  private readonly size: number;
  private readonly prefix: string;
  private readonly entries: Map<string, ZipEntry>;
  private readonly tensors: Map<string, TensorRef>;
  private readonly starts = new Map<string, number>();
  private closed = false;

  constructor(path: string, fh: FileHandle, size: number, prefix: string, entries: Map<string, ZipEntry>, tensors: Map<string, TensorRef>) {
    this.path = path;
    this.fh = fh;
    this.size = size;
    this.prefix = prefix;
    this.entries = entries;
    this.tensors = tensors;
  }

  names(): string[] {
    return [...this.tensors.keys()];
  }

  private ref(name: string): TensorRef {
    return lookupTensor(this.tensors, name, this.path);
  }

  info(name: string): TensorInfo {
    const t = this.ref(name);
    return { name, dtype: t.dtype, shape: [...t.shape], byteLength: numelOf(t.shape) * sourceDTypeSize(t.dtype), file: this.path };
  }

  async read(name: string, options?: ReadOptions): Promise<TensorData> {
    if (this.closed) throw new CheckpointError(`was closed; tensor "${name}" cannot be read.`, { file: this.path, hint: 'Open it again.' });
    const t = this.ref(name);
    const esize = sourceDTypeSize(t.dtype);
    const numel = numelOf(t.shape);
    const where = { name, file: this.path };
    if (numel === 0) return toTensorData(t.dtype, t.shape, new Uint8Array(0), where);
    // openTorch checked that the storage exists and that the view lies inside it.
    const entryName = `${this.prefix}data/${t.storage.key}`;
    const entry = this.entries.get(entryName)!;
    let start = this.starts.get(entryName);
    if (start === undefined) {
      start = await zipEntryDataStart(this.fh, entry, this.size, this.path);
      this.starts.set(entryName, start);
    }
    let last = t.offset;
    for (let i = 0; i < t.shape.length; i++) last += (t.shape[i] - 1) * t.stride[i];
    const spanBytes = (last + 1 - t.offset) * esize;
    const position = start + t.offset * esize;
    if (isContiguous(t.shape, t.stride)) {
      const bytes = await readFresh(this.fh, numel * esize, position, this.path, `tensor "${name}"`, options?.buffer);
      return toTensorData(t.dtype, t.shape, bytes, where);
    }
    // A strided view (e.g. a transposed tensor saved as is): read the span it covers and pack it.
    const span = new Uint8Array(spanBytes);
    await readExactly(this.fh, span, position, this.path, `tensor "${name}"`);
    return toTensorData(t.dtype, t.shape, gather(span, t.shape, t.stride, esize, options?.buffer), where);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.fh.close();
  }
}

function isContiguous(shape: number[], stride: number[]): boolean {
  let expected = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    if (shape[i] !== 1 && stride[i] !== expected) return false;
    expected *= shape[i];
  }
  return true;
}

/** Packs a strided view (element strides) into a fresh row-major buffer. */
function gather(span: Uint8Array, shape: number[], stride: number[], esize: number, reuse?: ArrayBuffer): Uint8Array {
  const numel = numelOf(shape);
  const n = numel * esize;
  const out = reuse && reuse.byteLength >= n ? new Uint8Array(reuse, 0, n) : new Uint8Array(new ArrayBuffer(n));
  const idx = new Array<number>(shape.length).fill(0);
  let src = 0;
  for (let o = 0; o < numel; o++) {
    out.set(span.subarray(src * esize, (src + 1) * esize), o * esize);
    for (let d = shape.length - 1; d >= 0; d--) {
      idx[d]++;
      src += stride[d];
      if (idx[d] < shape[d]) break;
      src -= stride[d] * shape[d];
      idx[d] = 0;
    }
  }
  return out;
}

/** How deep dicts may nest in a state dict (real ones nest a few levels: optimizer state, submodules). */
export const MAX_DICT_DEPTH = 64;
/** Tensors one checkpoint may hold (CPM-2's 11 B parameters are about 600 tensors). */
export const MAX_TENSORS = 200_000;

/**
 * Collects the tensors of a (possibly nested) dict, joining nested keys with '.'. Each dict and tensor
 * is visited once: a pickle can reference one object from many places through its memo, and a walk
 * that followed every path would take 2^depth steps for 1.5 KB of input ({x: d, y: d} nested 40 deep).
 * Sharing (a dict or tensor reached twice, a dict holding itself) never occurs in a state dict saved
 * by torch.save except for tied tensors, so a shared dict is refused and a shared tensor keeps both names.
 */
function collect(root: unknown, file: string): Map<string, TensorRef> {
  const out = new Map<string, TensorRef>();
  const seen = new Set<Map<unknown, unknown>>();
  const refuse = (what: string): never => {
    throw new CheckpointError(`the pickle is not a state dict bminf reads: ${what}.`, {
      file,
      hint: 'A state dict is a dict of tensors (nested a few levels at most); re-save it with torch.save(model.state_dict(), path). The file may be malicious.',
    });
  };
  // An explicit stack, so deep nesting is refused by the depth limit rather than overflowing the call stack.
  const todo: { value: unknown; prefix: string; depth: number }[] = [{ value: root, prefix: '', depth: 0 }];
  while (todo.length > 0) {
    const { value, prefix, depth } = todo.pop()!;
    if (value instanceof TensorRef) {
      if (out.size >= MAX_TENSORS) refuse(`it holds more than ${MAX_TENSORS} tensors (the object-count limit)`);
      out.set(prefix, value);
    } else if (value instanceof Map) {
      if (seen.has(value)) refuse(`the dict at "${prefix || '(root)'}" is also reached from another key or holds itself (shared through the pickle's memo)`);
      seen.add(value);
      if (depth >= MAX_DICT_DEPTH) refuse(`its dicts nest more than ${MAX_DICT_DEPTH} levels deep (the depth limit), at "${prefix}"`);
      const children: typeof todo = [];
      for (const [k, v] of value) if (typeof k === 'string') children.push({ value: v, prefix: prefix ? `${prefix}.${k}` : k, depth: depth + 1 });
      todo.push(...children.reverse()); // keep the file's key order
    }
  }
  return out;
}

/**
 * Checks every tensor against the archive before any is read: its storage exists and holds what the
 * pickle declares, and the view lies inside it. Views that repeat elements (a stride of 0, as
 * torch.expand saves them) are read expanded; together they may add at most the file's size, so a few
 * stored bytes cannot declare a tensor of gigabytes.
 */
function checkViews(tensors: Map<string, TensorRef>, entries: Map<string, ZipEntry>, prefix: string, file: string, fileSize: number): void {
  let expansion = 0;
  for (const [name, t] of tensors) {
    const esize = sourceDTypeSize(t.dtype);
    const numel = numelOf(t.shape);
    if (numel === 0) continue;
    const bad = (what: string): never => {
      throw new CheckpointError(`tensor "${name}" (shape [${t.shape.join(', ')}], stride [${t.stride.join(', ')}], offset ${t.offset}) ${what}.`, {
        file,
        hint: 'The file is corrupt or crafted: re-download it or save it again.',
      });
    };
    const entryName = `${prefix}data/${t.storage.key}`;
    const entry = entries.get(entryName);
    if (!entry) bad(`needs the storage "${entryName}", which the archive lacks`);
    const storageBytes = t.storage.numel * sourceDTypeSize(t.storage.dtype);
    if (storageBytes > entry!.size) bad(`lives in a storage declared as ${storageBytes} bytes, but the archive's "${entryName}" holds ${entry!.size}`);
    const elements = Math.floor(entry!.size / esize);
    let last = t.offset;
    for (let i = 0; i < t.shape.length; i++) last += (t.shape[i] - 1) * t.stride[i];
    if (!Number.isSafeInteger(last) || last >= elements) bad(`reaches element ${last} of a storage of ${elements} elements`);
    const span = last + 1 - t.offset;
    if (numel > span) {
      expansion += (numel - span) * esize;
      if (expansion > fileSize) {
        bad(`repeats its ${span} stored elements into ${numel} (a stride of 0 or overlapping strides); the repeated views of this file would take ${expansion} bytes, more than the file's ${fileSize}`);
      }
    }
  }
}

export async function openTorch(file: string): Promise<CheckpointSource> {
  const path = resolve(file);
  const fh = await openRegular(path);
  try {
    const { size } = await fh.stat();
    const magic = new Uint8Array(Math.min(4, size));
    await readExactly(fh, magic, 0, path, 'the file signature');
    if (!(magic[0] === 0x50 && magic[1] === 0x4b)) {
      if (magic[0] === 0x80) {
        throw new CheckpointError('is a PyTorch checkpoint in the legacy (pre-1.6, non-zip) format, which bminf does not read.', {
          file: path,
          hint: 'Re-save it with torch.save in the zip format (PyTorch >= 1.6), or convert it to safetensors.',
        });
      }
      throw new CheckpointError('is not a PyTorch checkpoint (torch.save writes a zip archive, and this file does not start with one).', {
        file: path,
        hint: 'Give a file written by torch.save, or a .safetensors file.',
      });
    }
    const entries = await readZipDirectory(fh, size, path);
    const pkls = [...entries.keys()].filter((n) => n === 'data.pkl' || /^[^/]+\/data\.pkl$/.test(n));
    if (pkls.length !== 1) {
      throw new CheckpointError(
        pkls.length === 0 ? 'is a zip archive without a data.pkl: not a torch.save checkpoint.' : `holds ${pkls.length} data.pkl records (${pkls.join(', ')}).`,
        { file: path, hint: 'Give a file written by torch.save.' },
      );
    }
    const prefix = pkls[0].slice(0, -'data.pkl'.length);
    const order = entries.get(`${prefix}byteorder`);
    if (order) {
      const text = new TextDecoder().decode(await readFresh(fh, Math.min(order.size, 16), await zipEntryDataStart(fh, order, size, path), path, 'byteorder'));
      if (text !== 'little') {
        throw new CheckpointError(`stores its tensors in ${JSON.stringify(text)} byte order; bminf reads little-endian checkpoints.`, {
          file: path,
          hint: 'Re-save it on a little-endian machine (x86, ARM).',
        });
      }
    }
    const pkl = entries.get(pkls[0])!;
    if (pkl.size > MAX_PICKLE_BYTES) {
      throw new CheckpointError(`its data.pkl is ${pkl.size} bytes, over the ${MAX_PICKLE_BYTES}-byte limit for a state dict's pickle.`, {
        file: path,
        hint: 'Re-save just the state dict.',
      });
    }
    const pklBytes = await readFresh(fh, pkl.size, await zipEntryDataStart(fh, pkl, size, path), path, 'data.pkl');
    const storages = new Map<string, StorageRef>();
    const root = unpickle(
      pklBytes,
      {
        resolveGlobal: torchGlobals(path),
        persistentLoad: (pid) => {
          // ('storage', storage type, key, location, numel)
          if (!Array.isArray(pid) || pid[0] !== 'storage' || pid.length < 5) {
            throw new CheckpointError(`the pickle refers to ${describe(pid)} outside itself, which is not a storage.`, {
              file: path,
              hint: 'Give a file written by torch.save.',
            });
          }
          const [, type, key, , numel] = pid;
          if (!(type instanceof TorchDType) || typeof key !== 'string' || typeof numel !== 'number' || !Number.isSafeInteger(numel) || numel < 0) {
            throw new CheckpointError(`the pickle has a malformed storage reference (${describe(type)}, ${describe(key)}, ${describe(numel)}).`, {
              file: path,
              hint: 'The file is corrupt: re-download it or save it again.',
            });
          }
          let s = storages.get(key);
          if (!s) {
            s = new StorageRef(key, type.dtype, numel, type.qualname.endsWith('UntypedStorage'));
            storages.set(key, s);
          }
          return s;
        },
      },
      path,
      'its data.pkl',
    );
    const tensors = collect(root, path);
    if (tensors.size === 0) {
      throw new CheckpointError(`holds no tensors in a dict (its pickle holds ${describe(root)}).`, {
        file: path,
        hint: 'Save the model with torch.save(model.state_dict(), path).',
      });
    }
    checkViews(tensors, entries, prefix, path, size);
    return new TorchSource(path, fh, size, prefix, entries, tensors);
  } catch (e) {
    await fh.close();
    throw e;
  }
}
