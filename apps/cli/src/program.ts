import { BminfError, STDOUT_CLOSED_EXIT_CODE, stdoutClosed, stdoutClosedSignal } from '@bminf/core';
import { Command, CommanderError } from 'commander';
import * as dialogue from './commands/dialogue.js';
import * as fillBlank from './commands/fill-blank.js';
import * as generate from './commands/generate.js';
import * as info from './commands/info.js';
import * as migrate from './commands/migrate.js';
import * as perplexity from './commands/perplexity.js';
import * as serve from './commands/serve.js';
import * as tokenize from './commands/tokenize.js';
import pkg from '../package.json' with { type: 'json' };

/** The `bminf` command and its subcommands. */
export function createProgram(): Command {
  const program = new Command('bminf')
    .description('Big-model inference for Node.js: CPM-1, CPM-2 and EVA in int8 on one GPU or the CPU.')
    .version(pkg.version)
    .exitOverride()
    .showHelpAfterError('(run with --help for usage)');
  for (const cmd of [generate, fillBlank, dialogue, tokenize, perplexity, migrate, serve, info]) cmd.register(program);
  for (const sub of program.commands) sub.exitOverride();
  return program;
}

/** Runs the CLI; returns the exit code. Errors print one line that says what was wrong and what to do. */
export async function main(argv: string[]): Promise<number> {
  const program = createProgram();
  stdoutClosedSignal(); // a reader that goes away (| head) ends the command quietly, not with an EPIPE trace
  try {
    await program.parseAsync(argv);
    return stdoutClosed() ? STDOUT_CLOSED_EXIT_CODE : 0;
  } catch (e) {
    if (stdoutClosed()) return STDOUT_CLOSED_EXIT_CODE;
    if (e instanceof CommanderError) return e.exitCode === 0 ? 0 : 2; // commander printed the message
    if (e instanceof BminfError) {
      process.stderr.write(`bminf: error: ${e.message}\n`);
      const { exitCode } = e as BminfError & { exitCode?: number }; // an interrupted migration: 130 / 143
      return exitCode ?? 1;
    }
    const err = e as Error & { code?: string };
    process.stderr.write(`bminf: error: ${err?.message ?? String(e)}\n`);
    if (process.env.BMINF_LOG === 'debug') process.stderr.write(`${err?.stack}\n`);
    return 1;
  }
}
