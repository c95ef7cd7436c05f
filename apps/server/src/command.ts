import { type DeviceRequest, InvalidArgumentError, type ModelDType, parseBytes, parseDeviceRequest, parseModelDType } from '@bminf/core';
import { Command, Option } from 'commander';
import { startServer } from './server.js';

function intOption(name: string, min: number, max: number) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < min || n > max) throw new InvalidArgumentError(`${name} must be an integer from ${min} to ${max}, but is "${value}".`);
    return n;
  };
}

interface ServeOpts {
  model: string;
  device: DeviceRequest;
  dtype: ModelDType;
  host: string;
  port: number;
  apiKey?: string;
  maxQueue: number;
  maxBatch: number;
  memoryLimit?: number;
}

/**
 * The serve command, `bminf-server` on its own and `bminf serve` in the CLI. It runs until SIGTERM or
 * SIGINT, then drains (the requests in flight finish) and resolves.
 */
export function serveCommand(name: string): Command {
  return new Command(name)
    .description('serve a model over an OpenAI-compatible HTTP API, with a page to try it at /')
    .requiredOption('--model <dir>', 'model directory (CPM-1, CPM-2 or EVA)')
    .addOption(new Option('--device <device>', 'auto (CUDA when a usable GPU is present), cpu, or cuda').default('auto').argParser(parseDeviceRequest))
    .addOption(new Option('--dtype <dtype>', 'weights: fp32, fp16, or int8 (W8A8, float16 activations)').default('int8').argParser(parseModelDType))
    .option('--host <host>', 'address to bind', '127.0.0.1')
    .addOption(new Option('--port <port>', 'port (0: a free one)').default(8080).argParser(intOption('--port', 0, 65535)))
    .option('--api-key <key>', 'require "Authorization: Bearer <key>" on /v1/ requests')
    .addOption(new Option('--max-queue <n>', 'requests waiting for a slot at most; more get 429').default(32).argParser(intOption('--max-queue', 0, 1_000_000)))
    .addOption(new Option('--max-batch <n>', 'requests decoded together at most').default(8).argParser(intOption('--max-batch', 1, 256)))
    .addOption(
      new Option('--memory-limit <size>', 'GPU memory the model may use, e.g. 6GiB: blocks that do not fit stream from host memory (CUDA only)').argParser((v) => parseBytes(v, '--memory-limit')),
    )
    .action(async (opts: ServeOpts) => {
      const server = await startServer({
        model: { dir: opts.model, dtype: opts.dtype, device: opts.device, ...(opts.memoryLimit !== undefined ? { memoryLimit: opts.memoryLimit } : {}) },
        host: opts.host,
        port: opts.port,
        maxBatch: opts.maxBatch,
        maxQueue: opts.maxQueue,
        ...(opts.apiKey !== undefined ? { apiKey: opts.apiKey } : {}),
      });
      process.stderr.write(`${name}: listening on ${server.url}, loading ${opts.model}\n`);
      const stopped = new Promise<void>((resolve) => {
        const stop = (signal: string) => {
          process.stderr.write(`${name}: ${signal}: finishing the requests in flight, then exiting\n`);
          void server.close().then(resolve);
        };
        process.once('SIGTERM', () => stop('SIGTERM'));
        process.once('SIGINT', () => stop('SIGINT'));
      });
      try {
        const served = await server.ready;
        process.stderr.write(`${name}: serving ${served.id} (${served.architecture}, ${served.device}, ${served.dtype}) at ${server.url}\n`);
      } catch (e) {
        await server.close();
        throw e;
      }
      await stopped;
    });
}
