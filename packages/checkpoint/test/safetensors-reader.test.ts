import { existsSync, truncateSync } from 'node:fs';
import { join } from 'node:path';
import { CheckpointError } from '@bminf/core';
import { openCheckpoint, openSafetensors } from '@bminf/checkpoint';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { buildFile, bytesOf, safetensorsBytes, tempDir } from './helpers/safetensors.js';

let tmp: ReturnType<typeof tempDir>;
beforeEach(() => {
  tmp = tempDir();
});
afterEach(() => tmp.cleanup());

const f32 = (xs: number[]) => bytesOf(new Float32Array(xs));

async function expectCheckpointError(p: Promise<unknown>, ...parts: (string | RegExp)[]): Promise<CheckpointError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(CheckpointError);
  for (const part of parts) expect((err as Error).message).toMatch(part);
  return err as CheckpointError;
}

describe('safetensors reader: good files', () => {
  it('reads every dtype with the documented conversion', async () => {
    const bf16 = new Uint16Array([0x3f80, 0xc040]); // 1.0, -3.0
    const i64 = new BigInt64Array([5n, -7n, 2147483647n]);
    const file = tmp.write(
      'a.safetensors',
      buildFile(
        {
          w: { dtype: 'F32', shape: [2, 2], bytes: f32([1, 2, 3, 4]) },
          h: { dtype: 'F16', shape: [2], bytes: bytesOf(new Uint16Array([0x3c00, 0xc000])) },
          b: { dtype: 'BF16', shape: [2], bytes: bytesOf(bf16) },
          d: { dtype: 'F64', shape: [1], bytes: bytesOf(new Float64Array([0.5])) },
          l: { dtype: 'I64', shape: [3], bytes: bytesOf(i64) },
          i: { dtype: 'I32', shape: [1], bytes: bytesOf(new Int32Array([-9])) },
          s: { dtype: 'I16', shape: [1], bytes: bytesOf(new Int16Array([-300])) },
          c: { dtype: 'I8', shape: [3], bytes: bytesOf(new Int8Array([-128, 0, 127])) },
          u: { dtype: 'U8', shape: [1], bytes: new Uint8Array([200]) },
          z: { dtype: 'BOOL', shape: [2], bytes: new Uint8Array([1, 0]) },
          e: { dtype: 'F32', shape: [0, 4], bytes: new Uint8Array(0) },
        },
        { format: 'pt' },
      ),
    );
    const src = await openSafetensors(file);
    try {
      expect(src.names()).toEqual(['w', 'h', 'b', 'd', 'l', 'i', 's', 'c', 'u', 'z', 'e']);
      expect(src.info('w')).toEqual({ name: 'w', dtype: 'F32', shape: [2, 2], byteLength: 16, file });
      const w = await src.read('w');
      expect(w.dtype).toBe('float32');
      expect([...w.data]).toEqual([1, 2, 3, 4]);
      expect(w.shape).toEqual([2, 2]);
      const h = await src.read('h');
      expect(h.dtype).toBe('float16');
      expect([...h.data]).toEqual([0x3c00, 0xc000]);
      const b = await src.read('b');
      expect(b.dtype).toBe('float32');
      expect([...b.data]).toEqual([1, -3]);
      expect([...(await src.read('d')).data]).toEqual([0.5]);
      const l = await src.read('l');
      expect(l.dtype).toBe('int32');
      expect([...l.data]).toEqual([5, -7, 2147483647]);
      expect([...(await src.read('i')).data]).toEqual([-9]);
      expect([...(await src.read('s')).data]).toEqual([-300]);
      const c = await src.read('c');
      expect(c.dtype).toBe('int8');
      expect([...c.data]).toEqual([-128, 0, 127]);
      expect([...(await src.read('u')).data]).toEqual([200]);
      expect([...(await src.read('z')).data]).toEqual([1, 0]);
      expect((await src.read('e')).data.length).toBe(0);
    } finally {
      await src.close();
    }
  });

  it('reads the sharded demo model through its index', async () => {
    const dir = join(import.meta.dirname, '../../../models/tiny-cpm1');
    const src = await openCheckpoint(dir);
    try {
      expect(src.path).toBe(join(dir, 'model.safetensors.index.json'));
      expect(src.names()).toContain('transformer.h.3.mlp.c_proj.weight');
      const wte = src.info('transformer.wte.weight');
      expect(wte.dtype).toBe('F32');
      expect(wte.shape).toEqual([8000, 256]);
      expect(wte.byteLength).toBe(8000 * 256 * 4);
      const t = await src.read('transformer.h.0.attn.c_attn.weight');
      expect(t.shape).toEqual([256, 768]);
      expect(t.data).toBeInstanceOf(Float32Array);
      expect(t.data.every((x) => Number.isFinite(x))).toBe(true);
      const ln = await src.read('transformer.ln_f.weight');
      expect(ln.shape).toEqual([256]);
    } finally {
      await src.close();
    }
  });

  it("reads into a caller's buffer when it is large enough (ReadOptions.buffer)", async () => {
    const file = tmp.write('buf.safetensors', buildFile({ a: { dtype: 'F32', shape: [3], bytes: f32([1, 2, 3]) }, b: { dtype: 'F32', shape: [8], bytes: f32([1, 2, 3, 4, 5, 6, 7, 8]) } }));
    const src = await openSafetensors(file);
    const buffer = new ArrayBuffer(16);
    const a = await src.read('a', { buffer });
    expect(a.data.buffer).toBe(buffer);
    expect([...a.data]).toEqual([1, 2, 3]);
    const b = await src.read('b', { buffer }); // 32 bytes: too large, so a fresh buffer
    expect(b.data.buffer).not.toBe(buffer);
    expect([...b.data]).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect([...a.data]).toEqual([1, 2, 3]);
    await src.close();
  });

  it('opens a single model.safetensors in a folder', async () => {
    tmp.write('model.safetensors', buildFile({ x: { dtype: 'F32', shape: [1], bytes: f32([7]) } }));
    const src = await openCheckpoint(tmp.dir);
    expect([...(await src.read('x')).data]).toEqual([7]);
    await src.close();
  });
});

describe('safetensors reader: bad input', () => {
  it('refuses a file shorter than the length prefix', async () => {
    const file = tmp.write('short.safetensors', new Uint8Array([1, 2, 3]));
    await expectCheckpointError(openSafetensors(file), 'short.safetensors', /3 bytes, too short/);
  });

  it('refuses a header length beyond the end of the file', async () => {
    const file = tmp.write('long.safetensors', safetensorsBytes({}, new Uint8Array(0), { lengthOverride: 1000n }));
    await expectCheckpointError(openSafetensors(file), 'long.safetensors', /header length \(1000 bytes\) goes beyond the end of the file/);
  });

  it('refuses a header length over the cap even when the file is that large', async () => {
    const file = tmp.write('huge.safetensors', safetensorsBytes({}, new Uint8Array(0), { lengthOverride: 200_000_000n }));
    truncateSync(file, 200_000_100); // sparse: costs no disk
    await expectCheckpointError(openSafetensors(file), /over the 104857600-byte limit/);
  });

  it('refuses a truncated file (data area shorter than the header says)', async () => {
    const full = buildFile({ a: { dtype: 'F32', shape: [4], bytes: f32([1, 2, 3, 4]) }, b: { dtype: 'F32', shape: [2], bytes: f32([5, 6]) } });
    const file = tmp.write('cut.safetensors', full.subarray(0, full.length - 5));
    await expectCheckpointError(openSafetensors(file), 'cut.safetensors', 'tensor "b"', /truncated/, /Re-download or re-convert/);
  });

  it('refuses a header that is not JSON', async () => {
    const file = tmp.write('bad.safetensors', safetensorsBytes(null, new Uint8Array(0), { headerText: '{"a": {"dtype": ' }));
    await expectCheckpointError(openSafetensors(file), 'bad.safetensors', /not valid JSON/);
  });

  it('refuses a header that is not UTF-8', async () => {
    const bytes = safetensorsBytes(null, new Uint8Array(0), { headerText: '{"xx":1}' });
    bytes[10] = 0xff;
    bytes[11] = 0xfe;
    const file = tmp.write('enc.safetensors', bytes);
    await expectCheckpointError(openSafetensors(file), /not valid UTF-8/);
  });

  it('refuses a header that is a JSON array', async () => {
    const file = tmp.write('arr.safetensors', safetensorsBytes([1, 2], new Uint8Array(0)));
    await expectCheckpointError(openSafetensors(file), /not a JSON object/);
  });

  it('refuses an unknown dtype, naming the tensor', async () => {
    const file = tmp.write('dt.safetensors', safetensorsBytes({ w: { dtype: 'F8_E4M3', shape: [4], data_offsets: [0, 4] } }, new Uint8Array(4)));
    await expectCheckpointError(openSafetensors(file), 'dt.safetensors', 'tensor "w"', /unknown dtype "F8_E4M3"/);
  });

  it('refuses overlapping offsets, naming both tensors', async () => {
    const header = {
      a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] },
      b: { dtype: 'F32', shape: [2], data_offsets: [4, 12] },
    };
    const file = tmp.write('ov.safetensors', safetensorsBytes(header, new Uint8Array(12)));
    await expectCheckpointError(openSafetensors(file), 'ov.safetensors', '"a"', '"b"', /overlapping/);
  });

  it('refuses out-of-range offsets', async () => {
    const header = { a: { dtype: 'F32', shape: [4], data_offsets: [8, 24] } };
    const file = tmp.write('oor.safetensors', safetensorsBytes(header, new Uint8Array(16)));
    await expectCheckpointError(openSafetensors(file), 'tensor "a"', /\[8, 24\] go beyond the end of the data area \(16 bytes\)/);
  });

  it('refuses offsets that begin after they end, and non-integer offsets', async () => {
    const f1 = tmp.write('rev.safetensors', safetensorsBytes({ a: { dtype: 'F32', shape: [0], data_offsets: [8, 4] } }, new Uint8Array(16)));
    await expectCheckpointError(openSafetensors(f1), /begin after they end/);
    const f2 = tmp.write('frac.safetensors', safetensorsBytes({ a: { dtype: 'F32', shape: [1], data_offsets: [0, 4.5] } }, new Uint8Array(16)));
    await expectCheckpointError(openSafetensors(f2), /not a pair of non-negative integers/);
  });

  it('refuses a byte length that disagrees with shape x dtype size', async () => {
    const header = { a: { dtype: 'F16', shape: [3, 2], data_offsets: [0, 8] } };
    const file = tmp.write('len.safetensors', safetensorsBytes(header, new Uint8Array(16)));
    await expectCheckpointError(openSafetensors(file), 'tensor "a"', /byte length \(8.*\) is not shape \[3, 2\] x 2 bytes of F16 = 12/);
  });

  it('refuses a bad shape', async () => {
    const file = tmp.write('sh.safetensors', safetensorsBytes({ a: { dtype: 'F32', shape: [-1], data_offsets: [0, 4] } }, new Uint8Array(4)));
    await expectCheckpointError(openSafetensors(file), /shape \[-1\] is not a list of non-negative integers/);
  });

  it('says which tensor is absent and in which file', async () => {
    const file = tmp.write('one.safetensors', buildFile({ x: { dtype: 'F32', shape: [1], bytes: f32([1]) } }));
    const src = await openSafetensors(file);
    expect(() => src.info('nope')).toThrow(CheckpointError);
    expect(() => src.info('nope')).toThrow(/one\.safetensors.*"nope"/);
    await expectCheckpointError(src.read('nope'), '"nope"');
    await src.close();
    await src.close(); // twice is harmless
    await expectCheckpointError(src.read('x'), /one\.safetensors: was closed; tensor "x" cannot be read/);
  });

  it('refuses an I64 tensor whose values do not fit in int32', async () => {
    const file = tmp.write('big.safetensors', buildFile({ ids: { dtype: 'I64', shape: [2], bytes: bytesOf(new BigInt64Array([1n, 1n << 40n])) } }));
    const src = await openSafetensors(file);
    await expectCheckpointError(src.read('ids'), 'tensor "ids"', /1099511627776.*does not fit in int32/);
    await src.close();
  });

  it('refuses a sharded checkpoint with a missing shard, listing it', async () => {
    tmp.write('model-00001-of-00002.safetensors', buildFile({ a: { dtype: 'F32', shape: [1], bytes: f32([1]) } }));
    tmp.write(
      'model.safetensors.index.json',
      JSON.stringify({ metadata: { total_size: 8 }, weight_map: { a: 'model-00001-of-00002.safetensors', b: 'model-00002-of-00002.safetensors' } }),
    );
    await expectCheckpointError(openCheckpoint(tmp.dir), 'model.safetensors.index.json', /model-00002-of-00002\.safetensors/, /do not exist/);
  });

  it('refuses an index whose shard lacks a tensor it lists', async () => {
    tmp.write('s1.safetensors', buildFile({ a: { dtype: 'F32', shape: [1], bytes: f32([1]) } }));
    tmp.write('model.safetensors.index.json', JSON.stringify({ weight_map: { a: 's1.safetensors', ghost: 's1.safetensors' } }));
    await expectCheckpointError(openCheckpoint(tmp.dir), 's1.safetensors', '"ghost"');
  });

  it('refuses an index without weight_map, and shard names that leave the folder', async () => {
    const f1 = tmp.write('x.safetensors.index.json', '{"metadata": {}}');
    await expectCheckpointError(openCheckpoint(f1), /no "weight_map"/);
    const f2 = tmp.write('y.safetensors.index.json', JSON.stringify({ weight_map: { a: '../etc/passwd' } }));
    await expectCheckpointError(openCheckpoint(f2), /not a file name in this folder/);
  });

  it('explains what was looked for in a folder without a checkpoint', async () => {
    tmp.write('readme.txt', 'hi');
    await expectCheckpointError(openCheckpoint(tmp.dir), /model\.safetensors\.index\.json, model\.safetensors/, /pytorch_model\.bin/);
    await expectCheckpointError(openCheckpoint(join(tmp.dir, 'absent')), /does not exist/);
    expect(existsSync(tmp.dir)).toBe(true);
  });
});
