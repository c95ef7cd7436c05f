import { type Backend, InvalidArgumentError, type StepGraph, type Tensor, keep, tidy } from '@bminf/core';

/**
 * The int32 inputs of a planned step (token ids, positions, cache rows, lengths): parts of one tensor
 * at a fixed address that the step's ops read, with host arrays (views of one array) that the runner
 * fills before each run and upload() copies up in one transfer.
 */
export class StepInputs<K extends string> {
  readonly host: Record<K, Int32Array>;
  readonly tensors: Record<K, Tensor>;
  private readonly all: Int32Array;
  private readonly tensor: Tensor;

  constructor(
    private readonly backend: Backend,
    sizes: Record<K, number>,
  ) {
    const names = Object.keys(sizes) as K[];
    const total = names.reduce((n, k) => n + sizes[k], 0);
    this.all = new Int32Array(total);
    this.tensor = keep(backend.zeros([total], 'int32'));
    const host = {} as Record<K, Int32Array>;
    const tensors = {} as Record<K, Tensor>;
    let at = 0;
    for (const k of names) {
      host[k] = this.all.subarray(at, at + sizes[k]);
      tensors[k] = keep(this.tensor.narrow(0, at, sizes[k]));
      at += sizes[k];
    }
    this.host = host;
    this.tensors = tensors;
  }

  /** Copies the host arrays into the tensor (before the step runs). */
  upload(): void {
    this.backend.write(this.tensor, this.all);
  }

  dispose(): void {
    for (const t of Object.values(this.tensors) as Tensor[]) t.dispose();
    this.tensor.dispose();
  }
}

/** Every bucket lengthBucket(n, min, max) can give: min, 2·min, 4·min, …, up to and including max. */
export function bucketsUpTo(min: number, max: number): number[] {
  const out: number[] = [];
  for (let p = min; ; p *= 2) {
    out.push(Math.min(p, max));
    if (p >= max) return out;
  }
}

/** The smallest power of two ≥ n and ≥ min, at most max: prompt lengths share a few planned steps. */
export function lengthBucket(n: number, min: number, max: number): number {
  let p = min;
  while (p < n) p *= 2;
  return Math.min(p, max);
}

/**
 * How a runner turns a step function into a StepGraph: recorded by the backend (the default: a CUDA
 * graph, a native tape), or run op by op on every run() (the reference a recorded step must equal bit
 * for bit).
 */
export function planStep(backend: Backend, fn: () => void, record: boolean): StepGraph {
  if (record) return backend.captureStep(fn);
  let disposed = false;
  return {
    run: async () => {
      if (disposed) throw new InvalidArgumentError('This step was disposed.');
      tidy(fn);
    },
    get disposed() {
      return disposed;
    },
    dispose: () => {
      disposed = true;
    },
  };
}

/**
 * Whether a runner's decode steps also take the greedy id of each slot inside the step (Backend.argmaxRows
 * as a step op), so that a greedy step reads back a few ids instead of rows of logits: across a bus on
 * CUDA; on the CPU a copy of the logits (a megabyte for a batch of eight) and a JS-side pass over them.
 */
export function deviceArgmax(b: Backend): boolean {
  return typeof b.argmaxRows === 'function';
}

/** The greedy id of each row of a step's float32 logits [k, vocab] (Backend.argmaxRows), as int32 [k]; never `exclude`. */
export function greedyIds(b: Backend, logits: Tensor, exclude?: number): Tensor {
  if (!b.argmaxRows) throw new InvalidArgumentError(`The ${b.name} backend has no argmaxRows.`);
  return b.argmaxRows(logits, exclude === undefined ? {} : { exclude });
}
