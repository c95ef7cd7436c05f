// The pinned host-to-device copy rate, as the copy stream sees it: what a streamed block's copy costs.
import { type Backend, InvalidArgumentError, tidy } from '@bminf/core';

/** Bytes per second of `bytes`-sized copies from pinned host memory, best of `rounds`. */
export function measureHostToDevice(backend: Backend, bytes: number, rounds = 3): number {
  const s = backend.streaming;
  if (!s) throw new InvalidArgumentError(`The ${backend.name} backend has no copy stream to measure.`);
  const src = s.pinned(bytes);
  const after = s.fence();
  const ready = s.fence();
  try {
    return tidy(() => {
      const dst = backend.empty([bytes], 'int8');
      let best = Infinity;
      for (let i = 0; i <= rounds; i++) {
        backend.synchronize();
        s.signal(after);
        const t0 = performance.now();
        s.copyIn(src, 0, dst, after, ready);
        s.synchronizeCopies();
        const ms = performance.now() - t0;
        if (i > 0) best = Math.min(best, ms); // the first copy warms the path
      }
      return bytes / (best / 1000);
    });
  } finally {
    src.release();
  }
}
