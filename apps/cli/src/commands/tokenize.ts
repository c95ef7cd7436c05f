import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { readModelConfig } from '@bminf/models';
import { Cpm2Tokenizer, SentencePieceTokenizer } from '@bminf/tokenizers';
import type { Command } from 'commander';

/** The model's own tokenizer: SentencePiece (CPM-1's tokenizer.model) or the CPM-2/EVA vocab.txt. */
async function openTokenizer(dir: string): Promise<{ encode(t: string): number[]; pieces(t: string): string[] }> {
  if (!existsSync(join(dir, 'tokenizer.model')) && existsSync(join(dir, 'vocab.txt'))) {
    const tok = Cpm2Tokenizer.fromFile(join(dir, 'vocab.txt'));
    return { encode: (t) => tok.encode(t), pieces: (t) => tok.encode(t).map((id) => tok.idToToken(id)) };
  }
  const tok = await SentencePieceTokenizer.fromFile(join(dir, 'tokenizer.model'));
  return { encode: (t) => tok.encode(t), pieces: (t) => tok.encodeAsPieces(t) };
}

export function register(program: Command): void {
  program
    .command('tokenize')
    .description("encode text with a model's tokenizer")
    .requiredOption('--model <dir>', 'model directory')
    .requiredOption('--text <text>', 'the text to encode')
    .option('--json', 'print {"ids": [...]}')
    .action(async (opts: { model: string; text: string; json?: boolean }) => {
      readModelConfig(opts.model); // a clear error for a missing directory
      const tok = await openTokenizer(opts.model);
      const ids = tok.encode(opts.text);
      if (opts.json) process.stdout.write(`${JSON.stringify({ ids })}\n`);
      else process.stdout.write(`${ids.join(' ')}\n${tok.pieces(opts.text).join(' ')}\n`);
    });
}
