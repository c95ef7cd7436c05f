// The CUDA kernels' logic on a machine without a GPU: packages/kernels/dev/emu builds the kernel sources
// for the CPU (every CUDA thread a fiber) and checks kernel variants against the kernels they stand in
// for, bit for bit. Here the decode attention that reads ahead (dev/cuda's attend_cache_f16v8_ahead, a
// reordering of the product kernel's loads) against attend_cache_f16v8 (~15 s with the build), and
// batched decoding's int8 linear (quantize_rows_gemv + linear_mma_q, 2-32 rows) against each row alone
// through linear_gemv_*_r1 at two row counts (~50 s); the GEMV linears' full checks (`kernel-checks linear`,
// `linear-q`) take minutes and run by hand. Skips, saying why, where g++ is missing.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
// @ts-expect-error: a plain .mjs dev script without types
import { buildChecks } from '../dev/emu/build.mjs';

const gxx = spawnSync('g++', ['--version']).status === 0;
if (!gxx) console.log('[kernel emulation] skipped: g++ is not installed');

describe.skipIf(!gxx)('CUDA kernels emulated on the CPU', () => {
  let bin = '';
  const checks = () => (bin ||= buildChecks(mkdtempSync(join(tmpdir(), 'bminf-emu-'))) as string);
  it('attend_cache_f16v8_ahead gives attend_cache_f16v8 bits: outputs and the cache rows it writes', () => {
    const out = execFileSync(checks(), ['attention'], { encoding: 'utf8', timeout: 120_000 });
    expect(out).toContain('PASSED: 0 check(s) differ');
    expect(out.match(/^ok /gm)?.length).toBe(30);
  }, 180_000);
  it('a batch through quantize_rows_gemv + linear_mma_q gives each row the bits linear_gemv_r1 gives it alone (5 and 17 rows; plain, RMS norm + gated, LayerNorm + GELU)', () => {
    const out = execFileSync(checks(), ['linear-q-quick'], { encoding: 'utf8', timeout: 240_000 });
    expect(out).toContain('PASSED: 0 check(s) differ');
    expect(out.match(/^ok linear_mma_q .*each row as alone$/gm)?.length).toBe(6);
  }, 300_000);
});
