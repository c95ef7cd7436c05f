// decode-phases.ts's queue, without a GPU: what reaches the addon, in what order. The kernel itself runs only on
// a GPU (packages/models/test-gpu/decode-phases.test.ts); here the addon is a recorder of the calls made to it,
// which is what the queue's contract is about (the same work in the same order, phases packed as phases.cu reads them).
import type { DeviceRegion, KernelFunction, NativeCuda } from '@bminf/cuda-binding';
import { describe, expect, it } from 'vitest';
import { flushingNative, PHASE_MAX, PhaseQueue } from '../src/cuda/decode-phases.js';

const region = { tag: 'region' } as unknown as DeviceRegion;

/** An addon that records each call's name and its launch arguments. */
function recorder() {
  const calls: { name: string; args: unknown[] }[] = [];
  const native = new Proxy({} as NativeCuda, {
    get: (_t, name) => (...args: unknown[]) => {
      calls.push({ name: String(name), args });
      return name === 'getFunction' ? ({ fn: args[1] } as unknown as KernelFunction) : undefined;
    },
  });
  return { calls, native };
}

function setup(cooperative = true) {
  const rec = recorder();
  const solos: number[] = [];
  const queue = new PhaseQueue(rec.native, (b) => rec.native.getFunction(null as never, `decode_phases_b${b}`), () => ({ region, byteOffset: 64, byteLength: 4 }), 132, () => cooperative);
  const native = flushingNative(rec.native, () => queue.flush());
  // a phase whose fields are its index (8 spans of 3 entries, 2 int64, 8 int32, 2 floats: 36 launch arguments)
  const phase = (i: number) => ({
    args: [...Array.from({ length: 8 }, () => [region, i, 16]).flat(), 0, 0, i, 1, 4096, 4096, 1, 0, 264, 0, 1e-6, 0],
    shared: 1024 * (i + 1),
    solo: () => solos.push(i),
  });
  return { rec, solos, queue, native, phase };
}

describe('decode phases queue', () => {
  it('launches what is queued as one table launch before any other call reaches the addon', () => {
    const { rec, queue, native, phase } = setup();
    queue.push(phase(0), 2);
    queue.push(phase(1), 2);
    queue.push(phase(2), 2);
    expect(rec.calls).toEqual([]);
    native.synchronize();
    const names = rec.calls.map((c) => c.name);
    expect(names).toEqual(['getFunction', 'launch', 'synchronize']);
    const [fn, grid, block, shared, sig, args, graph, dependent, table] = rec.calls[1].args;
    expect(fn).toEqual({ fn: 'decode_phases_b2' });
    expect(grid).toEqual([264, 1, 1]);
    expect(block).toEqual([256, 1, 1]);
    expect(shared).toBe(3072); // the largest phase's
    expect(sig).toBe('pii' + 'pppppppplliiiiiiiiff'.repeat(3));
    expect([graph, dependent, table]).toEqual([false, false, 1]);
    const a = args as unknown[];
    expect(a.slice(0, 5)).toEqual([region, 64, 4, 3, 0]); // the barrier, the count, the pad
    expect(a.length).toBe(5 + 3 * 36);
    expect(a[5 + 36 + 1]).toBe(1); // phase 1's first span's offset
    expect(queue.length).toBe(0);
  });

  it('runs a lone phase as its own kernel, and launches plainly when cooperative launches are off', () => {
    const { rec, solos, queue, native, phase } = setup(false);
    queue.push(phase(7), 3);
    native.memInfo();
    expect(solos).toEqual([7]);
    expect(rec.calls.map((c) => c.name)).toEqual(['memInfo']);
    queue.push(phase(0), 3);
    queue.push(phase(1), 3);
    queue.flush();
    const launch = rec.calls.find((c) => c.name === 'launch');
    expect(launch?.args[1]).toEqual([396, 1, 1]);
    expect(launch?.args[8]).toBe(2);
  });

  it(`launches every ${PHASE_MAX} phases, and flushes where the blocks an SM change`, () => {
    const { rec, queue, phase } = setup();
    for (let i = 0; i < PHASE_MAX + 1; i++) queue.push(phase(i), 2);
    const launches = () => rec.calls.filter((c) => c.name === 'launch');
    expect(launches().length).toBe(1);
    expect(launches()[0].args[5]).toHaveLength(5 + PHASE_MAX * 36);
    queue.push(phase(99), 3); // another grid: the one queued at 2 an SM goes first (alone: its own kernel)
    expect(queue.length).toBe(1);
    queue.push(phase(100), 3);
    queue.flush();
    expect(launches().length).toBe(2);
    expect(launches()[1].args[1]).toEqual([396, 1, 1]);
  });
});
