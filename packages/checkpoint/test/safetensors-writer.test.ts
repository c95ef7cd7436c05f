import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CheckpointError, InvalidArgumentError } from '@bminf/core';
import { openCheckpoint, openSafetensors, SafetensorsWriter, writeSafetensors } from '@bminf/checkpoint';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { tempDir } from './helpers/safetensors.js';

let tmp: ReturnType<typeof tempDir>;
beforeEach(() => {
  tmp = tempDir();
});
afterEach(() => tmp.cleanup());

const ramp = (n: number, k = 1) => Float32Array.from({ length: n }, (_, i) => i * k);

describe('safetensors writer', () => {
  it('writes sharded output that reads back exactly, with a consistent index', async () => {
    const target = join(tmp.dir, 'out');
    const tensors = [
      { name: 'a', dtype: 'float32' as const, shape: [4, 8], data: ramp(32) },
      { name: 'b', dtype: 'int8' as const, shape: [3], data: new Int8Array([-1, 0, 1]) },
      { name: 'c', dtype: 'F16' as const, shape: [2, 2], data: () => new Uint16Array([1, 2, 3, 4]) },
      { name: 'd', dtype: 'float32' as const, shape: [100], data: async () => ramp(100, -0.5) },
      { name: 'e', dtype: 'int32' as const, shape: [2], data: new Int32Array([7, -7]) },
    ];
    await writeSafetensors(target, tensors, { maxShardBytes: 200 });
    const files = readdirSync(target).sort();
    expect(files).toEqual([
      'model-00001-of-00003.safetensors',
      'model-00002-of-00003.safetensors',
      'model-00003-of-00003.safetensors',
      'model.safetensors.index.json',
    ]);
    const index = JSON.parse(readFileSync(join(target, 'model.safetensors.index.json'), 'utf8'));
    expect(index.metadata.total_size).toBe(128 + 3 + 8 + 400 + 8);
    expect(index.weight_map).toEqual({
      a: 'model-00001-of-00003.safetensors',
      b: 'model-00001-of-00003.safetensors',
      c: 'model-00001-of-00003.safetensors',
      d: 'model-00002-of-00003.safetensors',
      e: 'model-00003-of-00003.safetensors',
    });
    // The header is space-padded to a multiple of 8 and the offsets are contiguous from 0.
    const raw = readFileSync(join(target, 'model-00001-of-00003.safetensors'));
    const n = Number(raw.readBigUInt64LE(0));
    expect(n % 8).toBe(0);
    const header = JSON.parse(raw.subarray(8, 8 + n).toString('utf8'));
    expect(header.__metadata__).toEqual({ format: 'pt' });
    expect(header.a.data_offsets).toEqual([0, 128]);
    expect(header.b.data_offsets).toEqual([128, 131]);
    expect(header.c.data_offsets).toEqual([131, 139]);
    expect(raw.length).toBe(8 + n + 139);

    const src = await openCheckpoint(target);
    expect(src.names().sort()).toEqual(['a', 'b', 'c', 'd', 'e']);
    expect((await src.read('a')).data).toEqual(ramp(32));
    expect([...(await src.read('b')).data]).toEqual([-1, 0, 1]);
    expect((await src.read('c')).dtype).toBe('float16');
    expect([...(await src.read('c')).data]).toEqual([1, 2, 3, 4]);
    expect((await src.read('d')).data).toEqual(ramp(100, -0.5));
    expect([...(await src.read('e')).data]).toEqual([7, -7]);
    await src.close();
    expect(readdirSync(tmp.dir)).toEqual(['out']); // no temporary folder left behind
  });

  it('streams through the class API and lets other files join the output before commit', async () => {
    const target = join(tmp.dir, 'model');
    const w = await SafetensorsWriter.create(target, [{ name: 'x', dtype: 'F32', shape: [2] }]);
    writeFileSync(join(w.stagingDir, 'config.json'), '{}');
    expect(existsSync(target)).toBe(false);
    await w.write('x', new Float32Array([1, 2]));
    await w.commit();
    expect(readdirSync(target).sort()).toEqual(['config.json', 'model-00001-of-00001.safetensors', 'model.safetensors.index.json']);
    const src = await openSafetensors(join(target, 'model-00001-of-00001.safetensors'));
    expect([...(await src.read('x')).data]).toEqual([1, 2]);
    await src.close();
  });

  it('leaves nothing at the target when a data source throws midway', async () => {
    const target = join(tmp.dir, 'out');
    const p = writeSafetensors(
      target,
      [
        { name: 'a', dtype: 'F32', shape: [4], data: ramp(4) },
        {
          name: 'b',
          dtype: 'F32',
          shape: [4],
          data: () => {
            throw new Error('source exploded');
          },
        },
      ],
      { maxShardBytes: 8 },
    );
    await expect(p).rejects.toThrow('source exploded');
    expect(readdirSync(tmp.dir)).toEqual([]);
  });

  it('leaves nothing when the disk write fails midway (the temporary folder vanished)', async () => {
    const target = join(tmp.dir, 'out');
    const p = writeSafetensors(
      target,
      [
        { name: 'a', dtype: 'F32', shape: [4], data: ramp(4) },
        {
          name: 'b',
          dtype: 'F32',
          shape: [4],
          data: () => {
            // Pull the folder out from under the writer: opening the second shard fails with ENOENT.
            for (const d of readdirSync(tmp.dir)) rmSync(join(tmp.dir, d), { recursive: true });
            return ramp(4);
          },
        },
      ],
      { maxShardBytes: 16 },
    );
    const err = await p.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CheckpointError);
    expect((err as Error).message).toMatch(/writing tensor "b" failed \(ENOENT/);
    expect(readdirSync(tmp.dir)).toEqual([]);
  });

  it('refuses an existing target unless overwrite is set, then replaces it', async () => {
    const target = join(tmp.dir, 'out');
    mkdirSync(target);
    writeFileSync(join(target, 'old.txt'), 'old');
    const t = [{ name: 'a', dtype: 'F32' as const, shape: [1], data: ramp(1) }];
    const err = await writeSafetensors(target, t).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CheckpointError);
    expect((err as Error).message).toMatch(/out: already exists.*--force/);
    expect(readdirSync(target)).toEqual(['old.txt']);
    await writeSafetensors(target, t, { overwrite: true });
    expect(readdirSync(target).sort()).toEqual(['model-00001-of-00001.safetensors', 'model.safetensors.index.json']);
    expect(readdirSync(tmp.dir)).toEqual(['out']);
  });

  it('refuses a target whose parent does not exist', async () => {
    const err = await writeSafetensors(join(tmp.dir, 'no/such/out'), []).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CheckpointError);
    expect((err as Error).message).toMatch(/cannot create the temporary folder.*ENOENT/);
  });

  it('refuses out-of-order tensors, wrong byte lengths, bad specs, and an early commit', async () => {
    const target = join(tmp.dir, 'out');
    const w = await SafetensorsWriter.create(target, [
      { name: 'a', dtype: 'F32', shape: [2] },
      { name: 'b', dtype: 'I8', shape: [2] },
    ]);
    await expect(w.write('b', new Int8Array(2))).rejects.toThrow(/expected "a" but received "b"/);
    await expect(w.write('a', new Float32Array(3))).rejects.toThrow(/"a" \(F32 \[2\]\) needs 8 bytes but received 12/);
    await w.write('a', new Float32Array(2));
    await expect(w.commit()).rejects.toThrow(InvalidArgumentError);
    await w.abort();
    expect(readdirSync(tmp.dir)).toEqual([]);
    await expect(SafetensorsWriter.create(target, [{ name: 'a', dtype: 'Q4' as never, shape: [1] }])).rejects.toThrow(/unknown dtype "Q4"/);
    await expect(SafetensorsWriter.create(target, [{ name: 'a', dtype: 'F32', shape: [1.5] }])).rejects.toThrow(/shape \[1\.5\]/);
    await expect(
      SafetensorsWriter.create(target, [
        { name: 'a', dtype: 'F32', shape: [1] },
        { name: 'a', dtype: 'F32', shape: [1] },
      ]),
    ).rejects.toThrow(/listed twice/);
    expect(readdirSync(tmp.dir)).toEqual([]);
  });
});
