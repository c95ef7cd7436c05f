// A minimal reader for the protobuf wire format: just enough to walk a SentencePiece ModelProto.
// Every read is bounds-checked; anything malformed throws a ProtobufError carrying the byte offset,
// which the model loader turns into a TokenizerError naming the file.

export class ProtobufError extends Error {
  readonly offset: number;
  constructor(message: string, offset: number) {
    super(`${message} (at byte ${offset})`);
    this.name = 'ProtobufError';
    this.offset = offset;
  }
}

export const WireType = {
  Varint: 0,
  Fixed64: 1,
  LengthDelimited: 2,
  Fixed32: 5,
} as const;
export type WireType = (typeof WireType)[keyof typeof WireType];

/** One field of a message: its number, wire type and where its payload lies. */
export interface Field {
  readonly number: number;
  readonly wireType: number;
  /** Varint payloads: the low 32 bits, unsigned (int32 fields read it with `| 0`). */
  readonly varint: number;
  /** Length-delimited payloads: a view (no copy) of the bytes. */
  readonly bytes: Uint8Array;
  /** Fixed32 payloads: the raw 4 bytes' little-endian float32 value. */
  readonly float32: number;
}

const EMPTY: Uint8Array = new Uint8Array(0);
const utf8 = new TextDecoder('utf-8');

export class ProtoReader {
  private readonly view: DataView;
  private pos = 0;

  private readonly base: number;

  /**
   * `fileStart` is the byteOffset of the whole file's bytes in their buffer; a reader over a nested
   * message (a subarray) passes it so that error offsets point into the file.
   */
  constructor(
    private readonly bytes: Uint8Array,
    fileStart = bytes.byteOffset,
  ) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.base = bytes.byteOffset - fileStart;
  }

  get done(): boolean {
    return this.pos >= this.bytes.length;
  }

  /** The file offset of the next byte; children readers start here. */
  get offset(): number {
    return this.base + this.pos;
  }

  /**
   * Reads a base-128 varint (at most 10 bytes). Returns the low 32 bits (unsigned) and the value
   * as a double (exact up to 2^53; only used for lengths, which are bounded by the buffer anyway).
   */
  private readVarint(): { lo: number; value: number } {
    const start = this.offset;
    let lo = 0;
    let value = 0;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.bytes.length) throw new ProtobufError('truncated varint', start);
      const b = this.bytes[this.pos++];
      const payload = b & 0x7f;
      if (i < 5) lo |= payload << (7 * i); // bits past 32 fall off, as intended
      value += payload * 2 ** (7 * i);
      if (b < 0x80) return { lo: lo >>> 0, value };
    }
    throw new ProtobufError('varint longer than 10 bytes', start);
  }

  /** Reads the next field, or throws on a malformed or truncated encoding. */
  next(): Field {
    const start = this.offset;
    const key = this.readVarint();
    const number = Math.floor(key.value / 8);
    const wireType = key.lo & 7;
    if (number === 0) throw new ProtobufError('field number 0 is not valid', start);
    let varint = 0;
    let bytes = EMPTY;
    let float32 = 0;
    switch (wireType) {
      case WireType.Varint:
        varint = this.readVarint().lo;
        break;
      case WireType.Fixed64:
        this.need(8, start);
        this.pos += 8;
        break;
      case WireType.LengthDelimited: {
        const len = this.readVarint().value;
        this.need(len, start);
        bytes = this.bytes.subarray(this.pos, this.pos + len);
        this.pos += len;
        break;
      }
      case WireType.Fixed32:
        this.need(4, start);
        float32 = this.view.getFloat32(this.pos, true);
        this.pos += 4;
        break;
      default:
        // 3/4 are the deprecated groups (never used by SentencePiece), 6/7 do not exist.
        throw new ProtobufError(`unsupported wire type ${wireType} for field ${number}`, start);
    }
    return { number, wireType, varint, bytes, float32 };
  }

  private need(n: number, fieldStart: number): void {
    if (this.pos + n > this.bytes.length) {
      throw new ProtobufError(
        `field needs ${n} bytes but only ${this.bytes.length - this.pos} remain (truncated)`,
        fieldStart,
      );
    }
  }
}

/** Checks that a field has the wire type its schema declares; a mismatch means a corrupt file. */
export function expectWireType(
  field: Field,
  wireType: WireType,
  what: string,
  offset: number,
): void {
  if (field.wireType !== wireType) {
    throw new ProtobufError(
      `${what} (field ${field.number}) has wire type ${field.wireType}, expected ${wireType}`,
      offset,
    );
  }
}

export function decodeUtf8(bytes: Uint8Array): string {
  return utf8.decode(bytes);
}
