// pnpm bench [filter]: the CPU suites (tooling/bench/suites/*.mjs, not gpu-*) into BENCHMARKS.md.
import { runSuites } from './lib.mjs';

await runSuites({ gpu: false, filter: process.argv[2] });
