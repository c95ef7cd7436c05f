import { serveCommand } from '@bminf/server';
import type { Command } from 'commander';

/** `bminf serve`: the demo server (the bminf-server program of @bminf/server, same flags). */
export function register(program: Command): void {
  program.addCommand(serveCommand('serve'));
}
