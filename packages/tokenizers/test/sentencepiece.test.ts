import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { InvalidArgumentError, TokenizerError } from '@bminf/core';
import { SentencePieceTokenizer } from '@bminf/tokenizers';
import { beforeAll, describe, expect, it } from 'vitest';

const repo = join(dirname(fileURLToPath(import.meta.url)), '../../..');
const modelPath = join(repo, 'models/tiny-cpm1/tokenizer.model');
const corpusPath = join(repo, '../shared/data/corpus.txt');

interface Case {
  text: string;
  ids: number[];
  pieces: string[];
  decoded: string;
}
const cases: Case[] = JSON.parse(
  readFileSync(join(repo, 'models/tiny-cpm1/tokenizer_cases.json'), 'utf8'),
);

let tok: SentencePieceTokenizer;
beforeAll(async () => {
  tok = await SentencePieceTokenizer.fromFile(modelPath);
});

describe('SentencePieceTokenizer on tiny-cpm1', () => {
  it('reads the special ids and vocabulary size from the model', () => {
    expect(tok.vocabSize).toBe(8000);
    expect([tok.padId, tok.unkId, tok.bosId, tok.eosId]).toEqual([0, 1, 2, 3]);
    expect(tok.idToPiece(4)).toBe('\n');
    expect(tok.pieceToId('\n')).toBe(4);
    expect(tok.pieceToId('<0xE4>')).toBe(tok.pieceToId('<0x00>') + 0xe4);
    expect(tok.pieceToId('no such piece')).toBe(tok.unkId);
    expect(tok.isControl(tok.bosId)).toBe(true);
    expect(tok.isControl(4)).toBe(false);
  });

  it.each(cases.map((c, i) => [i, JSON.stringify(c.text).slice(0, 40), c] as const))(
    'case %i %s encodes and decodes as the reference library',
    (_i, _name, c) => {
      expect(tok.encode(c.text)).toEqual(c.ids);
      expect(tok.encodeAsPieces(c.text)).toEqual(c.pieces);
      expect(tok.decode(c.ids)).toBe(c.decoded);
    },
  );

  it('keeps the user-defined newline piece whole and never merges it', () => {
    const pieces = tok.encodeAsPieces('你好\n\n世界');
    expect(pieces.filter((p) => p.includes('\n'))).toEqual(['\n', '\n']);
  });

  it('falls back to one byte piece per UTF-8 byte for characters outside the vocabulary', () => {
    const pieces = tok.encodeAsPieces('\u{1F600}');
    expect(pieces).toEqual(['▁', '<0xF0>', '<0x9F>', '<0x98>', '<0x80>']);
    expect(tok.decode(tok.encode('\u{1F600}'))).toBe('\u{1F600}');
  });

  it('decodes control pieces to nothing and a lone leading ▁ once', () => {
    const ids = tok.encode('床前明月光');
    expect(tok.decode([tok.bosId, ...ids, tok.eosId])).toBe('床前明月光');
    expect(tok.decode([tok.pieceToId('▁'), tok.pieceToId('▁'), ...ids.slice(1)])).toBe(' 床前明月光');
  });

  it('decodes <unk> to the unknown surface and broken byte runs to U+FFFD per byte', () => {
    expect(tok.decode([tok.unkId])).toBe(' \u2047 ');
    const b = (x: number): number => tok.pieceToId(`<0x${x.toString(16).toUpperCase()}>`);
    // E4 B8 AD is 中; a lone E4 (truncated sequence) and a stray continuation byte are invalid.
    expect(tok.decode([b(0xe4), b(0xb8), b(0xad)])).toBe('中');
    expect(tok.decode([b(0xe4), b(0xb8)])).toBe('\uFFFD\uFFFD');
    expect(tok.decode([b(0x80), b(0x41)])).toBe('\uFFFDA');
  });

  it('replaces lone surrogates by U+FFFD, as UTF-8 encoding does', () => {
    expect(tok.encode('a\uD800b')).toEqual(tok.encode('a\uFFFDb'));
  });

  it('encodes 100 KB of text (a linear-time merge loop, not a rescan)', () => {
    // Not a timing assertion: the test timeout catches a quadratic loop (which takes minutes here).
    const base = cases.map((c) => c.text).join('');
    let text = base.repeat(Math.ceil(100_000 / base.length)).slice(0, 100_000);
    if (/[\uD800-\uDBFF]$/.test(text)) text = text.slice(0, -1); // do not cut a surrogate pair
    const ids = tok.encode(text);
    expect(ids.length).toBeGreaterThan(10_000);
    expect(tok.decode(ids)).toBe(text);
  });

  it.skipIf(!existsSync(corpusPath))('round-trips the corpus lines (needs ../shared/data/corpus.txt)', () => {
    const lines = readFileSync(corpusPath, 'utf8')
      .split('\n')
      .filter((l) => l.length > 0 && l === l.trim() && !l.includes('  '));
    expect(lines.length).toBeGreaterThan(1000);
    let checked = 0;
    for (const line of lines) {
      const ids = tok.encode(line);
      expect(tok.decode(ids), JSON.stringify(line)).toBe(line);
      expect(ids.every((id) => Number.isInteger(id) && id >= 0 && id < tok.vocabSize)).toBe(true);
      checked++;
    }
    expect(checked).toBe(lines.length);
  });
});

describe('SentencePieceTokenizer bad input', () => {
  const bytes = readFileSync(modelPath);

  it('rejects a missing file with TokenizerError naming it', async () => {
    const missing = join(repo, 'models/tiny-cpm1/no-such.model');
    await expect(SentencePieceTokenizer.fromFile(missing)).rejects.toThrow(TokenizerError);
    await expect(SentencePieceTokenizer.fromFile(missing)).rejects.toThrow(/no-such\.model.*no such file/);
  });

  it('rejects a directory with TokenizerError', async () => {
    await expect(SentencePieceTokenizer.fromFile(join(repo, 'models'))).rejects.toThrow(/directory/);
  });

  it('rejects a truncated model with TokenizerError naming the source and the problem', () => {
    const cut = bytes.subarray(0, Math.floor(bytes.length / 2));
    expect(() => SentencePieceTokenizer.fromBytes(cut, 'cut.model')).toThrow(TokenizerError);
    expect(() => SentencePieceTokenizer.fromBytes(cut, 'cut.model')).toThrow(/cut\.model.*truncated/);
  });

  it('rejects a file that is not a protobuf (the .vocab text file)', async () => {
    const vocabPath = join(repo, 'models/tiny-cpm1/tokenizer.vocab');
    await expect(SentencePieceTokenizer.fromFile(vocabPath)).rejects.toThrow(TokenizerError);
    await expect(SentencePieceTokenizer.fromFile(vocabPath)).rejects.toThrow(/tokenizer\.vocab/);
  });

  it('rejects random bytes and an empty model', () => {
    const junk = new Uint8Array(64).map((_, i) => (i * 97 + 13) & 0xff);
    expect(() => SentencePieceTokenizer.fromBytes(junk, 'junk')).toThrow(TokenizerError);
    expect(() => SentencePieceTokenizer.fromBytes(new Uint8Array(0), 'empty')).toThrow(
      /empty: the model has no pieces/,
    );
  });

  it('rejects a non-Uint8Array and an empty path with InvalidArgumentError', async () => {
    expect(() => SentencePieceTokenizer.fromBytes('abc' as unknown as Uint8Array)).toThrow(
      InvalidArgumentError,
    );
    await expect(SentencePieceTokenizer.fromFile('')).rejects.toThrow(InvalidArgumentError);
  });

  it('rejects ids outside [0, vocabSize) in decode with InvalidArgumentError naming them', () => {
    expect(() => tok.decode([5, 8000])).toThrow(InvalidArgumentError);
    expect(() => tok.decode([5, 8000])).toThrow(/ids\[1\].*\[0, 7999\].*8000/);
    expect(() => tok.decode([-1])).toThrow(/ids\[0\]/);
    expect(() => tok.decode([1.5])).toThrow(InvalidArgumentError);
    expect(() => tok.decode(['7'] as unknown as number[])).toThrow(InvalidArgumentError);
    expect(() => tok.idToPiece(8000)).toThrow(InvalidArgumentError);
  });

  it('rejects non-string text in encode with InvalidArgumentError', () => {
    expect(() => tok.encode(42 as unknown as string)).toThrow(InvalidArgumentError);
    expect(() => tok.encode(42 as unknown as string)).toThrow(/string.*number 42/);
  });
});
