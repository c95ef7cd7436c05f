// Scopes that dispose the tensors made inside them, as TensorFlow.js's tidy() does: a forward pass
// makes dozens of temporaries, and on the GPU each must go back to the pool promptly.

interface Disposable0 {
  dispose(): void;
  readonly disposed: boolean;
}

const stack: Set<Disposable0>[] = [];

/** Called by Tensor when it is created owning its storage. */
export function trackInScope(t: Disposable0): void {
  stack[stack.length - 1]?.add(t);
}

/** Removes a tensor from the current scopes so that it outlives them. */
export function keep<T extends Disposable0>(t: T): T {
  for (const s of stack) s.delete(t);
  return t;
}

function collect(value: unknown, out: Set<unknown>, depth = 0): void {
  if (value === null || typeof value !== 'object' || depth > 4) return;
  if (out.has(value)) return;
  out.add(value);
  if (Array.isArray(value)) for (const v of value) collect(v, out, depth + 1);
  else if (Object.getPrototypeOf(value) === Object.prototype) for (const v of Object.values(value)) collect(v, out, depth + 1);
}

/**
 * Runs `fn` and disposes every tensor created in it except those it returns (a tensor, or arrays
 * and plain objects holding tensors), which move to the enclosing scope. `fn` must be synchronous.
 */
export function tidy<T>(fn: () => T): T {
  const scope = new Set<Disposable0>();
  stack.push(scope);
  let result: T;
  try {
    result = fn();
  } catch (e) {
    stack.pop();
    for (const t of scope) t.dispose();
    throw e;
  }
  stack.pop();
  if (result instanceof Promise) throw new TypeError('tidy() takes a synchronous function.');
  const kept = new Set<unknown>();
  collect(result, kept);
  const parent = stack[stack.length - 1];
  for (const t of scope) {
    if (kept.has(t)) parent?.add(t);
    else t.dispose();
  }
  return result;
}
