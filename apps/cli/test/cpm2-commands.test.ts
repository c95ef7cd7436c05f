// bminf fill-blank and bminf dialogue, run in-process on the committed tiny CPM-2/EVA fixtures.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Command } from 'commander';
import { afterEach, describe, expect, it, vi } from 'vitest';
import * as dialogueCmd from '../src/commands/dialogue.js';
import * as fillBlankCmd from '../src/commands/fill-blank.js';

const fixtures = join(import.meta.dirname, '../../../models/fixtures');

async function run(register: (p: Command) => void, args: string[]): Promise<{ stdout: string; stderr: string }> {
  const program = new Command('bminf').exitOverride();
  register(program);
  for (const sub of program.commands) sub.exitOverride();
  let stdout = '';
  let stderr = '';
  vi.spyOn(process.stdout, 'write').mockImplementation((s) => ((stdout += String(s)), true));
  vi.spyOn(process.stderr, 'write').mockImplementation((s) => ((stderr += String(s)), true));
  try {
    await program.parseAsync(['node', 'bminf', ...args]);
  } finally {
    vi.restoreAllMocks();
  }
  return { stdout, stderr };
}

afterEach(() => vi.restoreAllMocks());

describe('bminf fill-blank', () => {
  const model = join(fixtures, 'cpm2-tiny');
  const text = '床前明月<span>，疑是地上<span>。';

  it('--json prints the decoder ids and the fills', async () => {
    const r = await run(fillBlankCmd.register, ['fill-blank', '--model', model, '--text', text, '--greedy', '--max-tokens', '5', '--dtype', 'fp32', '--device', 'cpu', '--json']);
    const out = JSON.parse(r.stdout);
    expect(Object.keys(out).sort()).toEqual(['fills', 'ids']);
    expect(out.ids[0]).toBe(408); // <s_0> starts the decoder's answer
    expect(out.ids).toHaveLength(6);
    expect(out.fills).toHaveLength(2);
    expect(r.stderr).toBe('');
  });

  it('prints each blank, then the filled text', async () => {
    const r = await run(fillBlankCmd.register, ['fill-blank', '--model', model, '--text', text, '--max-tokens', '4', '--seed', '3', '--device', 'cpu']);
    expect(r.stdout).toMatch(/^\[0\] /);
    expect(r.stdout).toMatch(/\n床前明月.*，疑是地上.*。\n$/);
    expect(r.stderr).toMatch(/tokens\/s, cpu, int8, finished: /);
  });

  it('rejects a text without <span> and a bad option', async () => {
    await expect(run(fillBlankCmd.register, ['fill-blank', '--model', model, '--text', '床前明月光', '--device', 'cpu'])).rejects.toThrow(/no <span> to fill/);
    await expect(run(fillBlankCmd.register, ['fill-blank', '--model', model, '--text', text, '--max-tokens', '0'])).rejects.toThrow(/--max-tokens must be an integer ≥ 1/);
  });
});

describe('bminf dialogue', () => {
  const model = join(fixtures, 'eva-tiny');
  const ref = JSON.parse(readFileSync(join(model, 'reference.json'), 'utf8')).cases[0] as { turns: string[]; greedy_ids: number[] };

  it('--json prints the greedy reply of the reference', async () => {
    const args = ref.turns.flatMap((t) => ['--context', t]);
    const r = await run(dialogueCmd.register, ['dialogue', '--model', model, ...args, '--greedy', '--max-tokens', '24', '--dtype', 'fp32', '--device', 'cpu', '--json']);
    const out = JSON.parse(r.stdout);
    expect(Object.keys(out).sort()).toEqual(['ids', 'reply']);
    expect(out.ids).toEqual(ref.greedy_ids.slice(1));
    expect(typeof out.reply).toBe('string');
  });

  it('streams the reply and rejects an empty conversation', async () => {
    const r = await run(dialogueCmd.register, ['dialogue', '--model', model, '--context', '你好', '--max-tokens', '3', '--seed', '1', '--device', 'cpu']);
    expect(r.stdout.endsWith('\n')).toBe(true);
    expect(r.stderr).toMatch(/tokens\/s, cpu, int8/);
    await expect(run(dialogueCmd.register, ['dialogue', '--model', model, '--device', 'cpu'])).rejects.toThrow(/conversation is empty/);
  });
});

describe('bminf generate with a CPM-2 model', () => {
  it('continues the prompt through the encoder-decoder', async () => {
    const generateCmd = await import('../src/commands/generate.js');
    const model = join(fixtures, 'cpm2-tiny');
    const r = await run(generateCmd.register, ['generate', '--model', model, '--prompt', '床前明月光', '--greedy', '--max-tokens', '6', '--dtype', 'fp32', '--device', 'cpu', '--json']);
    const out = JSON.parse(r.stdout);
    expect(out.ids.length).toBeGreaterThan(0);
    expect(out.ids.length).toBeLessThanOrEqual(6);
    expect(typeof out.text).toBe('string');
    expect(out.promptIds.length).toBe(5);
  });
});
