// The real bminf-migrate binary (apps/migrator/dist/bin.js, built by `pnpm build`) in child processes.
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openCheckpoint } from '@bminf/checkpoint';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { P, pickle, statePickle, torchArchive } from '../../../packages/checkpoint/test/helpers/torch.js';
import { bin, demo, demoBin, gpt2Config, migrateCli, nothingAt, TINY, writeTinyCheckpoint } from './helpers.js';

let tmp: string;
beforeAll(() => {
  if (!existsSync(bin)) throw new Error(`${bin} is missing: run \`pnpm build\` first.`);
  tmp = mkdtempSync(join(tmpdir(), 'bminf-migrate-'));
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

let n = 0;
const fresh = () => join(tmp, `case${n++}`);

describe('bminf-migrate: converting', () => {
  it('migrates the demo model from safetensors, with JSON lines and a summary', async () => {
    const out = fresh();
    const r = await migrateCli(['--input', demo, '--output', out, '--json']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const events = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
    expect(events[0]).toMatchObject({ event: 'start', architecture: 'cpm1', dtype: 'int8', tensors: 52 });
    expect(events.filter((e) => e.event === 'tensor')).toHaveLength(52);
    const s = events.at(-1);
    expect(s.event).toBe('summary');
    expect(s.outputTensors).toBe(52 + 16);
    // Linear weights: a quarter of their float32 size, plus one float16 scale per row.
    expect(s.linear.storedBytes * 4).toBe(s.linear.float32Bytes);
    expect(s.linear.scaleBytes).toBe(2 * 4 * (768 + 256 + 1024 + 256));
    expect(s.error.max).toBeGreaterThan(0);
    expect(s.error.max).toBeLessThanOrEqual(0.5 / 127 + 1e-6);
    expect(s.worst).toHaveLength(5);
    expect(readdirSync(out).sort()).toEqual([
      'config.json',
      'generation_config.json',
      'model-00001-of-00001.safetensors',
      'model.safetensors.index.json',
      'tokenizer.model',
      'tokenizer.vocab',
    ]);
    const config = JSON.parse(readFileSync(join(out, 'config.json'), 'utf8'));
    expect(config.n_layer).toBe(4);
    expect(config.bminf).toEqual({
      format: 1,
      architecture: 'cpm1',
      source: join(demo, 'model.safetensors.index.json'),
      quantization: { weights: 'int8', scheme: 'per-row-symmetric', scales: 'float16' },
    });
    const src = await openCheckpoint(out);
    expect(src.info('layers.0.attn.qkv.weight')).toMatchObject({ dtype: 'I8', shape: [768, 256] });
    expect(src.info('layers.0.attn.qkv.weight_scale')).toMatchObject({ dtype: 'F16', shape: [768] });
    expect(src.info('embed.weight')).toMatchObject({ dtype: 'F16', shape: [8000, 256] });
    await src.close();
  });

  it.skipIf(!existsSync(demoBin))('migrates the demo model from its PyTorch .bin (skipped without ../shared)', async () => {
    const input = join(tmp, 'from-bin');
    mkdirSync(input);
    for (const f of ['config.json', 'tokenizer.model']) writeFileSync(join(input, f), readFileSync(join(demo, f)));
    writeFileSync(join(input, 'pytorch_model.bin'), readFileSync(demoBin));
    const out = fresh();
    const r = await migrateCli(['--input', input, '--output', out]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/\[52\/52\] ln_final\.bias/);
    expect(r.stdout).toMatch(/Migrated 52 tensors \(68 written\) of cpm1/);
    expect(r.stdout).toMatch(/Quantization error .*max \d+\.\d+%, mean \d+\.\d+%/);
    const src = await openCheckpoint(out);
    expect(src.names()).toHaveLength(68);
    await src.close();
  });

  it('writes float16 with --dtype fp16, shards with --shard-size, and checks without writing on --dry-run', async () => {
    const out = fresh();
    const r = await migrateCli(['--input', demo, '--output', out, '--dtype', 'fp16', '--shard-size', '4MB']);
    expect(r.code).toBe(0);
    const files = readdirSync(out).filter((f) => f.endsWith('.safetensors'));
    expect(files.length).toBeGreaterThan(2);
    const config = JSON.parse(readFileSync(join(out, 'config.json'), 'utf8'));
    expect(config.bminf.quantization).toBeUndefined();
    const src = await openCheckpoint(out);
    expect(src.info('layers.0.attn.qkv.weight')).toMatchObject({ dtype: 'F16', shape: [768, 256] });
    await src.close();
    const dry = fresh();
    const d = await migrateCli(['--input', demo, '--output', dry, '--dry-run']);
    expect(d.code).toBe(0);
    expect(d.stdout).toMatch(/Dry run: cpm1, every tensor present/);
    expect(existsSync(dry)).toBe(false);
  });

  it('replaces an existing output with --force', async () => {
    const out = fresh();
    mkdirSync(out);
    writeFileSync(join(out, 'stale.txt'), 'old');
    const r = await migrateCli(['--input', demo, '--output', out, '--force', '--dtype', 'fp16']);
    expect(r.code).toBe(0);
    expect(existsSync(join(out, 'stale.txt'))).toBe(false);
    expect(existsSync(join(out, 'config.json'))).toBe(true);
  });
});

describe('bminf-migrate: bad input (clear error naming the file, non-zero exit, nothing at the output)', () => {
  async function expectFailure(args: string[], ...parts: (string | RegExp)[]) {
    const out = fresh();
    const r = await migrateCli([...args, '--output', out]);
    expect(r.code).not.toBe(0);
    const lines = r.stderr.trim().split('\n');
    const last = lines.at(-1)!;
    expect(last, r.stderr).toMatch(/^bminf-migrate: error: /);
    for (const p of parts) expect(last).toMatch(p);
    expect(nothingAt(out)).toBe(true);
    return last;
  }

  it('a truncated file (with --json, also a JSON error line on stdout)', async () => {
    const file = writeTinyCheckpoint(join(tmp, 'trunc'), { cut: 100 });
    await expectFailure(['--input', file], file, /truncated/);
    const r = await migrateCli(['--input', file, '--output', fresh(), '--json']);
    expect(r.code).toBe(1);
    const last = JSON.parse(r.stdout.trim().split('\n').at(-1)!);
    expect(last.event).toBe('error');
    expect(last.code).toBe('CHECKPOINT');
    expect(last.message).toContain(file);
  });

  it('a header length beyond the file', async () => {
    const file = writeTinyCheckpoint(join(tmp, 'hlen'), { lengthOverride: 1n << 40n });
    await expectFailure(['--input', join(tmp, 'hlen')], file, /header length .* goes beyond the end of the file/);
  });

  it('overlapping offsets', async () => {
    const file = writeTinyCheckpoint(join(tmp, 'overlap'), {
      tamper: (h) => {
        const [b, e] = h['transformer.wpe.weight'].data_offsets;
        h['transformer.wpe.weight'].data_offsets = [b - 8, e - 8];
      },
    });
    await expectFailure(['--input', file], file, /"transformer\.wte\.weight".*"transformer\.wpe\.weight".*overlapping/);
  });

  it('out-of-range offsets', async () => {
    const file = writeTinyCheckpoint(join(tmp, 'range'), {
      tamper: (h) => {
        const [b, e] = h['transformer.ln_f.bias'].data_offsets;
        h['transformer.ln_f.bias'].data_offsets = [b + 64, e + 64];
      },
    });
    await expectFailure(['--input', file], file, /tensor "transformer\.ln_f\.bias": data_offsets .* go beyond the end of the data area/);
  });

  it('an unknown dtype', async () => {
    const file = writeTinyCheckpoint(join(tmp, 'dtype'), {
      tamper: (h) => {
        h['transformer.h.0.ln_1.weight'].dtype = 'Q4_K';
      },
    });
    await expectFailure(['--input', file], file, /tensor "transformer\.h\.0\.ln_1\.weight": unknown dtype "Q4_K"/);
  });

  it('a tensor missing for the architecture', async () => {
    const file = writeTinyCheckpoint(join(tmp, 'missing'), { drop: ['transformer.h.1.mlp.c_fc.weight'] });
    await expectFailure(['--input', file], file, /lacks 1 tensor\(s\) that cpm1 needs: "transformer\.h\.1\.mlp\.c_fc\.weight" \(for layers\.1\.ff\.in\.weight\)/);
  });

  it('a shape that disagrees with the config', async () => {
    const file = writeTinyCheckpoint(join(tmp, 'shape'), { configOverride: { n_inner: 48 } });
    await expectFailure(['--input', file], file, /"transformer\.h\.0\.mlp\.c_fc\.weight" has shape \[16, 64\] but .*config\.json implies \[16, 48\]/);
  });

  it('a pickle asking for os.system or builtins.eval: refused by name, nothing ran', async () => {
    for (const [mod, fn] of [
      ['os', 'system'],
      ['builtins', 'eval'],
    ]) {
      const dir = join(tmp, `evil-${fn}`);
      mkdirSync(dir);
      writeFileSync(join(dir, 'config.json'), JSON.stringify(gpt2Config(TINY)));
      const marker = join(dir, 'PWNED');
      const payload = fn === 'system' ? `touch ${marker}` : `open(${JSON.stringify(marker)}, 'w')`;
      const evil = pickle(P.str('x'), P.global(mod, fn), P.str(payload), P.tuple1(), P.reduce(), P.setitem());
      const pkl = statePickle([{ name: 'transformer.wte.weight', storage: 'FloatStorage', key: '0', numel: 1, size: [1] }], evil);
      const file = join(dir, 'pytorch_model.bin');
      writeFileSync(file, torchArchive(pkl, { 0: new Uint8Array(4) }));
      await expectFailure(['--input', dir, '--model', 'cpm1'], file, new RegExp(`refusing to load it: the pickle asks for ${mod}\\.${fn}.*may be malicious`));
      expect(existsSync(marker)).toBe(false);
    }
  });

  it('an existing output folder without --force (left untouched)', async () => {
    const out = fresh();
    mkdirSync(out);
    writeFileSync(join(out, 'keep.txt'), 'mine');
    const r = await migrateCli(['--input', demo, '--output', out]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(new RegExp(`bminf-migrate: error: ${out}: already exists\\..*--force`));
    expect(readdirSync(out)).toEqual(['keep.txt']);
    expect(readdirSync(tmp).some((f) => f.startsWith(`.${out.split('/').pop()}.tmp-`))).toBe(false);
  });

  it('a write that fails midway (file size limit): temporary output removed', async () => {
    // Every tensor in its own shard; the first shards fit under 64 KiB, layer 0's c_fc (256x4096 int8 = 1 MiB) does not.
    const config = { ...TINY, d: 256, dff: 4096, vocab: 32 };
    const dir = join(tmp, 'efbig');
    writeTinyCheckpoint(dir, { config });
    const out = fresh();
    const r = await migrateCli(['--input', dir, '--output', out, '--shard-size', '1'], { ulimitFileKB: 512 });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/\[\s*\d+\/\d+\] layers\.0\.attn\.qkv\.weight/); // some tensors were written first
    expect(r.stderr).toMatch(/bminf-migrate: error: .*case\d+\/model-\d+-of-\d+\.safetensors: writing tensor "layers\.0\.ff\.in\.weight" failed \(EFBIG/);
    expect(nothingAt(out)).toBe(true);
  });

  it('usage errors exit 2: a bad --shard-size, an unknown --model, a missing --input', async () => {
    const a = await migrateCli(['--input', demo, '--output', fresh(), '--shard-size', 'lots']);
    expect(a.code).toBe(2);
    expect(a.stderr).toMatch(/--shard-size must be a size such as 2GB/);
    const b = await migrateCli(['--input', demo, '--output', fresh(), '--model', 'gpt5']);
    expect(b.code).toBe(2);
    expect(b.stderr).toMatch(/Allowed choices are auto, cpm1, cpm2, eva/);
    const c = await migrateCli(['--output', fresh()]);
    expect(c.code).toBe(2);
    expect(c.stderr).toMatch(/required option '--input <path>'/);
  });

  it('a missing config.json, and an output inside the input', async () => {
    const dir = join(tmp, 'noconfig');
    writeTinyCheckpoint(dir);
    rmSync(join(dir, 'config.json'));
    await expectFailure(['--input', dir], join(dir, 'config.json'), /does not exist/);
    const r = await migrateCli(['--input', dir, '--output', dir, '--force']);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/would replace the input/);
    expect(existsSync(join(dir, 'model.safetensors'))).toBe(true);
  });
});
