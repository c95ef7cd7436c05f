// bminf-migrate on a synthetic CPM-2-shaped checkpoint of more than 4 GB (float32, T5 names; written by
// streaming into a temporary folder, deleted afterwards), migrated to int8 in a child process: its
// throughput, and its peak resident memory (VmHWM, polled from /proc) against the largest tensor.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeSafetensors } from '@bminf/checkpoint';
import { detectArchitecture } from '@bminf/models';
import { repoRoot } from '../lib.mjs';

// CPM-2's widths (d 4096, 64 heads x 64, d_ff 10240, vocab 26240) with 2 + 2 layers: 4.5 GB of float32.
const config = {
  model_type: 't5',
  architectures: ['T5ForConditionalGeneration'],
  d_model: 4096,
  d_kv: 64,
  d_ff: 10240,
  num_heads: 64,
  num_layers: 2,
  num_decoder_layers: 2,
  relative_attention_num_buckets: 32,
  relative_attention_max_distance: 128,
  vocab_size: 26240,
  feed_forward_proj: 'gated-gelu',
  tie_word_embeddings: false,
};

/** Deterministic weights: a 16 MiB block of pseudo-random values, copied with a per-tensor scale. */
function filler() {
  const block = new Float32Array(1 << 22);
  let s = 12345;
  for (let i = 0; i < block.length; i++) {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    block[i] = (s / 2 ** 32 - 0.5) * 0.1;
  }
  return (n, k) => {
    const out = new Float32Array(n);
    for (let o = 0; o < n; o += block.length) out.set(block.subarray(0, Math.min(block.length, n - o)), o);
    for (let i = k % 997; i < n; i += 997) out[i] *= 3; // some rows with larger outliers
    return out;
  };
}

function peakRss(pid) {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0; // the process has exited
  }
}

const mb = (x) => x / 1e6;

/** Runs bminf-migrate in a child process; its summary, wall time and peak RSS. */
async function migrateChild(bin, src, out, native) {
  const started = performance.now();
  const args = [bin, '--input', src, '--output', out, '--json', ...(native ? [] : ['--no-native'])];
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let peak = 0;
  const timer = setInterval(() => {
    peak = Math.max(peak, peakRss(child.pid));
  }, 50);
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => {
    stdout += d;
    peak = Math.max(peak, peakRss(child.pid));
  });
  child.stderr.on('data', (d) => (stderr += d));
  const code = await new Promise((resolve) => child.on('close', resolve));
  clearInterval(timer);
  const wall = (performance.now() - started) / 1000;
  if (code !== 0) throw new Error(`bminf-migrate exited with ${code}: ${stderr.trim()}`);
  return { summary: JSON.parse(stdout.trim().split('\n').at(-1)), wall, peak };
}

export default {
  title: 'CPU: bminf-migrate throughput and peak memory (synthetic CPM-2-shaped checkpoint)',
  async run() {
    const bin = join(repoRoot, 'apps', 'migrator', 'dist', 'bin.js');
    if (!existsSync(bin)) throw new Error(`${bin} is missing: run \`pnpm build\` first.`);
    const tmp = mkdtempSync(join(tmpdir(), 'bminf-bench-migrate-'));
    try {
      const src = join(tmp, 'cpm2-synthetic');
      const plans = detectArchitecture(config).plan(config);
      const fill = filler();
      const t0 = performance.now();
      await writeSafetensors(
        src,
        plans.map((p, k) => ({ name: p.source, dtype: 'F32', shape: p.shape, data: () => fill(p.shape.reduce((a, b) => a * b, 1), k) })),
        { maxShardBytes: 2 * 1024 ** 3 },
      );
      writeFileSync(join(src, 'config.json'), JSON.stringify(config));
      const genSeconds = (performance.now() - t0) / 1000;
      const total = plans.reduce((a, p) => a + 4 * p.shape.reduce((x, y) => x * y, 1), 0);
      const largest = Math.max(...plans.map((p) => 4 * p.shape.reduce((x, y) => x * y, 1)));

      const rows = [];
      let summary;
      for (const native of [true, false]) {
        const out = join(tmp, `out-${native}`);
        const r = await migrateChild(bin, src, out, native);
        summary = r.summary;
        rows.push([
          r.summary.kernels,
          (total / 1e9).toFixed(2),
          String(r.summary.tensors),
          mb(largest),
          (r.summary.bytesOut / 1e9).toFixed(2),
          r.wall,
          mb(total) / r.wall,
          mb(r.peak),
          (r.peak / largest).toFixed(2),
        ]);
        rmSync(out, { recursive: true, force: true });
      }
      return {
        columns: ['kernels', 'checkpoint (GB)', 'tensors', 'largest tensor (MB)', 'output (GB)', 'time (s)', 'MB/s', 'peak RSS (MB)', 'peak RSS / largest tensor'],
        rows,
        notes:
          `float32 safetensors (${plans.length} tensors, T5 names, 2 encoder + 2 decoder layers at CPM-2's widths; generated in ${genSeconds.toFixed(0)} s, ` +
          `read back from the page cache) → int8 weights + float16 scales and float16 embeddings, norms; once with the native addon's quantize/cast kernels, ` +
          `once with --no-native (TypeScript only; the same bytes). MB/s = input bytes / wall time of the child process (start-up included). ` +
          `Peak RSS is VmHWM of the child, polled from /proc every 50 ms; the goal is under ~2x the largest tensor plus a fixed overhead. ` +
          `Max relative quantization error ${(100 * summary.error.max).toFixed(3)}%, mean ${(100 * summary.error.mean).toFixed(3)}%.`,
      };
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  },
};
