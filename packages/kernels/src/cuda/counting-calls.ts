/**
 * `target` with every method call counted (onCall before each): the CUDA backend wraps the addon in it
 * so that it can tell whether any device work was put in between two of its own calls (an attention's
 * quantized rows are handed to the linear after it only then). Methods are bound to the real object,
 * as the addon's wrapped objects need; each wrapper is made once.
 */
export function countingCalls<T extends object>(target: T, onCall: () => void): T {
  const wrapped = new Map<PropertyKey, unknown>();
  return new Proxy(target, {
    get(t, key) {
      const v: unknown = Reflect.get(t, key, t);
      if (typeof v !== 'function') return v;
      let w = wrapped.get(key);
      if (!w) {
        const fn = v as (...args: unknown[]) => unknown;
        w = (...args: unknown[]): unknown => {
          onCall();
          return fn.apply(t, args);
        };
        wrapped.set(key, w);
      }
      return w;
    },
  });
}
