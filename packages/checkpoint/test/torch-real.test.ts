// Files written by real torch.save (PyTorch 2.11; fixtures/torch/make.py made them on the GPU machine)
// with the exact values beside them: every storage type, parameters, views with offsets, transposes,
// stride-0 expansions, scalars, a module state_dict nested in a training checkpoint, the legacy
// format, and a checkpoint carrying an argparse.Namespace.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CheckpointError, float16BitsToFloat32 } from '@bminf/core';
import { openTorch } from '@bminf/checkpoint';
import { describe, expect, it } from 'vitest';

const dir = join(import.meta.dirname, 'fixtures', 'torch');
type Expected = Record<string, { dtype: string; shape: number[]; values: number[] }>;
const load = (f: string) => JSON.parse(readFileSync(join(dir, f), 'utf8')) as Expected;

const HOST: Record<string, string> = {
  'torch.float32': 'float32',
  'torch.float64': 'float32',
  'torch.bfloat16': 'float32',
  'torch.float16': 'float16',
  'torch.int64': 'int32',
  'torch.int32': 'int32',
  'torch.uint8': 'int32',
  'torch.int8': 'int8',
  'torch.bool': 'int8',
};

async function checkAll(file: string, expected: Expected) {
  const src = await openTorch(join(dir, file));
  try {
    expect(src.names().sort()).toEqual(Object.keys(expected).sort());
    for (const [name, e] of Object.entries(expected)) {
      const t = await src.read(name);
      expect(t.dtype, name).toBe(HOST[e.dtype]);
      expect(t.shape, name).toEqual(e.shape);
      const got = t.dtype === 'float16' ? [...t.data].map(float16BitsToFloat32) : [...t.data];
      expect(got, name).toEqual(e.values.map((v) => (t.dtype === 'float32' ? Math.fround(v) : v)));
    }
  } finally {
    await src.close();
  }
}

describe('PyTorch reader on real torch.save files', () => {
  it('reads every tensor of a varied state dict exactly', async () => {
    await checkAll('variety.pt', load('variety.json'));
  });

  it("reads a module's state_dict nested in a training checkpoint (BUILD of _metadata, plain values around it)", async () => {
    await checkAll('nested.pt', load('nested.json'));
  });

  it('refuses the legacy format and an argparse.Namespace, by name', async () => {
    const legacy = await openTorch(join(dir, 'legacy.pt')).catch((e: unknown) => e);
    expect(legacy).toBeInstanceOf(CheckpointError);
    expect((legacy as Error).message).toMatch(/legacy.pt: is a PyTorch checkpoint in the legacy .* format/);
    const ns = await openTorch(join(dir, 'namespace.pt')).catch((e: unknown) => e);
    expect(ns).toBeInstanceOf(CheckpointError);
    expect((ns as Error).message).toMatch(/namespace.pt: refusing to load it: the pickle asks for argparse\.Namespace/);
  });
});
