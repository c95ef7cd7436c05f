import { cudaAvailability } from '@bminf/kernels';
import type { Command } from 'commander';

export function register(program: Command): void {
  program
    .command('info')
    .description('what bminf can use on this machine: the native addon, the CPU, the GPU')
    .option('--json', 'print one JSON object')
    .action(async (opts: { json?: boolean }) => {
      const native = (await import('@bminf/native')).default as { path: string; version: string };
      const kernels = (await import('@bminf/kernels')) as Record<string, unknown>;
      const cudaInfo = typeof kernels.cudaInfo === 'function' ? (kernels.cudaInfo as () => unknown)() : cudaAvailability();
      const info = { native: { path: native.path, version: native.version }, cuda: cudaInfo };
      if (opts.json) process.stdout.write(`${JSON.stringify(info)}\n`);
      else process.stdout.write(`${JSON.stringify(info, null, 2)}\n`);
    });
}
