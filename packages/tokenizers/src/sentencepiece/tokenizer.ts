// SentencePieceTokenizer: loads a SentencePiece `.model` (a ModelProto) and encodes/decodes exactly
// as the reference library (sentencepiece_processor.cc) does for BPE models, with identity
// normalization or a precompiled normalization map (nmt_nfkc etc.). No native code and no protobuf
// dependency.

import { InvalidArgumentError, readRegularFile, TokenizerError } from '@bminf/core';
import { bpeEncode } from './bpe.js';
import { CharsMapError, PrecompiledCharsMap } from './charsmap.js';
import { byteToPiece } from './byte-pieces.js';
import { ModelType, PieceType, parseModelProto } from './model-proto.js';
import type { ModelProto } from './model-proto.js';
import { Normalizer } from './normalizer.js';
import { ProtobufError } from './protobuf.js';
import { type DecodeSpec, SentencePieceStreamDecoder } from './stream-decoder.js';
import { PrefixMatcher, toWellFormed } from './text-units.js';
import { SOURCE_HINT, Vocab } from './vocab.js';

/** SentencePiece models are a few megabytes (CPM-1's: 0.7 MB); the cap keeps a wrong path (a device, a huge file) from being read whole. */
const MAX_MODEL_FILE_BYTES = 128 * 1024 * 1024;

const MODEL_TYPE_NAMES: Record<number, string> = { 1: 'UNIGRAM', 2: 'BPE', 3: 'WORD', 4: 'CHAR' };
const utf8 = new TextEncoder();

export class SentencePieceTokenizer {
  /** Number of pieces; valid ids are 0 … vocabSize - 1. */
  readonly vocabSize: number;
  /** Ids of `<s>`, `</s>`, `<unk>`, `<pad>` (or the pieces the trainer named), -1 when absent. */
  readonly bosId: number;
  readonly eosId: number;
  readonly unkId: number;
  readonly padId: number;

  private readonly vocab: Vocab;
  private readonly normalizer: Normalizer;
  private readonly userDefined: PrefixMatcher;
  private readonly byteFallback: boolean;
  private readonly decodeSpec: DecodeSpec;
  private readonly source: string;

  private constructor(proto: ModelProto, source: string) {
    checkSupported(proto, source);
    this.source = source;
    this.vocab = new Vocab(proto, source);
    this.userDefined = new PrefixMatcher(this.vocab.userDefined);
    this.normalizer = new Normalizer(proto.normalizerSpec, this.userDefined, loadCharsMap(proto, source));
    this.byteFallback = proto.trainerSpec.byteFallback;
    const ns = proto.normalizerSpec;
    this.decodeSpec = {
      stripLeadingSpace: ns.addDummyPrefix || ns.removeExtraWhitespaces,
      removeExtraWhitespaces: ns.removeExtraWhitespaces,
      unkSurface: proto.trainerSpec.unkSurface,
    };
    this.vocabSize = this.vocab.size;
    const { trainerSpec: ts } = proto;
    const idIf = (piece: string, type: number): number => {
      const id = this.vocab.pieceToId(piece);
      return this.vocab.types[id] === type ? id : -1;
    };
    this.unkId = idIf(ts.unkPiece, PieceType.Unknown);
    this.bosId = idIf(ts.bosPiece, PieceType.Control);
    this.eosId = idIf(ts.eosPiece, PieceType.Control);
    this.padId = idIf(ts.padPiece, PieceType.Control);
  }

  /** Loads a `tokenizer.model` file. Throws TokenizerError naming the file when it cannot. */
  static async fromFile(path: string): Promise<SentencePieceTokenizer> {
    if (typeof path !== 'string' || path.length === 0) {
      throw new InvalidArgumentError(
        `Expected a SentencePiece model file path (a non-empty string) but received ${describe(path)}.`,
      );
    }
    const bytes = await readRegularFile(path, {
      what: 'the SentencePiece model',
      maxBytes: MAX_MODEL_FILE_BYTES,
      error: (m, hint) => new TokenizerError(`Cannot read the SentencePiece model ${m}`, { hint: `${hint} It should be a tokenizer.model file.` }),
    });
    return SentencePieceTokenizer.fromBytes(bytes, path);
  }

  /** Builds a tokenizer from the bytes of a `.model` file; `source` names it in errors. */
  static fromBytes(bytes: Uint8Array, source = 'SentencePiece model bytes'): SentencePieceTokenizer {
    if (!(bytes instanceof Uint8Array)) {
      throw new InvalidArgumentError(
        `Expected the model as a Uint8Array but received ${describe(bytes)}.`,
      );
    }
    let proto: ModelProto;
    try {
      proto = parseModelProto(bytes);
    } catch (cause) {
      if (!(cause instanceof ProtobufError)) throw cause;
      throw new TokenizerError(
        `${source}: not a valid SentencePiece model (malformed protobuf: ${cause.message}).`,
        { hint: `The file may be truncated or not a model at all. ${SOURCE_HINT}`, cause },
      );
    }
    return new SentencePieceTokenizer(proto, source);
  }

  /** Encodes text to ids (no BOS/EOS added). */
  encode(text: string): number[] {
    return this.encodeWithPieces(text).map(([, id]) => id);
  }

  /** Encodes text to piece strings, as `encode_as_pieces` does. */
  encodeAsPieces(text: string): string[] {
    return this.encodeWithPieces(text).map(([piece]) => piece);
  }

  /**
   * Decodes ids to text: control pieces vanish, `<unk>` becomes the unknown surface (" ⁇ "), runs of
   * byte pieces are reassembled as UTF-8, ▁ becomes a space, and the space the dummy prefix added
   * at the start is dropped.
   */
  decode(ids: readonly number[] | ArrayLike<number>): string {
    if (!Array.isArray(ids) && !(ArrayBuffer.isView(ids) && !(ids instanceof DataView))) {
      throw new InvalidArgumentError(`Expected an array of token ids but received ${describe(ids)}.`);
    }
    const n = ids.length;
    for (let i = 0; i < n; i++) this.checkId(ids[i], `ids[${i}]`);
    const d = new SentencePieceStreamDecoder(this.vocab, this.decodeSpec);
    for (let i = 0; i < n; i++) d.push(ids[i]);
    return d.text;
  }

  /**
   * A decoder to push ids into one at a time (streaming generation): its `text` is always what
   * decode() gives for the ids pushed so far, without decoding them all again.
   */
  streamDecoder(): { push(id: number): void; readonly text: string } {
    const d = new SentencePieceStreamDecoder(this.vocab, this.decodeSpec);
    return {
      push: (id: number) => {
        this.checkId(id, 'id');
        d.push(id);
      },
      get text() {
        return d.text;
      },
    };
  }

  /** The piece string of an id. */
  idToPiece(id: number): string {
    this.checkId(id, 'id');
    return this.vocab.pieces[id];
  }

  /** The id of a piece string; like the reference, the unknown id for a piece not in the vocabulary. */
  pieceToId(piece: string): number {
    if (typeof piece !== 'string') {
      throw new InvalidArgumentError(`Expected a piece string but received ${describe(piece)}.`);
    }
    return this.vocab.pieceToId(piece);
  }

  /** Whether an id is a control piece (`<s>`, `</s>`, `<pad>`): these decode to nothing. */
  isControl(id: number): boolean {
    this.checkId(id, 'id');
    return this.vocab.types[id] === PieceType.Control;
  }

  private checkId(id: unknown, what: string): asserts id is number {
    if (typeof id !== 'number' || !Number.isInteger(id) || id < 0 || id >= this.vocabSize) {
      throw new InvalidArgumentError(
        `Expected ${what} to be a token id in [0, ${this.vocabSize - 1}] but received ${describe(id)}.`,
        { hint: `The tokenizer has ${this.vocabSize} pieces; check that the ids come from the same model.` },
      );
    }
  }

  /** Normalize, segment, then lay out the result as PopulateSentencePieceText does. */
  private encodeWithPieces(text: string): Array<[string, number]> {
    if (typeof text !== 'string') {
      throw new InvalidArgumentError(`Expected text to encode (a string) but received ${describe(text)}.`);
    }
    let normalized: string;
    try {
      normalized = this.normalizer.normalize(toWellFormed(text));
    } catch (cause) {
      if (!(cause instanceof CharsMapError)) throw cause;
      throw new TokenizerError(`${this.source}: the normalization rules are corrupt: ${cause.message}.`, {
        cause,
      });
    }
    const segments = bpeEncode(normalized, this.vocab, this.userDefined);
    const { vocab } = this;
    const out: Array<[string, number]> = [];
    let prevUnk = false;
    for (const [piece, id] of segments) {
      const isUnk = vocab.types[id] === PieceType.Unknown;
      if (isUnk && this.byteFallback) {
        // An unknown character becomes its UTF-8 bytes, one <0xXX> piece each.
        for (const b of utf8.encode(piece)) out.push([byteToPiece(b), vocab.byteId[b]]);
      } else if (isUnk && prevUnk) {
        // Runs of unknown characters are merged into one unknown piece.
        const last = out[out.length - 1];
        last[0] += piece;
      } else {
        out.push([piece, id]);
      }
      prevUnk = isUnk;
    }
    return out;
  }
}

/** The model's normalization rules (nmt_nfkc and the like); none for identity normalization. */
function loadCharsMap(proto: ModelProto, source: string): PrecompiledCharsMap | undefined {
  const { name, precompiledCharsmap } = proto.normalizerSpec;
  if (precompiledCharsmap.length === 0) return undefined;
  try {
    return new PrecompiledCharsMap(precompiledCharsmap);
  } catch (cause) {
    if (!(cause instanceof CharsMapError)) throw cause;
    throw new TokenizerError(`${source}: the normalization rules ("${name}") are corrupt: ${cause.message}.`, {
      hint: SOURCE_HINT,
      cause,
    });
  }
}

/** Refuses models using features this implementation does not reproduce exactly. */
function checkSupported(proto: ModelProto, source: string): void {
  const { trainerSpec, denormalizerSpec } = proto;
  if (proto.pieces.length === 0) {
    throw new TokenizerError(`${source}: the model has no pieces; this is not a SentencePiece model.`, {
      hint: SOURCE_HINT,
    });
  }
  if (trainerSpec.modelType !== ModelType.Bpe) {
    const name = MODEL_TYPE_NAMES[trainerSpec.modelType] ?? `type ${trainerSpec.modelType}`;
    throw new TokenizerError(`${source}: ${name} SentencePiece models are not supported, only BPE.`, {
      hint: 'Use a model trained with --model_type=bpe.',
    });
  }
  if (trainerSpec.treatWhitespaceAsSuffix) {
    throw new TokenizerError(
      `${source}: treat_whitespace_as_suffix models are not supported.`,
      { hint: 'Use a model trained with the default whitespace prefix.' },
    );
  }
  if (denormalizerSpec && denormalizerSpec.precompiledCharsmap.length > 0) {
    throw new TokenizerError(
      `${source}: denormalization "${denormalizerSpec.name}" is not supported.`,
      { hint: 'Use a model trained without a denormalization rule.' },
    );
  }
}

function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
  if (value === null) return 'null';
  if (Array.isArray(value)) return `an array of length ${value.length}`;
  if (typeof value === 'object') return `an object (${(value as object).constructor?.name ?? 'Object'})`;
  return `${typeof value} ${String(value)}`;
}
