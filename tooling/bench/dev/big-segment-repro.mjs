// Dev: does a 2 GiB pool segment, freed before a model is made (gpu-e2e.mjs's copyBandwidth), make CPM-2's
// first encoder pass fail with cublasLtMatmul's CUBLAS_STATUS_EXECUTION_FAILED? profile-cpm2.mjs, which
// has no such allocation, never failed; gpu-e2e.mjs failed 3 of 5 runs (NOTES.md).
//   node tooling/bench/dev/big-segment-repro.mjs [big|none|torch] [layers]   (layers: 24 + 24 unless given; 2 under compute-sanitizer)
// torch: as big, after transformers ran CPM-2 in a child process while this one held its CUDA context
// (what gpu-e2e.mjs did when it failed).
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { cudaAvailability, createCudaBackend } from '@bminf/kernels';
import { CPM2_CONFIG, Cpm2PlannedRunner, randomCpm2Model } from '@bminf/models';
import { repoRoot, syntheticIds } from '../lib.mjs';

const big = process.argv[2] !== 'none';
if (process.argv[2] === 'torch') {
  if (!cudaAvailability().available) throw new Error('no CUDA');
  execFileSync('python3', [join(repoRoot, 'tooling/bench/torch_e2e.py'), 'cpm2'], { stdio: ['ignore', 'ignore', 'inherit'] });
}
const layers = Number(process.argv[3] ?? 24);
const config = { ...CPM2_CONFIG, numEncoderLayers: layers, numDecoderLayers: layers };
const b = createCudaBackend();
if (big) {
  const t = [b.empty([2 ** 31], 'int8'), b.empty([2 ** 31], 'int8')];
  const [s, d] = t.map((x) => b.span(x));
  b.nativeCuda.copy(s.region, s.byteOffset, s.byteLength, d.region, d.byteOffset, d.byteLength);
  b.synchronize();
  for (const x of t) x.dispose();
}
const model = randomCpm2Model(config, { device: 'cuda', seed: 3 });
const runner = new Cpm2PlannedRunner(model, 32, { maxEncoderLength: 512, maxDecoderLength: 128 });
try {
  await runner.open(0, syntheticIds(512, CPM2_CONFIG.vocabSize, 1));
  await runner.open(1, syntheticIds(64, CPM2_CONFIG.vocabSize, 2));
  console.log(`big-segment-repro ${big ? 'with' : 'without'} a 2 GiB segment first: encoder passes ran`);
} catch (e) {
  console.log(`big-segment-repro ${big ? 'with' : 'without'} a 2 GiB segment first: FAILED: ${e.message}`);
}
runner.dispose();
model.dispose();
b.dispose();
