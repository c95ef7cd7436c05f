// Fuzzing the command line parser (settings: tooling/fuzz/settings.ts): any argv is parsed or refused
// with a usage error (CommanderError) or a typed bad-value error, never anything else; the commands'
// actions are replaced so only parsing runs. Integer options take decimal digits only.
import { BminfError, InvalidArgumentError } from '@bminf/core';
import { CommanderError } from 'commander';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FUZZ_TIMEOUT, fuzz } from '../../../tooling/fuzz/settings.js';
import { intOption } from '../src/options.js';
import { createProgram } from '../src/program.js';
import { createProgram as createMigrateProgram } from '../../migrator/src/program.js';

const silent = { writeOut: () => {}, writeErr: () => {} };
const flags = [
  'generate', 'fill-blank', 'dialogue', 'tokenize', 'perplexity', 'info', 'migrate', '--model', '--prompt', '--text', '--context', '--max-tokens',
  '--greedy', '--temperature', '--top-p', '--top-k', '--seed', '--stop', '--json', '--dtype', '--device', '--frequency-penalty', '--presence-penalty',
  '--input', '--output', '--shard-size', '--force', '--dry-run', '--no-native', '--allow-nonfinite', '--help', '-h', '--', '--tokens', '--seq',
];
const token = fc.oneof(fc.constantFrom(...flags), fc.constantFrom('1', '0', '-1', '1e3', '0x10', '99999999999999999999', 'int8', 'cpu', 'NaN', '', ' ', '2GB'), fc.string({ maxLength: 6 }));

async function parses(make: () => ReturnType<typeof createProgram>, argv: string[]): Promise<void> {
  const program = make().configureOutput(silent);
  for (const c of [program, ...program.commands]) c.configureOutput(silent).exitOverride();
  for (const c of program.commands) c.action(() => {});
  if (program.commands.length === 0) program.action(() => {}); // bminf-migrate is a single command
  try {
    await program.parseAsync(['node', 'bminf', ...argv]);
  } catch (e) {
    if (!(e instanceof CommanderError || e instanceof BminfError)) throw e;
  }
}

describe('fuzz: command line', () => {
  it(
    'fuzz: bminf and bminf-migrate parse any argv or refuse it with a usage or bad-value error',
    async () => {
      await fuzz(
        fc.asyncProperty(fc.array(token, { maxLength: 10 }), async (argv) => {
          await parses(createProgram, argv);
          await parses(createMigrateProgram, argv);
        }),
        4000,
      );
    },
    FUZZ_TIMEOUT,
  );

  it(
    'fuzz: integer options take exactly the decimal safe integers in range',
    async () => {
      const parse = intOption('--n', 1);
      await fuzz(
        fc.property(fc.oneof(fc.string({ maxLength: 22 }), fc.bigInt({ min: -(2n ** 60n), max: 2n ** 60n }).map(String)), (s) => {
          const n = /^-?\d+$/.test(s) ? BigInt(s) : undefined;
          const ok = n !== undefined && n >= 1n && n <= BigInt(Number.MAX_SAFE_INTEGER);
          if (ok) expect(BigInt(parse(s))).toBe(n);
          else expect(() => parse(s)).toThrow(InvalidArgumentError);
        }),
        8000,
      );
    },
    FUZZ_TIMEOUT,
  );
});
