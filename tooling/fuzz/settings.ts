// How long the fuzzing suite runs (fast-check properties in <pkg>/test/fuzz-*.test.ts). By default
// each property is small enough for CI (the whole suite takes seconds, well under 3 minutes); longer:
//   BMINF_FUZZ_SECONDS=150 npx vitest run --testTimeout=0 -t fuzz      (time per property)
//   BMINF_FUZZ_RUNS=100000 npx vitest run --testTimeout=0 -t fuzz      (runs per property)
// A failure prints its seed and path; BMINF_FUZZ_SEED=<seed> replays it. Every failure found is
// kept as a regular test beside the property.
import fc from 'fast-check';

const env = (name: string): number | undefined => {
  const v = process.env[name];
  if (v === undefined || v === '') return undefined;
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n < 0) throw new Error(`${name} must be a non-negative integer, but is "${v}".`);
  return n;
};

/** A time-bounded run checks in slices this long, yielding between them: a worker blocked for minutes would miss vitest's RPC deadlines. */
const SLICE_MS = 10_000;

/**
 * Checks `property`: `ciRuns` runs by default, BMINF_FUZZ_RUNS runs, or for BMINF_FUZZ_SECONDS (in
 * slices with fresh seeds, printing the runs made). Throws fast-check's report on a failure.
 */
export async function fuzz<Ts extends [unknown, ...unknown[]]>(property: fc.IProperty<Ts> | fc.IAsyncProperty<Ts>, ciRuns: number): Promise<void> {
  const seconds = env('BMINF_FUZZ_SECONDS');
  const seed = env('BMINF_FUZZ_SEED');
  if (seconds === undefined) {
    await fc.assert(property, { numRuns: env('BMINF_FUZZ_RUNS') ?? ciRuns, ...(seed !== undefined ? { seed } : {}) });
    return;
  }
  const end = Date.now() + seconds * 1000;
  let runs = 0;
  let slice = seed ?? Date.now();
  while (Date.now() < end) {
    const details = await fc.check(property, {
      numRuns: Number.MAX_SAFE_INTEGER,
      interruptAfterTimeLimit: Math.min(SLICE_MS, end - Date.now()),
      markInterruptAsFailure: false,
      seed: slice++ | 0,
    });
    if (details.failed) throw new Error(fc.defaultReportMessage(details) ?? 'the property failed');
    runs += details.numRuns;
    await new Promise((r) => setImmediate(r));
  }
  console.log(`[fuzz] ${runs} runs in ${seconds} s without a failure`);
}

/** The vitest timeout of one property: generous for CI, none for a long run (which sets its own). */
export const FUZZ_TIMEOUT = process.env.BMINF_FUZZ_SECONDS || process.env.BMINF_FUZZ_RUNS ? 0 : 120_000;
