import type { Device } from './device.js';
import { type DType, dtypeSize } from './dtype.js';
import { DisposedError, InvalidArgumentError, ShapeMismatchError } from './errors.js';
import { trackInScope } from './scope.js';
import type { Storage } from './storage.js';

export type Shape = readonly number[];

export function numelOf(shape: Shape): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

export function contiguousStrides(shape: Shape): number[] {
  const strides = new Array<number>(shape.length);
  let s = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    strides[i] = s;
    s *= shape[i];
  }
  return strides;
}

export function shapeToString(shape: Shape): string {
  return `[${shape.join(', ')}]`;
}

export function assertValidShape(shape: Shape, what = 'shape'): void {
  for (const d of shape) {
    if (!Number.isSafeInteger(d) || d < 0) {
      throw new InvalidArgumentError(`Invalid ${what} ${shapeToString(shape)}: dimensions must be non-negative integers.`);
    }
  }
}

export interface TensorInit {
  storage: Storage;
  dtype: DType;
  shape: Shape;
  /** In elements; contiguous row-major strides when left out. */
  strides?: readonly number[];
  /** In elements, from the start of the storage. */
  offset?: number;
  /** False for views made from another tensor (informational: storage is reference-counted). */
  owner?: boolean;
}

// How many live tensors (owners and views) reference each storage: it is freed when the last goes.
const refs = new WeakMap<Storage, number>();
// The storages of the tensors made inside each open retainStorages() call.
const retaining: Set<Storage>[] = [];

/**
 * Runs fn and keeps alive the storage of every tensor made while it runs (its temporaries too) until
 * release() is called, whatever fn or an enclosing tidy() disposes: a recorded step (Backend.captureStep)
 * replays its ops on those addresses.
 */
export function retainStorages(fn: () => void): { release(): void } {
  const storages = new Set<Storage>();
  let released = false;
  const release = () => {
    if (released) return;
    released = true;
    for (const storage of storages) {
      const n = (refs.get(storage) ?? 1) - 1;
      refs.set(storage, n);
      if (n <= 0) storage.dispose();
    }
  };
  retaining.push(storages);
  try {
    fn();
  } catch (e) {
    release();
    throw e;
  } finally {
    retaining.pop();
  }
  return { release };
}

/**
 * An n-dimensional view of typed elements in a storage on some device. Views made by `reshape`,
 * `narrow`, `permute` and friends share the storage; it is freed when the last tensor over it is
 * disposed (by `dispose()`, a `using` block, or the end of a `tidy()` scope), so a view returned from
 * a scope keeps its memory alive. Any use of a disposed tensor is an error.
 */
export class Tensor {
  readonly storage: Storage;
  readonly dtype: DType;
  readonly shape: Shape;
  readonly strides: readonly number[];
  readonly offset: number;
  readonly owner: boolean;
  private _disposed = false;

  constructor(init: TensorInit) {
    assertValidShape(init.shape);
    this.storage = init.storage;
    this.dtype = init.dtype;
    this.shape = Object.freeze([...init.shape]);
    this.strides = Object.freeze(init.strides ? [...init.strides] : contiguousStrides(init.shape));
    this.offset = init.offset ?? 0;
    this.owner = init.owner ?? true;
    if (this.strides.length !== this.shape.length) {
      throw new InvalidArgumentError(`Tensor strides ${shapeToString(this.strides)} do not match its shape ${shapeToString(this.shape)}.`);
    }
    const last = this.lastByte();
    if (this.numel > 0 && (this.offset < 0 || last > init.storage.byteLength)) {
      throw new InvalidArgumentError(
        `A tensor of shape ${shapeToString(this.shape)} at offset ${this.offset} reaches byte ${last}, beyond its storage of ${init.storage.byteLength} bytes.`,
      );
    }
    if (init.storage.disposed) throw new DisposedError('A storage');
    refs.set(init.storage, (refs.get(init.storage) ?? 0) + 1);
    const r = retaining[retaining.length - 1];
    if (r && !r.has(init.storage)) {
      // Held from its first tensor on, so that a temporary freed inside fn is not reused behind the step.
      r.add(init.storage);
      refs.set(init.storage, (refs.get(init.storage) ?? 0) + 1);
    }
    trackInScope(this);
  }

  get device(): Device {
    return this.storage.device;
  }
  get rank(): number {
    return this.shape.length;
  }
  get numel(): number {
    return numelOf(this.shape);
  }
  get byteOffset(): number {
    return this.offset * dtypeSize(this.dtype);
  }
  get byteLength(): number {
    return this.numel * dtypeSize(this.dtype);
  }
  get disposed(): boolean {
    return this._disposed || this.storage.disposed;
  }

  /** One past the last byte this view can touch. */
  lastByte(): number {
    let last = this.offset;
    for (let i = 0; i < this.shape.length; i++) last += (this.shape[i] - 1) * this.strides[i];
    return (last + 1) * dtypeSize(this.dtype);
  }

  /** Throws DisposedError when this tensor or its storage has been disposed. */
  assertAlive(what = 'A tensor'): this {
    if (this.disposed) throw new DisposedError(`${what} of shape ${shapeToString(this.shape)} (${this.dtype})`);
    return this;
  }

  isContiguous(): boolean {
    let s = 1;
    for (let i = this.shape.length - 1; i >= 0; i--) {
      if (this.shape[i] !== 1 && this.strides[i] !== s) return false;
      s *= this.shape[i];
    }
    return true;
  }

  size(dim: number): number {
    return this.shape[this.normDim(dim)];
  }

  private normDim(dim: number): number {
    const d = dim < 0 ? dim + this.rank : dim;
    if (!Number.isInteger(d) || d < 0 || d >= this.rank) {
      throw new InvalidArgumentError(`Dimension ${dim} is out of range for a tensor of rank ${this.rank}.`);
    }
    return d;
  }

  private derive(shape: Shape, strides: readonly number[], offset: number): Tensor {
    this.assertAlive();
    return new Tensor({ storage: this.storage, dtype: this.dtype, shape, strides, offset, owner: false });
  }

  /** A view with another shape over the same contiguous elements; one dimension may be -1. */
  reshape(shape: Shape): Tensor {
    if (!this.isContiguous()) {
      throw new ShapeMismatchError(`Cannot reshape a non-contiguous tensor of shape ${shapeToString(this.shape)}.`, {
        hint: 'Make it contiguous first (backend.contiguous(x)).',
      });
    }
    const out = [...shape];
    const free = out.indexOf(-1);
    if (free >= 0) {
      const known = numelOf(out.filter((_, i) => i !== free));
      out[free] = known === 0 ? 0 : this.numel / known;
    }
    if (numelOf(out) !== this.numel || out.some((d) => !Number.isInteger(d) || d < 0)) {
      throw new ShapeMismatchError(`Cannot reshape ${shapeToString(this.shape)} into ${shapeToString(shape)}.`);
    }
    return this.derive(out, contiguousStrides(out), this.offset);
  }

  /** The elements start..start+length-1 along `dim`. */
  narrow(dim: number, start: number, length: number): Tensor {
    const d = this.normDim(dim);
    if (!Number.isInteger(start) || !Number.isInteger(length) || start < 0 || length < 0 || start + length > this.shape[d]) {
      throw new InvalidArgumentError(
        `narrow(${dim}, ${start}, ${length}) is out of range for dimension ${d} of size ${this.shape[d]}.`,
      );
    }
    const shape = [...this.shape];
    shape[d] = length;
    return this.derive(shape, this.strides, this.offset + start * this.strides[d]);
  }

  /** Drops dimension `dim`, keeping index `index` along it. */
  select(dim: number, index: number): Tensor {
    const d = this.normDim(dim);
    const v = this.narrow(d, index, 1);
    return this.derive(
      v.shape.filter((_, i) => i !== d),
      v.strides.filter((_, i) => i !== d),
      v.offset,
    );
  }

  permute(dims: readonly number[]): Tensor {
    const ds = dims.map((d) => this.normDim(d));
    if (ds.length !== this.rank || new Set(ds).size !== ds.length) {
      throw new InvalidArgumentError(`permute(${dims.join(', ')}) is not a permutation of ${this.rank} dimensions.`);
    }
    return this.derive(
      ds.map((d) => this.shape[d]),
      ds.map((d) => this.strides[d]),
      this.offset,
    );
  }

  transpose(a = -2, b = -1): Tensor {
    const dims = this.shape.map((_, i) => i);
    const x = this.normDim(a);
    const y = this.normDim(b);
    [dims[x], dims[y]] = [dims[y], dims[x]];
    return this.permute(dims);
  }

  /** Adds a dimension of size 1 before `dim`. */
  unsqueeze(dim: number): Tensor {
    const d = dim < 0 ? dim + this.rank + 1 : dim;
    const shape = [...this.shape];
    const strides = [...this.strides];
    shape.splice(d, 0, 1);
    strides.splice(d, 0, d < this.rank ? this.strides[d] * this.shape[d] : 1);
    return this.derive(shape, strides, this.offset);
  }

  dispose(): void {
    if (this._disposed) return;
    this._disposed = true;
    const n = (refs.get(this.storage) ?? 1) - 1;
    refs.set(this.storage, n);
    if (n <= 0) this.storage.dispose();
  }

  [Symbol.dispose](): void {
    this.dispose();
  }

  toString(): string {
    return `Tensor(${shapeToString(this.shape)}, ${this.dtype}, ${this.device})`;
  }
}
