// Decodes the parts of SentencePiece's `ModelProto` (sentencepiece_model.proto, proto2) that encoding
// and decoding need. Absent fields take the schema's defaults, which differ from zero for several
// flags (add_dummy_prefix, remove_extra_whitespaces and escape_whitespaces default to true).
// Unknown fields are skipped, so models written by newer trainers still load.

import { ProtoReader, ProtobufError, WireType, decodeUtf8, expectWireType } from './protobuf.js';
import type { Field } from './protobuf.js';

/** `ModelProto.SentencePiece.Type`. */
export const PieceType = {
  Normal: 1,
  Unknown: 2,
  Control: 3,
  UserDefined: 4,
  Unused: 5,
  Byte: 6,
} as const;
export type PieceType = (typeof PieceType)[keyof typeof PieceType];

/** `TrainerSpec.ModelType`. */
export const ModelType = { Unigram: 1, Bpe: 2, Word: 3, Char: 4 } as const;

export interface PieceProto {
  readonly piece: string;
  readonly score: number;
  readonly type: PieceType;
}

export interface TrainerSpecProto {
  readonly modelType: number;
  readonly byteFallback: boolean;
  readonly treatWhitespaceAsSuffix: boolean;
  readonly unkPiece: string;
  readonly bosPiece: string;
  readonly eosPiece: string;
  readonly padPiece: string;
  /** What `<unk>` decodes to; the library's default is " ⁇ ". */
  readonly unkSurface: string;
}

export interface NormalizerSpecProto {
  readonly name: string;
  readonly precompiledCharsmap: Uint8Array;
  readonly addDummyPrefix: boolean;
  readonly removeExtraWhitespaces: boolean;
  readonly escapeWhitespaces: boolean;
}

export interface ModelProto {
  readonly pieces: readonly PieceProto[];
  readonly trainerSpec: TrainerSpecProto;
  readonly normalizerSpec: NormalizerSpecProto;
  /** Present only when the model carries a `denormalizer_spec`. */
  readonly denormalizerSpec: NormalizerSpecProto | undefined;
}

const PIECE_TYPES = new Set<number>(Object.values(PieceType));

/** Parses a serialized ModelProto. Throws ProtobufError (with a byte offset) when malformed. */
export function parseModelProto(bytes: Uint8Array): ModelProto {
  const fileStart = bytes.byteOffset;
  const reader = new ProtoReader(bytes, fileStart);
  const pieces: PieceProto[] = [];
  let trainerSpec: TrainerSpecProto = parseTrainerSpec(new Uint8Array(0), fileStart);
  let normalizerSpec: NormalizerSpecProto = parseNormalizerSpec(new Uint8Array(0), fileStart);
  let denormalizerSpec: NormalizerSpecProto | undefined;
  while (!reader.done) {
    const at = reader.offset;
    const field = reader.next();
    switch (field.number) {
      case 1:
        expectWireType(field, WireType.LengthDelimited, 'ModelProto.pieces', at);
        pieces.push(parsePiece(field.bytes, fileStart, pieces.length));
        break;
      case 2:
        expectWireType(field, WireType.LengthDelimited, 'ModelProto.trainer_spec', at);
        trainerSpec = parseTrainerSpec(field.bytes, fileStart);
        break;
      case 3:
        expectWireType(field, WireType.LengthDelimited, 'ModelProto.normalizer_spec', at);
        normalizerSpec = parseNormalizerSpec(field.bytes, fileStart);
        break;
      case 5:
        expectWireType(field, WireType.LengthDelimited, 'ModelProto.denormalizer_spec', at);
        denormalizerSpec = parseNormalizerSpec(field.bytes, fileStart);
        break;
      default:
        break; // self_test_data (4) and anything newer: not needed
    }
  }
  return { pieces, trainerSpec, normalizerSpec, denormalizerSpec };
}

function parsePiece(bytes: Uint8Array, fileStart: number, index: number): PieceProto {
  const reader = new ProtoReader(bytes, fileStart);
  const start = reader.offset;
  let piece: string | undefined;
  let score = 0;
  let type: number = PieceType.Normal;
  while (!reader.done) {
    const at = reader.offset;
    const field = reader.next();
    if (field.number === 1) {
      expectWireType(field, WireType.LengthDelimited, `piece #${index}: piece`, at);
      piece = decodeUtf8(field.bytes);
    } else if (field.number === 2) {
      expectWireType(field, WireType.Fixed32, `piece #${index}: score`, at);
      score = field.float32;
    } else if (field.number === 3) {
      expectWireType(field, WireType.Varint, `piece #${index}: type`, at);
      type = field.varint | 0;
    }
  }
  if (piece === undefined || piece.length === 0) {
    throw new ProtobufError(`piece #${index} has an empty piece string`, start);
  }
  if (!PIECE_TYPES.has(type)) {
    throw new ProtobufError(`piece #${index} (${JSON.stringify(piece)}) has unknown type ${type}`, start);
  }
  return { piece, score, type: type as PieceType };
}

function parseTrainerSpec(bytes: Uint8Array, fileStart: number): TrainerSpecProto {
  const spec = {
    modelType: ModelType.Unigram as number,
    byteFallback: false,
    treatWhitespaceAsSuffix: false,
    unkPiece: '<unk>',
    bosPiece: '<s>',
    eosPiece: '</s>',
    padPiece: '<pad>',
    unkSurface: ' \u2047 ',
  };
  const reader = new ProtoReader(bytes, fileStart);
  while (!reader.done) {
    const at = reader.offset;
    const field = reader.next();
    switch (field.number) {
      case 3:
        spec.modelType = varintField(field, 'trainer_spec.model_type', at) | 0;
        break;
      case 24:
        spec.treatWhitespaceAsSuffix = varintField(field, 'trainer_spec.treat_whitespace_as_suffix', at) !== 0;
        break;
      case 35:
        spec.byteFallback = varintField(field, 'trainer_spec.byte_fallback', at) !== 0;
        break;
      case 44:
        spec.unkSurface = stringField(field, 'trainer_spec.unk_surface', at);
        break;
      case 45:
        spec.unkPiece = stringField(field, 'trainer_spec.unk_piece', at);
        break;
      case 46:
        spec.bosPiece = stringField(field, 'trainer_spec.bos_piece', at);
        break;
      case 47:
        spec.eosPiece = stringField(field, 'trainer_spec.eos_piece', at);
        break;
      case 48:
        spec.padPiece = stringField(field, 'trainer_spec.pad_piece', at);
        break;
      default:
        break; // training-only options
    }
  }
  return spec;
}

function parseNormalizerSpec(bytes: Uint8Array, fileStart: number): NormalizerSpecProto {
  const spec = {
    name: '',
    precompiledCharsmap: new Uint8Array(0) as Uint8Array,
    addDummyPrefix: true,
    removeExtraWhitespaces: true,
    escapeWhitespaces: true,
  };
  const reader = new ProtoReader(bytes, fileStart);
  while (!reader.done) {
    const at = reader.offset;
    const field = reader.next();
    switch (field.number) {
      case 1:
        spec.name = stringField(field, 'normalizer_spec.name', at);
        break;
      case 2:
        expectWireType(field, WireType.LengthDelimited, 'normalizer_spec.precompiled_charsmap', at);
        spec.precompiledCharsmap = field.bytes;
        break;
      case 3:
        spec.addDummyPrefix = varintField(field, 'normalizer_spec.add_dummy_prefix', at) !== 0;
        break;
      case 4:
        spec.removeExtraWhitespaces =
          varintField(field, 'normalizer_spec.remove_extra_whitespaces', at) !== 0;
        break;
      case 5:
        spec.escapeWhitespaces = varintField(field, 'normalizer_spec.escape_whitespaces', at) !== 0;
        break;
      default:
        break; // normalization_rule_tsv (6) is training-only
    }
  }
  return spec;
}

function varintField(field: Field, what: string, at: number): number {
  expectWireType(field, WireType.Varint, what, at);
  return field.varint;
}

function stringField(field: Field, what: string, at: number): string {
  expectWireType(field, WireType.LengthDelimited, what, at);
  return decodeUtf8(field.bytes);
}
