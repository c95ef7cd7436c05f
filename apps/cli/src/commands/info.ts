import { type DeviceRequest, type ModelDType, formatBytes } from '@bminf/core';
import { cudaInfo, formatCudaInfo, nativeCpu } from '@bminf/kernels';
import { Cpm1Model, Engine, loadModel } from '@bminf/models';
import { type Command, Option } from 'commander';
import { deviceOption, dtypeOption, intOption, loadOptions, memoryLimitOption } from '../options.js';

/** What a loaded model takes: the backend pool's counts after its steps were planned, and its layer plan. */
interface ModelMemory {
  model: string;
  architecture: string;
  device: string;
  dtype: ModelDType;
  maxBatch: number;
  bytesInUse: number;
  reserved: number;
  limit: number | null;
  streaming: null | {
    resident: number;
    streamed: string[];
    slots: number;
    slotBytes: number;
    pinnedBytes: number;
    bytesPerDecodeStep: number;
    bytesPerEncoderPass: number;
  };
}

async function modelMemory(opts: { model: string; dtype: ModelDType; device: DeviceRequest; memoryLimit?: number; maxBatch: number }): Promise<ModelMemory> {
  const model = await loadModel(opts.model, loadOptions(opts, opts.maxBatch));
  try {
    const engine = new Engine(model, { maxBatch: opts.maxBatch });
    try {
      await engine.prepare(); // every step planned: its arenas and caches are in use now
      const stats = (model.backend as unknown as { memoryStats?: () => { bytesInUse: number; reserved?: number; limit?: number } }).memoryStats?.();
      const pool = (model.backend as unknown as { pool?: { stats?: { bytesInUse: number; bytesCached: number } } }).pool?.stats;
      const s = model.streamer;
      return {
        model: opts.model,
        architecture: model instanceof Cpm1Model ? 'cpm1' : 'cpm2',
        device: model.backend.name,
        dtype: model.dtype,
        maxBatch: opts.maxBatch,
        bytesInUse: stats?.bytesInUse ?? pool?.bytesInUse ?? 0,
        // The CPU's host pool holds what is in use and the freed buffers it keeps for reuse.
        reserved: stats?.reserved ?? (pool ? pool.bytesInUse + pool.bytesCached : 0),
        limit: stats?.limit ?? null,
        streaming: s
          ? {
              resident: s.residency.resident.size,
              streamed: [...s.residency.streamed],
              slots: s.residency.slots,
              slotBytes: s.residency.slotBytes,
              pinnedBytes: s.bytes.pinned,
              bytesPerDecodeStep: s.residency.bytesPerDecodeStep,
              bytesPerEncoderPass: s.residency.bytesPerEncoderPass,
            }
          : null,
      };
    } finally {
      await engine.close();
    }
  } finally {
    model.dispose();
  }
}

function formatMemory(m: ModelMemory): string {
  const lines = [
    `${m.model}: ${m.architecture}, ${m.device}, ${m.dtype}, planned for ${m.maxBatch} sequences`,
    `memory: ${formatBytes(m.bytesInUse)} in use, ${formatBytes(m.reserved)} reserved${m.limit !== null ? `, limit ${formatBytes(m.limit)}` : ''}`,
  ];
  const s = m.streaming;
  if (s) {
    lines.push(
      `layer streaming: ${s.resident} blocks resident, ${s.streamed.length} streamed through ${s.slots} slots of ${formatBytes(s.slotBytes)} ` +
        `from ${formatBytes(s.pinnedBytes)} of pinned host memory; copied per decode step ${formatBytes(s.bytesPerDecodeStep)}, per encoder pass ${formatBytes(s.bytesPerEncoderPass)}`,
    );
  } else {
    lines.push('layer streaming: none (every block resident)');
  }
  return lines.join('\n');
}

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
    .option('--model <dir>', "also load this model and report the memory it takes (its steps planned), and its layer plan")
    .addOption(dtypeOption())
    .addOption(deviceOption())
    .addOption(memoryLimitOption())
    .addOption(new Option('--max-batch <n>', 'sequences the model is planned for (with --model)').default(8).argParser(intOption('--max-batch', 1)))
    .action(async (opts: { json?: boolean; model?: string; dtype: ModelDType; device: DeviceRequest; memoryLimit?: number; maxBatch: number }) => {
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
      const memory = opts.model ? await modelMemory({ ...opts, model: opts.model }) : undefined;
      if (opts.json) {
        process.stdout.write(`${JSON.stringify({ native: { available: true, path, version, prebuilt }, cpu, cuda, ...(memory ? { memory } : {}) })}\n`);
        return;
      }
      process.stdout.write(
        [
          describe(loaded.addon),
          `CPU: ${cpu.threads} threads, kernels ${cpu.isa} (this CPU runs ${cpu.isas.join(', ')})`,
          formatCudaInfo(cuda),
          cuda.available ? '--device auto will use CUDA.' : '--device auto will use the CPU.',
          ...(memory ? [formatMemory(memory)] : []),
        ].join('\n') + '\n',
      );
    });
}
