// decode-phases.ts's queue, without a GPU: what reaches the addon, in what order. The kernel itself runs only on
// a GPU (packages/models/test-gpu/decode-phases.test.ts); here the addon is a recorder of the calls made to it,
// which is what the queue's contract is about (the same work in the same order, phases packed as phases.cu reads them).
import type { DeviceRegion, KernelFunction, NativeCuda } from '@bminf/cuda-binding';
import { describe, expect, it } from 'vitest';
import { flushingNative, PHASE_ATTEND, PHASE_MAX, PHASE_PREFETCH_MAX, PhaseQueue, prefetchSteps } from '../src/cuda/decode-phases.js';

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

function setup(cooperative = true, prefetch = 0) {
  const rec = recorder();
  const solos: number[] = [];
  const queue = new PhaseQueue(rec.native, (b) => rec.native.getFunction(null as never, `decode_phases_b${b}`), () => ({ region, byteOffset: 64, byteLength: 4 }), 132, () => cooperative, () => prefetch);
  const native = flushingNative(rec.native, () => queue.flush());
  // a phase whose fields are its index (8 spans of 3 entries, 2 int64, 8 int32, 2 floats: 36 launch arguments);
  // its kind (the first int32) is its index too, or an attention's
  const phase = (i: number, kind = i) => ({
    args: [...Array.from({ length: 8 }, () => [region, i, 16]).flat(), 0, 0, kind, 1, 4096, 4096, 1, 0, 264, 0, 1e-6, 0],
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
    expect(sig).toBe('piiii' + 'pppppppplliiiiiiiiff'.repeat(3));
    expect([graph, dependent, table]).toEqual([false, false, 1]);
    const a = args as unknown[];
    expect(a.slice(0, 7)).toEqual([region, 64, 4, 3, 0, 0, 0]); // the barrier, the count, no prefetch, the pad
    expect(a.length).toBe(7 + 3 * 36);
    expect(a[7 + 36 + 1]).toBe(1); // phase 1's first span's offset
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
    expect(launches()[0].args[5]).toHaveLength(7 + PHASE_MAX * 36);
    queue.push(phase(99), 3); // another grid: the one queued at 2 an SM goes first (alone: its own kernel)
    expect(queue.length).toBe(1);
    queue.push(phase(100), 3);
    queue.flush();
    expect(launches().length).toBe(2);
    expect(launches()[1].args[1]).toEqual([396, 1, 1]);
  });

  it('puts the weight prefetch after the phases\' own shared memory, opting the kernel in once', () => {
    const { rec, queue, phase } = setup(true, 2);
    queue.push(phase(0), 2);
    queue.push(phase(2), 2); // 3 KiB of its own: the buffer at 3 072, 2 x 32 KiB
    queue.flush();
    queue.push(phase(1), 2);
    queue.push(phase(0), 2);
    queue.flush();
    expect(rec.calls.map((c) => c.name)).toEqual(['getFunction', 'setMaxDynamicShared', 'launch', 'getFunction', 'launch']);
    expect(rec.calls[1].args[1]).toBe(3072 + 65536);
    const [, , , shared, , args] = rec.calls[2].args;
    expect(shared).toBe(3072 + 65536);
    expect((args as unknown[]).slice(3, 7)).toEqual([2, 2, 3072, 0]); // the count, the steps, the buffer's offset
    expect((rec.calls[4].args[5] as unknown[]).slice(3, 7)).toEqual([2, 2, 2048, 0]);
  });

  it('prefetches nothing for a launch of attentions alone, and refuses a prefetch it cannot fit', () => {
    const { rec, queue, phase } = setup(true, 1);
    queue.push(phase(0, PHASE_ATTEND), 2);
    queue.push(phase(1, PHASE_ATTEND), 2);
    queue.flush();
    expect(rec.calls.map((c) => c.name)).toEqual(['getFunction', 'launch']);
    expect(rec.calls[1].args[3]).toBe(2048);
    expect((rec.calls[1].args[5] as unknown[]).slice(4, 6)).toEqual([0, 0]);
    expect(prefetchSteps('decodePhasesPrefetch', PHASE_PREFETCH_MAX)).toBe(PHASE_PREFETCH_MAX);
    expect(() => prefetchSteps('decodePhasesPrefetch', PHASE_PREFETCH_MAX + 1)).toThrow(/decodePhasesPrefetch is 3: it must be a whole number of KiB from 0 to 2/);
    expect(() => prefetchSteps('gemvPrefetch', 0.5)).toThrow(/RoutePolicy.gemvPrefetch is 0.5/);
  });
});
