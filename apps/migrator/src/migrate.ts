// The migration itself: open, check, then stream tensor by tensor (read → transpose → quantize or
// cast → write) into a staging folder that becomes the output only when everything is written.
import { chmod, copyFile, readdir, writeFile } from 'node:fs/promises';
import { basename, dirname, join, resolve, sep } from 'node:path';
import { existsSync, realpathSync, statSync } from 'node:fs';
import { AbortedError, CheckpointError, countNonFinite, InvalidArgumentError } from '@bminf/core';
import { type CheckpointSource, openCheckpoint, SafetensorsWriter, type TensorData, numelOf, sourceDTypeSize } from '@bminf/checkpoint';
import { type ArchitectureName, checkTies } from '@bminf/models/plans';
import { type Converted, convertTensor, type OutputDType } from './convert.js';
import { Scratch } from './scratch.js';
import { loadAccelerator } from './accel.js';
import { adaptLayout, MappedSource } from './layouts.js';
import { findConfig, matchSource, outputSpecs, planFor, type Step } from './source-plan.js';

export interface MigrateOptions {
  input: string;
  output: string;
  model?: 'auto' | ArchitectureName;
  dtype?: OutputDType;
  /** Maximum bytes of tensor data per shard (default 2 GiB). */
  shardSize?: number;
  dryRun?: boolean;
  force?: boolean;
  /** Use the native addon's quantizer and float16 cast when it loads (default true; the bytes are the same). */
  native?: boolean;
  /** Convert tensors holding NaN or infinity instead of refusing them (each is named in the summary's `nonFinite`). */
  allowNonFinite?: boolean;
  signal?: AbortSignal;
  onEvent?: (event: MigrateEvent) => void;
}

export interface TensorReport {
  name: string;
  source: string;
  shape: number[];
  bytesIn: number;
  bytesOut: number;
  maxRelError?: number;
  meanRelError?: number;
  /** NaN and infinite values in the source tensor (converted only with allowNonFinite). */
  nonFinite?: number;
}

export type MigrateEvent =
  | { event: 'start'; input: string; output: string; architecture: string; layout: string; dtype: OutputDType; tensors: number; bytesIn: number; dryRun: boolean }
  | ({ event: 'tensor'; index: number; total: number; bytesDone: number; bytesTotal: number } & TensorReport)
  | ({ event: 'summary' } & MigrateSummary);

export interface MigrateSummary {
  input: string;
  output: string;
  architecture: string;
  /** The source's naming: 'huggingface', or an original release's layout ('cpm1-original', 'cpm2-original'). */
  layout: string;
  /** Which code quantized and cast: the native addon's kernels, or TypeScript (absent on a dry run). */
  kernels?: 'native' | 'typescript';
  dtype: OutputDType;
  dryRun: boolean;
  /** Source tensors converted (planned ones, when dry). */
  tensors: number;
  /** Tensors written (a quantized weight gives two: values and scales). */
  outputTensors: number;
  bytesIn: number;
  bytesOut: number;
  seconds: number;
  /** Linear weights: their float32 size, and what they became (int8 values, or float16 with dtype fp16, + float16 scales). */
  linear: { count: number; float32Bytes: number; storedBytes: number; scaleBytes: number };
  /** Over every quantized weight: the largest max relative error and the mean of the means. */
  error?: { max: number; mean: number };
  /** The quantized weights with the largest max relative error (then mean), worst first. */
  worst: { name: string; maxRelError: number; meanRelError: number }[];
  /** Source tensors that no output uses (a config.json with fewer layers than the checkpoint, say). */
  unused: string[];
  /** Tensors converted with NaN or infinite values (allowNonFinite), by name; they are left out of `error` and `worst`. */
  nonFinite: { name: string; count: number }[];
}

// Files that travel with the weights: tokenizers (SentencePiece, WordPiece vocab.txt, HF tokenizer.json) and generation defaults.
const TOKENIZER_FILE =
  /^(tokenizer\.(json|model|vocab)|tokenizer_config\.json|vocab\.(txt|json)|spiece\.model|merges\.txt|special_tokens_map\.json|added_tokens\.json|generation_config\.json)$/;

/**
 * The real path of `p` (symlinks resolved), for a path that may not exist yet: the nearest existing
 * ancestor is resolved and the rest appended. Comparing resolve()d paths alone would miss an input
 * reached through a symlink, and --force would then replace the input with the output.
 */
function realPathOf(p: string): string {
  const rest: string[] = [];
  let at = p;
  for (;;) {
    try {
      return join(realpathSync(at), ...rest.reverse());
    } catch {
      const up = dirname(at);
      if (up === at) return p;
      rest.push(basename(at));
      at = up;
    }
  }
}

function checkPaths(input: string, output: string): void {
  const realIn = realPathOf(input);
  const realOut = realPathOf(output);
  // Replacing the output (--force) removes it: it may not be the input or a folder that holds it.
  const within = (a: string, b: string) => a === b || a.startsWith(b.endsWith(sep) ? b : b + sep);
  if (within(input, output) || within(realIn, realOut)) {
    throw new InvalidArgumentError(
      `The output ${output} would replace the input ${input}${realIn !== input || realOut !== output ? ` (through symbolic links: ${realOut} and ${realIn})` : ''}.`,
      { hint: 'Choose an output folder outside the input.' },
    );
  }
  if (existsSync(output) && !statSync(output).isDirectory()) {
    throw new InvalidArgumentError(`The output ${output} is a file; an output folder was expected.`, { hint: 'Choose a folder path for --output.' });
  }
}

export async function migrate(options: MigrateOptions): Promise<MigrateSummary> {
  const t0 = performance.now();
  const input = resolve(options.input);
  const output = resolve(options.output);
  const dtype = options.dtype ?? 'int8';
  const emit = options.onEvent ?? (() => {});
  checkPaths(input, output);
  if (!options.dryRun && !options.force && existsSync(output)) {
    throw new CheckpointError('already exists.', { file: output, hint: 'Choose another output folder, or pass --force to replace it.' });
  }
  const { path: configPath, config } = findConfig(input);
  const { arch, plans } = planFor(config, configPath, options.model ?? 'auto');
  const opened = await openCheckpoint(input);
  const { source, layout } = adaptLayout(opened);
  try {
    const steps = matchSource(source, plans, arch.name, configPath);
    const unused = unusedTensors(source, steps);
    const specs = outputSpecs(steps, dtype);
    const bytesIn = steps.reduce((a, s) => a + s.info.byteLength, 0);
    const layoutName = layout?.name ?? 'huggingface';
    emit({ event: 'start', input: source.path, output, architecture: arch.name, layout: layoutName, dtype, tensors: steps.length, bytesIn, dryRun: !!options.dryRun });
    const summary: MigrateSummary = {
      input: source.path,
      output,
      architecture: arch.name,
      layout: layoutName,
      dtype,
      dryRun: !!options.dryRun,
      tensors: steps.length,
      outputTensors: specs.length,
      bytesIn,
      bytesOut: specs.reduce((a, s) => a + numelOf(s.shape) * sourceDTypeSize(s.dtype as 'I8' | 'F16'), 0),
      seconds: 0,
      linear: { count: 0, float32Bytes: 0, storedBytes: 0, scaleBytes: 0 },
      worst: [],
      unused,
      nonFinite: [],
    };
    for (const { plan } of steps) {
      if (!plan.quantize) continue;
      const n = numelOf(plan.shape);
      summary.linear.count++;
      summary.linear.float32Bytes += 4 * n;
      summary.linear.storedBytes += dtype === 'int8' ? n : 2 * n;
      summary.linear.scaleBytes += dtype === 'int8' ? 2 * plan.shape[0] : 0;
    }
    if (!options.dryRun) {
      const { reports, kernels } = await convertAll(source, steps, specs, { output, dtype, options, emit, bytesIn, configPath, config, arch: arch.name, layout: layoutName });
      summary.kernels = kernels;
      summary.nonFinite = reports.filter((r) => r.nonFinite).map((r) => ({ name: r.name, count: r.nonFinite! }));
      const q = reports.filter((r) => r.maxRelError !== undefined && !r.nonFinite);
      if (q.length > 0) {
        summary.error = { max: Math.max(...q.map((r) => r.maxRelError!)), mean: q.reduce((a, r) => a + r.meanRelError!, 0) / q.length };
        summary.worst = [...q]
          .sort((a, b) => b.maxRelError! - a.maxRelError! || b.meanRelError! - a.meanRelError!)
          .slice(0, 5)
          .map((r) => ({ name: r.name, maxRelError: r.maxRelError!, meanRelError: r.meanRelError! }));
      }
    }
    summary.seconds = (performance.now() - t0) / 1000;
    emit({ event: 'summary', ...summary });
    return summary;
  } finally {
    await source.close();
  }
}

interface Context {
  output: string;
  dtype: OutputDType;
  options: MigrateOptions;
  emit: (e: MigrateEvent) => void;
  bytesIn: number;
  configPath: string;
  config: Record<string, unknown>;
  arch: string;
  layout: string;
}

async function convertAll(
  source: CheckpointSource,
  steps: Step[],
  specs: ReturnType<typeof outputSpecs>,
  ctx: Context,
): Promise<{ reports: TensorReport[]; kernels: 'native' | 'typescript' }> {
  const writer = await SafetensorsWriter.create(ctx.output, specs, {
    maxShardBytes: ctx.options.shardSize,
    overwrite: ctx.options.force,
    metadata: { bminf_format: '1' },
  });
  const reports: TensorReport[] = [];
  let kernels: 'native' | 'typescript' = 'typescript';
  try {
    // One input buffer and a few output buffers, reused for every tensor. The next tensor is read
    // (into the input buffer, free once converted) while the current one's output is written.
    const scratch = new Scratch();
    const accel = ctx.options.native === false ? null : await loadAccelerator();
    if (accel) kernels = 'native';
    const stored = (s: Step) => (source instanceof MappedSource ? source.storedByteLength(s.info.name) : s.info.byteLength);
    const largestInput = Math.max(0, ...steps.map(stored));
    const input = scratch.get('input', largestInput);
    const read = (i: number) => source.read(steps[i].info.name, { buffer: input });
    let pending: Promise<TensorData> | undefined = steps.length > 0 ? read(0) : undefined;
    let done = 0;
    for (let i = 0; i < steps.length; i++) {
      if (ctx.options.signal?.aborted) throw new AbortedError('The migration was interrupted; nothing was written.');
      const { plan, info } = steps[i];
      const data = await pending!;
      await checkTies(source, plan, info.name, data.data);
      const nonFinite = checkFinite(data, info.name, source.path, !!ctx.options.allowNonFinite);
      const converted: Converted = convertTensor(plan, data, ctx.dtype, source.path, scratch, accel);
      const aliased = converted.outputs.some((o) => o.data.buffer === input);
      const next = () => (i + 1 < steps.length ? read(i + 1) : undefined);
      if (!aliased) {
        pending = next();
        pending?.catch(() => {}); // its failure is reported when it is awaited
      }
      let bytesOut = 0;
      for (const o of converted.outputs) {
        await writer.write(o.name, o.data);
        bytesOut += o.data.byteLength;
      }
      if (aliased) pending = next(); // the output was the input buffer itself: read only after writing it
      done += info.byteLength;
      const report: TensorReport = { name: plan.name, source: info.name, shape: plan.shape, bytesIn: info.byteLength, bytesOut };
      if (converted.error) {
        report.maxRelError = converted.error.max;
        report.meanRelError = converted.error.mean;
      }
      if (nonFinite > 0) report.nonFinite = nonFinite;
      reports.push(report);
      ctx.emit({ event: 'tensor', index: i + 1, total: steps.length, bytesDone: done, bytesTotal: ctx.bytesIn, ...report });
    }
    await copyTokenizer(source.path, writer.stagingDir);
    const bminf: Record<string, unknown> = { format: 1, architecture: ctx.arch, source: source.path };
    if (ctx.layout !== 'huggingface') bminf.sourceLayout = ctx.layout;
    if (ctx.dtype === 'int8') bminf.quantization = { weights: 'int8', scheme: 'per-row-symmetric', scales: 'float16' };
    else bminf.dtype = 'float16';
    await writeFile(join(writer.stagingDir, 'config.json'), `${JSON.stringify({ ...ctx.config, bminf }, null, 2)}\n`);
    await writer.commit();
  } catch (e) {
    await writer.abort();
    throw e;
  }
  return { reports, kernels };
}

/** The source's tensors that no step reads (tied copies count as read: they are compared). */
function unusedTensors(source: CheckpointSource, steps: Step[]): string[] {
  const used = new Set(steps.flatMap((s) => [s.info.name, ...(s.plan.ties ?? [])]));
  return source.names().filter((n) => !used.has(n));
}

/** NaN and infinite values of a float tensor: refused unless allowed (then counted for the summary). */
function checkFinite(t: TensorData, name: string, file: string, allow: boolean): number {
  if (t.dtype !== 'float32' && t.dtype !== 'float16') return 0; // convertTensor refuses other dtypes
  const bad = countNonFinite(t.data as Float32Array | Uint16Array);
  if (bad > 0 && !allow) {
    throw new CheckpointError(`tensor "${name}" holds ${bad} NaN or infinite value(s) of ${t.data.length}: the weights are damaged; nothing was written.`, {
      file,
      hint: 'Re-download the checkpoint, or pass --allow-nonfinite to convert it anyway (each such tensor is named in the summary).',
    });
  }
  return bad;
}

/** Copies the tokenizer and generation files that sit beside the weights. */
async function copyTokenizer(sourcePath: string, dest: string): Promise<void> {
  const dir = existsSync(sourcePath) && statSync(sourcePath).isDirectory() ? sourcePath : dirname(sourcePath);
  for (const f of await readdir(dir)) {
    if (!TOKENIZER_FILE.test(f) || !statSync(join(dir, f)).isFile()) continue;
    await copyFile(join(dir, f), join(dest, f));
    await chmod(join(dest, f), 0o644); // the copy is ours, even when the source was read-only

  }
}
