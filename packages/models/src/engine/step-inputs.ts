import { type Backend, InvalidArgumentError, type StepGraph, type Tensor, keep, tidy } from '@bminf/core';

/**
 * The int32 inputs of a planned step (token ids, positions, cache rows, lengths): device tensors at
 * fixed addresses that the step's ops read, with host arrays the runner fills before each run.
 */
export class StepInputs<K extends string> {
  readonly host: Record<K, Int32Array>;
  readonly tensors: Record<K, Tensor>;

  constructor(
    private readonly backend: Backend,
    sizes: Record<K, number>,
  ) {
    const names = Object.keys(sizes) as K[];
    this.host = Object.fromEntries(names.map((k) => [k, new Int32Array(sizes[k])])) as Record<K, Int32Array>;
    this.tensors = Object.fromEntries(names.map((k) => [k, keep(backend.zeros([sizes[k]], 'int32'))])) as Record<K, Tensor>;
  }

  /** Copies every host array into its tensor (before the step runs). */
  upload(): void {
    for (const k of Object.keys(this.host) as K[]) this.backend.write(this.tensors[k], this.host[k]);
  }

  dispose(): void {
    for (const t of Object.values(this.tensors) as Tensor[]) t.dispose();
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
