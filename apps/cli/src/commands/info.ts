import { cudaInfo, formatCudaInfo, nativeCpu } from '@bminf/kernels';
import type { Command } from 'commander';

export function register(program: Command): void {
  program
    .command('info')
    .description('what bminf can use on this machine: the native addon, the CPU, the GPU')
    .option('--json', 'print one JSON object')
    .action(async (opts: { json?: boolean }) => {
      const native = (await import('@bminf/native')).default as { path: string; version: string };
      const cpu = nativeCpu.info();
      const cuda = cudaInfo();
      if (opts.json) {
        process.stdout.write(`${JSON.stringify({ native: { path: native.path, version: native.version }, cpu, cuda })}\n`);
        return;
      }
      process.stdout.write(
        [
          `bminf native addon ${native.version}: ${native.path}`,
          `CPU: ${cpu.threads} threads, kernels ${cpu.isa} (this CPU runs ${cpu.isas.join(', ')})`,
          formatCudaInfo(cuda),
          cuda.available ? '--device auto will use CUDA.' : '--device auto will use the CPU.',
        ].join('\n') + '\n',
      );
    });
}
