import { TokenizerError } from '@bminf/core';
import { jiebaCut } from './jieba.js';
import { decodeWhitespace, encodeWhitespace } from './normalize.js';

/** What Cpm1JiebaTokenizer needs of a SentencePiece model (the package's SentencePieceTokenizer fits). */
export interface PieceEncoder {
  encode(text: string): number[];
  decode(ids: readonly number[]): string;
}

/**
 * CPM-1's original tokenizer (CPM-Generate's `GPT2Tokenizer`, Hugging Face's `CpmTokenizer`):
 * jieba segmentation, space → U+2582 and newline → U+2583 inside each word, the words joined by
 * single spaces, then SentencePiece. Decoding drops the spaces SentencePiece restores (they were
 * only word boundaries) and turns U+2582/U+2583 back into space/newline.
 */
export class Cpm1JiebaTokenizer {
  constructor(readonly pieces: PieceEncoder) {
    if (!pieces || typeof pieces.encode !== 'function' || typeof pieces.decode !== 'function') {
      throw new TokenizerError('Cpm1JiebaTokenizer needs a SentencePiece tokenizer with encode() and decode().');
    }
  }

  /** The text SentencePiece receives: jieba words with whitespace marked, joined by spaces. */
  pretokenize(text: string): string {
    if (typeof text !== 'string') throw new TokenizerError(`encode() takes a string but received ${typeof text}.`);
    return jiebaCut(text).map(encodeWhitespace).join(' ');
  }

  encode(text: string): number[] {
    return this.pieces.encode(this.pretokenize(text));
  }

  decode(ids: readonly number[]): string {
    return decodeWhitespace(this.pieces.decode(ids).replace(/ /g, ''));
  }
}
