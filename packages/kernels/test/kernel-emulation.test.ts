// The CUDA kernels' logic on a machine without a GPU: packages/kernels/dev/emu builds the kernel sources
// for the CPU (every CUDA thread a fiber) and checks kernel variants against the kernels they stand in
// for, bit for bit. Here the decode attention that reads ahead (dev/cuda's attend_cache_f16v8_ahead, a
// reordering of the product kernel's loads) against attend_cache_f16v8 (~15 s with the build), and
// batched decoding's int8 linear (quantize_rows_gemv + linear_mma_q, 2-32 rows) against each row alone
// through linear_gemv_*_r1 at two row counts (~50 s); the GEMV linears' full checks (`kernel-checks linear`,
// `linear-q`) take minutes and run by hand. Skips, saying why, where g++ is missing.
import { execFile, spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const gxx = spawnSync('g++', ['--version']).status === 0;
if (!gxx) console.log('[kernel emulation] skipped: g++ is not installed');
// Child processes, awaited: the build and the checks take a minute, during which the test worker must keep
// answering vitest (a synchronous wait timed out its RPC on a loaded machine).
const run = promisify(execFile);
const buildScript = fileURLToPath(new URL('../dev/emu/build.mjs', import.meta.url));

describe.skipIf(!gxx)('CUDA kernels emulated on the CPU', () => {
  let bin: Promise<string> | null = null;
  const checks = () => (bin ??= run(process.execPath, [buildScript, mkdtempSync(join(tmpdir(), 'bminf-emu-'))]).then((r) => r.stdout.trim().split('\n').pop() ?? ''));
  it('attend_cache_f16v8_ahead gives attend_cache_f16v8 bits: outputs and the cache rows it writes', async () => {
    const { stdout: out } = await run(await checks(), ['attention'], { encoding: 'utf8', timeout: 120_000 });
    expect(out).toContain('PASSED: 0 check(s) differ');
    expect(out.match(/^ok /gm)?.length).toBe(30);
  }, 180_000);
  it('a batch through quantize_rows_gemv + linear_mma_q gives each row the bits linear_gemv_r1 gives it alone (5 and 17 rows; plain, RMS norm + gated, LayerNorm + GELU)', async () => {
    const { stdout: out } = await run(await checks(), ['linear-q-quick'], { encoding: 'utf8', timeout: 240_000 });
    expect(out).toContain('PASSED: 0 check(s) differ');
    expect(out.match(/^ok linear_mma_q .*each row as alone$/gm)?.length).toBe(6);
  }, 300_000);
});
