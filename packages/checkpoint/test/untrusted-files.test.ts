// Files that are not what their names say (issue 11, items 3 and 6): a safetensors header naming a
// tensor twice, a FIFO or a device where a checkpoint should be. Each is refused at open, by name.
import { execFileSync } from 'node:child_process';
import { symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { CheckpointError } from '@bminf/core';
import { openCheckpoint, openSafetensors, openSafetensorsIndex } from '@bminf/checkpoint';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { bytesOf, safetensorsBytes, tempDir } from './helpers/safetensors.js';

let tmp: ReturnType<typeof tempDir>;
beforeEach(() => {
  tmp = tempDir();
});
afterEach(() => tmp.cleanup());

async function refusal(p: Promise<unknown>): Promise<string> {
  const e = await p.then(
    () => undefined,
    (x: unknown) => x,
  );
  expect(e).toBeInstanceOf(CheckpointError);
  return (e as Error).message;
}

describe('safetensors headers with a key twice (JSON.parse keeps the last, silently)', () => {
  const data = bytesOf(new Float32Array([1, 2, 3, 4]));
  it('refuses a tensor named twice', async () => {
    const text = '{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"w":{"dtype":"F32","shape":[2],"data_offsets":[8,16]}}';
    const file = tmp.write('dup.safetensors', safetensorsBytes(null, data, { headerText: text }));
    expect(await refusal(openSafetensors(file))).toMatch(/dup\.safetensors: the header names "w" twice/);
  });

  it('refuses a field named twice inside an entry, naming where', async () => {
    const text = '{"w":{"dtype":"F32","shape":[4],"data_offsets":[0,16],"shape":[2]}}';
    const file = tmp.write('dup2.safetensors', safetensorsBytes(null, data, { headerText: text }));
    expect(await refusal(openSafetensors(file))).toMatch(/the header names "shape" \(in "w"\) twice/);
  });

  it('still reads equal names in different objects and escaped quotes in keys', async () => {
    const text = '{"__metadata__":{"w":"x","a\\"b":"y"},"w":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}';
    const src = await openSafetensors(tmp.write('ok.safetensors', safetensorsBytes(null, data, { headerText: text })));
    expect(src.names()).toEqual(['w']);
    await src.close();
  });
});

describe('only regular files are opened', () => {
  it('refuses a FIFO named model.safetensors instead of blocking on it', async () => {
    const dir = tmp.dir;
    execFileSync('mkfifo', [join(dir, 'model.safetensors')]);
    expect(await refusal(openCheckpoint(dir))).toMatch(/model\.safetensors: it is a FIFO, not a checkpoint; bminf reads only regular files/);
  });

  it('refuses /dev/zero as a .bin, and as a shard index, instead of reading it', async () => {
    symlinkSync('/dev/zero', join(tmp.dir, 'zero.bin'));
    expect(await refusal(openCheckpoint(join(tmp.dir, 'zero.bin')))).toMatch(/zero\.bin: it is a device, not a checkpoint/);
    symlinkSync('/dev/zero', join(tmp.dir, 'model.safetensors.index.json'));
    expect(await refusal(openSafetensorsIndex(join(tmp.dir, 'model.safetensors.index.json')))).toMatch(/index\.json: it is a device, not the shard index/);
  });
});
