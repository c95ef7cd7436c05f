// The layer scheduler's decisions, which need no GPU: which blocks stay resident under a memory limit,
// the minimum a limit must hold, the units a checkpoint's tensors fall into, and the clear errors for
// limits that cannot work. The streaming itself (copies, slots, bit-exact logits) is tested on the GPU
// (test-gpu/streaming.test.ts).
import { join } from 'node:path';
import { InvalidArgumentError, parseBytes } from '@bminf/core';
import {
  CPM2_CONFIG,
  Cpm1Model,
  cpm2RuntimeBytes,
  planResidency,
  plannedBytes,
  toT5ConfigJson,
  unitOf,
  unitSizes,
} from '@bminf/models';
import { describe, expect, it } from 'vitest';
import { cpm2Plan } from '../src/cpm2/plan.js';
import { tinyDir } from './helpers.js';

const MiB = 2 ** 20;

describe('planResidency', () => {
  const units = [
    ...Array.from({ length: 4 }, (_, i) => ({ id: `encoder.${i}`, bytes: 100 * MiB, perToken: false })),
    ...Array.from({ length: 4 }, (_, i) => ({ id: `decoder.${i}`, bytes: 120 * MiB, perToken: true })),
  ];

  it('keeps everything resident when it fits, and streams nothing', () => {
    const r = planResidency({ units, fixedBytes: 50 * MiB, runtimeBytes: 30 * MiB, limit: 2000 * MiB });
    expect(r.streamed).toEqual([]);
    expect(r.slots).toBe(0);
    expect(r.bytesPerDecodeStep).toBe(0);
  });

  it('keeps decoder blocks before encoder blocks, and counts the bytes copied per step and per encoder pass', () => {
    // All of it is 960 MiB. Room after fixed, runtime and two slots of 120 MiB: 900 - 80 - 240 = 580 MiB: the
    // four decoder blocks (480) and one encoder block; then the slots shrink to 100 MiB (620 MiB of room),
    // which still holds no second encoder block.
    const r = planResidency({ units, fixedBytes: 50 * MiB, runtimeBytes: 30 * MiB, limit: 900 * MiB });
    expect([...r.resident].sort()).toEqual(['decoder.0', 'decoder.1', 'decoder.2', 'decoder.3', 'encoder.0']);
    expect(r.streamed).toEqual(['encoder.1', 'encoder.2', 'encoder.3']);
    expect(r.bytesPerDecodeStep).toBe(0);
    expect(r.bytesPerEncoderPass).toBe(300 * MiB);
    // The slots shrank to the largest streamed block once every decoder block was resident.
    expect(r.slotBytes).toBe(100 * MiB);
    expect(r.minimum).toBe(50 * MiB + 30 * MiB + 2 * 120 * MiB);
  });

  it('streams decoder blocks only when the encoder blocks are already out', () => {
    const r = planResidency({ units, fixedBytes: 50 * MiB, runtimeBytes: 30 * MiB, limit: 600 * MiB });
    // 600 - 80 - 240 = 280: two decoder blocks.
    expect([...r.resident].sort()).toEqual(['decoder.0', 'decoder.1']);
    expect(r.bytesPerDecodeStep).toBe(240 * MiB);
    expect(r.bytesPerEncoderPass).toBe(400 * MiB);
    expect(r.slotBytes).toBe(120 * MiB);
  });

  it('refuses a limit below the minimum, naming it and what takes it', () => {
    let err: unknown;
    try {
      planResidency({ units, fixedBytes: 50 * MiB, runtimeBytes: 30 * MiB, limit: 300 * MiB });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(InvalidArgumentError);
    const msg = String((err as Error).message);
    expect(msg).toContain('320.0 MiB'); // 50 + 30 + 2 x 120
    expect(msg).toContain('2 slots of 120.0 MiB');
    expect(msg).toContain('30.0 MiB for activations and caches');
    expect((err as InvalidArgumentError).hint).toMatch(/at least 320\.0 MiB/);
  });
});

describe('units of a checkpoint', () => {
  it('puts every CPM-2 layer tensor in a unit, the cross keys/values apart, and the sizes add up', () => {
    expect(unitOf('decoder.layers.3.cross.k.weight')).toBe('cross.3');
    expect(unitOf('decoder.layers.3.cross.v')).toBe('cross.3'); // a layer's prefix, as the model asks for it
    expect(unitOf('decoder.layers.3.cross.out')).toBe('decoder.3');
    expect(unitOf('decoder.layers.3.cross.q.weight')).toBe('decoder.3');
    expect(unitOf('encoder.layers.11.ff.in.weight')).toBe('encoder.11');
    expect(unitOf('layers.2.attn.qkv.bias')).toBe('block.2');
    expect(unitOf('embed.weight')).toBeNull();
    const plans = cpm2Plan(toT5ConfigJson(CPM2_CONFIG));
    const { units, fixed } = unitSizes(plans, 'int8');
    expect(units.size).toBe(24 * 3);
    const total = plans.reduce((s, p) => s + plannedBytes(p, 'int8'), 0);
    expect([...units.values()].reduce((a, b) => a + b, 0) + fixed).toBe(total);
    // A CPM-2 decoder block without its cross keys/values: self q k v o, cross q o, gated FFN (≈ 193 MB int8).
    const dec = units.get('decoder.0') as number;
    expect(dec).toBeGreaterThan(4096 * 4096 * 6 + 3 * 4096 * 10240);
    expect(dec).toBeLessThan(4096 * 4096 * 6 + 3 * 4096 * 10240 + 2 * MiB);
    expect(units.get('cross.0')).toBeLessThan(2 * 4096 * 4096 + MiB);
    // A full CPM-2 in int8 with its runtime for 8 sequences does not fit 4 GiB: the planner says how much it needs.
    expect(() =>
      planResidency({
        units: [...units].map(([id, bytes]) => ({ id, bytes, perToken: id.startsWith('decoder.') })),
        fixedBytes: fixed,
        runtimeBytes: cpm2RuntimeBytes(CPM2_CONFIG, 'int8', { maxBatch: 8 }),
        limit: 2 * 2 ** 30,
      }),
    ).toThrow(/below the .* this model needs at least/);
  });
});

describe('memory limits', () => {
  it('parses sizes with units and refuses the rest', () => {
    expect(parseBytes('6GiB')).toBe(6 * 2 ** 30);
    expect(parseBytes('512 MiB')).toBe(512 * MiB);
    expect(parseBytes('2.5GB')).toBe(2.5e9);
    expect(parseBytes('4096')).toBe(4096);
    expect(parseBytes(1000)).toBe(1000);
    for (const bad of ['', 'lots', '-1GiB', '6 GiBs', '0', 'NaNMiB']) expect(() => parseBytes(bad, '--memory-limit'), bad).toThrow(/--memory-limit/);
    expect(() => parseBytes(-5)).toThrow(InvalidArgumentError);
  });

  it('refuses a memory limit on the CPU, saying it limits GPU memory', async () => {
    await expect(Cpm1Model.load(join(tinyDir), { device: 'cpu', memoryLimit: '1GiB' })).rejects.toThrow(/GPU memory.*cpu backend/);
  });
});
