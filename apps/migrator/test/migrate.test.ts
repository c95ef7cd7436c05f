// In-process: the migrated tensors are exactly what quantize-on-load computes from the same source.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openCheckpoint } from '@bminf/checkpoint';
import { toFloat16Array, fromFloat16Array } from '@bminf/core';
import { migrate, type MigrateEvent } from '@bminf/migrator';
import { detectArchitecture, quantizeWeight, readPlanned, readModelConfig, scaleName } from '@bminf/models';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { demo, root } from './helpers.js';

// Byte equality of two typed arrays of one type (vitest's deep equality is slow on millions of elements).
function sameBytes(a: ArrayBufferView, b: ArrayBufferView): boolean {
  return a.constructor === b.constructor && Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
}

let tmp: string;
beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), 'bminf-migrate-lib-'));
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('migrate()', () => {
  it.each([
    ['cpm1', demo, 52, true],
    ['cpm1', demo, 52, false],
    ['cpm2', join(root, 'models/fixtures/cpm2-tiny'), 52, true],
    ['eva', join(root, 'models/fixtures/eva-tiny'), 66, true],
  ] as const)('%s (native kernels: %s): writes the same int8 values and scales as quantize-on-load, and float16 for the rest', async (arch, input, count, native) => {
    const out = join(tmp, `int8-${arch}-${native}`);
    const events: MigrateEvent[] = [];
    const summary = await migrate({ input, output: out, native, onEvent: (e) => events.push(e) });
    expect(summary.kernels).toBe(native ? 'native' : 'typescript');
    expect(summary.architecture).toBe(arch);
    expect(summary.tensors).toBe(count);
    expect(events.filter((e) => e.event === 'tensor').map((e) => (e as { bytesDone: number }).bytesDone).at(-1)).toBe(summary.bytesIn);
    const config = readModelConfig(input);
    const plans = detectArchitecture(config).plan(config);
    expect(plans).toHaveLength(count);
    const src = await openCheckpoint(input);
    const got = await openCheckpoint(out);
    try {
      for (const plan of plans) {
        const ref = await readPlanned(src, plan, false);
        const f32 = ref instanceof Uint16Array ? fromFloat16Array(ref) : ref;
        if (plan.quantize) {
          const q = quantizeWeight(f32, plan.shape[0], plan.shape[1]);
          expect(sameBytes((await got.read(plan.name)).data, q.values), plan.name).toBe(true);
          expect(sameBytes((await got.read(scaleName(plan.name))).data, q.scales), plan.name).toBe(true);
        } else {
          const t = await got.read(plan.name);
          expect(t.dtype).toBe('float16');
          expect(sameBytes(t.data, toFloat16Array(f32)), plan.name).toBe(true);
        }
      }
    } finally {
      await src.close();
      await got.close();
    }
  });

  it('stops cleanly when aborted, leaving nothing', async () => {
    const out = join(tmp, 'aborted');
    const controller = new AbortController();
    const p = migrate({
      input: demo,
      output: out,
      signal: controller.signal,
      onEvent: (e) => {
        if (e.event === 'tensor' && e.index === 3) controller.abort();
      },
    });
    await expect(p).rejects.toThrow(/interrupted; nothing was written/);
    const { readdirSync } = await import('node:fs');
    expect(readdirSync(tmp).filter((f) => f.includes('aborted'))).toEqual([]);
  });
});
