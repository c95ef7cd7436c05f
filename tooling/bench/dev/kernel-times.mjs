// Dev: the kernels of CPM-2's recorded steps at a few layers, for Nsight Compute's per-kernel times:
//   ncu --graph-profiling node --metrics gpu__time_duration.sum --cache-control none --clock-control none \
//     --csv --page raw node tooling/bench/dev/kernel-times.mjs [layers]
// Phases are marked by "MARK:" lines on stdout, between ncu's own "==PROF==" lines (ncu-summary.py splits there):
// warm-up, encoder 1 x 512, decode batch 1 (2 steps), decode batch 8 (2 steps).
import { createCudaBackend } from '@bminf/kernels';
import { CPM2_CONFIG, Cpm2PlannedRunner, randomCpm2Model } from '@bminf/models';
import { syntheticIds } from '../lib.mjs';

const layers = Number(process.argv[2] ?? '2');
const b = createCudaBackend();
const config = { ...CPM2_CONFIG, numEncoderLayers: layers, numDecoderLayers: layers };
const model = randomCpm2Model(config, { device: 'cuda', seed: 3 });
const runner = new Cpm2PlannedRunner(model, 8, { maxEncoderLength: 512, maxDecoderLength: 128 });
const enc = syntheticIds(512, config.vocabSize, 1);
await runner.open(0, enc); // plans, tunes, records
for (let s = 0; s < 8; s++) {
  await runner.open(s, syntheticIds(64, config.vocabSize, s));
  await runner.step([{ slot: s, ids: [2], argmax: true }]);
}
for (const batch of [1, 8]) await runner.step(Array.from({ length: batch }, (_, slot) => ({ slot, ids: [5 + slot], argmax: true })));
b.synchronize();
console.log('MARK: warm done');
await runner.open(0, enc);
b.synchronize();
console.log('MARK: encoder done');
for (const batch of [1, 8]) {
  for (let t = 0; t < 2; t++) await runner.step(Array.from({ length: batch }, (_, slot) => ({ slot, ids: [9 + t + slot], argmax: true })));
  b.synchronize();
  console.log(`MARK: decode ${batch} done`);
}
runner.dispose();
