// CPM-2 at full size on the GPU, op by op and end to end (for kernel work on issue 10's targets).
//   node tooling/bench/profile-cpm2.mjs [--layers N] [--out DIR] [--skip-e2e] [--skip-profile] [--variants]
// 1. Per-op GPU time of one decode step (batch 1 and 8) and one 512-token encoder step: the planned
//    runner with record = false (the same ops the recorded graph holds, run one by one from JS), each
//    top-level backend call between two CUDA events; summed by op and shape.
// 2. The recorded steps end to end, measured as tooling/bench/suites/gpu-e2e.mjs does (encoder 1 × 512;
//    decode 64 new tokens after a 64-token input, batch 1 and 8, greedy ids taken on the GPU), without
//    transformers beside it. --variants: also with RoutePolicy switches set (CudaBackend.routes; the list below),
//    each in a fresh runner, so one run compares them.
// Writes profile-cpm2.json and a table to stdout; random int8 weights drawn on the GPU.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createCudaBackend, cudaAvailability, formatCudaInfo } from '@bminf/kernels';
import { CPM2_CONFIG, Cpm2PlannedRunner, randomCpm2Model } from '@bminf/models';
import { median, syntheticIds } from './lib.mjs';

const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : dflt;
};
const layers = Number(opt('--layers', '24'));
const outDir = opt('--out', process.env.OUT ?? '.');
const skipE2e = args.includes('--skip-e2e');
const skipProfile = args.includes('--skip-profile');
const variants = args.includes('--variants')
  ? {
      default: {},
      'GEMV launches untimed': { gemvTune: false },
      // batch 32's products as the three calls (cublasLt) or the Hopper tiles, timed (NOTES.md, 2026-12-06)
      'Hopper kernels from 16 rows': { fusedLinearMinRows: 16, igemmSm90MinRows: 16 },
      default2: {},
    }
  : { default: {} };
const NEW = 64;
const INPUT = 64;

const avail = cudaAvailability();
if (!avail.available) {
  console.log(`profile-cpm2: CUDA is unavailable (${avail.reason}); nothing to measure.`);
  process.exit(0);
}
console.log(formatCudaInfo());


const b = createCudaBackend();
const native = b.nativeCuda;
const config = { ...CPM2_CONFIG, numEncoderLayers: layers, numDecoderLayers: layers };
const t0 = performance.now();
const model = randomCpm2Model(config, { device: 'cuda', seed: 3 });
b.synchronize();
console.log(`model: ${layers} + ${layers} layers drawn in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
const result = { layers, env: Object.fromEntries(Object.entries(process.env).filter(([k]) => k.startsWith('BMINF_'))), profile: {}, e2e: {} };

// ---- per-op timing ---------------------------------------------------------------------------------
const SKIP = new Set(['constructor', 'span', 'synchronize', 'download', 'upload', 'write', 'memoryStats', 'empty', 'zeros', 'dispose', 'captureStep', 'fillRandom', 'live', 'check']);
const proto = Object.getPrototypeOf(model.backend);
const names = Object.getOwnPropertyNames(proto).filter((n) => {
  if (SKIP.has(n)) return false;
  const d = Object.getOwnPropertyDescriptor(proto, n);
  return d && typeof d.value === 'function';
});
let events = [];
let nextEvent = 0;
const event = () => {
  if (nextEvent === events.length) events.push(native.eventCreate());
  return events[nextEvent++];
};
let recording = null; // [{ key, start, end }]
let depth = 0;
const shapeKey = (a) => (a && typeof a === 'object' && Array.isArray(a.shape) ? `[${a.shape.join('x')}]` : '');
for (const n of names) {
  const orig = proto[n];
  proto[n] = function (...a) {
    if (!recording || depth > 0) {
      depth++;
      try {
        return orig.apply(this, a);
      } finally {
        depth--;
      }
    }
    const key = `${n} ${a.map(shapeKey).filter(Boolean).join(' ')}`;
    const s = event();
    native.eventRecord(s);
    depth++;
    try {
      return orig.apply(this, a);
    } finally {
      depth--;
      const e = event();
      native.eventRecord(e);
      recording.push({ key, s, e });
    }
  };
}

async function profiled(label, fn, reps = 3) {
  const runs = [];
  for (let r = 0; r < reps; r++) {
    nextEvent = 0;
    recording = [];
    b.synchronize();
    const w0 = performance.now();
    await fn();
    b.synchronize();
    const wall = performance.now() - w0;
    const rec = recording;
    recording = null;
    const byKey = new Map();
    let gpu = 0;
    for (const { key, s, e } of rec) {
      const ms = native.eventElapsed(s, e);
      gpu += ms;
      const v = byKey.get(key) ?? { calls: 0, ms: 0 };
      v.calls++;
      v.ms += ms;
      byKey.set(key, v);
    }
    runs.push({ wall, gpu, calls: rec.length, byKey });
  }
  const last = runs[runs.length - 1];
  const rows = [...last.byKey.entries()].sort((x, y) => y[1].ms - x[1].ms).map(([key, v]) => ({ key, calls: v.calls, ms: v.ms, usPerCall: (1000 * v.ms) / v.calls }));
  console.log(`\n## ${label}: ${last.calls} top-level ops, summed GPU time ${last.gpu.toFixed(3)} ms (wall op by op ${last.wall.toFixed(1)} ms)`);
  for (const r of rows.slice(0, 30)) console.log(`${r.ms.toFixed(3).padStart(9)} ms ${String(r.calls).padStart(5)} x ${r.usPerCall.toFixed(1).padStart(8)} us  ${r.key}`);
  result.profile[label] = { gpuMs: last.gpu, wallMs: last.wall, calls: last.calls, rows };
}

if (!skipProfile) {
  const runner = new Cpm2PlannedRunner(model, 8, { record: false, maxEncoderLength: 512, maxDecoderLength: 128 });
  try {
    const enc = syntheticIds(512, config.vocabSize, 1);
    await runner.open(0, enc); // warm: tuning, first compiles
    await profiled('encoder 1 x 512 (op by op)', () => runner.open(0, enc));
    for (const batch of [1, 8]) {
      for (let s = 0; s < batch; s++) {
        await runner.open(s, syntheticIds(INPUT, config.vocabSize, s));
        await runner.step([{ slot: s, ids: [2] }]);
      }
      for (let t = 0; t < 4; t++) await runner.step(Array.from({ length: batch }, (_, slot) => ({ slot, ids: [100 + t + slot] })));
      await profiled(`decode batch ${batch} (op by op)`, () => runner.step(Array.from({ length: batch }, (_, slot) => ({ slot, ids: [7 + slot] }))));
      for (let s = 0; s < batch; s++) runner.close(s);
    }
  } finally {
    runner.dispose();
  }
}

// ---- end to end (recorded steps) -----------------------------------------------------------------
async function decodeSeconds(runner, batch) {
  const runs = [];
  for (let round = 0; round < 3; round++) {
    for (let s = 0; s < batch; s++) {
      await runner.open(s, syntheticIds(INPUT, config.vocabSize, s));
      await runner.step([{ slot: s, ids: [2] }]);
    }
    const t1 = performance.now();
    for (let t = 0; t < NEW; t++) await runner.step(Array.from({ length: batch }, (_, slot) => ({ slot, ids: [100 + ((t * 31 + slot) % 5000)], argmax: true })));
    runs.push((performance.now() - t1) / 1000);
    for (let s = 0; s < batch; s++) runner.close(s);
  }
  return median(runs);
}

async function endToEnd(label) {
  const e2e = {};
  const runner = new Cpm2PlannedRunner(model, 32, { maxEncoderLength: 512, maxDecoderLength: 128 });
  try {
    const enc = syntheticIds(512, config.vocabSize, 1);
    await runner.open(0, enc);
    const times = [];
    for (let i = 0; i < 7; i++) {
      const t1 = performance.now();
      await runner.open(0, enc);
      times.push((performance.now() - t1) / 1000);
    }
    runner.close(0);
    e2e.encoderTokS = 512 / median(times);
    await decodeSeconds(runner, 1);
    for (const batch of [1, 8, 32]) e2e[`decodeB${batch}TokS`] = (NEW * batch) / (await decodeSeconds(runner, batch));
    // The decode step without the runner's host work (inputs written, ids read back): its recorded graph
    // run 32 times, each run awaited (a graph runs once at a time), so what is left is the GPU's time plus
    // a launch and a worker's wake-up a step. The runner's plan is reached past its TypeScript privacy:
    // a dev measurement, set beside the step's time from tokens/s.
    for (const k of [1, 8, 32]) {
      const plan = runner.decodePlans?.get(k);
      if (!plan) continue;
      await plan.graph.run();
      const t1 = performance.now();
      for (let i = 0; i < 32; i++) await plan.graph.run();
      e2e[`decodeB${k}GraphUs`] = ((performance.now() - t1) / 32) * 1000;
      e2e[`decodeB${k}StepUs`] = (k / e2e[`decodeB${k}TokS`]) * 1e6;
    }
    // bit-for-bit: the recorded decode step against the op-by-op one (batch 2, a few tokens)
    const plain = new Cpm2PlannedRunner(model, 2, { record: false, maxEncoderLength: 512, maxDecoderLength: 128 });
    const rec = new Cpm2PlannedRunner(model, 2, { maxEncoderLength: 512, maxDecoderLength: 128 });
    try {
      let same = true;
      for (const r of [plain, rec]) for (let s = 0; s < 2; s++) await r.open(s, syntheticIds(40 + 9 * s, config.vocabSize, s));
      for (let t = 0; t < 3; t++) {
        const items = [0, 1].map((slot) => ({ slot, ids: [5 + t * 3 + slot] }));
        const [a, c] = [await plain.step(items), await rec.step(items)];
        for (let s = 0; s < 2; s++) for (let i = 0; i < a[s].length; i++) if (!Object.is(a[s][i], c[s][i])) same = false;
      }
      e2e.recordedEqualsOpByOp = same;
    } finally {
      plain.dispose();
      rec.dispose();
    }
  } finally {
    runner.dispose();
  }
  console.log(`\n## end to end (recorded steps): ${label}`);
  for (const [k, v] of Object.entries(e2e)) console.log(`${k}: ${typeof v === 'number' ? v.toFixed(0) : v}`);
  return e2e;
}

if (!skipE2e) {
  const saved = { ...b.routes };
  for (const [label, policy] of Object.entries(variants)) {
    Object.assign(b.routes, saved, policy);
    result.e2e[label] = await endToEnd(label);
  }
  Object.assign(b.routes, saved);
}

model.dispose();
b.dispose();
writeFileSync(join(outDir, 'profile-cpm2.json'), JSON.stringify(result, null, 1));
