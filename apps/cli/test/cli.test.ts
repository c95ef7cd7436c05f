// The real `bminf` binary (apps/cli/dist/bin.js, built by `pnpm build`) in child processes.
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bin, bminf, root } from './run-bminf.js';

const model = join(root, 'models', 'tiny-cpm1');
const reference = JSON.parse(readFileSync(join(model, 'reference.json'), 'utf8')) as { prompt: string; greedy_ids: number[]; prompt_ids: number[] }[];
const cases = JSON.parse(readFileSync(join(model, 'tokenizer_cases.json'), 'utf8')) as { text: string; ids: number[] }[];


let tmp: string;
beforeAll(() => {
  if (!existsSync(bin)) throw new Error(`${bin} is missing: run \`pnpm build\` first.`);
  tmp = mkdtempSync(join(tmpdir(), 'bminf-cli-'));
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('bminf generate', () => {
  it.each(reference.map((c, i) => [i, c] as const))('--greedy --max-tokens 48 --dtype fp32 gives greedy_ids (prompt %i)', async (_i, c) => {
    const r = await bminf(['generate', '--model', model, '--prompt', c.prompt, '--greedy', '--max-tokens', '48', '--dtype', 'fp32', '--device', 'cpu', '--json']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(Object.keys(out).sort()).toEqual(['ids', 'promptIds', 'text', 'tokensPerSecond']);
    expect(out.promptIds).toEqual(c.prompt_ids);
    expect(out.ids).toEqual(c.greedy_ids);
    expect(out.tokensPerSecond).toBeGreaterThan(0);
  });

  it('--threads 1 gives the same greedy ids (the pool size changes the speed, not the result)', async () => {
    const c = reference[0];
    const r = await bminf(['generate', '--model', model, '--prompt', c.prompt, '--greedy', '--max-tokens', '48', '--dtype', 'fp32', '--device', 'cpu', '--threads', '1', '--json']);
    expect(r.stderr).toBe('');
    expect(JSON.parse(r.stdout).ids).toEqual(c.greedy_ids);
  });

  it('streams text in int8 without --json', async () => {
    const r = await bminf(['generate', '--model', model, '--prompt', '春眠不觉晓，', '--max-tokens', '16', '--seed', '1', '--device', 'cpu']);
    expect(r.code).toBe(0);
    expect(r.stdout.startsWith('春眠不觉晓，')).toBe(true);
    expect(r.stdout.length).toBeGreaterThan('春眠不觉晓，'.length);
    expect(r.stderr).toMatch(/tokens\/s, cpu, int8/);
  });
});

describe('bminf tokenize', () => {
  it('encodes the tokenizer cases', async () => {
    for (const c of cases.slice(0, 5)) {
      const r = await bminf(['tokenize', '--model', model, '--text', c.text, '--json']);
      expect(r.code).toBe(0);
      expect(JSON.parse(r.stdout)).toEqual({ ids: c.ids });
    }
  });
});

describe('bminf perplexity', () => {
  it('prints loss, perplexity and tokens', async () => {
    const file = join(tmp, 'ids.json');
    const ids = JSON.parse(readFileSync(join(model, 'eval_tokens.json'), 'utf8')).ids.slice(0, 1024);
    writeFileSync(file, JSON.stringify({ ids }));
    const r = await bminf(['perplexity', '--model', model, '--tokens', file, '--seq', '512', '--dtype', 'fp32', '--device', 'cpu', '--json']);
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.tokens).toBe(2 * 511);
    expect(out.perplexity).toBeCloseTo(Math.exp(out.loss), 6);
    expect(out.loss).toBeGreaterThan(1);
    expect(out.loss).toBeLessThan(5);
  });
});

describe('--device cuda on a machine without a usable GPU', () => {
  it('is a clear error that names the reason and the way out', async () => {
    const { cudaAvailability } = await import('@bminf/kernels');
    if (cudaAvailability().available) return; // this machine has a GPU: nothing to check here
    const r = await bminf(['generate', '--model', model, '--prompt', 'x', '--device', 'cuda']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/CUDA is unavailable: .+\. Use --device cpu\./);
  });
});

describe('bad input exits non-zero with one clear line', () => {
  it.each([
    [['generate', '--model', '/nonexistent/model', '--prompt', 'x'], /does not exist/],
    [['generate', '--model', model, '--prompt', 'x', '--dtype', 'int4'], /Unknown dtype "int4"/],
    [['generate', '--model', model, '--prompt', 'x', '--device', 'tpu'], /Unknown device "tpu"/],
    [['generate', '--model', model, '--prompt', 'x', '--temperature', '-1'], /temperature/],
    [['generate', '--model', model, '--prompt', 'x', '--top-p', '2'], /top/i],
    [['generate', '--model', model, '--prompt', 'x', '--max-tokens', 'many'], /--max-tokens must be an integer/],
    [['generate', '--model', model, '--prompt', 'x', '--threads', '0'], /--threads must be an integer ≥ 1/],
    [['generate', '--model', model, '--prompt', 'x', '--threads', '300'], /--threads must be at most 256/],
    [['perplexity', '--model', model, '--tokens', '/nonexistent.json', '--seq', '512'], /Cannot read token file/],
  ])('%j', async (args, msg) => {
    const r = await bminf(args as string[]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(msg);
    expect(r.stderr).not.toMatch(/\n\s+at /); // no stack trace
  });
});
