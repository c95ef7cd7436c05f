// SentencePiece decoding one id at a time: the state machine of SentencePieceProcessor::Decode
// (leading-space handling, byte runs reassembled as UTF-8) kept between ids, so that streaming
// generation appends each token's text instead of decoding every id again. decode() runs through it
// too, so both give the same text by construction.
import { decodeBytesLeniently } from './byte-pieces.js';
import { PieceType } from './model-proto.js';
import { SPACE_SYMBOL } from './normalizer.js';
import type { Vocab } from './vocab.js';

/** What decoding needs from the model's normalizer and trainer specs. */
export interface DecodeSpec {
  /** A leading ▁ at the start of the text was added by the dummy prefix (or extra whitespace removal). */
  readonly stripLeadingSpace: boolean;
  readonly removeExtraWhitespaces: boolean;
  /** What <unk> decodes to. */
  readonly unkSurface: string;
}

export class SentencePieceStreamDecoder {
  private done = '';
  private bytes: number[] = [];
  // A piece reached while nothing has been output yet may lose its leading ▁, until one piece has
  // done so (with remove_extra_whitespaces, any number may: all leading whitespace goes).
  private isBosWs = true;
  private bosWsSeen = false;

  /** Ids must be valid (the tokenizer checks them). */
  constructor(
    private readonly vocab: Vocab,
    private readonly spec: DecodeSpec,
  ) {}

  /** The text of every id pushed so far: exactly what decode() gives for them. */
  get text(): string {
    return this.bytes.length > 0 ? this.done + decodeBytesLeniently(this.bytes) : this.done;
  }

  push(id: number): void {
    const { vocab, spec } = this;
    const type = vocab.types[id];
    if (type === PieceType.Byte) {
      this.bytes.push(vocab.byteOf[id]);
      return;
    }
    if (this.bytes.length > 0) {
      this.done += decodeBytesLeniently(this.bytes);
      this.bytes = [];
    }
    if (this.bosWsSeen || this.done.length > 0) this.isBosWs = false;
    let piece = vocab.pieces[id];
    this.bosWsSeen = false;
    if (type === PieceType.Control) return;
    if (type === PieceType.Unknown) {
      this.done += spec.unkSurface;
      return;
    }
    if (this.isBosWs && spec.stripLeadingSpace && piece.startsWith(SPACE_SYMBOL)) {
      piece = piece.slice(SPACE_SYMBOL.length);
      this.bosWsSeen = !spec.removeExtraWhitespaces;
    }
    this.done += piece.replaceAll(SPACE_SYMBOL, ' ');
  }
}
