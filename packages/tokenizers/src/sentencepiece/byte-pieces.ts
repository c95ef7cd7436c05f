// Byte-fallback pieces `<0x00>`…`<0xFF>`: naming, and reassembling runs of them into text with
// SentencePiece's UTF-8 rules (string_util::DecodeUTF8): each well-formed character becomes that
// character; each byte that does not start one becomes U+FFFD on its own.

const BYTE_PIECE = /^<0x[0-9A-F]{2}>$/;

/** `<0xE4>` for 0xE4 (upper-case hex, two digits, as the library writes them). */
export function byteToPiece(byte: number): string {
  return `<0x${byte.toString(16).toUpperCase().padStart(2, '0')}>`;
}

/** The byte a piece stands for, or -1 when it is not exactly a byte piece name. */
export function pieceToByte(piece: string): number {
  return BYTE_PIECE.test(piece) ? parseInt(piece.slice(3, 5), 16) : -1;
}

const isTrail = (b: number): boolean => (b & 0xc0) === 0x80;
const isValidCodePoint = (c: number): boolean => c < 0xd800 || (c >= 0xe000 && c <= 0x10ffff);

/** Decodes bytes leniently: one U+FFFD per byte that does not begin a well-formed character. */
export function decodeBytesLeniently(bytes: ArrayLike<number>): string {
  const out: string[] = [];
  const n = bytes.length;
  let i = 0;
  while (i < n) {
    const b0 = bytes[i];
    const left = n - i;
    let cp = -1;
    let width = 1;
    if (b0 < 0x80) {
      cp = b0;
    } else if (left >= 2 && (b0 & 0xe0) === 0xc0) {
      const c = ((b0 & 0x1f) << 6) | (bytes[i + 1] & 0x3f);
      if (isTrail(bytes[i + 1]) && c >= 0x80 && isValidCodePoint(c)) [cp, width] = [c, 2];
    } else if (left >= 3 && (b0 & 0xf0) === 0xe0) {
      const c = ((b0 & 0x0f) << 12) | ((bytes[i + 1] & 0x3f) << 6) | (bytes[i + 2] & 0x3f);
      if (isTrail(bytes[i + 1]) && isTrail(bytes[i + 2]) && c >= 0x800 && isValidCodePoint(c)) {
        [cp, width] = [c, 3];
      }
    } else if (left >= 4 && (b0 & 0xf8) === 0xf0) {
      const c =
        ((b0 & 0x07) << 18) |
        ((bytes[i + 1] & 0x3f) << 12) |
        ((bytes[i + 2] & 0x3f) << 6) |
        (bytes[i + 3] & 0x3f);
      if (
        isTrail(bytes[i + 1]) &&
        isTrail(bytes[i + 2]) &&
        isTrail(bytes[i + 3]) &&
        c >= 0x10000 &&
        isValidCodePoint(c)
      ) {
        [cp, width] = [c, 4];
      }
    }
    out.push(cp < 0 ? '\uFFFD' : String.fromCodePoint(cp));
    i += width;
  }
  return out.join('');
}
