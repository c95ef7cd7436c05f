import { join } from 'node:path';
import { TokenizerError } from '@bminf/core';
import { Cpm1JiebaTokenizer, SentencePieceTokenizer } from '@bminf/tokenizers';
import { beforeAll, describe, expect, it } from 'vitest';

// CPM-1's original flavour over the demo model's SentencePiece model (models/tiny-cpm1).
const MODEL = join(import.meta.dirname, '../../../models/tiny-cpm1/tokenizer.model');

describe('Cpm1JiebaTokenizer', () => {
  let sp: SentencePieceTokenizer;
  let tok: Cpm1JiebaTokenizer;
  beforeAll(async () => {
    sp = await SentencePieceTokenizer.fromFile(MODEL);
    tok = new Cpm1JiebaTokenizer(sp);
  });

  it('joins jieba words by spaces, with spaces and newlines inside words marked', () => {
    // jieba: 我 / 爱 / 北京 / 天安门 / ' ' / hello / \n / 今天天气
    expect(tok.pretokenize('我爱北京天安门 hello\n今天天气')).toBe('我 爱 北京 天安门 \u2582 hello \u2583 今天天气');
    expect(tok.pretokenize('')).toBe('');
  });

  it('encodes the pretokenized text with SentencePiece', () => {
    const text = '春眠不觉晓，处处闻啼鸟。';
    // jieba: 春眠 / 不觉 / 晓 / ， / 处处 / 闻啼鸟 / 。
    expect(tok.encode(text)).toEqual(sp.encode('春眠 不觉 晓 ， 处处 闻啼鸟 。'));
  });

  it('decodes back to the text: word-boundary spaces dropped, U+2582/U+2583 restored', () => {
    for (const text of ['春眠不觉晓，处处闻啼鸟。', '床前 明月光\n疑是地上霜', 'hello world']) {
      expect(tok.decode(tok.encode(text))).toBe(text);
    }
  });

  it('needs a SentencePiece tokenizer', () => {
    expect(() => new Cpm1JiebaTokenizer({} as never)).toThrow(TokenizerError);
    expect(() => new Cpm1JiebaTokenizer(null as never)).toThrow(/needs a SentencePiece tokenizer/);
    expect(() => tok.encode(3 as never)).toThrow(/takes a string but received number/);
  });
});
