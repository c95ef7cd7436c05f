// The piece table with the lookups and load-time checks of SentencePiece's
// ModelInterface::InitializePieces: NORMAL, USER_DEFINED and UNUSED pieces form the table merges
// look in; CONTROL, UNKNOWN and BYTE pieces are "reserved" (found by PieceToId, never produced by a
// merge). Exactly one UNKNOWN piece; with byte_fallback all 256 byte pieces must be present.

import { TokenizerError } from '@bminf/core';
import type { BpeVocab } from './bpe.js';
import { pieceToByte } from './byte-pieces.js';
import { PieceType } from './model-proto.js';
import type { ModelProto } from './model-proto.js';

export class Vocab implements BpeVocab {
  readonly pieces: readonly string[];
  readonly scores: Float32Array;
  readonly types: Uint8Array;
  readonly mergeable = new Map<string, number>();
  private readonly reserved = new Map<string, number>();
  /** The byte each id stands for, -1 for ids that are not BYTE pieces. */
  readonly byteOf: Int16Array;
  /** Byte value → id of its `<0xXX>` piece (-1 without byte fallback). */
  readonly byteId = new Int32Array(256).fill(-1);
  readonly userDefined: string[] = [];
  readonly unkId: number;

  constructor(proto: ModelProto, source: string) {
    const n = proto.pieces.length;
    const fail = (message: string, hint?: string): never => {
      throw new TokenizerError(`${source}: ${message}`, hint ? { hint } : undefined);
    };
    if (n === 0) {
      fail('the model has no pieces; this is not a SentencePiece model.', SOURCE_HINT);
    }
    this.pieces = proto.pieces.map((p) => p.piece);
    this.scores = new Float32Array(n);
    this.types = new Uint8Array(n);
    this.byteOf = new Int16Array(n).fill(-1);
    let unkId = -1;
    const byteFallback = proto.trainerSpec.byteFallback;
    for (let id = 0; id < n; id++) {
      const { piece, score, type } = proto.pieces[id];
      this.scores[id] = score;
      this.types[id] = type;
      const mergeable =
        type === PieceType.Normal || type === PieceType.UserDefined || type === PieceType.Unused;
      const table = mergeable ? this.mergeable : this.reserved;
      const other = table.get(piece);
      if (other !== undefined) {
        fail(`piece ${JSON.stringify(piece)} is defined twice (ids ${other} and ${id}).`);
      }
      table.set(piece, id);
      if (type === PieceType.UserDefined) this.userDefined.push(piece);
      if (type === PieceType.Unknown) {
        if (unkId >= 0) fail(`two unknown pieces (ids ${unkId} and ${id}); there must be one.`);
        unkId = id;
      }
      if (type === PieceType.Byte) {
        if (!byteFallback) {
          fail(`byte piece ${JSON.stringify(piece)} (id ${id}) found although byte_fallback is off.`);
        }
        const byte = pieceToByte(piece);
        if (byte < 0) fail(`byte piece ${JSON.stringify(piece)} (id ${id}) is not of the form <0xXX>.`);
        this.byteOf[id] = byte;
        this.byteId[byte] = id;
      }
    }
    if (unkId < 0) fail('the model defines no unknown piece (<unk>).', SOURCE_HINT);
    this.unkId = unkId;
    if (byteFallback) {
      const missing = this.byteId.findIndex((id) => id < 0);
      if (missing >= 0) {
        fail(`byte_fallback is on but the byte piece <0x${missing.toString(16).toUpperCase().padStart(2, '0')}> is missing.`);
      }
    }
  }

  get size(): number {
    return this.pieces.length;
  }

  /** SentencePiece's PieceToId: reserved pieces first, then the others, else the unknown id. */
  pieceToId(piece: string): number {
    return this.reserved.get(piece) ?? this.mergeable.get(piece) ?? this.unkId;
  }
}

export const SOURCE_HINT =
  'Pass the binary tokenizer.model written by the SentencePiece trainer (not tokenizer.vocab).';
