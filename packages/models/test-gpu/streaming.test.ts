// Layer streaming on CUDA (issue 14): a model loaded with a memory limit keeps some blocks in pinned host
// memory and copies them into device slots as they run, on a second stream, inside the recorded steps.
// Its logits must equal, bit for bit, those of the same model with every block resident; a hundred
// generations must leave the device pool and the pinned memory where they started; and a model without
// a limit must reserve little beyond what it uses. Skips, saying why, where no usable GPU is present.
import type { ModelDType } from '@bminf/core';
import { type CudaBackend, createCudaBackend, cudaAvailability } from '@bminf/kernels';
import {
  type Cpm2Config,
  Cpm1Model,
  Cpm1PlannedRunner,
  Cpm2PlannedRunner,
  Engine,
  FRAGMENTATION_ALLOWANCE,
  type ModelRunner,
  cpm1Plan,
  cpm1RuntimeBytes,
  cpm2Plan,
  cpm2RuntimeBytes,
  parseCpm1Config,
  randomCpm2Model,
  readModelConfig,
  toT5ConfigJson,
  unitSizes,
} from '@bminf/models';
import { describe, expect, it } from 'vitest';
import { reference, tinyDir } from '../test/helpers.js';

const avail = cudaAvailability();
if (!avail.available) console.log(`[gpu tests] streaming skipped: CUDA is unavailable: ${avail.reason}`);

const MiB = 2 ** 20;

/** A limit that leaves room for `resident` blocks beside two slots: the rest stream. */
function limitFor(sizes: { units: Map<string, number>; fixed: number }, runtime: number, resident: number, inUse: number): number {
  const largest = Math.max(...sizes.units.values());
  // Half a block to spare, and the share the plan leaves for fragmentation.
  return inUse + Math.ceil((sizes.fixed + runtime + (2 + resident) * largest + largest / 2) / (1 - FRAGMENTATION_ALLOWANCE));
}

/** Feeds both runners the same steps and expects identical logits every time (sequences leave as it goes). */
async function sameLogits(a: ModelRunner, b: ModelRunner, encoder: number[][] | null, prompts: number[][], steps: number) {
  for (let s = 0; s < prompts.length; s++) {
    await a.open(s, encoder ? encoder[s] : null);
    await b.open(s, encoder ? encoder[s] : null);
  }
  let inputs = prompts.map((p, slot) => ({ slot, ids: p }));
  for (let t = 0; t < steps && inputs.length > 0; t++) {
    const la = await a.step(inputs);
    const lb = await b.step(inputs);
    la.forEach((l, i) => expect(l, `step ${t} slot ${i}`).toEqual(lb[i]));
    inputs = inputs.filter((_, i) => t < 4 || i !== t % 3).map((it, i) => ({ slot: it.slot, ids: [(7 * t + 13 * i) % 500] }));
  }
}

const SMALL_CPM2: Cpm2Config = {
  dModel: 512,
  numHeads: 8,
  headDim: 64,
  dFF: 1280,
  numEncoderLayers: 4,
  numDecoderLayers: 4,
  numBuckets: 32,
  maxDistance: 128,
  vocabSize: 1200,
  eps: 1e-6,
};

describe.skipIf(!avail.available)('layer streaming on CUDA', () => {
  it.each(['int8', 'fp16'] as ModelDType[])('tiny-cpm1 %s: logits with a memory limit equal those without, bit for bit', async (dtype) => {
    const gpu = createCudaBackend({});
    const raw = readModelConfig(tinyDir);
    const base = await Cpm1Model.load(tinyDir, { dtype, device: gpu });
    const sizes = unitSizes(cpm1Plan(raw), dtype);
    const plannedFor = { maxBatch: 4, maxLength: 256 };
    const limit = limitFor(sizes, cpm1RuntimeBytes(parseCpm1Config(raw), dtype, plannedFor), 1, gpu.memoryStats().bytesInUse);
    const streamed = await Cpm1Model.load(tinyDir, { dtype, device: gpu, memoryLimit: limit, plannedFor });
    try {
      expect(base.streamer).toBeNull();
      expect(streamed.streamer?.residency.streamed.length).toBe(3); // 4 blocks, one resident
      console.log(`[gpu] tiny-cpm1 ${dtype}: streamed ${streamed.streamer?.residency.streamed.join(', ')}`);
      // Op by op (the eager forward) ...
      const ids = reference[0].prompt_ids;
      const sa = base.newState();
      const sb = streamed.newState();
      expect(streamed.forward(ids, sb)).toEqual(base.forward(ids, sa));
      for (const id of [5, 77, 300]) expect(streamed.forward([id], sb)).toEqual(base.forward([id], sa));
      sa.dispose();
      sb.dispose();
      // ... and through recorded steps (CUDA graphs with the copies in them), batched.
      for (const record of [true, false]) {
        const a = new Cpm1PlannedRunner(base, 4, 256, record);
        const b = new Cpm1PlannedRunner(streamed, 4, 256, record);
        try {
          await sameLogits(a, b, null, reference.slice(0, 4).map((c) => c.prompt_ids), 12);
        } finally {
          a.dispose();
          b.dispose();
        }
      }
    } finally {
      streamed.dispose();
      base.dispose();
      gpu.dispose();
    }
  });

  it.each(['int8', 'fp16'] as ModelDType[])('a CPM-2-shaped model %s: encoder and decoder logits with a memory limit equal those without', async (dtype) => {
    const gpu = createCudaBackend({});
    const base = randomCpm2Model(SMALL_CPM2, { dtype, device: gpu, seed: 3 });
    const sizes = unitSizes(cpm2Plan(toT5ConfigJson(SMALL_CPM2)), dtype);
    const plannedFor = { maxBatch: 3, maxEncoderLength: 64, maxDecoderLength: 32 };
    const limit = limitFor(sizes, cpm2RuntimeBytes(SMALL_CPM2, dtype, plannedFor), 2, gpu.memoryStats().bytesInUse);
    const streamed = randomCpm2Model(SMALL_CPM2, { dtype, device: gpu, seed: 3, memoryLimit: limit, plannedFor });
    try {
      const r = streamed.streamer?.residency;
      console.log(`[gpu] cpm2-shaped ${dtype}: resident ${[...(r?.resident ?? [])].join(', ')}; streamed ${r?.streamed.join(', ')}`);
      // Decoder blocks are kept first; with room for two blocks, the rest of the decoder streams too.
      expect(r?.streamed.filter((u) => u.startsWith('decoder.')).length).toBeGreaterThan(0);
      expect(r?.streamed.filter((u) => u.startsWith('encoder.')).length).toBe(4);
      // Eager: encoder output, then decoder steps.
      const enc = [5, 6, 7, 8, 9, 10, 11, 12, 13];
      expect(streamed.encoderOutput(enc)).toEqual(base.encoderOutput(enc));
      const sa = base.newState(enc);
      const sb = streamed.newState(enc);
      for (const id of [2, 40, 41, 99]) expect(streamed.decoderForward([id], sb)).toEqual(base.decoderForward([id], sa));
      sa.dispose();
      sb.dispose();
      // Recorded steps, batched, sequences leaving.
      for (const record of [true, false]) {
        const opts = { record, maxEncoderLength: 64, maxDecoderLength: 32 };
        const a = new Cpm2PlannedRunner(base, 3, opts);
        const b = new Cpm2PlannedRunner(streamed, 3, opts);
        try {
          await sameLogits(a, b, [enc, [30, 31], [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20]], [[2, 3], [2], [2, 40, 41]], 10);
        } finally {
          a.dispose();
          b.dispose();
        }
      }
    } finally {
      streamed.dispose();
      base.dispose();
      gpu.dispose();
    }
  });

  it('100 generations with streaming leave the device pool and pinned memory where they started', async () => {
    const gpu = createCudaBackend({});
    const pinned0 = gpu.streaming.pinnedStats();
    const raw = readModelConfig(tinyDir);
    const sizes = unitSizes(cpm1Plan(raw), 'int8');
    const plannedFor = { maxBatch: 4, maxLength: 128 };
    const limit = limitFor(sizes, cpm1RuntimeBytes(parseCpm1Config(raw), 'int8', plannedFor), 1, gpu.memoryStats().bytesInUse);
    const model = await Cpm1Model.load(tinyDir, { dtype: 'int8', device: gpu, memoryLimit: limit, plannedFor });
    const engine = new Engine(model, { maxBatch: 4, maxLength: 128 });
    try {
      await engine.prepare();
      const drain = async (i: number) => {
        for await (const chunk of engine.generate(`床前明月光${i}`, { maxTokens: 5 + (i % 7), greedy: true })) void chunk;
      };
      await drain(0);
      const used = gpu.memoryStats().bytesInUse;
      const pinned = gpu.streaming.pinnedStats();
      expect(pinned.bytes).toBeGreaterThan(pinned0.bytes);
      for (let i = 0; i < 100; i += 4) await Promise.all([0, 1, 2, 3].map((j) => drain(i + j)));
      expect(gpu.memoryStats().bytesInUse).toBe(used);
      expect(gpu.streaming.pinnedStats()).toEqual(pinned);
      console.log(`[gpu] streaming, 100 generations: pool ${used} bytes in use before and after; pinned ${pinned.bytes} bytes in ${pinned.buffers} buffers before and after`);
    } finally {
      await engine.close();
      model.dispose();
    }
    // Disposing the model gives its pinned memory back.
    expect(gpu.streaming.pinnedStats()).toEqual(pinned0);
    gpu.dispose();
  });

  it('without a limit a model reserves what it uses plus less than one segment; a limit below the minimum says what it needs', async () => {
    const gpu = createCudaBackend({});
    expect(gpu.memoryStats().reserved).toBeLessThanOrEqual(256 * MiB); // nothing taken up front but the first segment
    const model = await Cpm1Model.load(tinyDir, { dtype: 'int8', device: gpu });
    const engine = new Engine(model, { maxBatch: 8 });
    try {
      await engine.prepare();
      const s = gpu.memoryStats();
      console.log(`[gpu] tiny-cpm1 int8, 8 sequences planned: memory ${s.bytesInUse} bytes in use, ${s.reserved} reserved (${s.segments} segments), limit ${s.limit}`);
      expect(s.reserved).toBeGreaterThanOrEqual(s.bytesInUse);
      expect(s.reserved - s.bytesInUse).toBeLessThan(256 * MiB);
    } finally {
      await engine.close();
      model.dispose();
    }
    await expect(Cpm1Model.load(tinyDir, { dtype: 'int8', device: gpu, memoryLimit: '8MiB' })).rejects.toThrow(/this model needs at least/);
    gpu.dispose();
  });

  it('refuses what cannot work on CUDA either: fp32 streaming, a limit below what is reserved', async () => {
    const gpu: CudaBackend = createCudaBackend({});
    await expect(Cpm1Model.load(tinyDir, { dtype: 'fp32', device: gpu, memoryLimit: '64MiB' })).rejects.toThrow(/int8 and fp16/);
    gpu.dispose();
  });
});
