import { type CheckpointSource, openCheckpoint } from '@bminf/checkpoint';
import {
  type Backend,
  CheckpointError,
  countNonFinite,
  createLogger,
  type ModelDType,
  ModelConfigError,
  type Tensor,
  fromFloat16Array,
  shapeToString,
} from '@bminf/core';
import { nativeCpu } from '@bminf/kernels';
import type { LinearParams } from '@bminf/layers';
import { type TensorPlan, scaleName } from './architecture.js';
import { checkTies } from './ties.js';

/** Is this config.json the migrator's int8 output (weights already quantized)? */
export function isPrequantized(rawConfig: unknown): boolean {
  const q = (rawConfig as { bminf?: { quantization?: { weights?: string } } } | null)?.bminf?.quantization;
  return q?.weights === 'int8';
}

/** Is this config.json the migrator's output (canonical tensor names)? */
export function isBminfFormat(rawConfig: unknown): boolean {
  return typeof (rawConfig as { bminf?: unknown } | null)?.bminf === 'object';
}

/** A model's parameters on its backend, by canonical name. */
export class Weights {
  private readonly tensors = new Map<string, Tensor>();
  private readonly linears = new Map<string, LinearParams>();

  /** A float tensor (norms, embeddings, biases). */
  tensor(name: string): Tensor {
    const t = this.tensors.get(name);
    if (!t) throw new ModelConfigError(`The model has no tensor "${name}".`);
    return t;
  }

  /** The parameters of the linear layer `<prefix>.weight` (+ `.bias` when present). */
  linear(prefix: string, options: { bias: boolean } = { bias: true }): LinearParams {
    const p = this.linears.get(`${prefix}.weight`);
    if (!p) throw new ModelConfigError(`The model has no linear layer "${prefix}".`);
    const bias = options.bias ? this.tensor(`${prefix}.bias`) : null;
    return { ...p, bias } as LinearParams;
  }

  setTensor(name: string, t: Tensor): void {
    this.tensors.set(name, t);
  }
  setLinear(name: string, p: LinearParams): void {
    this.linears.set(name, p);
  }

  dispose(): void {
    for (const t of this.tensors.values()) t.dispose();
    for (const p of this.linears.values()) {
      p.weight.dispose();
      if (p.kind === 'int8') p.scale.dispose();
    }
    this.tensors.clear();
    this.linears.clear();
  }
}

function transpose2d(data: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(data.length);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = data[r * cols + c];
  return out;
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

const log = createLogger('models');

/** The checkpoint name a plan reads (undefined when absent). */
function sourceName(names: ReadonlySet<string>, plan: TensorPlan, canonical: boolean): string | undefined {
  return (canonical ? [plan.name] : [plan.source, ...(plan.aliases ?? [])]).find((n) => names.has(n));
}

/** The shape a plan's source tensor must have, or an error message. */
function shapeProblem(source: CheckpointSource, name: string, plan: TensorPlan, canonical: boolean): string | undefined {
  const info = source.info(name);
  const expected = plan.transpose && !canonical ? [...plan.shape].reverse() : plan.shape;
  return sameShape(info.shape, expected) ? undefined : `tensor "${name}" has shape ${shapeToString(info.shape)}, but config.json implies ${shapeToString(expected)}`;
}

/**
 * Checks every plan against the checkpoint before a tensor is read or allocated: all missing tensors
 * and wrong shapes are reported at once (a config.json that declares more layers than the checkpoint
 * holds fails here, in one message). Returns the checkpoint's tensors that no plan uses, which the
 * caller reports: a config with fewer layers than the weights loads, but should not do so silently.
 */
export function checkPlans(source: CheckpointSource, plans: TensorPlan[], options: { canonical: boolean; prequantized: boolean }): string[] {
  const names = new Set(source.names());
  const used = new Set<string>();
  const missing: string[] = [];
  const wrong: string[] = [];
  for (const plan of plans) {
    const name = sourceName(names, plan, options.canonical);
    if (!name) {
      missing.push(`"${options.canonical ? plan.name : plan.source}"`);
      continue;
    }
    used.add(name);
    for (const tie of plan.ties ?? []) if (names.has(tie)) used.add(tie);
    if (plan.quantize && options.prequantized) {
      used.add(scaleName(plan.name));
      continue; // checked as int8 when read
    }
    const problem = shapeProblem(source, name, plan, options.canonical);
    if (problem) wrong.push(problem);
  }
  const list = (xs: string[]) => (xs.length > 6 ? `${xs.slice(0, 6).join(', ')} and ${xs.length - 6} more` : xs.join(', '));
  if (missing.length > 0) {
    throw new ModelConfigError(
      `${source.path}: the checkpoint holds ${names.size} tensors and lacks ${missing.length} of the ${plans.length} that config.json implies: ${list(missing)}.`,
      { hint: 'Check that the checkpoint matches config.json (same architecture and layer count), or re-convert it.' },
    );
  }
  if (wrong.length > 0) {
    throw new ModelConfigError(`${source.path}: ${list(wrong)}.`, {
      hint: 'The checkpoint and config.json disagree: use the config.json that came with these weights.',
    });
  }
  return [...names].filter((n) => !used.has(n));
}

/** Refuses a tensor holding NaN or infinity: it would silently change every output that reads it. */
function checkFinite(source: CheckpointSource, name: string, data: Float32Array | Uint16Array): void {
  const bad = countNonFinite(data);
  if (bad > 0) {
    throw new CheckpointError(`tensor "${name}" holds ${bad} NaN or infinite value(s) of ${data.length}: the weights are damaged.`, {
      file: source.path,
      hint: 'Re-download or re-convert the checkpoint; bminf-migrate --allow-nonfinite converts such a tensor anyway, naming it.',
    });
  }
}

/** Finds the source tensor for a plan, checks its shape and values, and reads it as float32 in canonical layout. */
export async function readPlanned(source: CheckpointSource, plan: TensorPlan, canonical: boolean): Promise<Float32Array | Uint16Array> {
  const name = sourceName(new Set(source.names()), plan, canonical);
  if (!name) {
    throw new ModelConfigError(`${source.path}: the checkpoint has no tensor "${canonical ? plan.name : plan.source}", which the model needs for "${plan.name}".`, {
      hint: 'Check that the checkpoint matches config.json (same architecture and layer count), or re-convert it.',
    });
  }
  const problem = shapeProblem(source, name, plan, canonical);
  if (problem) throw new ModelConfigError(`${source.path}: ${problem}.`, { hint: 'The checkpoint and config.json disagree: use the config.json that came with these weights.' });
  const t = await source.read(name);
  if (t.dtype !== 'float16' && t.dtype !== 'float32') throw new ModelConfigError(`${source.path}: tensor "${name}" is ${t.dtype}; a float tensor was expected.`);
  checkFinite(source, name, t.data as Float32Array | Uint16Array);
  if (!canonical) await checkTies(source, plan, name, t.data);
  if (t.dtype === 'float16' && !(plan.transpose && !canonical)) return t.data as Uint16Array;
  let data = t.dtype === 'float16' ? fromFloat16Array(t.data as Uint16Array) : (t.data as Float32Array);
  if (plan.transpose && !canonical) data = transpose2d(data, plan.shape[1], plan.shape[0]);
  return data;
}

const asFloat32 = (d: Float32Array | Uint16Array): Float32Array => (d instanceof Uint16Array ? fromFloat16Array(d) : d);

/**
 * BMInf's row quantization through the CPU kernel: bit-identical to quantizeWeight (the kernel tests
 * and the migrator's tests compare them) and several times faster, which counts for 10 B-parameter
 * checkpoints. float16 input is quantized as is (widening it first would give the same bytes).
 */
function quantizeHost(data: Float32Array | Uint16Array, rows: number, cols: number): { values: Int8Array; scales: Uint16Array } {
  const values = new Int8Array(rows * cols);
  const scales = new Uint16Array(rows);
  nativeCpu.quantizeRows(data, 0, rows, cols, values, 0, scales, 0);
  return { values, scales };
}

/** float32 → float16 bits (round to nearest even) through the CPU kernel's cast. */
function toHalf(data: Float32Array): Uint16Array {
  const out = new Uint16Array(data.length);
  if (data.length > 0) nativeCpu.copy(data, 0, [1], out, 0, [1], [data.length]);
  return out;
}

/**
 * Loads every planned tensor onto the backend, one at a time (so host memory holds one tensor beyond
 * the model): linear weights int8 + float16 row scales in int8 models (quantized here, or read as the
 * migrator wrote them), everything else float32 (fp32) or float16 (fp16, int8).
 */
export async function loadWeights(
  dir: string,
  rawConfig: unknown,
  plans: TensorPlan[],
  options: { dtype: ModelDType; backend: Backend; onHost?: (name: string) => boolean; hostBackend?: Backend },
): Promise<Weights> {
  const { dtype } = options;
  // Streamed blocks' tensors stay in host memory (the layer streamer packs them into pinned images).
  const on = (name: string): Backend => (options.hostBackend && options.onHost?.(name) ? options.hostBackend : options.backend);
  const prequantized = isPrequantized(rawConfig);
  const canonical = isBminfFormat(rawConfig);
  if (prequantized && dtype !== 'int8') {
    throw new ModelConfigError(`${dir} holds int8 weights (converted by bminf-migrate); it cannot be loaded as ${dtype}.`, {
      hint: 'Load it with dtype int8, or migrate the original checkpoint with --dtype fp16.',
    });
  }
  const source = await openCheckpoint(dir);
  const weights = new Weights();
  try {
    const unused = checkPlans(source, plans, { canonical, prequantized });
    if (unused.length > 0) {
      log.warn(
        `${source.path}: ${unused.length} tensor(s) of the checkpoint are not used by the model config.json describes (${unused.slice(0, 4).join(', ')}${unused.length > 4 ? ', …' : ''}); check n_layer / num_layers and the other sizes in config.json.`,
      );
    }
    for (const plan of plans) {
      if (plan.quantize && prequantized) {
        const values = await source.read(plan.name);
        const scales = await source.read(scaleName(plan.name));
        if (values.dtype !== 'int8' || !sameShape(values.shape, plan.shape) || scales.dtype !== 'float16' || !sameShape(scales.shape, [plan.shape[0]])) {
          throw new ModelConfigError(
            `${source.path}: "${plan.name}" must be int8 ${shapeToString(plan.shape)} with float16 scales [${plan.shape[0]}], but is ${values.dtype} ${shapeToString(values.shape)} with ${scales.dtype} ${shapeToString(scales.shape)}.`,
          );
        }
        checkFinite(source, scaleName(plan.name), scales.data as Uint16Array);
        const backend = on(plan.name);
        weights.setLinear(plan.name, {
          kind: 'int8',
          weight: backend.upload(values.data, plan.shape),
          scale: backend.upload(scales.data, [plan.shape[0]]),
          bias: null,
        });
        continue;
      }
      const backend = on(plan.name);
      const data = await readPlanned(source, plan, canonical);
      if (plan.quantize && dtype === 'int8') {
        const q = quantizeHost(data, plan.shape[0], plan.shape[1]);
        weights.setLinear(plan.name, {
          kind: 'int8',
          weight: backend.upload(q.values, plan.shape),
          scale: backend.upload(q.scales, [plan.shape[0]]),
          bias: null,
        });
        continue;
      }
      const host = dtype === 'fp32' ? asFloat32(data) : data instanceof Uint16Array ? data : toHalf(data);
      const t = backend.upload(host, plan.shape);
      if (plan.quantize) weights.setLinear(plan.name, { kind: 'float', weight: t, bias: null });
      else weights.setTensor(plan.name, t);
    }
  } catch (e) {
    weights.dispose();
    throw e;
  } finally {
    await source.close();
  }
  return weights;
}
