import { join } from 'node:path';
import { readModelConfig } from '@bminf/models';
import { SentencePieceTokenizer } from '@bminf/tokenizers';
import type { Command } from 'commander';

export function register(program: Command): void {
  program
    .command('tokenize')
    .description("encode text with a model's tokenizer")
    .requiredOption('--model <dir>', 'model directory')
    .requiredOption('--text <text>', 'the text to encode')
    .option('--json', 'print {"ids": [...]}')
    .action(async (opts: { model: string; text: string; json?: boolean }) => {
      readModelConfig(opts.model); // a clear error for a missing directory
      const tok = await SentencePieceTokenizer.fromFile(join(opts.model, 'tokenizer.model'));
      const ids = tok.encode(opts.text);
      if (opts.json) process.stdout.write(`${JSON.stringify({ ids })}\n`);
      else process.stdout.write(`${ids.join(' ')}\n${tok.encodeAsPieces(opts.text).join(' ')}\n`);
    });
}
