// The demo server under load (a benchmark, not a test): the server runs in a child process on
// 127.0.0.1; N clients each stream completions back to back for S seconds (global fetch only, so it
// runs wherever node does). Reports request latency and time to first token (p50/p99), generated
// tokens/s, answers by status, and the server's resident memory through each run.
//
//   node tooling/bench/server-load.mjs --model models/tiny-cpm1 --device cpu --clients 16 --seconds 60
//   node tooling/bench/server-load.mjs --random-cpm2 2 --device cuda --clients 1,8,32 --max-batch 32 --seconds 60 --write
//
// --random-cpm2 L serves randomCpm2Model at CPM-2's width (d 4096, 64 heads, d_ff 10240, vocabulary
// 26240) with L encoder and L decoder layers (random int8 weights: the text is gibberish, the work is
// real). --clients takes a list: one run each, against one server. --write puts the table into
// BENCHMARKS.md (and BENCH_OUT/BENCHMARKS.md when BENCH_OUT is set, for the GPU machine).
import { spawn } from 'node:child_process';
import { copyFileSync, mkdirSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const { values: args } = parseArgs({
  options: {
    model: { type: 'string', default: 'models/tiny-cpm1' },
    'random-cpm2': { type: 'string' },
    device: { type: 'string', default: 'cpu' },
    dtype: { type: 'string', default: 'int8' },
    clients: { type: 'string', default: '16' },
    seconds: { type: 'string', default: '60' },
    'max-batch': { type: 'string', default: '8' },
    'max-queue': { type: 'string', default: '32' },
    'max-tokens': { type: 'string', default: '32' },
    prompt: { type: 'string', default: '床前明月光，疑是地上霜。' },
    write: { type: 'boolean', default: false },
    child: { type: 'boolean', default: false },
  },
});
const here = fileURLToPath(new URL('.', import.meta.url));
const repoRoot = join(here, '..', '..');

/** The child: starts the server and prints its URL (one JSON line) on stdout. */
async function serve() {
  const { startServer } = await import('@bminf/server');
  const maxBatch = Number(args['max-batch']);
  let model;
  if (args['random-cpm2']) {
    const { CPM2_CONFIG, randomCpm2Model } = await import('@bminf/models');
    const layers = Number(args['random-cpm2']);
    const config = { ...CPM2_CONFIG, numEncoderLayers: layers, numDecoderLayers: layers };
    model = { model: randomCpm2Model(config, { dtype: args.dtype, device: args.device, seed: 11 }), id: `random-cpm2-${layers}+${layers}-layers` };
  } else {
    model = { dir: resolve(repoRoot, args.model), dtype: args.dtype, device: args.device };
  }
  const server = await startServer({ model, port: 0, maxBatch, maxQueue: Number(args['max-queue']), log: false });
  const served = await server.ready;
  process.stdout.write(`${JSON.stringify({ url: server.url, id: served.id, device: served.device, dtype: served.dtype })}\n`);
  process.once('SIGTERM', () => void server.close().then(() => process.exit(0)));
}

function startChild() {
  const childArgs = process.argv.slice(2).filter((a) => a !== '--write');
  const child = spawn(process.execPath, [fileURLToPath(import.meta.url), ...childArgs, '--child'], { stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolveInfo, reject) => {
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
      const nl = out.indexOf('\n');
      if (nl >= 0) resolveInfo({ child, ...JSON.parse(out.slice(0, nl)) });
    });
    child.once('exit', (code) => reject(new Error(`the server exited with ${code}`)));
  });
}

async function residentBytes(url) {
  const text = await (await fetch(`${url}/metrics`)).text();
  return Number(/^bminf_process_resident_memory_bytes (\d+)/m.exec(text)?.[1] ?? NaN);
}

/** One streamed completion: latency, time to first token, tokens, status. */
async function oneRequest(url) {
  const t0 = performance.now();
  let res;
  try {
    res = await fetch(`${url}/v1/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ prompt: args.prompt, max_tokens: Number(args['max-tokens']), temperature: 1, stop: [], stream: true }),
    });
  } catch {
    return { status: 'network' };
  }
  if (res.status !== 200) {
    await res.arrayBuffer();
    return { status: String(res.status) };
  }
  const decoder = new TextDecoder();
  let ttft = null;
  let text = '';
  for await (const bytes of res.body) {
    ttft ??= performance.now() - t0;
    text += decoder.decode(bytes, { stream: true });
  }
  const usage = /"completion_tokens":(\d+)/.exec(text);
  const ok = text.endsWith('data: [DONE]\n\n') && usage;
  return { status: ok ? '200' : 'broken stream', ms: performance.now() - t0, ttft, tokens: usage ? Number(usage[1]) : 0 };
}

/** clients streaming back to back for `seconds`; the server's RSS sampled every second meanwhile. */
async function load(url, clients, seconds) {
  const deadline = performance.now() + seconds * 1000;
  const results = [];
  const rss = [await residentBytes(url)];
  const t0 = performance.now();
  const sampler = setInterval(() => void residentBytes(url).then((b) => rss.push(b)), 1000);
  await Promise.all(
    Array.from({ length: clients }, async () => {
      while (performance.now() < deadline) results.push(await oneRequest(url));
    }),
  );
  clearInterval(sampler);
  rss.push(await residentBytes(url));
  return { results, seconds: (performance.now() - t0) / 1000, rss };
}

const pct = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] : NaN;
};

async function main() {
  const { machine, table, writeSection } = await import('./lib.mjs');
  const server = await startChild();
  const rows = [];
  try {
    // Warm-up: the first requests allocate the pool's buffers and the engine's slots.
    await Promise.all(Array.from({ length: Number(args['max-batch']) }, () => oneRequest(server.url)));
    for (const clients of args.clients.split(',').map(Number)) {
      console.error(`server-load: ${clients} clients for ${args.seconds} s against ${server.id} (${server.device}, ${server.dtype}) ...`);
      const { results, seconds, rss } = await load(server.url, clients, Number(args.seconds));
      const ok = results.filter((r) => r.status === '200');
      const byStatus = {};
      for (const r of results) byStatus[r.status] = (byStatus[r.status] ?? 0) + 1;
      const tokens = ok.reduce((a, r) => a + r.tokens, 0);
      rows.push([
        String(clients),
        String(ok.length),
        Object.entries(byStatus).map(([s, n]) => `${s}: ${n}`).join(', '),
        pct(ok.map((r) => r.ms), 50),
        pct(ok.map((r) => r.ms), 99),
        pct(ok.map((r) => r.ttft), 50),
        pct(ok.map((r) => r.ttft), 99),
        tokens / seconds,
        ...[rss[0], rss[Math.floor(rss.length / 2)], rss.at(-1), Math.max(...rss)].map((b) => b / 2 ** 20),
      ]);
    }
  } finally {
    server.child.kill('SIGTERM');
  }
  const result = {
    columns: ['clients', 'requests', 'answers by status', 'p50 latency (ms)', 'p99 latency (ms)', 'p50 first token (ms)', 'p99 first token (ms)', 'generated tokens/s', 'server RSS at start (MiB)', 'at half time', 'at the end', 'peak'],
    rows,
  };
  const model = args['random-cpm2'] ? server.id : basename(args.model);
  const title = `Server load: ${model} on ${server.device === 'cuda' ? 'the GPU' : 'the CPU'} (${server.dtype})`;
  const body =
    `Machine: ${machine(server.device === 'cuda')}. Date: ${new Date().toISOString().slice(0, 10)}. Script: \`tooling/bench/server-load.mjs ${process.argv.slice(2).join(' ')}\`.\n\n` +
    `${table(result)}\n\n` +
    `Each client streams completions back to back for ${args.seconds} s (prompt "${args.prompt}", max_tokens ${args['max-tokens']}, temperature 1, no stop) against bminf-server in a child process on 127.0.0.1 ` +
    `(--max-batch ${args['max-batch']}, --max-queue ${args['max-queue']}), after a warm-up of ${args['max-batch']} requests. Latency: the whole streamed request; first token: until its first bytes. ` +
    'RSS: the server process (its /metrics), sampled every second of each run.\n';
  console.log(`\n## ${title}\n\n${body}`);
  if (args.write) {
    writeSection(title, body);
    if (process.env.BENCH_OUT) {
      mkdirSync(process.env.BENCH_OUT, { recursive: true });
      copyFileSync(join(repoRoot, 'BENCHMARKS.md'), join(process.env.BENCH_OUT, 'BENCHMARKS.md'));
    }
  }
}

if (args.child) await serve();
else await main();
