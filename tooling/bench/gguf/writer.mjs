// A GGUF (version 3) writer: metadata key-values and F32 or Q8_0 tensors, written the way llama.cpp's
// gguf-py writes them, so that llama.cpp (here through node-llama-cpp) can load our models.
// Format: "GGUF", version, tensor count, kv count; the kvs; each tensor's name, dims (innermost
// first), type and data offset; padding to the alignment; the tensor data, each aligned.
import { closeSync, openSync, writeSync } from 'node:fs';
import { toFloat16Array } from '@bminf/core';

const ALIGNMENT = 32;

/** Metadata value types (gguf.h). */
export const GgufValue = { u32: 4, i32: 5, f32: 6, bool: 7, string: 8, array: 9 };
/** Tensor types (ggml.h). */
export const GgmlType = { F32: 0, Q8_0: 8 };

/** Q8_0: blocks of 32 values along a row, each a float16 scale d = max|x| / 127 and 32 int8 round(x / d). */
const Q8_BLOCK = 32;
const Q8_BLOCK_BYTES = 2 + Q8_BLOCK;

function quantizeQ8_0(x) {
  if (x.length % Q8_BLOCK !== 0) throw new Error(`Q8_0 needs rows that are multiples of ${Q8_BLOCK} values`);
  const blocks = x.length / Q8_BLOCK;
  const out = new Uint8Array(blocks * Q8_BLOCK_BYTES);
  const scales = new Float32Array(blocks);
  for (let b = 0; b < blocks; b++) {
    let amax = 0;
    for (let j = 0; j < Q8_BLOCK; j++) amax = Math.max(amax, Math.abs(x[b * Q8_BLOCK + j]));
    scales[b] = amax / 127;
  }
  const half = toFloat16Array(scales);
  const view = new DataView(out.buffer);
  for (let b = 0; b < blocks; b++) {
    view.setUint16(b * Q8_BLOCK_BYTES, half[b], true);
    // As llama.cpp's quantize_row_q8_0_ref: the float32 d, not its float16 rounding; roundf (ties away).
    const id = scales[b] ? 1 / scales[b] : 0;
    for (let j = 0; j < Q8_BLOCK; j++) {
      const v = x[b * Q8_BLOCK + j] * id;
      out[b * Q8_BLOCK_BYTES + 2 + j] = (Math.sign(v) * Math.round(Math.abs(v))) & 0xff;
    }
  }
  return out;
}

class Bytes {
  constructor() {
    this.parts = [];
    this.length = 0;
  }
  push(u8) {
    this.parts.push(u8);
    this.length += u8.length;
  }
  u32(v) {
    const b = Buffer.alloc(4);
    b.writeUInt32LE(v);
    this.push(b);
  }
  i32(v) {
    const b = Buffer.alloc(4);
    b.writeInt32LE(v);
    this.push(b);
  }
  u64(v) {
    const b = Buffer.alloc(8);
    b.writeBigUInt64LE(BigInt(v));
    this.push(b);
  }
  f32(v) {
    const b = Buffer.alloc(4);
    b.writeFloatLE(v);
    this.push(b);
  }
  string(s) {
    const b = Buffer.from(s, 'utf8');
    this.u64(b.length);
    this.push(b);
  }
  value(type, v) {
    switch (type) {
      case GgufValue.u32: return this.u32(v);
      case GgufValue.i32: return this.i32(v);
      case GgufValue.f32: return this.f32(v);
      case GgufValue.bool: return this.push(Uint8Array.of(v ? 1 : 0));
      case GgufValue.string: return this.string(v);
      default: throw new Error(`unsupported metadata type ${type}`);
    }
  }
}

/**
 * Writes a GGUF file. metadata: [key, GgufValue type, value] or [key, 'array', element type, values];
 * tensors: { name, dims (row-major shape, outermost first, as PyTorch writes it), type: 'F32' | 'Q8_0',
 * data: Float32Array } in the order they are to be stored.
 */
export function writeGguf(path, { metadata, tensors }) {
  const head = new Bytes();
  head.push(Buffer.from('GGUF', 'ascii'));
  head.u32(3);
  head.u64(tensors.length);
  head.u64(metadata.length);
  for (const entry of metadata) {
    head.string(entry[0]);
    if (entry[1] === 'array') {
      const [, , elemType, values] = entry;
      head.u32(GgufValue.array);
      head.u32(elemType);
      head.u64(values.length);
      for (const v of values) head.value(elemType, v);
    } else {
      head.u32(entry[1]);
      head.value(entry[1], entry[2]);
    }
  }
  const bodies = tensors.map((t) => {
    const n = t.dims.reduce((a, b) => a * b, 1);
    if (t.data.length !== n) throw new Error(`${t.name}: ${t.data.length} values for dims ${t.dims.join('x')}`);
    return t.type === 'Q8_0' ? quantizeQ8_0(t.data) : new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
  });
  let offset = 0;
  tensors.forEach((t, i) => {
    head.string(t.name);
    head.u32(t.dims.length);
    for (const d of [...t.dims].reverse()) head.u64(d); // ggml's ne: the innermost dimension first
    head.u32(GgmlType[t.type]);
    head.u64(offset);
    offset += Math.ceil(bodies[i].length / ALIGNMENT) * ALIGNMENT;
  });
  const fd = openSync(path, 'w');
  try {
    for (const p of head.parts) writeSync(fd, p);
    const pad = (len) => (len % ALIGNMENT ? writeSync(fd, new Uint8Array(ALIGNMENT - (len % ALIGNMENT))) : 0);
    pad(head.length);
    for (const body of bodies) {
      writeSync(fd, body);
      pad(body.length);
    }
  } finally {
    closeSync(fd);
  }
}
