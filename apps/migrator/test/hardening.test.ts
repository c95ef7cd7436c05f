// bminf-migrate against careless and hostile input (issue 11), through the real binary: nothing the
// user did not ask for is written or removed, crafted files fail fast with bounded memory, and the
// process ends cleanly however it is stopped.
import { spawn, spawnSync } from 'node:child_process';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sharedDicts, torchArchive } from '../../../packages/checkpoint/test/helpers/torch.js';
import { bin, demo, gpt2Config, migrateCli, nothingAt, TINY, writeTinyCheckpoint } from './helpers.js';

let tmp: string;
beforeAll(() => {
  if (!existsSync(bin)) throw new Error(`${bin} is missing: run \`pnpm build\` first.`);
  tmp = mkdtempSync(join(tmpdir(), 'bminf-migrate-hard-'));
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

let n = 0;
const fresh = () => join(tmp, `case${n++}`);
const snapshot = (dir: string) => Object.fromEntries(readdirSync(dir).map((f) => [f, readFileSync(join(dir, f)).toString('base64')]));

describe('item 1: the input is never replaced, also through a symbolic link', () => {
  it('refuses --output src --force when --input is a link to src, and src is untouched', async () => {
    const dir = fresh();
    const src = join(dir, 'src');
    writeTinyCheckpoint(src);
    symlinkSync(src, join(dir, 'alias'));
    const before = snapshot(src);
    const r = await migrateCli(['--input', join(dir, 'alias'), '--output', src, '--force']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/would replace the input .*alias \(through symbolic links/);
    expect(snapshot(src)).toEqual(before);
  });

  it('refuses an --output that is a link to the input folder', async () => {
    const dir = fresh();
    const src = join(dir, 'src');
    writeTinyCheckpoint(src);
    symlinkSync(src, join(dir, 'out'));
    const before = snapshot(src);
    const r = await migrateCli(['--input', src, '--output', join(dir, 'out'), '--force']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/would replace the input/);
    expect(snapshot(src)).toEqual(before);
  });
});

describe('items 2 and 3: crafted inputs are refused instead of hanging or exhausting memory', () => {
  it('a 40-level memo-shared pickle (once 67 s and 3.9 GB, then "Map maximum size exceeded")', async () => {
    const dir = fresh();
    mkdirSync(dir);
    writeFileSync(join(dir, 'config.json'), JSON.stringify(gpt2Config(TINY)));
    writeFileSync(join(dir, 'pytorch_model.bin'), torchArchive(sharedDicts(40), {}));
    const r = await migrateCli(['--input', dir, '--output', fresh(), '--dry-run'], { timeoutMs: 30_000 }); // killed if it hangs
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/pytorch_model\.bin: the pickle is not a state dict bminf reads: the dict at ".*" is also reached from another key/);
  });

  it('n_layer 1e8 in config.json (once a heap-limit crash after 60-90 s)', async () => {
    const dir = fresh();
    writeTinyCheckpoint(dir, { configOverride: { n_layer: 1e8 } });
    const r = await migrateCli(['--input', dir, '--output', fresh()], { timeoutMs: 30_000 }); // killed if it runs away
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/config\.json: config\.json is not a CPM-1 \(GPT-2\) config bminf can run: n_layer: .*1024/);
  });

  it('a config.json that is a FIFO or /dev/zero is refused, not read forever', async () => {
    for (const make of [(p: string) => execFileSync('mkfifo', [p]), (p: string) => symlinkSync('/dev/zero', p)]) {
      const dir = fresh();
      writeTinyCheckpoint(dir);
      rmSync(join(dir, 'config.json'));
      make(join(dir, 'config.json'));
      const r = await migrateCli(['--input', dir, '--output', fresh(), '--dry-run'], { timeoutMs: 30_000 });
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/config\.json: it is a (FIFO|device), not config\.json; bminf reads only regular files/);
    }
  });
});

describe('item 4: a closed stdout', () => {
  it('--json | head -c1 ends quietly with 141 and removes the staging folder', async () => {
    const out = fresh();
    const child = spawn(process.execPath, [bin, '--input', demo, '--output', out, '--json'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    child.stdout.once('data', () => child.stdout.destroy()); // the reader goes away after its first byte
    const code = await new Promise<number | null>((done) => child.on('close', (c) => done(c)));
    expect(stderr).toBe('');
    expect(code).toBe(141);
    expect(nothingAt(out)).toBe(true);
  });
});

describe('item 6: damaged and mismatched weights', () => {
  const nanAt = (name: string) => (h: Record<string, { data_offsets: [number, number] }>) => h[name].data_offsets;

  it('refuses a NaN in a linear weight (once converted with exit 0 and "mean NaN%"), or converts it with --allow-nonfinite, naming it', async () => {
    const dir = fresh();
    const file = writeTinyCheckpoint(dir);
    // Poison one float of h.1's c_fc weight in place.
    const bytes = readFileSync(file);
    const headerLen = Number(bytes.readBigUInt64LE(0));
    const header = JSON.parse(bytes.subarray(8, 8 + headerLen).toString('utf8'));
    const [begin] = nanAt('transformer.h.1.mlp.c_fc.weight')(header);
    bytes.writeFloatLE(Number.NaN, 8 + headerLen + begin + 12);
    writeFileSync(file, bytes);
    const out = fresh();
    const r = await migrateCli(['--input', dir, '--output', out]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/tensor "transformer\.h\.1\.mlp\.c_fc\.weight" holds 1 NaN or infinite value\(s\) of 1024: the weights are damaged; nothing was written/);
    expect(nothingAt(out)).toBe(true);
    const ok = await migrateCli(['--input', dir, '--output', out, '--allow-nonfinite', '--json']);
    expect(ok.code).toBe(0);
    const summary = JSON.parse(ok.stdout.trim().split('\n').at(-1)!);
    expect(summary.nonFinite).toEqual([{ name: 'layers.1.ff.in.weight', count: 1 }]);
    expect(Number.isFinite(summary.error.mean)).toBe(true);
  });

  it('reports the tensors a config with fewer layers leaves unused (once silent)', async () => {
    const dir = fresh();
    writeTinyCheckpoint(dir, { configOverride: { n_layer: 1 } });
    const r = await migrateCli(['--input', dir, '--output', fresh(), '--json']);
    expect(r.code).toBe(0);
    const summary = JSON.parse(r.stdout.trim().split('\n').at(-1)!);
    expect(summary.unused).toHaveLength(12);
    expect(summary.unused.every((n: string) => n.startsWith('transformer.h.1.'))).toBe(true);
    const text = await migrateCli(['--input', dir, '--output', fresh()]);
    expect(text.stdout).toMatch(/Not used by the model config\.json describes \(12 tensor\(s\)\): transformer\.h\.1\.ln_1\.weight/);
  });
});

describe('item 7: leftovers and signals', () => {
  it("removes a dead process's staging folder (a SIGKILLed run's) and keeps a live one's", async () => {
    const out = fresh();
    const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']).stdout.toString();
    const stale = join(tmp, `.${out.split('/').pop()}.tmp-${dead}-0badc0de`);
    const live = join(tmp, `.${out.split('/').pop()}.tmp-${process.pid}-0badc0de`);
    for (const d of [stale, live]) {
      mkdirSync(d);
      writeFileSync(join(d, 'model-00001-of-00001.safetensors'), new Uint8Array(1000));
    }
    const r = await migrateCli(['--input', demo, '--output', out]);
    expect(r.code).toBe(0);
    expect(existsSync(stale)).toBe(false);
    expect(existsSync(live)).toBe(true);
    rmSync(live, { recursive: true });
  });

  it.each([
    ['SIGINT', 130],
    ['SIGTERM', 143],
  ] as const)('%s stops the run with exit %i (once 1) and leaves nothing', async (signal, expected) => {
    const out = fresh();
    const child = spawn(process.execPath, [bin, '--input', demo, '--output', out, '--json', '--no-native'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let sent = false; // once: a second signal would end the process at once, as a second Ctrl-C should
    child.stdout.on('data', (d) => {
      stdout += d;
      if (!sent && stdout.includes('"event":"tensor"')) sent = child.kill(signal);
    });
    const code = await new Promise<number | null>((done) => child.on('close', (c) => done(c)));
    expect(code).toBe(expected);
    expect(stdout.trim().split('\n').at(-1)).toMatch(new RegExp(`"event":"error".*interrupted \\(${signal}\\)`));
    expect(nothingAt(out)).toBe(true);
  });
});

describe('item 8: usage errors under --json', () => {
  it('print a JSON error line on stdout too (once nothing)', async () => {
    const r = await migrateCli(['--input', demo, '--json']);
    expect(r.code).toBe(2);
    expect(JSON.parse(r.stdout.trim())).toMatchObject({ event: 'error', code: 'USAGE', message: expect.stringMatching(/required option '--output <dir>'/) });
    const size = await migrateCli(['--input', demo, '--output', fresh(), '--shard-size', 'lots', '--json']);
    expect(size.code).toBe(2);
    expect(JSON.parse(size.stdout.trim())).toMatchObject({ event: 'error', code: 'USAGE' });
  });
});
