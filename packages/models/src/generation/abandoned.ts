// A stream whose consumer stops calling next() without calling return() (a `for await` that throws
// from inside a library, an iterator kept in a dropped request object) never runs its `finally`: the
// KV caches it holds stay in the memory pool for good (1 500 abandoned streams held 3.1 GB). The
// registry below is a backstop: once the iterator itself is garbage, its state is disposed. It runs
// whenever the garbage collector gets to it, so callers should still call return() (or break out of
// `for await`, which calls it) as the docs say.

interface Disposable {
  dispose(): void;
}

const registry = new FinalizationRegistry<Disposable[]>((held) => {
  for (const d of held) d.dispose();
});

/**
 * Runs `body` as an async generator whose resources (registered through `hold`, and disposed by the
 * body's own `finally` on a normal end) are also disposed when the generator is collected unfinished.
 * Their dispose() must be idempotent.
 */
export function disposedWhenAbandoned<T, R>(body: (hold: <D extends Disposable>(d: D) => D) => AsyncGenerator<T, R, void>): AsyncGenerator<T, R, void> {
  const held: Disposable[] = [];
  const gen = body((d) => {
    held.push(d);
    return d;
  });
  registry.register(gen, held);
  return gen;
}
