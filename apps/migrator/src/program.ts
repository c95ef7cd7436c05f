// The bminf-migrate command line (also `bminf migrate`, which registers the same options).
import { BminfError, InvalidArgumentError } from '@bminf/core';
import { Command, CommanderError, Option } from 'commander';
import { migrate } from './migrate.js';
import { createReporter, type Mode } from './report.js';
import { parseSize } from './size.js';
import pkg from '../package.json' with { type: 'json' };

interface Opts {
  input: string;
  output: string;
  model: 'auto' | 'cpm1' | 'cpm2' | 'eva';
  dtype: 'int8' | 'fp16';
  shardSize?: number;
  dryRun?: boolean;
  force?: boolean;
  json?: boolean;
  native: boolean;
}

/** Adds the migrate options and action to a command (bminf-migrate itself, or `bminf migrate`). */
export function configureMigrateCommand(cmd: Command): Command {
  return cmd
    .description("convert a CPM-1, CPM-2 or EVA checkpoint (safetensors or PyTorch) into bminf's int8 format")
    .requiredOption('--input <path>', 'the checkpoint: a folder, or a .safetensors / .index.json / .bin / .pt file (config.json beside it)')
    .requiredOption('--output <dir>', 'the folder to create')
    .addOption(new Option('--model <name>', 'architecture').choices(['auto', 'cpm1', 'cpm2', 'eva']).default('auto'))
    .addOption(new Option('--dtype <dtype>', 'linear weights: int8 (per-row scales) or fp16').choices(['int8', 'fp16']).default('int8'))
    .addOption(new Option('--shard-size <size>', 'largest shard, e.g. 2GB or 500MiB (default 2 GiB)').argParser((v) => parseSize(v)))
    .option('--dry-run', 'check the input and print what would be written, writing nothing')
    .option('--force', 'replace the output folder if it exists')
    .option('--json', 'progress and summary as JSON lines on stdout')
    .option('--no-native', "convert in TypeScript only, without the native addon's kernels (same bytes, slower)")
    .action(async (opts: Opts) => {
      const mode: Mode = opts.json ? 'json' : process.stderr.isTTY ? 'bar' : 'lines';
      const reporter = createReporter(mode);
      const controller = new AbortController();
      const onSignal = () => controller.abort();
      process.once('SIGINT', onSignal);
      process.once('SIGTERM', onSignal);
      try {
        await migrate({
          input: opts.input,
          output: opts.output,
          model: opts.model,
          dtype: opts.dtype,
          shardSize: opts.shardSize,
          dryRun: opts.dryRun,
          force: opts.force,
          native: opts.native,
          signal: controller.signal,
          onEvent: (e) => reporter.onEvent(e),
        });
      } catch (e) {
        // With --json the failure is also a JSON line, so a tool reading stdout sees how the run ended.
        if (opts.json) {
          const err = e as Error & { code?: string };
          process.stdout.write(`${JSON.stringify({ event: 'error', code: err?.code ?? 'ERROR', message: err?.message ?? String(e) })}\n`);
        }
        throw e;
      } finally {
        reporter.stop();
        process.off('SIGINT', onSignal);
        process.off('SIGTERM', onSignal);
      }
    });
}

export function createProgram(): Command {
  const program = configureMigrateCommand(new Command('bminf-migrate'))
    .version(pkg.version)
    .exitOverride()
    .showHelpAfterError('(run with --help for usage)');
  return program;
}

/** Runs bminf-migrate; returns the exit code (0 ok, 1 error, 2 usage). One line per error on stderr. */
export async function main(argv: string[]): Promise<number> {
  try {
    await createProgram().parseAsync(argv);
    return 0;
  } catch (e) {
    if (e instanceof CommanderError) return e.exitCode === 0 ? 0 : 2;
    const err = e as Error;
    const message = e instanceof BminfError ? err.message : `${err?.message ?? String(e)}`;
    process.stderr.write(`bminf-migrate: error: ${message}\n`);
    if (!(e instanceof BminfError) && process.env.BMINF_LOG === 'debug') process.stderr.write(`${err?.stack}\n`);
    return e instanceof InvalidArgumentError ? 2 : 1;
  }
}
