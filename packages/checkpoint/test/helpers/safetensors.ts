// Hand-built safetensors bytes for tests: any header (valid or not) followed by any data.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export function safetensorsBytes(header: unknown, data: Uint8Array, opts: { headerText?: string; lengthOverride?: bigint } = {}): Uint8Array {
  const text = opts.headerText ?? JSON.stringify(header);
  const h = new TextEncoder().encode(text);
  const out = new Uint8Array(8 + h.length + data.length);
  new DataView(out.buffer).setBigUint64(0, opts.lengthOverride ?? BigInt(h.length), true);
  out.set(h, 8);
  out.set(data, 8 + h.length);
  return out;
}

export interface T {
  dtype: string;
  shape: number[];
  bytes: Uint8Array;
}

/** A well-formed file from named tensors, laid out in the given order. */
export function buildFile(tensors: Record<string, T>, metadata?: Record<string, string>): Uint8Array {
  const header: Record<string, unknown> = {};
  if (metadata) header.__metadata__ = metadata;
  let off = 0;
  for (const [name, t] of Object.entries(tensors)) {
    header[name] = { dtype: t.dtype, shape: t.shape, data_offsets: [off, off + t.bytes.length] };
    off += t.bytes.length;
  }
  const data = new Uint8Array(off);
  off = 0;
  for (const t of Object.values(tensors)) {
    data.set(t.bytes, off);
    off += t.bytes.length;
  }
  return safetensorsBytes(header, data);
}

export function bytesOf(a: ArrayBufferView): Uint8Array {
  return new Uint8Array(a.buffer.slice(a.byteOffset, a.byteOffset + a.byteLength));
}

export function tempDir(prefix = 'bminf-ckpt-'): { dir: string; cleanup: () => void; write: (name: string, b: Uint8Array | string) => string } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return {
    dir,
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
    write: (name, b) => {
      const p = join(dir, name);
      writeFileSync(p, b);
      return p;
    },
  };
}
