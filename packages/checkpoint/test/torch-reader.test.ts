import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CheckpointError, float32ToFloat16Bits } from '@bminf/core';
import { openCheckpoint, openTorch } from '@bminf/checkpoint';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { bytesOf, tempDir } from './helpers/safetensors.js';
import { P, pickle, statePickle, torchArchive } from './helpers/torch.js';

let tmp: ReturnType<typeof tempDir>;
beforeEach(() => {
  tmp = tempDir();
});
afterEach(() => tmp.cleanup());

async function rejection(p: Promise<unknown>): Promise<Error> {
  const e = await p.then(
    () => undefined,
    (x: unknown) => x,
  );
  expect(e).toBeInstanceOf(CheckpointError);
  return e as Error;
}

const f32 = (xs: number[]) => bytesOf(new Float32Array(xs));

describe('PyTorch reader: the demo model', () => {
  const bin = join(import.meta.dirname, '../../../../shared/models/tiny-cpm1/pytorch_model.fp16.bin');
  const st = join(import.meta.dirname, '../../../models/tiny-cpm1');
  it.skipIf(!existsSync(bin))('equals the safetensors float32 weights rounded to float16 (skipped without ../shared)', async () => {
    const src = await openCheckpoint(bin);
    const ref = await openCheckpoint(st);
    try {
      expect(src.names().length).toBe(ref.names().length + 1);
      expect(src.names()).toContain('lm_head.weight');
      for (const name of ref.names()) {
        const info = src.info(name);
        expect(info.dtype).toBe('F16');
        expect(info.shape).toEqual(ref.info(name).shape);
        const a = await src.read(name);
        const b = await ref.read(name);
        expect(a.dtype).toBe('float16');
        const bits = a.data as Uint16Array;
        const want = b.data as Float32Array;
        let bad = 0;
        for (let i = 0; i < want.length; i++) if (bits[i] !== float32ToFloat16Bits(want[i])) bad++;
        expect(bad, name).toBe(0);
      }
      expect((await src.read('lm_head.weight')).data).toEqual((await src.read('transformer.wte.weight')).data);
    } finally {
      await src.close();
      await ref.close();
    }
  });
});

describe('PyTorch reader: hand-built archives', () => {
  it('reads parameters, dtypes, offsets and non-contiguous views', async () => {
    const pkl = statePickle([
      { name: 'w', storage: 'FloatStorage', key: '0', numel: 6, size: [2, 3], parameter: true },
      // The transpose of w: a view over the same storage with swapped strides.
      { name: 'wt', storage: 'FloatStorage', key: '0', numel: 6, size: [3, 2], stride: [1, 3] },
      { name: 'tail', storage: 'FloatStorage', key: '0', numel: 6, offset: 4, size: [2] },
      { name: 'h', storage: 'HalfStorage', key: '1', numel: 2, size: [2] },
      { name: 'ids', storage: 'LongStorage', key: '2', numel: 2, size: [2] },
      { name: 'bf', storage: 'BFloat16Storage', key: '3', numel: 1, size: [1] },
    ]);
    for (const zip64 of [false, true]) {
      const file = tmp.write(`m${zip64}.pt`, torchArchive(pkl, {
        0: f32([1, 2, 3, 4, 5, 6]),
        1: bytesOf(new Uint16Array([0x3c00, 0x4000])),
        2: bytesOf(new BigInt64Array([3n, -4n])),
        3: bytesOf(new Uint16Array([0x4040])),
      }, { zip64 }));
      const src = await openTorch(file);
      expect(src.names()).toEqual(['w', 'wt', 'tail', 'h', 'ids', 'bf']);
      expect(src.info('w')).toEqual({ name: 'w', dtype: 'F32', shape: [2, 3], byteLength: 24, file });
      expect([...(await src.read('w')).data]).toEqual([1, 2, 3, 4, 5, 6]);
      expect([...(await src.read('wt')).data]).toEqual([1, 4, 2, 5, 3, 6]);
      expect([...(await src.read('tail')).data]).toEqual([5, 6]);
      expect([...(await src.read('h')).data]).toEqual([0x3c00, 0x4000]);
      const ids = await src.read('ids');
      expect(ids.dtype).toBe('int32');
      expect([...ids.data]).toEqual([3, -4]);
      expect([...(await src.read('bf')).data]).toEqual([3]);
      await src.close();
    }
  });

  it('refuses a pickle calling os.system, by name, and runs nothing', async () => {
    const marker = join(tmpdir(), `bminf-pwned-${process.pid}`);
    const pkl = pickle(P.proto(2), P.global('os', 'system'), P.str(`touch ${marker}`), P.tuple1(), P.reduce(), P.stop());
    const file = tmp.write('evil.bin', torchArchive(pkl, {}));
    const e = await rejection(openTorch(file));
    expect(e.message).toMatch(/evil\.bin: refusing to load it: the pickle asks for os\.system, which a state dict never needs; this file may be malicious/);
    expect(existsSync(marker)).toBe(false);
  });

  it('refuses builtins.eval reached through STACK_GLOBAL inside an otherwise valid state dict', async () => {
    const marker = join(tmpdir(), `bminf-pwned2-${process.pid}`);
    const evil = pickle(
      P.str('x'),
      P.shortStr('builtins'), P.shortStr('eval'), P.stackGlobal(),
      P.str(`open(${JSON.stringify(marker)}, 'w')`), P.tuple1(), P.reduce(), P.setitem(),
    );
    const pkl = statePickle([{ name: 'w', storage: 'FloatStorage', key: '0', numel: 1, size: [1] }], evil);
    const file = tmp.write('evil2.pt', torchArchive(pkl, { 0: f32([1]) }));
    const e = await rejection(openCheckpoint(file));
    expect(e.message).toMatch(/asks for builtins\.eval/);
    expect(existsSync(marker)).toBe(false);
  });

  it('refuses REDUCE on anything but an allowed callable, and unknown opcodes', async () => {
    const notCallable = pickle(P.proto(2), P.global('torch', 'FloatStorage'), P.emptyTuple(), P.reduce(), P.stop());
    const e1 = await rejection(openTorch(tmp.write('a.pt', torchArchive(notCallable, {}))));
    expect(e1.message).toMatch(/applies REDUCE to torch\.FloatStorage, which is not an allowed callable/);
    // INST (0x69) builds an object by calling a class: refused as an opcode.
    const inst = pickle(P.proto(2), P.mark(), P.raw(0x69), P.stop());
    const e2 = await rejection(openTorch(tmp.write('b.pt', torchArchive(inst, {}))));
    expect(e2.message).toMatch(/opcode 0x69 \('i'\), which state dicts do not need/);
    // A pickle cut short.
    const cut = pickle(P.proto(2), P.raw(0x58, 100, 0, 0, 0), P.raw(65));
    const e3 = await rejection(openTorch(tmp.write('c.pt', torchArchive(cut, {}))));
    expect(e3.message).toMatch(/ends early: 100 more bytes were declared but 1 remain/);
  });

  it('refuses the legacy format, compressed entries, non-zip files and truncated archives', async () => {
    const legacy = tmp.write('old.bin', new Uint8Array([0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46]));
    expect((await rejection(openTorch(legacy))).message).toMatch(/legacy .*re-save it with torch\.save in the zip format \(PyTorch >= 1\.6\)/i);
    const pkl = statePickle([{ name: 'w', storage: 'FloatStorage', key: '0', numel: 1, size: [1] }]);
    const deflated = tmp.write('z.pt', torchArchive(pkl, { 0: f32([1]) }, { method: 8 }));
    expect((await rejection(openTorch(deflated))).message).toMatch(/z\.pt: the archive entry "archive\/.*" is compressed \(method 8\)/);
    const text = tmp.write('t.bin', 'hello world, not a checkpoint');
    expect((await rejection(openTorch(text))).message).toMatch(/t\.bin: is not a PyTorch checkpoint/);
    const full = torchArchive(pkl, { 0: f32([1]) });
    const cut = tmp.write('cut.pt', full.subarray(0, full.length - 30));
    expect((await rejection(openTorch(cut))).message).toMatch(/cut\.pt: the zip archive is damaged/);
  });

  it('refuses a tensor that reaches past its storage, and a missing storage record, at open', async () => {
    const big = statePickle([{ name: 'big', storage: 'FloatStorage', key: '0', numel: 2, size: [4] }]);
    expect((await rejection(openTorch(tmp.write('big.pt', torchArchive(big, { 0: f32([1, 2]) }))))).message).toMatch(
      /tensor "big" .* reaches element 3 of a storage of 2 elements/,
    );
    const lost = statePickle([{ name: 'lost', storage: 'FloatStorage', key: '9', numel: 1, size: [1] }]);
    expect((await rejection(openTorch(tmp.write('lost.pt', torchArchive(lost, { 0: f32([1, 2]) }))))).message).toMatch(
      /needs the storage "archive\/data\/9", which the archive lacks/,
    );
    const pkl = statePickle([{ name: 'big', storage: 'FloatStorage', key: '0', numel: 2, size: [2] }]);
    const src = await openTorch(tmp.write('m.pt', torchArchive(pkl, { 0: f32([1, 2]) })));
    expect(() => src.info('nope')).toThrow(/m\.pt: has no tensor named "nope"/);
    await src.close();
    await src.close();
    expect((await rejection(src.read('big'))).message).toMatch(/m\.pt: was closed/);
  });
});
