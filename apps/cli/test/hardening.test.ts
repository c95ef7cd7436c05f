// The bminf binary against careless and hostile use (issue 11), in child processes: every case ends
// with a clear one-line error or quietly, never a stack trace, a hang or a silently ignored option.
import { execFileSync, spawn } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bin, bminf, root } from './run-bminf.js';

const model = join(root, 'models', 'tiny-cpm1');
const cpm2 = join(root, 'models', 'fixtures', 'cpm2-tiny');
const eva = join(root, 'models', 'fixtures', 'eva-tiny');


let tmp: string;
beforeAll(() => {
  if (!existsSync(bin)) throw new Error(`${bin} is missing: run \`pnpm build\` first.`);
  tmp = mkdtempSync(join(tmpdir(), 'bminf-cli-hard-'));
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** A copy of the demo model whose config.json is edited, or whose `file` is replaced by `replace`. */
function modelCopy(name: string, edit: { config?: Record<string, unknown>; replace?: [string, (path: string) => void] }): string {
  const dir = join(tmp, name);
  cpSync(model, dir, { recursive: true });
  if (edit.config) {
    const config = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ ...config, ...edit.config }));
  }
  if (edit.replace) {
    const [file, make] = edit.replace;
    rmSync(join(dir, file));
    make(join(dir, file));
  }
  return dir;
}

const gen = ['generate', '--model', model, '--device', 'cpu'];

describe('item 3: absurd configs and special files', () => {
  it('n_layer 1e8 is refused (once a heap-limit abort after 60-90 s)', async () => {
    const r = await bminf(['generate', '--model', modelCopy('layers', { config: { n_layer: 1e8 } }), '--prompt', '床', '--device', 'cpu']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^bminf: error: config\.json is not a CPM-1 \(GPT-2\) config bminf can run: n_layer: .*1024/);
  });

  it('more layers than the checkpoint holds fail before any tensor is read, listing what is missing', async () => {
    const r = await bminf(['generate', '--model', modelCopy('six', { config: { n_layer: 6 } }), '--prompt', '床', '--device', 'cpu']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/the checkpoint holds 52 tensors and lacks 24 of the 76 that config\.json implies: "transformer\.h\.4\.ln_1\.weight"/);
  });

  it('a tokenizer.model that is a FIFO or /dev/zero is refused (once blocked forever / read until 5 GB)', async () => {
    const fifo = modelCopy('fifo', { replace: ['tokenizer.model', (p) => execFileSync('mkfifo', [p])] });
    const zero = modelCopy('zero', { replace: ['tokenizer.model', (p) => execFileSync('ln', ['-s', '/dev/zero', p])] });
    for (const [dir, kind] of [[fifo, 'a FIFO'], [zero, 'a device']]) {
      const r = await bminf(['generate', '--model', dir, '--prompt', '床', '--device', 'cpu']);
      expect(r.code).toBe(1);
      expect(r.stderr).toContain(`tokenizer.model: it is ${kind}, not the SentencePiece model; bminf reads only regular files.`);
    }
  });
});

describe('item 4: a closed stdout', () => {
  it('generate | head -c1 ends quietly with 141 (once an EPIPE stack trace)', async () => {
    const child = spawn(process.execPath, [bin, ...gen, '--prompt', '床前明月光，', '--max-tokens', '64'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    child.stdout.once('data', () => child.stdout.destroy());
    const code = await new Promise<number | null>((done) => child.on('close', (c) => done(c)));
    expect(stderr).toBe('');
    expect(code).toBe(141);
  });
});

describe('item 5: streamed text keeps its end', () => {
  it('--max-tokens 7 --seed 3 --stop "。X" streams what --json reports (once the held "。" was lost)', async () => {
    const args = [...gen, '--prompt', '床前明月光，', '--max-tokens', '7', '--seed', '3', '--stop', '。X'];
    const json = JSON.parse((await bminf([...args, '--json'])).stdout);
    // The case this seed makes: the length limit is reached while the text ends in "。", the start of
    // the stop string, which the stream holds back until it knows whether "X" follows.
    expect(json.text.endsWith('。')).toBe(true);
    const streamed = await bminf(args);
    expect(streamed.code).toBe(0);
    expect(streamed.stdout).toBe(`床前明月光，${json.text}\n`);
  });
});

describe('item 8: strict options', () => {
  it('--greedy with --temperature, --top-p or --top-k is a usage error (once the temperature was ignored)', async () => {
    for (const extra of [['--temperature', '0.5'], ['--top-p', '0.9'], ['--top-k', '5']]) {
      const r = await bminf([...gen, '--prompt', '床', '--greedy', ...extra]);
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(/option '--greedy' cannot be used with option '--(temperature|top-p|top-k)/);
    }
  });

  it.each(['1e3', '0x10', '99999999999999999999', '7.0', ' 7', ''])('--max-tokens %j is refused (once 1e3 and 0x10 were taken)', async (v) => {
    const r = await bminf([...gen, '--prompt', '床', '--max-tokens', v]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/--max-tokens must be an integer ≥ 1 written in decimal digits/);
  });

  it('a repeated --prompt decodes every prompt, as one batch, instead of keeping the last', async () => {
    const both = await bminf([...gen, '--prompt', '床前', '--prompt', '春眠不觉晓，', '--greedy', '--max-tokens', '12', '--json']);
    expect(both.code).toBe(0);
    const results = JSON.parse(both.stdout) as { promptIds: number[]; ids: number[]; text: string; tokensPerSecond: number }[];
    expect(results).toHaveLength(2);
    for (const [i, prompt] of ['床前', '春眠不觉晓，'].entries()) {
      const alone = JSON.parse((await bminf([...gen, '--prompt', prompt, '--greedy', '--max-tokens', '12', '--json'])).stdout);
      expect(results[i].promptIds).toEqual(alone.promptIds);
      expect(results[i].ids).toEqual(alone.ids);
      expect(results[i].text).toBe(alone.text);
    }
  });

  it('fill-blank and dialogue refuse a --max-tokens their decoder cannot hold, before generating (once "at most 0 fit" after thousands of tokens)', async () => {
    const fb = await bminf(['fill-blank', '--model', cpm2, '--text', '天<span>地', '--device', 'cpu', '--max-tokens', '4096']);
    expect(fb.code).toBe(1);
    expect(fb.stderr).toMatch(/Expected maxTokens to be at most 4095, the tokens this task's decoder can generate, but received 4096/);
    const dlg = await bminf(['dialogue', '--model', eva, '--context', '你好', '--device', 'cpu', '--max-tokens', '5000']);
    expect(dlg.code).toBe(1);
    expect(dlg.stderr).toMatch(/at most 4096, .* but received 5000/);
  });
});
