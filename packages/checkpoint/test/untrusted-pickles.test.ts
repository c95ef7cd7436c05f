// Crafted torch.save archives that once crashed or exhausted the loader (issue 11, items 2 and 3):
// each must be refused at open with a CheckpointError that names the limit it hit.
import { CheckpointError } from '@bminf/core';
import { openTorch } from '@bminf/checkpoint';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { bytesOf, tempDir } from './helpers/safetensors.js';
import { P, pickle, pickleOf, sharedDicts, statePickle, torchArchive } from './helpers/torch.js';

let tmp: ReturnType<typeof tempDir>;
beforeEach(() => {
  tmp = tempDir();
});
afterEach(() => tmp.cleanup());

async function refusal(pkl: Uint8Array, storages: Record<string, Uint8Array> = {}): Promise<string> {
  const file = tmp.write('crafted.pt', torchArchive(pkl, storages));
  const e = await openTorch(file).then(
    (s) => s.close().then(() => undefined),
    (x: unknown) => x,
  );
  expect(e).toBeInstanceOf(CheckpointError);
  expect((e as CheckpointError).file).toBe(file);
  return (e as Error).message;
}

describe('the unpickler and the state-dict walk are bounded', () => {
  it('refuses dicts shared through the memo (once a 2^40-step walk) within seconds', async () => {
    expect(await refusal(sharedDicts(40))).toMatch(/also reached from another key.*memo/);
  });

  it('refuses a dict that holds itself (once "Maximum call stack size exceeded")', async () => {
    const pkl = pickle(P.proto(2), P.emptyDict(), P.binput(0), P.shortStr('me'), P.binget(0), P.setitem(), P.stop());
    expect(await refusal(pkl)).toMatch(/holds itself/);
  });

  it('refuses 100 000 nested dicts by the depth limit (once a stack overflow)', async () => {
    const n = 100_000;
    const parts = [P.proto(2)];
    for (let i = 0; i < n; i++) parts.push(P.emptyDict(), P.shortStr('a'));
    parts.push(P.emptyDict());
    for (let i = 0; i < n; i++) parts.push(P.setitem());
    parts.push(P.stop());
    expect(await refusal(pickleOf(parts))).toMatch(/nest more than 64 levels deep \(the depth limit\)/);
  });

  it('refuses a 200 000-deep _rebuild_from_type_v2 chain (once a stack overflow)', async () => {
    const n = 200_000;
    const parts = [P.proto(2), P.global('torch._tensor', '_rebuild_from_type_v2'), P.binput(0), P.global('torch', 'Tensor'), P.binput(1), P.raw(0x30)];
    parts.push(P.binget(0));
    for (let i = 0; i < n; i++) parts.push(P.mark(), P.binget(0), P.binget(1));
    parts.push(P.emptyTuple());
    for (let i = 0; i < n; i++) parts.push(P.none(), P.tuple());
    parts.push(P.reduce(), P.stop());
    expect(await refusal(pickleOf(parts))).toMatch(/_rebuild_from_type_v2 gets torch\._tensor\._rebuild_from_type_v2 as its function/);
  });

  it('refuses a pickle that creates more values than the object-count limit (DUP is one byte)', async () => {
    const dups = new Uint8Array(16_000_001).fill(0x32);
    const pkl = pickle(P.proto(2), P.emptyDict(), dups, P.stop());
    expect(await refusal(pkl)).toMatch(/more than 16000000 values \(the object-count limit\)/);
  });
});

describe('tensor views are checked against the archive at open', () => {
  const f32 = (n: number) => bytesOf(new Float32Array(n));

  it('refuses a stride-0 view that would make 16 stored floats into 2^24 × 16 (once gigabytes allocated)', async () => {
    const pkl = statePickle([{ name: 'wte.weight', storage: 'FloatStorage', key: '0', numel: 16, size: [2 ** 24, 16], stride: [0, 1] }]);
    expect(await refusal(pkl, { 0: f32(16) })).toMatch(/repeats its 16 stored elements into 268435456 .*more than the file's/);
  });

  it('refuses a storage declared larger than its archive entry', async () => {
    const pkl = statePickle([{ name: 'w', storage: 'FloatStorage', key: '0', numel: 1000, size: [4] }]);
    expect(await refusal(pkl, { 0: f32(4) })).toMatch(/declared as 4000 bytes, but the archive's "archive\/data\/0" holds 16/);
  });

  it('refuses a tensor whose storage is missing, before any read', async () => {
    const pkl = statePickle([{ name: 'w', storage: 'FloatStorage', key: '7', numel: 4, size: [4] }]);
    expect(await refusal(pkl, { 0: f32(4) })).toMatch(/needs the storage "archive\/data\/7", which the archive lacks/);
  });
});
