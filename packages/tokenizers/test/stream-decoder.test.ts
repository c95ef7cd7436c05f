// The stream decoder against decode(): after every id pushed, its text is decode() of the ids so far,
// on the reference cases and on random id sequences rich in what makes decoding stateful (leading ▁
// pieces, control and unknown pieces, byte pieces that split or break UTF-8 characters).
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { InvalidArgumentError } from '@bminf/core';
import { SentencePieceTokenizer } from '@bminf/tokenizers';
import { beforeAll, describe, expect, it } from 'vitest';

const repo = join(dirname(fileURLToPath(import.meta.url)), '../../..');
const cases: { ids: number[] }[] = JSON.parse(readFileSync(join(repo, 'models/tiny-cpm1/tokenizer_cases.json'), 'utf8'));

let tok: SentencePieceTokenizer;
beforeAll(async () => {
  tok = await SentencePieceTokenizer.fromFile(join(repo, 'models/tiny-cpm1/tokenizer.model'));
});

function expectSameAsDecode(ids: number[]): void {
  const d = tok.streamDecoder();
  expect(d.text).toBe('');
  for (let i = 0; i < ids.length; i++) {
    d.push(ids[i]);
    expect(d.text, `after ${i + 1} of [${ids.join(', ')}]`).toBe(tok.decode(ids.slice(0, i + 1)));
  }
}

describe('SentencePiece stream decoder', () => {
  it('gives decode() of the ids so far after every id of the reference cases', () => {
    for (const c of cases) expectSameAsDecode(c.ids);
  });

  it('gives decode() of the ids so far on random sequences of special, byte and ▁ pieces', () => {
    const bytePiece = (b: number) => tok.pieceToId(`<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`);
    const spaced = Array.from({ length: tok.vocabSize }, (_, id) => id).filter((id) => tok.idToPiece(id).startsWith('▁'));
    // A 3-byte character (中 = E4 B8 AD), its prefix alone, and a stray continuation byte.
    const pool = [0, 1, 2, 3, bytePiece(0xe4), bytePiece(0xb8), bytePiece(0xad), bytePiece(0x41), ...spaced.slice(0, 20), 500, 1000, 4000];
    let seed = 7;
    const next = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) >>> 8) % pool.length;
    for (let n = 0; n < 200; n++) expectSameAsDecode(Array.from({ length: 1 + (n % 12) }, () => pool[next()]));
  });

  it('rejects ids outside the vocabulary with InvalidArgumentError', () => {
    const d = tok.streamDecoder();
    expect(() => d.push(tok.vocabSize)).toThrow(InvalidArgumentError);
    expect(() => d.push(-1)).toThrow(InvalidArgumentError);
  });
});
