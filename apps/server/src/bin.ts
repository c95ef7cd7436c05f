#!/usr/bin/env node
import { BminfError } from '@bminf/core';
import { CommanderError } from 'commander';
import { serveCommand } from './command.js';

// bminf-server: the serve command as a program of its own. Errors print one line; exit 2 when the
// command line cannot be parsed, 1 for everything else (as the bminf CLI does).
const program = serveCommand('bminf-server').exitOverride().showHelpAfterError('(run with --help for usage)');
program.parseAsync(process.argv).then(
  () => {
    process.exitCode = 0;
  },
  (e: unknown) => {
    if (e instanceof CommanderError) {
      process.exitCode = e.exitCode === 0 ? 0 : 2;
      return;
    }
    process.stderr.write(`bminf-server: error: ${e instanceof BminfError || e instanceof Error ? e.message : String(e)}\n`);
    process.exitCode = 1;
  },
);
