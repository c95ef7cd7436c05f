import { readRegularFileSync, TokenizerError, utf8Text } from '@bminf/core';
import { jiebaCut } from './jieba.js';
import { decodeWhitespace, encodeWhitespace, fullWidthToHalfWidth } from './normalize.js';
import { parseVocab } from './vocab.js';
import { wordpiece } from './wordpiece.js';

/** vocab.txt files are hundreds of kilobytes (CPM-2's: 0.2 MB). */
const MAX_VOCAB_FILE_BYTES = 64 * 1024 * 1024;

/** How many sentinels <s_0> … <s_189> CPM-2 and EVA vocabularies hold. */
export const CPM2_SENTINELS = 190;

/** Tokens the task code needs; a vocab without them cannot drive fill-blank, dialogue or generate. */
export const CPM2_REQUIRED_TOKENS = ['<s>', '<eod>', '<unk>', '<sep>'] as const;

/** Special tokens recognised when they appear literally in the input (besides the sentinels). */
const LITERAL_SPECIALS = ['<pad>', '<unk>', '<s>', '</s>', '<eod>', '<sep>'];

export interface Cpm2EncodeOptions {
  /**
   * Recognise `<s>`, `<eod>`, `<unk>`, `<sep>`, `<pad>`, `</s>` and sentinels `<s_N>` written in the
   * text as their ids (default true). With false the text is tokenized literally, as BMInf does.
   */
  specialTokens?: boolean;
}

/**
 * The CPM-2 / EVA tokenizer (BMInf's T5Tokenizer): full-width to half-width (Chinese punctuation
 * kept), jieba segmentation, space → U+2582 and newline → U+2583 inside each word, then greedy
 * longest-match WordPiece over vocab.txt with `<unk>` where nothing matches.
 */
export class Cpm2Tokenizer {
  readonly tokens: readonly string[];
  private readonly ids: ReadonlyMap<string, number>;
  private readonly maxTokenChars: number;
  private readonly specialPattern: RegExp;
  readonly sodId: number;
  readonly eodId: number;
  readonly unkId: number;
  readonly sepId: number;
  /** `<pad>` where the vocabulary has one. */
  readonly padId: number | undefined;
  readonly sentinelIds: readonly number[];

  constructor(tokens: readonly string[], options: { source?: string; sentinels?: number } = {}) {
    const source = options.source ?? 'vocab.txt';
    const sentinels = options.sentinels ?? CPM2_SENTINELS;
    this.tokens = Object.freeze([...tokens]);
    const ids = new Map<string, number>();
    tokens.forEach((t, i) => ids.set(t, i));
    this.ids = ids;
    const missing: string[] = CPM2_REQUIRED_TOKENS.filter((t) => !ids.has(t));
    const missingSentinels: number[] = [];
    for (let i = 0; i < sentinels; i++) if (!ids.has(`<s_${i}>`)) missingSentinels.push(i);
    if (missingSentinels.length > 0) missing.push(describeSentinels(missingSentinels));
    if (missing.length > 0) {
      throw new TokenizerError(`${source} lacks the special tokens ${missing.join(', ')} that CPM-2 and EVA need.`, {
        hint: 'Use the vocab.txt released with the model; it holds <s>, <eod>, <unk>, <sep> and the sentinels <s_0> … <s_189>.',
      });
    }
    this.sodId = ids.get('<s>')!;
    this.eodId = ids.get('<eod>')!;
    this.unkId = ids.get('<unk>')!;
    this.sepId = ids.get('<sep>')!;
    this.padId = ids.get('<pad>');
    this.sentinelIds = Object.freeze(Array.from({ length: sentinels }, (_, i) => ids.get(`<s_${i}>`)!));
    this.maxTokenChars = tokens.reduce((m, t) => Math.max(m, Array.from(t).length), 1);
    const literals = [...LITERAL_SPECIALS.filter((t) => ids.has(t)), '<s_\\d+>'];
    this.specialPattern = new RegExp(`(${literals.join('|')})`);
  }

  /** Reads vocab.txt (UTF-8, one token a line). */
  static fromFile(path: string, options: { sentinels?: number } = {}): Cpm2Tokenizer {
    const bytes = readRegularFileSync(path, {
      what: 'the vocabulary',
      maxBytes: MAX_VOCAB_FILE_BYTES,
      error: (m, hint) => new TokenizerError(`Cannot read the vocabulary ${m}`, { hint: `${hint} Pass the model directory that holds vocab.txt.` }),
    });
    const text = utf8Text(bytes);
    return new Cpm2Tokenizer(parseVocab(text, path), { source: path, ...options });
  }

  get vocabSize(): number {
    return this.tokens.length;
  }

  /** The id of `<s_i>`. */
  sentinelId(i: number): number {
    if (!Number.isInteger(i) || i < 0 || i >= this.sentinelIds.length) {
      throw new TokenizerError(`There is no sentinel <s_${i}>: the vocabulary has <s_0> … <s_${this.sentinelIds.length - 1}>.`);
    }
    return this.sentinelIds[i];
  }

  tokenToId(token: string): number | undefined {
    return this.ids.get(token);
  }

  idToToken(id: number): string {
    this.checkId(id);
    return this.tokens[id];
  }

  /** Text → token strings. */
  tokenize(text: string, options: Cpm2EncodeOptions = {}): string[] {
    if (typeof text !== 'string') throw new TokenizerError(`tokenize() takes a string but received ${typeof text}.`);
    if (options.specialTokens === false) return this.tokenizePlain(text);
    const out: string[] = [];
    // split() with a capturing group keeps the separators at the odd indices.
    const parts = text.split(this.specialPattern);
    for (let i = 0; i < parts.length; i++) {
      if (i % 2 === 1 && this.ids.has(parts[i])) out.push(parts[i]);
      else out.push(...this.tokenizePlain(parts[i]));
    }
    return out;
  }

  /** Text → ids. */
  encode(text: string, options: Cpm2EncodeOptions = {}): number[] {
    return this.tokenize(text, options).map((t) => this.ids.get(t) ?? this.unkId);
  }

  /** Ids → text: tokens concatenated, U+2582/U+2583 turned back into space/newline. */
  decode(ids: Iterable<number>): string {
    let text = '';
    for (const id of ids) text += this.idToToken(id);
    return decodeWhitespace(text);
  }

  private tokenizePlain(text: string): string[] {
    const out: string[] = [];
    for (const word of jiebaCut(fullWidthToHalfWidth(text))) {
      out.push(...wordpiece(encodeWhitespace(word), this.ids, '<unk>', this.maxTokenChars));
    }
    return out;
  }

  private checkId(id: number): void {
    if (!Number.isInteger(id) || id < 0 || id >= this.tokens.length) {
      throw new TokenizerError(`Token id ${id} is out of range for a vocabulary of ${this.tokens.length} tokens.`);
    }
  }
}

/** "<s_3>" or "<s_0> … <s_189> (190 sentinels)" style, so the message stays short. */
function describeSentinels(missing: number[]): string {
  if (missing.length <= 3) return missing.map((i) => `<s_${i}>`).join(', ');
  return `${missing.length} sentinels (<s_${missing[0]}> … <s_${missing[missing.length - 1]}>)`;
}
