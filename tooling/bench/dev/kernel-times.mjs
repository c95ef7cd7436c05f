// Dev: the kernels of a model's recorded steps at a few layers, for Nsight Compute's per-kernel times:
//   ncu --graph-profiling node --metrics gpu__time_duration.sum --cache-control none --clock-control none \
//     --csv --page raw node tooling/bench/dev/kernel-times.mjs [layers] [cpm2|cpm1] [batches, e.g. 1,8]
// Phases are marked by "MARK:" lines on stdout, between ncu's own "==PROF==" lines: warm-up, (CPM-2) the
// encoder 1 x 512, then 2 decode steps at each batch size. step-kernels.py prints the last steps.
import { join } from 'node:path';
import { createCudaBackend } from '@bminf/kernels';
import { CPM1_CONFIG, CPM2_CONFIG, Cpm1PlannedRunner, Cpm2PlannedRunner, randomCpm1Model, randomCpm2Model } from '@bminf/models';
import { SentencePieceTokenizer } from '@bminf/tokenizers';
import { repoRoot, syntheticIds } from '../lib.mjs';

const layers = Number(process.argv[2] ?? '2');
const kind = process.argv[3] ?? 'cpm2';
const batches = (process.argv[4] ?? '1,8').split(',').map(Number);
const maxBatch = Math.max(...batches);
// CPM-2: one slot more, for the 512-token encoder pass, so that the decode steps' sequences all hold
// 64-token inputs as gpu-e2e's do (a slot opened over 512 tokens makes its cross-attention read 512 keys)
const slots = kind === 'cpm1' ? maxBatch : maxBatch + 1;
const spare = slots - 1;
const b = createCudaBackend();
let runner, vocab;
if (kind === 'cpm1') {
  const config = { ...CPM1_CONFIG, numLayers: layers };
  vocab = config.vocabSize;
  const tok = await SentencePieceTokenizer.fromFile(join(repoRoot, 'models/tiny-cpm1/tokenizer.model'));
  runner = new Cpm1PlannedRunner(randomCpm1Model(config, tok, { device: 'cuda', seed: 3 }), slots, 256);
} else {
  const config = { ...CPM2_CONFIG, numEncoderLayers: layers, numDecoderLayers: layers };
  vocab = config.vocabSize;
  runner = new Cpm2PlannedRunner(randomCpm2Model(config, { device: 'cuda', seed: 3 }), slots, { maxEncoderLength: 512, maxDecoderLength: 128 });
}
const enc = syntheticIds(512, vocab, 1);
// open each slot with a 64-token input (CPM-2: the encoder; CPM-1: a prefill step), as gpu-e2e does
const openSlot = async (s) => {
  if (kind === 'cpm1') {
    await runner.open(s, null);
    await runner.step([{ slot: s, ids: syntheticIds(64, vocab, s), argmax: true }]);
  } else {
    await runner.open(s, syntheticIds(64, vocab, s));
    await runner.step([{ slot: s, ids: [2], argmax: true }]);
  }
};
if (kind !== 'cpm1') await runner.open(spare, enc); // plans, tunes, records the encoder pass
for (let s = 0; s < maxBatch; s++) await openSlot(s);
for (const batch of batches) await runner.step(Array.from({ length: batch }, (_, slot) => ({ slot, ids: [5 + slot], argmax: true })));
b.synchronize();
console.log('MARK: warm done');
if (kind !== 'cpm1') {
  await runner.open(spare, enc);
  b.synchronize();
  console.log('MARK: encoder done');
}
for (const batch of batches) {
  for (let t = 0; t < 2; t++) await runner.step(Array.from({ length: batch }, (_, slot) => ({ slot, ids: [9 + t + slot], argmax: true })));
  b.synchronize();
  console.log(`MARK: decode ${batch} done`);
}
runner.dispose();
