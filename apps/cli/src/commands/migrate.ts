// `bminf migrate`: the same command as bminf-migrate (apps/migrator), registered under bminf.
import { configureMigrateCommand } from '@bminf/migrator';
import type { Command } from 'commander';

export function register(program: Command): void {
  configureMigrateCommand(program.command('migrate'));
}
