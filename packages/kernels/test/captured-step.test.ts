// Recorded steps on the CPU (captureStep): a replay does exactly what the same ops do eagerly, off the
// JS thread, on tensors that stay allocated for the step; capture errors leave no capture mode behind.
import { DisposedError, InvalidArgumentError, type Tensor, keep, tidy } from '@bminf/core';
import { describe, expect, it } from 'vitest';
import { CpuBackend, nativeCpu as N, reference } from '@bminf/kernels';
import { backend, expectClose, randomInt8, randomValues, rng, tensorOf, tolerance, valuesOf } from './helpers.js';

const B = 3;
const HEADS = 2;
const HEAD_DIM = 5;
const D = HEADS * HEAD_DIM;
const VOCAB = 50;
const SLOT_ROWS = 7;

/** The weights of a small decode step: embedding, LayerNorm, an int8 linear, a float projection. */
function weights(dtype: 'float16' | 'float32', r: () => number) {
  return {
    table: tensorOf(randomValues(r, VOCAB * D, dtype), [VOCAB, D], dtype),
    lnWeight: tensorOf(randomValues(r, D, dtype), [D], dtype),
    lnBias: tensorOf(randomValues(r, D, dtype), [D], dtype),
    w: backend.upload(randomInt8(r, D * D), [D, D]),
    wScale: tensorOf(randomValues(r, D, 'float16', 0.02), [D], 'float16'),
    wBias: tensorOf(randomValues(r, D, dtype), [D], dtype),
    proj: tensorOf(randomValues(r, 4 * D, dtype), [4, D], dtype),
    distanceBias: tensorOf(randomValues(r, HEADS * SLOT_ROWS, dtype), [HEADS, SLOT_ROWS], dtype),
  };
}

/** One sequence batch's state: inputs written before each step, caches and outputs the step writes. */
function state(dtype: 'float16' | 'float32') {
  return {
    ids: backend.zeros([B], 'int32'),
    lengths: backend.zeros([B], 'int32'),
    index: backend.zeros([B], 'int32'),
    keys: backend.zeros([B * SLOT_ROWS, D], dtype),
    values: backend.zeros([B * SLOT_ROWS, D], dtype),
    out: backend.zeros([B, D], dtype),
    probs: backend.zeros([B, 4], dtype),
  };
}

type Weights = ReturnType<typeof weights>;
type State = ReturnType<typeof state>;

/** embedding → layerNorm → int8 linear → gelu → cache writes → attendCache → projection + softmax. */
function decodeStep(w: Weights, s: State, dtype: 'float16' | 'float32'): void {
  const x = backend.embedding(s.ids, w.table);
  const h = backend.layerNorm(x, w.lnWeight, w.lnBias, { eps: 1e-5, subtractMean: true });
  const { values: qx, scales } = backend.quantizeRows(h);
  const y = backend.dequantize(backend.igemm(qx, w.w), scales, w.wScale, { dtype, bias: w.wBias });
  const g = backend.gelu(y);
  backend.scatterRows(g, s.keys, s.index);
  backend.scatterRows(y, s.values, s.index);
  const a = backend.attendCache(g, s.keys, s.values, s.lengths, { heads: HEADS, scale: 0.4, slotRows: SLOT_ROWS, distanceBias: w.distanceBias });
  // zeros and casts are recorded too (zeros is filled natively, casts are strided copies).
  const sum = backend.add(backend.cast(backend.cast(a, 'float32'), dtype), backend.zeros([D], dtype));
  backend.copy(sum, s.out);
  backend.copy(backend.softmax(backend.gemm(sum, w.proj, { transB: true }), { scale: 0.5 }), s.probs);
}

/** Fresh inputs for one step: ids, lengths 1..SLOT_ROWS, and the new token's cache row (sometimes none). */
function writeInputs(r: () => number, ...states: State[]): void {
  const ids = Int32Array.from({ length: B }, () => Math.floor(r() * VOCAB));
  const lengths = Int32Array.from({ length: B }, () => 1 + Math.floor(r() * SLOT_ROWS));
  const index = Int32Array.from(lengths, (l, b) => (r() < 0.2 ? -1 : b * SLOT_ROWS + l - 1));
  for (const s of states) {
    backend.write(s.ids, ids);
    backend.write(s.lengths, lengths);
    backend.write(s.index, index);
  }
}

const bits = (t: Tensor) => Array.from(backend.download(t));

describe('captureStep', () => {
  for (const dtype of ['float16', 'float32'] as const) {
    it(`replays a recorded decode step bit for bit as the ops run eagerly, over several steps (${dtype})`, async () => {
      const r = rng(81);
      const w = weights(dtype, r);
      const eager = state(dtype);
      const recorded = state(dtype);
      const step = backend.captureStep(() => decodeStep(w, recorded, dtype));
      expect(step.disposed).toBe(false);
      // Recording does not run the ops on the CPU.
      expect(bits(recorded.out).every((v) => v === 0)).toBe(true);
      for (let i = 0; i < 5; i++) {
        writeInputs(r, eager, recorded);
        tidy(() => decodeStep(w, eager, dtype));
        await step.run();
        for (const k of ['out', 'probs', 'keys', 'values'] as const) expect(bits(recorded[k]), `step ${i}: ${k}`).toEqual(bits(eager[k]));
      }
      expect(bits(eager.out).some((v) => v !== 0)).toBe(true);
      step.dispose();
      expect(step.disposed).toBe(true);
      await expect(step.run()).rejects.toThrow(DisposedError);
    });
  }

  it('keeps the event loop free while a long step runs', async () => {
    const r = rng(82);
    const n = 256;
    const a = tensorOf(randomValues(r, n * n), [n, n], 'float32');
    // Enough chained products for a run of about 300 ms here, whatever the machine's speed: timed as a
    // recorded step of 8 replays them (an eager product also pays for its output's allocation, which a
    // replay does not: BMINF_POISON=1 fills every allocation, and the step then ran 6x shorter than planned).
    const probe = backend.captureStep(() => {
      let x = a;
      for (let i = 0; i < 8; i++) x = backend.gemm(x, a, { alpha: 1 / 16 });
    });
    let fastest = Number.POSITIVE_INFINITY;
    for (let i = 0; i < 3; i++) {
      const t0 = performance.now();
      await probe.run();
      fastest = Math.min(fastest, (performance.now() - t0) / 8);
    }
    probe.dispose();
    const count = Math.max(4, Math.ceil(300 / Math.max(0.05, fastest)));
    let result!: Tensor;
    const step = backend.captureStep(() => {
      let x = a;
      for (let i = 0; i < count; i++) x = backend.gemm(x, a, { alpha: 1 / 16 });
      result = keep(x);
    });
    let ticks = 0;
    const timer = setInterval(() => ticks++, 10);
    const started = performance.now();
    await step.run();
    const ms = performance.now() - started;
    clearInterval(timer);
    // A blocked loop would fire the timer at most once, after the run.
    expect(ticks, `${ticks} ticks in ${ms.toFixed(0)} ms`).toBeGreaterThanOrEqual(Math.min(5, Math.floor(ms / 40)));
    expect(ms).toBeGreaterThan(100);
    const want = tidy(() => {
      let x = a;
      for (let i = 0; i < count; i++) x = backend.gemm(x, a, { alpha: 1 / 16 });
      return x;
    });
    expect(bits(result)).toEqual(bits(want));
    step.dispose();
  });

  it('lets an eager op issued during a run wait for it, and refuses a second run meanwhile', async () => {
    const r = rng(83);
    const x = tensorOf(randomValues(r, 300 * 300), [300, 300], 'float32');
    let y!: Tensor;
    const step = backend.captureStep(() => {
      y = keep(backend.gemm(backend.gemm(x, x), x));
    });
    const run = step.run();
    await expect(step.run()).rejects.toThrow(/still running/);
    const g = backend.gelu(x); // waits for the replay, then runs
    await run;
    expectClose(valuesOf(g), reference.gelu(valuesOf(x)), { rel: 1e-5, abs: 1e-6 });
    expect(bits(y)).toEqual(bits(tidy(() => backend.gemm(backend.gemm(x, x), x))));
    step.dispose();
  });

  it("keeps the step's temporaries out of the pool until it is disposed, even when disposed mid-run", async () => {
    const r = rng(84);
    const values = randomValues(r, 64 * 64);
    const x = tensorOf(values, [64, 64], 'float32');
    const before = backend.pool.stats.bytesInUse;
    let out!: Tensor;
    const step = backend.captureStep(() => {
      const t = backend.gelu(x);
      out = keep(backend.add(backend.mul(t, t), x));
    });
    // Tensors made (and filled) after the capture must not land on the step's temporaries.
    const junk = Array.from({ length: 8 }, () => backend.upload(new Float32Array(64 * 64).fill(1e6), [64, 64]));
    await step.run();
    const g = reference.gelu(values);
    expectClose(valuesOf(out), g.map((v, i) => v * v + values[i]), tolerance('float32'));
    expect(junk.every((j) => (backend.download(j) as Float32Array).every((v) => v === 1e6))).toBe(true);
    for (const j of junk) j.dispose();
    const held = backend.pool.stats.bytesInUse;
    expect(held).toBeGreaterThan(before);
    out.dispose();
    const run = step.run();
    step.dispose();
    expect(backend.pool.stats.bytesInUse).toBe(held); // released only when the run ends
    await run;
    expect(backend.pool.stats.bytesInUse).toBe(before);
    await expect(step.run()).rejects.toThrow(DisposedError);
  });

  it('leaves no capture mode behind when the step throws, and refuses host reads and writes inside it', () => {
    const r = rng(85);
    const values = randomValues(r, 40);
    const x = tensorOf(values, [40], 'float32');
    const before = backend.pool.stats.bytesInUse;
    const fail = (fn: () => void) => () => backend.captureStep(fn);
    expect(
      fail(() => {
        backend.gelu(x);
        throw new Error('boom');
      }),
    ).toThrow('boom');
    expect(fail(() => backend.download(x))).toThrow(InvalidArgumentError);
    expect(fail(() => backend.download(x))).toThrow(/cannot read back to the host/);
    expect(fail(() => backend.write(x, new Float32Array(40)))).toThrow(/cannot copy from the host/);
    expect(fail(() => backend.upload(new Float32Array(4), [4]))).toThrow(/cannot copy from the host/);
    expect(fail(() => backend.captureStep(() => {}))).toThrow(/already being captured/);
    expect(backend.pool.stats.bytesInUse).toBe(before);
    // Eager again: ops run at once and host reads work.
    expectClose(valuesOf(backend.gelu(x)), reference.gelu(values), { rel: 1e-5, abs: 1e-6 });
    const step = backend.captureStep(() => {});
    step.dispose();
  });

  it('gives zeros for an embedding id out of range in a replay (the host checks ids before writing them)', async () => {
    const table = tensorOf([1, 2, 3, 4, 5, 6], [3, 2], 'float32');
    const ids = backend.zeros([2], 'int32');
    let out!: Tensor;
    const step = backend.captureStep(() => {
      out = keep(backend.embedding(ids, table));
    });
    backend.write(ids, Int32Array.of(2, 7));
    await step.run();
    expect(valuesOf(out)).toEqual([5, 6, 0, 0]);
    expect(() => backend.embedding(ids, table)).toThrow(/id 7/);
    step.dispose();
  });
});

describe('the native tape', () => {
  it('replays inline on the calling thread, timing each replay, with the same checks as run()', async () => {
    const x = new Float32Array(64).map((_, i) => i / 16 - 2);
    const y = new Float32Array(64);
    const tape = new N.Tape();
    N.beginCapture(tape);
    expect(() => tape.runInline()).toThrow(/still being recorded/);
    N.gelu(x, 0, y, 0, 64);
    N.endCapture();
    expect(tape.lastRunMicros).toBe(-1);
    tape.runInline(); // done when it returns: no promise to await
    const want = new Float32Array(64);
    N.gelu(x, 0, want, 0, 64);
    expect(Array.from(y)).toEqual(Array.from(want));
    expect(tape.lastRunMicros).toBeGreaterThanOrEqual(0);
    y.fill(0);
    await tape.run();
    expect(Array.from(y)).toEqual(Array.from(want));
    structuredClone(x.buffer, { transfer: [x.buffer] });
    expect(() => tape.runInline()).toThrow(/detached/);
    tape.dispose();
    expect(() => tape.runInline()).toThrow(/disposed/);
  });

  it('runs a step inline once timed under the threshold (the run still in flight until it settles), else on a worker', async () => {
    const x = tensorOf(randomValues(rng(86), 256), [16, 16], 'float32');
    let out!: Tensor;
    const step = backend.captureStep(() => {
      out = keep(backend.gelu(x));
    });
    const want = bits(tidy(() => backend.gelu(x)));
    try {
      CpuBackend.setInlineStepMicros(Number.POSITIVE_INFINITY);
      await step.run(); // the first run goes to a worker thread, and times the step
      for (let i = 0; i < 2; i++) {
        backend.write(out, new Float32Array(256));
        const run = step.run();
        expect(bits(out)).toEqual(want); // already replayed, before any await
        await expect(step.run()).rejects.toThrow(/still running/);
        await run;
      }
      CpuBackend.setInlineStepMicros(0);
      backend.write(out, new Float32Array(256));
      const run = step.run();
      await expect(step.run()).rejects.toThrow(/still running/);
      await run;
      expect(bits(out)).toEqual(want);
      expect(() => CpuBackend.setInlineStepMicros(-1)).toThrow(InvalidArgumentError);
      expect(() => CpuBackend.setInlineStepMicros(Number.NaN)).toThrow(InvalidArgumentError);
    } finally {
      CpuBackend.setInlineStepMicros(1000);
      step.dispose();
    }
  });

  it('refuses to run over a buffer detached since it was recorded', async () => {
    const x = new Float32Array(64).fill(1);
    const y = new Float32Array(64);
    const tape = new N.Tape();
    N.beginCapture(tape);
    N.gelu(x, 0, y, 0, 64);
    expect(() => N.beginCapture(new N.Tape())).toThrow(/already being recorded/);
    N.endCapture();
    expect(tape.length).toBe(1);
    await tape.run();
    expect(y[0]).toBeCloseTo(0.8412, 4);
    structuredClone(x.buffer, { transfer: [x.buffer] });
    await expect(tape.run()).rejects.toThrow(/detached/);
    expect(() => N.beginCapture(tape)).toThrow(/already recorded/);
    expect(() => N.beginCapture({} as never)).toThrow(TypeError);
    tape.dispose();
    await expect(tape.run()).rejects.toThrow(/disposed/);
  });
});
