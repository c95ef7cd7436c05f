// How long the fuzzing suite runs (fast-check properties in <pkg>/test/fuzz-*.test.ts). By default
// each property is small enough for CI (the whole suite well under 3 minutes); a longer run:
//   BMINF_FUZZ_SECONDS=240 npx vitest run --testTimeout=0 -t fuzz      (time per property)
//   BMINF_FUZZ_RUNS=100000 npx vitest run --testTimeout=0 -t fuzz      (runs per property)
// A failure prints its seed and path; BMINF_FUZZ_SEED=<seed> replays it. Every failure found is
// kept as a regular test beside the property.
import type { Parameters } from 'fast-check';

const env = (name: string): number | undefined => {
  const v = process.env[name];
  if (v === undefined || v === '') return undefined;
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n < 0) throw new Error(`${name} must be a non-negative integer, but is "${v}".`);
  return n;
};

/** fast-check parameters for one property: `ciRuns` runs by default, or what the environment asks. */
export function fuzzParams<T>(ciRuns: number): Parameters<T> {
  const seconds = env('BMINF_FUZZ_SECONDS');
  const runs = env('BMINF_FUZZ_RUNS');
  const seed = env('BMINF_FUZZ_SEED');
  return {
    numRuns: seconds !== undefined ? Number.MAX_SAFE_INTEGER : (runs ?? ciRuns),
    ...(seconds !== undefined ? { interruptAfterTimeLimit: seconds * 1000, markInterruptAsFailure: false } : {}),
    ...(seed !== undefined ? { seed } : {}),
  };
}

/** The vitest timeout of one property: generous for CI, none for a long run (which sets its own). */
export const FUZZ_TIMEOUT = process.env.BMINF_FUZZ_SECONDS || process.env.BMINF_FUZZ_RUNS ? 0 : 120_000;
