// Fuzzing the tokenizers (settings: tooling/fuzz/settings.ts): any text encodes to ids in the
// vocabulary without a crash, any ids decode, and a decoded text is a fixed point of encode → decode.
import { join } from 'node:path';
import { TokenizerError, InvalidArgumentError } from '@bminf/core';
import { Cpm2Tokenizer, SentencePieceTokenizer } from '@bminf/tokenizers';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { FUZZ_TIMEOUT, fuzz } from '../../../tooling/fuzz/settings.js';

const models = join(import.meta.dirname, '..', '..', '..', 'models');
// Text as users send it: CJK, ASCII, whitespace runs, full-width forms, emoji, lone surrogates.
const text = fc.oneof(
  fc.string({ unit: fc.constantFrom(...'床前明月光，。疑是地上霜 \n\t  ab1!？（）A１') , maxLength: 30 }),
  fc.string({ unit: 'grapheme', maxLength: 20 }),
  fc.string({ unit: 'binary', maxLength: 20 }),
);

/** Any text encodes to ids in the vocabulary, and decode(encode(·)) is a fixed point after one round. */
function roundTrips(tok: { vocabSize: number; encode(s: string): number[]; decode(ids: number[]): string }, runs: number): Promise<void> {
  return fuzz(
    fc.property(text, (s) => {
      const ids = tok.encode(s);
      for (const id of ids) expect(id >= 0 && id < tok.vocabSize && Number.isInteger(id)).toBe(true);
      const once = tok.decode(ids);
      expect(tok.decode(tok.encode(once))).toBe(once);
    }),
    runs,
  );
}

describe('fuzz: SentencePiece (CPM-1)', () => {
  let tok: SentencePieceTokenizer;
  beforeAll(async () => {
    tok = await SentencePieceTokenizer.fromFile(join(models, 'tiny-cpm1', 'tokenizer.model'));
  });

  it(
    'fuzz: encode gives ids in the vocabulary, and decode(encode(·)) is stable after one round',
    () => roundTrips(tok, 2000),
    FUZZ_TIMEOUT,
  );

  it(
    'fuzz: any ids decode, or are refused with a typed error when out of range',
    async () => {
      await fuzz(
        fc.property(fc.array(fc.oneof(fc.nat(tok.vocabSize - 1), fc.integer(), fc.double()), { maxLength: 20 }), (ids) => {
          try {
            expect(typeof tok.decode(ids)).toBe('string');
          } catch (e) {
            if (!(e instanceof TokenizerError || e instanceof InvalidArgumentError)) throw e;
            expect(ids.some((id) => !Number.isInteger(id) || id < 0 || id >= tok.vocabSize)).toBe(true);
          }
        }),
        2000,
      );
    },
    FUZZ_TIMEOUT,
  );
});

describe('fuzz: WordPiece + jieba (CPM-2)', () => {
  let tok: Cpm2Tokenizer;
  beforeAll(() => {
    tok = Cpm2Tokenizer.fromFile(join(models, 'fixtures', 'cpm2-tiny', 'vocab.txt'));
  });

  it(
    'fuzz: encode gives ids in the vocabulary, and decode(encode(·)) is stable after one round',
    () => roundTrips(tok, 1200),
    FUZZ_TIMEOUT,
  );
});
