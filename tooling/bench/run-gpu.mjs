// pnpm bench:gpu [filter]: the GPU suites (tooling/bench/suites/gpu-*.mjs) into BENCHMARKS.md.
// On the GPU machine set BENCH_OUT=$OUT to bring BENCHMARKS.md back.
import { runSuites } from './lib.mjs';

await runSuites({ gpu: true, filter: process.argv[2] });
