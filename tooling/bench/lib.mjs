// The benchmark runner: runs suites (tooling/bench/suites/*.mjs) and writes each one's table into its
// own section of BENCHMARKS.md, with the machine and the date. A suite exports
// { title, async run() → { columns, rows, notes? } }.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync, copyFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
export const repoRoot = join(here, '..', '..');
const benchFile = join(repoRoot, 'BENCHMARKS.md');

/** Seconds per call of fn: one warm-up call, then as many calls as fit in minSeconds. */
export function timeIt(fn, minSeconds = 2) {
  fn();
  let n = 0;
  const t0 = performance.now();
  while (performance.now() - t0 < minSeconds * 1000) {
    fn();
    n++;
  }
  return (performance.now() - t0) / 1000 / n;
}

/** The median of xs. */
export function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

/** n token ids spread over a vocabulary (clear of its first and last few hundred), different per salt. */
export function syntheticIds(n, vocab, salt) {
  return Array.from({ length: n }, (_, i) => 10 + ((i * 7919 + salt * 104729) % (vocab - 300)));
}

/** "median (min–max)", rounded to integers. */
export function medianRange(xs) {
  return `${median(xs).toFixed(0)} (${Math.min(...xs).toFixed(0)}–${Math.max(...xs).toFixed(0)})`;
}

export function machine(gpu) {
  const cpu = `${cpus()[0]?.model?.trim() ?? 'unknown CPU'} (${cpus().length} threads, ${(totalmem() / 2 ** 30).toFixed(0)} GiB)`;
  if (!gpu) return cpu;
  try {
    const name = execFileSync('nvidia-smi', ['--query-gpu=name,memory.total,driver_version', '--format=csv,noheader'], { encoding: 'utf8' }).trim();
    return `${name} (driver) · host ${cpu}`;
  } catch {
    return `no GPU found · host ${cpu}`;
  }
}

export function table({ columns, rows }) {
  const fmt = (v) => (typeof v === 'number' ? (Math.abs(v) >= 100 ? v.toFixed(0) : Math.abs(v) >= 10 ? v.toFixed(1) : v.toFixed(2)) : String(v));
  return [`| ${columns.join(' | ')} |`, `| ${columns.map(() => '---').join(' | ')} |`, ...rows.map((r) => `| ${r.map(fmt).join(' | ')} |`)].join('\n');
}

export function writeSection(title, body) {
  let md = existsSync(benchFile)
    ? readFileSync(benchFile, 'utf8')
    : '# Benchmarks\n\nWritten by `pnpm bench` (CPU) and `pnpm bench:gpu` (GPU machine). Each section is replaced when its suite runs again; ratios are measured within one run, on one machine.\n';
  const heading = `## ${title}`;
  const start = md.indexOf(`\n${heading}\n`);
  const section = `\n${heading}\n\n${body.trim()}\n`;
  if (start < 0) md = `${md.trimEnd()}\n${section}`;
  else {
    const next = md.indexOf('\n## ', start + heading.length + 1);
    md = md.slice(0, start) + section + (next < 0 ? '' : md.slice(next));
  }
  writeFileSync(benchFile, `${md.trimEnd()}\n`);
}

export async function runSuites({ gpu, filter }) {
  const dir = join(here, 'suites');
  const files = readdirSync(dir)
    .filter((f) => f.endsWith('.mjs') && f.startsWith('gpu-') === gpu)
    .filter((f) => !filter || f.includes(filter))
    .sort();
  if (files.length === 0) {
    console.error(`bench: no ${gpu ? 'GPU' : 'CPU'} suites${filter ? ` matching "${filter}"` : ''} in ${dir}`);
    process.exitCode = 1;
    return;
  }
  const where = machine(gpu);
  const date = new Date().toISOString().slice(0, 10);
  for (const f of files) {
    const suite = (await import(pathToFileURL(join(dir, f)).href)).default;
    console.error(`bench: ${suite.title} (${f}) ...`);
    const t0 = performance.now();
    const loadBefore = loadavg()[0];
    let result;
    try {
      result = await suite.run();
    } catch (e) {
      console.error(`bench: ${f} failed: ${e?.stack ?? e}`);
      process.exitCode = 1;
      continue;
    }
    // Other work on the machine skews timings: the 1-minute load average says how much there was.
    const load = `Load average (1 min) before / after: ${loadBefore.toFixed(1)} / ${loadavg()[0].toFixed(1)} on ${cpus().length} CPUs${Math.max(loadBefore, loadavg()[0]) > cpus().length ? ' (the machine was shared with other work while this ran)' : ''}.`;
    const body = `Machine: ${where}. Date: ${date}. Suite: \`tooling/bench/suites/${f}\` (${((performance.now() - t0) / 1000).toFixed(0)} s). ${load}\n\n${table(result)}\n${result.notes ? `\n${result.notes}\n` : ''}`;
    writeSection(suite.title, body);
    console.log(`\n## ${suite.title}\n${table(result)}\n`);
  }
  if (process.env.BENCH_OUT) {
    mkdirSync(process.env.BENCH_OUT, { recursive: true });
    copyFileSync(benchFile, join(process.env.BENCH_OUT, 'BENCHMARKS.md'));
  }
}
