import { cudaInfo, formatCudaInfo, nativeCpu } from '@bminf/kernels';
import type { Command } from 'commander';

interface NativeAddon {
  path: string;
  version: string;
  prebuilt: { platform: string; glibc?: string; glibcxx?: string } | null;
}

/** The addon, or why it is not there (the loader's message says what to install and run). */
async function loadAddon(): Promise<{ addon: NativeAddon } | { reason: string }> {
  try {
    return { addon: (await import('@bminf/native')).default as NativeAddon };
  } catch (e) {
    return { reason: (e as Error).message };
  }
}

function describe(addon: NativeAddon): string {
  const p = addon.prebuilt;
  const floor = p?.glibc ? `, needs glibc ${p.glibc}${p.glibcxx ? ` and libstdc++ GLIBCXX_${p.glibcxx}` : ''}` : '';
  return `bminf native addon ${addon.version}: ${addon.path}${p ? ` (prebuilt for ${p.platform}${floor})` : ''}`;
}

export function register(program: Command): void {
  program
    .command('info')
    .description('what bminf can use on this machine: the native addon, the CPU, the GPU')
    .option('--json', 'print one JSON object')
    .action(async (opts: { json?: boolean }) => {
      const loaded = await loadAddon();
      if (!('addon' in loaded)) {
        // Nothing runs without the addon; say why, and what to do, instead of failing.
        if (opts.json) process.stdout.write(`${JSON.stringify({ native: { available: false, reason: loaded.reason }, cpu: null, cuda: cudaInfo() })}\n`);
        else process.stdout.write(`bminf native addon: not available.\n${loaded.reason}\n`);
        return;
      }
      const { path, version, prebuilt } = loaded.addon;
      const cpu = nativeCpu.info();
      const cuda = cudaInfo();
      if (opts.json) {
        process.stdout.write(`${JSON.stringify({ native: { available: true, path, version, prebuilt }, cpu, cuda })}\n`);
        return;
      }
      process.stdout.write(
        [
          describe(loaded.addon),
          `CPU: ${cpu.threads} threads, kernels ${cpu.isa} (this CPU runs ${cpu.isas.join(', ')})`,
          formatCudaInfo(cuda),
          cuda.available ? '--device auto will use CUDA.' : '--device auto will use the CPU.',
        ].join('\n') + '\n',
      );
    });
}
