import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TokenizerError } from '@bminf/core';
import { Cpm2Tokenizer, parseVocab } from '@bminf/tokenizers';
import { describe, expect, it } from 'vitest';

// A small vocabulary in BMInf's layout (specials first, sentinels last). The expected ids below were
// worked out by hand from BMInf's algorithm (Q2B, jieba words, U+2582/U+2583, greedy longest match),
// with jieba's segmentation of each string noted beside it.
const WORDS = [
  '<pad>', '<unk>', '<s>', '</s>', '<eod>', '<sep>', // 0..5
  '我', '爱', '北京', '天安门', '北', '京', '天', // 6..12
  '\u2582', '\u2583', 'hello', 'hel', 'lo', 'A', 'B', '1', // 13..20
  '，', '。', ',', '今天', '天气', '不错', '（', '）', '！', '!', '\u2582\u2582', '天天', // 21..32
];
const SENTINEL0 = WORDS.length; // 33
const VOCAB = [...WORDS, ...Array.from({ length: 190 }, (_, i) => `<s_${i}>`)];
const tok = new Cpm2Tokenizer(VOCAB);

describe('Cpm2Tokenizer encode', () => {
  it('segments with jieba and takes whole words where the vocab has them', () => {
    // jieba: 我 / 爱 / 北京 / 天安门; 北京 wins over 北 + 京 (longest match)
    expect(tok.encode('我爱北京天安门')).toEqual([6, 7, 8, 9]);
  });

  it('matches greedily from the left inside a word', () => {
    // jieba: 今天天气 / 不错; in 今天天气 the longest prefix in the vocab is 今天, then 天气 (not 天天)
    expect(tok.encode('今天天气不错')).toEqual([24, 25, 26]);
  });

  it('turns full-width characters into half-width ones but keeps Chinese punctuation', () => {
    // Q2B: ＡＢ１，→ AB1，(the comma is kept); jieba: AB1 / ，; AB1 → A B 1
    expect(tok.encode('ＡＢ１，')).toEqual([18, 19, 20, 21]);
    // （ ） ！ stay full-width; the full-width space U+3000 becomes ▂
    expect(tok.encode('（Ａ）！')).toEqual([27, 18, 28, 29]);
    expect(tok.encode('Ａ\u3000Ｂ')).toEqual([18, 13, 19]);
    // ＂ (U+FF02) becomes " which the vocab lacks
    expect(tok.tokenize('＂')).toEqual(['<unk>']);
  });

  it('spells spaces as U+2582, one per jieba word', () => {
    // jieba: hello / ' ' / world; world has no piece in the vocab: one <unk> per character
    expect(tok.encode('hello world')).toEqual([15, 13, 1, 1, 1, 1, 1]);
    // jieba gives two separate ' ' words, so two ▂ rather than the ▂▂ entry
    expect(tok.encode('A  B')).toEqual([18, 13, 13, 19]);
  });

  it('spells newlines as U+2583', () => {
    // jieba: 今天 / \n / 天气
    expect(tok.encode('今天\n天气')).toEqual([24, 14, 25]);
    expect(tok.encode('北京 天安门\n\n我')).toEqual([8, 13, 9, 14, 14, 6]);
  });

  it('emits <unk> for characters the vocab lacks, one per code point', () => {
    // jieba: 我爱你 is one word: 我 爱 then 你 is unknown
    expect(tok.encode('我爱你')).toEqual([6, 7, 1]);
    // helo → hel + o (o alone is unknown)
    expect(tok.tokenize('helo')).toEqual(['hel', '<unk>']);
    // an emoji is two UTF-16 units but one character: one <unk>
    expect(tok.encode('我😀')).toEqual([6, 1]);
  });

  it('turns a word longer than 200 characters into a single <unk>', () => {
    expect(tok.encode('A'.repeat(201))).toEqual([1]);
    expect(tok.encode('A'.repeat(200))).toEqual(Array(200).fill(18));
  });

  it('recognises sentinels and special tokens written in the text', () => {
    expect(tok.encode('我<s_0>爱<s_189>')).toEqual([6, SENTINEL0, 7, SENTINEL0 + 189]);
    expect(tok.encode('<s>我<eod><sep><unk>')).toEqual([2, 6, 4, 5, 1]);
    // a sentinel number the vocab lacks stays text: jieba gives < / s_190 / >; only the 1 is a piece
    expect(tok.encode('<s_190>')).toEqual([1, 1, 1, 20, 1, 1, 1]);
  });

  it('tokenizes special tokens literally when asked to, as BMInf does', () => {
    // jieba: 我 / < / s_0 / >: every character unknown
    expect(tok.encode('我<s_0>', { specialTokens: false })).toEqual([6, 1, 1, 1, 1, 1]);
  });

  it('gives nothing for empty text', () => {
    expect(tok.encode('')).toEqual([]);
  });
});

describe('Cpm2Tokenizer decode and ids', () => {
  it('concatenates tokens and maps U+2582/U+2583 back', () => {
    expect(tok.decode([6, 13, 15, 14, 24, 32])).toBe('我 hello\n今天天天');
    expect(tok.decode([31])).toBe('  ');
  });

  it('round-trips text made of vocab pieces', () => {
    const text = '我爱北京 天安门\n今天天气不错。';
    expect(tok.decode(tok.encode(text))).toBe(text);
  });

  it('exposes the special ids', () => {
    expect([tok.sodId, tok.eodId, tok.unkId, tok.sepId, tok.padId]).toEqual([2, 4, 1, 5, 0]);
    expect(tok.sentinelId(0)).toBe(SENTINEL0);
    expect(tok.sentinelId(189)).toBe(SENTINEL0 + 189);
    expect(tok.vocabSize).toBe(VOCAB.length);
  });

  it('rejects ids out of range', () => {
    expect(() => tok.decode([VOCAB.length])).toThrow(TokenizerError);
    expect(() => tok.decode([-1])).toThrow(/out of range for a vocabulary of 223 tokens/);
    expect(() => tok.decode([1.5])).toThrow(/1.5/);
    expect(() => tok.sentinelId(190)).toThrow(/no sentinel <s_190>/);
  });
});

describe('vocab.txt', () => {
  it('reads one token a line, ids in order, as BMInf reads it', () => {
    const dir = mkdtempSync(join(tmpdir(), 'cpm2-vocab-'));
    const path = join(dir, 'vocab.txt');
    writeFileSync(path, VOCAB.join('\r\n') + '\n');
    const t = Cpm2Tokenizer.fromFile(path);
    expect(t.vocabSize).toBe(VOCAB.length);
    expect(t.encode('我爱北京天安门')).toEqual([6, 7, 8, 9]);
  });

  it('strips whitespace and skips empty lines as Python does', () => {
    expect(parseVocab('a\r\n\n  b \t\n\u3000c\u3000\n\ufeffd\n')).toEqual(['a', 'b', 'c', '\ufeffd']);
  });

  it('rejects a vocab without the special tokens, naming what is missing', () => {
    const noSep = VOCAB.filter((t) => t !== '<sep>');
    expect(() => new Cpm2Tokenizer(noSep)).toThrow(TokenizerError);
    expect(() => new Cpm2Tokenizer(noSep)).toThrow(/lacks the special tokens <sep>/);
    const noSentinels = WORDS;
    expect(() => new Cpm2Tokenizer(noSentinels)).toThrow(/190 sentinels \(<s_0> … <s_189>\)/);
    const some = VOCAB.filter((t) => t !== '<s_7>' && t !== '<eod>');
    expect(() => new Cpm2Tokenizer(some)).toThrow(/<eod>, <s_7>/);
  });

  it('rejects repeated tokens, an empty file and a missing file', () => {
    expect(() => parseVocab('a\nb\na\n')).toThrow(/line 3 repeats the token "a" of line 1/);
    expect(() => parseVocab('\n\n')).toThrow(/holds no tokens/);
    expect(() => Cpm2Tokenizer.fromFile('/nonexistent/vocab.txt')).toThrow(/Cannot read the vocabulary \/nonexistent\/vocab.txt/);
  });
});
