// `bminf info --model` (what a loaded model takes, its steps planned) and `--memory-limit`'s errors,
// through the real binary. On the CPU there is no GPU memory to limit: the flag says so and how to fix it.
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { bminf, root } from './run-bminf.js';

const tiny = join(root, '..', 'shared', 'models', 'tiny-cpm1');

describe('bminf info --model', () => {
  it('reports the memory a model takes with its steps planned, and no layer streaming without a limit', async () => {
    const r = await bminf(['info', '--model', tiny, '--device', 'cpu', '--max-batch', '2', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const memory = JSON.parse(r.stdout).memory;
    expect(memory).toMatchObject({ device: 'cpu', dtype: 'int8', maxBatch: 2, streaming: null, architecture: 'cpm1' });
    expect(memory.bytesInUse).toBeGreaterThan(1_000_000); // the weights and caches at least
    expect(memory.reserved).toBeGreaterThanOrEqual(memory.bytesInUse);
    const text = await bminf(['info', '--model', tiny, '--device', 'cpu', '--max-batch', '2']);
    expect(text.stdout).toMatch(/memory: .* in use, .* reserved/);
    expect(text.stdout).toContain('layer streaming: none (every block resident)');
  });

  it('refuses a memory limit that is not a size, or one on the CPU, saying what to do', async () => {
    const bad = await bminf(['generate', '--model', tiny, '--prompt', 'x', '--memory-limit', 'lots']);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toMatch(/--memory-limit "lots" is not a size/);
    expect(bad.stderr).toMatch(/6GiB/);
    const cpu = await bminf(['generate', '--model', tiny, '--prompt', 'x', '--device', 'cpu', '--memory-limit', '1GiB']);
    expect(cpu.code).not.toBe(0);
    expect(cpu.stderr).toMatch(/GPU memory/);
    expect(cpu.stderr).toMatch(/device cuda/);
  });
});
