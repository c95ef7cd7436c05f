// Argument checks of the CPU backend beyond core's checks.ts, worded the same way.
import {
  DisposedError,
  InvalidArgumentError,
  ShapeMismatchError,
  type Tensor,
  checkAlive,
  checkDType,
  checkDevice,
  Device,
  shapeToString,
} from '@bminf/core';

/** Alive, on the CPU, and (when given) of one of the dtypes. */
export function checkInputs(op: string, disposed: boolean, ...ts: (Tensor | null | undefined)[]): void {
  if (disposed) throw new DisposedError(`The CPU backend (used by ${op})`);
  checkAlive(op, ...ts);
  checkDevice(op, Device.cpu, ...ts);
}

export function checkFloat(op: string, t: Tensor): void {
  checkDType(op, t, 'float16', 'float32');
}

export function checkFiniteNumber(op: string, name: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isFinite(v)) {
    throw new InvalidArgumentError(`${op}: ${name} must be a finite number but is ${String(v)}.`);
  }
  return v;
}

export function checkInteger(op: string, name: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v)) {
    throw new InvalidArgumentError(`${op}: ${name} must be an integer but is ${String(v)}.`);
  }
  return v;
}

export function checkLength(op: string, t: Tensor, length: number, name: string): void {
  if (t.rank !== 1 || t.shape[0] !== length) {
    throw new ShapeMismatchError(`${op}: ${name} must have shape [${length}] but has ${shapeToString(t.shape)}.`);
  }
}
