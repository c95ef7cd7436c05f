import { readFileSync } from 'node:fs';
import { InvalidArgumentError } from '@bminf/core';
import { Cpm1Model, perplexity } from '@bminf/models';
import type { Command } from 'commander';
import { deviceOption, loadOptions, memoryLimitOption, threadsOption, dtypeOption, intOption } from '../options.js';

function readIds(file: string): number[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new InvalidArgumentError(`Cannot read token file ${file}: ${(e as Error).message}.`, {
      hint: 'Give a JSON file with an "ids" array of token ids.',
    });
  }
  const ids = (parsed as { ids?: unknown })?.ids;
  if (!Array.isArray(ids) || ids.some((x) => !Number.isInteger(x))) {
    throw new InvalidArgumentError(`${file} has no "ids" array of integers.`, { hint: 'Give a JSON file like {"ids": [1, 2, 3]}.' });
  }
  return ids as number[];
}

export function register(program: Command): void {
  program
    .command('perplexity')
    .description('mean next-token cross-entropy over rows of --seq tokens')
    .requiredOption('--model <dir>', 'model directory')
    .requiredOption('--tokens <file>', 'JSON file with an "ids" array')
    .requiredOption('--seq <n>', 'tokens per row', intOption('--seq', 2))
    .addOption(dtypeOption())
    .addOption(deviceOption())
    .addOption(threadsOption())
    .addOption(memoryLimitOption())
    .option('--json', 'print {"loss", "perplexity", "tokens"}')
    .action(async (opts: { model: string; tokens: string; seq: number; dtype: 'fp32' | 'fp16' | 'int8'; device: 'auto' | 'cpu' | 'cuda'; threads?: number; json?: boolean }) => {
      const ids = readIds(opts.tokens);
      const model = await Cpm1Model.load(opts.model, loadOptions(opts));
      try {
        for (const id of ids) {
          if (id < 0 || id >= model.vocabSize) throw new InvalidArgumentError(`${opts.tokens}: token id ${id} is out of range (0..${model.vocabSize - 1}).`);
        }
        const r = perplexity(model, ids, opts.seq);
        if (opts.json) process.stdout.write(`${JSON.stringify({ loss: r.loss, perplexity: r.perplexity, tokens: r.tokens })}\n`);
        else process.stdout.write(`loss ${r.loss.toFixed(6)}  perplexity ${r.perplexity.toFixed(3)}  (${r.tokens} predictions in ${r.rows} rows, ${model.dtype}, ${model.backend.name})\n`);
      } finally {
        model.dispose();
      }
    });
}
