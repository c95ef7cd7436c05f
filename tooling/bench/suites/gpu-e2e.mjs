// End to end at full size on the GPU, through the engine's planned runners (every step one CUDA
// graph): CPM-2 (24 + 24 layers), EVA (24 + 24) and CPM-1 (32 layers), random int8 weights drawn on the
// GPU, beside transformers in float16 on the same GPU in the same run (tooling/bench/torch_e2e.py).
// Decode rows: B sequences, each 64 new tokens after a 64-token input (encoder input for CPM-2/EVA,
// prompt for CPM-1), tokens/s = 64·B over the wall time of the 64 steps, prefill excluded (transformers'
// generate() includes its prefill: a few ms in seconds). The roofline of a decode row is B tokens per
// (decoder weight bytes per step ÷ the device-to-device copy bandwidth measured in this run).
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createCudaBackend, cudaAvailability, formatCudaInfo } from '@bminf/kernels';
import {
  CPM1_CONFIG,
  CPM2_CONFIG,
  Cpm1PlannedRunner,
  Cpm2PlannedRunner,
  EVA_CONFIG,
  randomCpm1Model,
  randomCpm2Model,
} from '@bminf/models';
import { SentencePieceTokenizer } from '@bminf/tokenizers';
import { median, repoRoot, syntheticIds } from '../lib.mjs';

const NEW = 64;
const INPUT = 64;


/** Bytes/s of a device-to-device copy of 2 GiB (read + write), the best of 10. */
function copyBandwidth(b) {
  const bytes = 2 ** 31;
  const src = b.empty([bytes], 'int8');
  const dst = b.empty([bytes], 'int8');
  const n = b.nativeCuda;
  const s = b.span(src);
  const d = b.span(dst);
  const times = [];
  for (let i = 0; i < 12; i++) {
    b.synchronize();
    const t0 = performance.now();
    n.copy(s.region, s.byteOffset, s.byteLength, d.region, d.byteOffset, d.byteLength);
    b.synchronize();
    if (i >= 2) times.push((performance.now() - t0) / 1000);
  }
  src.dispose();
  dst.dispose();
  return (2 * bytes) / Math.min(...times);
}

/** int8 weight bytes (+ float16 scales) a decode step reads: every decoder layer, and the float16 head. */
function decoderBytes(kind, c) {
  const d = kind === 'cpm1' ? c.dModel : c.numHeads * c.headDim;
  const lin = (o, i) => o * i + 2 * o;
  const layer =
    kind === 'cpm1'
      ? lin(3 * d, c.dModel) + lin(c.dModel, d) + lin(c.dFF, c.dModel) + lin(c.dModel, c.dFF)
      : lin(3 * d, c.dModel) + lin(c.dModel, d) + lin(d, c.dModel) + lin(c.dModel, d) + lin(2 * c.dFF, c.dModel) + lin(c.dModel, c.dFF);
  return (kind === 'cpm1' ? c.numLayers : c.numDecoderLayers) * layer + 2 * c.vocabSize * c.dModel;
}

/**
 * transformers' rows (tooling/bench/torch_e2e.py, its own process), or null where that side failed.
 * BENCH_E2E_TORCH=0 leaves it out (the ratio columns then read n/a): to tell whether a failure of
 * bminf's side needs another process to have used the GPU first. BENCH_E2E_TORCH_JSON=FILE reads
 * what torch_e2e.py printed when it ran just before, on the same GPU, in the same device call
 * (`python3 tooling/bench/torch_e2e.py > FILE`): then no other process uses the GPU while this one
 * holds it.
 */
function transformersSide() {
  if (process.env.BENCH_E2E_TORCH === '0') {
    console.error('bench: transformers side left out (BENCH_E2E_TORCH=0)');
    return null;
  }
  const file = process.env.BENCH_E2E_TORCH_JSON;
  try {
    const text = file
      ? readFileSync(file, 'utf8')
      : execFileSync('python3', [join(repoRoot, 'tooling/bench/torch_e2e.py')], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], timeout: 900_000 });
    const torch = JSON.parse(text);
    if (!torch.error) return torch;
    console.error(`bench: transformers side: ${torch.error}`);
  } catch (e) {
    console.error(`bench: transformers side failed${file ? ` (reading ${file})` : ''}: ${e.message}`);
  }
  return null;
}

/** Seconds for NEW decode steps of `batch` sequences (slots opened and prefilled first, not timed). */
async function decodeSeconds(runner, kind, batch, vocab) {
  const runs = [];
  for (let round = 0; round < 3; round++) {
    for (let s = 0; s < batch; s++) {
      await runner.open(s, kind === 'cpm1' ? null : syntheticIds(INPUT, vocab, s));
      await runner.step([{ slot: s, ids: kind === 'cpm1' ? syntheticIds(INPUT, vocab, s) : [2] }]);
    }
    const t0 = performance.now();
    // greedy decoding as Engine.generate runs it: each step's ids picked on the GPU (argmax), only they read back
    for (let t = 0; t < NEW; t++) await runner.step(Array.from({ length: batch }, (_, slot) => ({ slot, ids: [100 + ((t * 31 + slot) % 5000)], argmax: true })));
    runs.push((performance.now() - t0) / 1000);
    for (let s = 0; s < batch; s++) runner.close(s);
  }
  return median(runs);
}

/**
 * Seconds for the encoder alone over `ids` (embedding, every block, the final norm), recorded as one
 * step as Cpm2PlannedRunner's encoder step is, without the cross-attention keys and values that open()
 * computes from its output: the work transformers' encoder row times (`model.get_encoder()`), and the
 * row issue 10 names. The median of 7 runs after the planning run.
 */
async function encoderAloneSeconds(model, ids) {
  const b = model.backend;
  const L = model.layers;
  const n = ids.length;
  const idT = b.upload(Int32Array.from(ids), [n]);
  // as the runner's plan holds it: the bias by distance [heads, 2n - 1] and the padding as a key bias (none here)
  const bias = { distanceBias: L.encoderBias.byDistance(0, n, n), keyBias: b.zeros([n], model.activationDType) };
  const graph = b.captureStep(() => {
    let x = b.embedding(idT, L.embed.table);
    if (x.dtype !== model.activationDType) x = b.cast(x, model.activationDType);
    for (const blk of L.encoderBlocks) x = blk.forward(x, bias);
    L.encoderNorm.forward(x);
  });
  try {
    await graph.run();
    const times = [];
    for (let i = 0; i < 7; i++) {
      const t0 = performance.now();
      await graph.run();
      times.push((performance.now() - t0) / 1000);
    }
    return median(times);
  } finally {
    graph.dispose();
    bias.distanceBias.dispose();
    bias.keyBias.dispose();
    idT.dispose();
  }
}

async function measure(kind, torch, bw) {
  const config = kind === 'cpm2' ? CPM2_CONFIG : kind === 'eva' ? EVA_CONFIG : CPM1_CONFIG;
  const batches = kind === 'cpm2' ? [1, 8, 32] : [1, 8];
  const model =
    kind === 'cpm1'
      ? randomCpm1Model(config, await SentencePieceTokenizer.fromFile(join(repoRoot, 'models/tiny-cpm1/tokenizer.model')), { device: 'cuda', seed: 3 })
      : randomCpm2Model(config, { device: 'cuda', seed: 3 });
  const slots = Math.max(...batches);
  const runner = kind === 'cpm1' ? new Cpm1PlannedRunner(model, slots, 256) : new Cpm2PlannedRunner(model, slots, { maxEncoderLength: 512, maxDecoderLength: 128 });
  const rows = [];
  const name = { cpm2: 'CPM-2', eva: 'EVA', cpm1: 'CPM-1' }[kind];
  const tref = torch?.[kind];
  try {
    if (kind !== 'cpm1') {
      const enc = syntheticIds(512, config.vocabSize, 1);
      const alone = 512 / (await encoderAloneSeconds(model, enc));
      const refAlone = tref?.encoder_tok_s;
      rows.push([`${name} encoder, 1 × 512 tokens`, alone, refAlone ?? 'n/a', refAlone ? alone / refAlone : 'n/a', '', '']);
      await runner.open(0, enc); // plans the 512-token encoder step
      const times = [];
      for (let i = 0; i < 7; i++) {
        const t0 = performance.now();
        await runner.open(0, enc);
        times.push((performance.now() - t0) / 1000);
      }
      runner.close(0);
      const tps = 512 / median(times);
      // open() runs the encoder and every decoder layer's cross-attention k and v of its output: set
      // beside transformers doing the same (torch_e2e.py's encoder_cross_kv_tok_s)
      const ref = tref?.encoder_cross_kv_tok_s;
      rows.push([`${name} encoder + every layer's cross-attention k, v (open)`, tps, ref ?? 'n/a', ref ? tps / ref : 'n/a', '', '']);
    }
    const bytes = decoderBytes(kind, config);
    await decodeSeconds(runner, kind, 1, config.vocabSize); // plans the decode step, warms the GPU
    for (const batch of batches) {
      const tps = (NEW * batch) / (await decodeSeconds(runner, kind, batch, config.vocabSize));
      const ref = tref?.decode_tok_s?.[String(batch)];
      const roof = batch / (bytes / bw);
      rows.push([`${name} decode, batch ${batch}`, tps, ref ?? 'n/a', ref ? tps / ref : 'n/a', roof, `${((100 * tps) / roof).toFixed(0)} %`]);
    }
  } finally {
    runner.dispose();
    model.dispose();
  }
  return rows;
}

export default {
  title: 'End to end at full size on the GPU: planned steps (CUDA graphs) against transformers fp16',
  async run() {
    // transformers first, in its own process, before this one touches the GPU (loading the addon's
    // CUDA side retains the device's context) and reserves its memory
    const torch = transformersSide();
    const avail = cudaAvailability();
    if (!avail.available) throw new Error(`CUDA is unavailable: ${avail.reason}`);
    console.error(formatCudaInfo());
    const b = createCudaBackend();
    // BENCH_IGEMM_MODE=0|1|2: how igemm issues its cublasLt call (NativeCudaBench.igemmMode; the product's is
    // 2, each call replayed from a CUDA graph per operand addresses): for cublasLt faults (NOTES.md, 2026-12-05).
    if (process.env.BENCH_IGEMM_MODE) b.nativeCuda.bench.igemmMode(Number(process.env.BENCH_IGEMM_MODE));
    // BENCH_ROUTES='{"gemvTune":false}': RoutePolicy switches (CudaBackend.routes) for this run, to compare a
    // route with the product's in one device call
    if (process.env.BENCH_ROUTES) {
      Object.assign(b.routes, JSON.parse(process.env.BENCH_ROUTES));
      console.error(`bench: routes ${process.env.BENCH_ROUTES}`);
    }
    const bw = copyBandwidth(b);
    const rows = [];
    for (const kind of ['cpm2', 'eva', 'cpm1']) {
      try {
        rows.push(...(await measure(kind, torch, bw)));
      } catch (e) {
        // what the pool held when it failed: the cublasLt fault of 2026-12-05 depended on placement (NOTES.md)
        console.error(`bench: ${kind} failed; device pool: ${JSON.stringify(b.memoryStats())}`);
        throw e;
      }
    }
    b.dispose();
    return {
      columns: ['work', 'bminf int8 tokens/s', 'transformers fp16 tokens/s', 'ratio', 'roofline tokens/s', 'of roofline'],
      rows,
      notes:
        `Device-to-device copy bandwidth measured in this run: ${(bw / 1e12).toFixed(2)} TB/s (read + write of 2 GiB). ` +
        `Roofline = batch ÷ (the decoder's int8 weights and float16 output head, in bytes, ÷ that bandwidth): CPM-2 ${(decoderBytes('cpm2', CPM2_CONFIG) / 1e9).toFixed(2)} GB, EVA ${(decoderBytes('eva', EVA_CONFIG) / 1e9).toFixed(2)} GB, CPM-1 ${(decoderBytes('cpm1', CPM1_CONFIG) / 1e9).toFixed(2)} GB per step. ` +
        `Models: random int8 weights drawn on the GPU (randomCpm2Model, randomCpm1Model); engine runners Cpm2PlannedRunner (32 slots, encoder ≤ 512, decoder ≤ 128 tokens) and Cpm1PlannedRunner (8 slots, 256 tokens). ` +
        `transformers ${torch?.transformers ?? '?'} with PyTorch ${torch?.torch ?? '?'}: the same shapes in float16, random weights, generate() greedy with min_new_tokens = max_new_tokens = ${NEW}, median of 3 after a warm-up. ` +
        `Encoder rows: "encoder" is the encoder alone over 512 tokens (embedding, every block, the final norm; one recorded step), beside transformers' model.get_encoder(); ` +
        `"(open)" adds the cross-attention keys and values of every decoder layer (what Cpm2PlannedRunner.open computes for a new sequence; transformers computes them in its first decoding step), on both sides.` +
        `${process.env.BENCH_ROUTES ? ` Route switches set for this run: ${process.env.BENCH_ROUTES}.` : ''}`,
    };
  },
};
