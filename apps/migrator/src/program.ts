// The bminf-migrate command line (also `bminf migrate`, which registers the same options).
import { constants } from 'node:os';
import { AbortedError, BminfError, InvalidArgumentError, STDOUT_CLOSED_EXIT_CODE, stdoutClosed, stdoutClosedSignal } from '@bminf/core';
import { Command, CommanderError, Option } from 'commander';
import { migrate } from './migrate.js';
import { createReporter, type Mode } from './report.js';
import { parseSize } from './size.js';

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
  allowNonfinite?: boolean;
}

/** A migration stopped by SIGINT or SIGTERM: the process exits 128 + the signal's number, as if killed by it. */
export class InterruptedError extends AbortedError {
  readonly exitCode: number;
  constructor(readonly signal: 'SIGINT' | 'SIGTERM') {
    super(`The migration was interrupted (${signal}); nothing was written.`);
    this.exitCode = 128 + constants.signals[signal];
  }
}

/** The JSON line that ends a --json run that failed, so a tool reading stdout sees how it ended. */
function jsonError(e: unknown, code?: string): string {
  const err = e as Error & { code?: string };
  return `${JSON.stringify({ event: 'error', code: code ?? err?.code ?? 'ERROR', message: err?.message ?? String(e) })}\n`;
}

let jsonErrorWritten = false;

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
    .option('--allow-nonfinite', 'convert tensors that hold NaN or infinity instead of refusing them (each is named in the summary)')
    .option('--no-native', "convert in TypeScript only, without the native addon's kernels (same bytes, slower)")
    .action(async (opts: Opts) => {
      const mode: Mode = opts.json ? 'json' : process.stderr.isTTY ? 'bar' : 'lines';
      const reporter = createReporter(mode);
      const controller = new AbortController();
      const onSignal = (signal: 'SIGINT' | 'SIGTERM') => controller.abort(new InterruptedError(signal));
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
          allowNonFinite: opts.allowNonfinite,
          // A closed stdout stops the run as a signal does (the staging folder is removed).
          signal: AbortSignal.any([controller.signal, stdoutClosedSignal()]),
          onEvent: (e) => reporter.onEvent(e),
        });
      } catch (e) {
        const reason: unknown = controller.signal.reason;
        const err = e instanceof AbortedError && reason instanceof InterruptedError ? reason : e;
        if (opts.json && !stdoutClosed()) {
          process.stdout.write(jsonError(err));
          jsonErrorWritten = true;
        }
        throw err;
      } finally {
        reporter.stop();
        process.off('SIGINT', onSignal);
        process.off('SIGTERM', onSignal);
      }
    });
}

export function createProgram(): Command {
  const program = configureMigrateCommand(new Command('bminf-migrate'))
    .version('0.1.0')
    .exitOverride()
    .showHelpAfterError('(run with --help for usage)');
  return program;
}

/**
 * Runs bminf-migrate; returns the exit code (0 ok, 1 error, 2 usage, 130/143 interrupted, 141 stdout
 * closed). One line per error on stderr; with --json, a usage error is a JSON line on stdout too.
 */
export async function main(argv: string[]): Promise<number> {
  try {
    await createProgram().parseAsync(argv);
    return stdoutClosed() ? STDOUT_CLOSED_EXIT_CODE : 0;
  } catch (e) {
    if (stdoutClosed()) return STDOUT_CLOSED_EXIT_CODE; // the reader is gone: nothing to tell it
    const usage = e instanceof CommanderError || e instanceof InvalidArgumentError;
    if (usage && e instanceof CommanderError && e.exitCode === 0) return 0; // --help, --version
    if (argv.includes('--json') && !jsonErrorWritten) process.stdout.write(jsonError(e, usage ? 'USAGE' : undefined));
    if (e instanceof CommanderError) return 2; // commander printed the message
    const err = e as Error;
    const message = e instanceof BminfError ? err.message : `${err?.message ?? String(e)}`;
    process.stderr.write(`bminf-migrate: error: ${message}\n`);
    if (!(e instanceof BminfError) && process.env.BMINF_LOG === 'debug') process.stderr.write(`${err?.stack}\n`);
    if (e instanceof InterruptedError) return e.exitCode;
    return usage ? 2 : 1;
  }
}
