// SentencePiece's precompiled character map (normalizer.cc): the rules of a normalization such as
// nmt_nfkc, compiled into `<uint32 LE: trie byte size><Darts-clone double array><NUL-terminated
// replacement strings>`. The double array maps UTF-8 byte strings to offsets of replacements; at
// each position the longest matching rule wins (of the first 32 matches, as the library keeps).

const MAX_TRIE_RESULTS = 32; // Normalizer::kMaxTrieResultsSize
const utf8Decoder = new TextDecoder('utf-8');

export class CharsMapError extends Error {}

export class PrecompiledCharsMap {
  private readonly units: Uint32Array;
  private readonly normalized: Uint8Array;
  private readonly replacementCache = new Map<number, string>();

  constructor(blob: Uint8Array) {
    if (blob.length <= 4) throw new CharsMapError('the precompiled character map is broken (too short)');
    const view = new DataView(blob.buffer, blob.byteOffset, blob.byteLength);
    const trieSize = view.getUint32(0, true);
    if (4 + trieSize > blob.length) {
      throw new CharsMapError(`its trie claims ${trieSize} bytes but the map has ${blob.length - 4} after the size`);
    }
    if (trieSize % 4 !== 0 || trieSize < 4) {
      throw new CharsMapError(`its trie size ${trieSize} is not a positive multiple of 4`);
    }
    // Copy: the blob inside the file is not 4-byte aligned in general.
    this.units = new Uint32Array(trieSize / 4);
    for (let i = 0; i < this.units.length; i++) this.units[i] = view.getUint32(4 + 4 * i, true);
    this.normalized = blob.subarray(4 + trieSize);
    const root = this.units[0];
    if ((root & 0x800000ff) !== 0 || hasLeaf(root) || offset(root) === 0) {
      throw new CharsMapError('its trie has an invalid root');
    }
  }

  /**
   * The rule matching the longest prefix of `text` at `start` (a whole number of characters), as
   * [replacement, UTF-16 length consumed], or undefined when no rule matches there.
   */
  match(text: string, start: number): [string, number] | undefined {
    const { units } = this;
    let node = offset(units[0]);
    let found = 0;
    let bestLength = 0; // UTF-16 units
    let bestValue = -1;
    let bytesSeen = 0;
    let bestBytes = 0;
    const charBytes = new Uint8Array(4);
    for (let i = start; i < text.length; ) {
      const cp = text.codePointAt(i)!;
      const width = cp > 0xffff ? 2 : 1;
      const n = encodeCodePoint(cp, charBytes);
      for (let b = 0; b < n; b++) {
        const byte = charBytes[b];
        node ^= byte;
        if (node >= units.length) return this.result(bestValue, bestLength);
        const unit = units[node];
        if ((unit & 0x800000ff) !== byte) return this.result(bestValue, bestLength);
        node ^= offset(unit);
        bytesSeen++;
        if (hasLeaf(unit)) {
          // A rule ending inside a character cannot apply to a JS string; real maps have none.
          if (found < MAX_TRIE_RESULTS && b === n - 1 && bytesSeen > bestBytes) {
            if (node >= units.length) throw new CharsMapError('its trie points outside itself');
            bestValue = units[node] & 0x7fffffff;
            bestLength = i + width - start;
            bestBytes = bytesSeen;
          }
          found++;
        }
      }
      i += width;
    }
    return this.result(bestValue, bestLength);
  }

  private result(value: number, length: number): [string, number] | undefined {
    if (value < 0) return undefined;
    let replacement = this.replacementCache.get(value);
    if (replacement === undefined) {
      if (value >= this.normalized.length) {
        throw new CharsMapError(`a rule points at replacement offset ${value}, past the map's end`);
      }
      let end = this.normalized.indexOf(0, value);
      if (end < 0) end = this.normalized.length;
      replacement = utf8Decoder.decode(this.normalized.subarray(value, end));
      this.replacementCache.set(value, replacement);
    }
    return [replacement, length];
  }
}

// Darts-clone unit layout (darts.h, DoubleArrayUnit).
function hasLeaf(unit: number): boolean {
  return ((unit >>> 8) & 1) === 1;
}
function offset(unit: number): number {
  return (unit >>> 10) << ((unit & (1 << 9)) >>> 6);
}

/** Writes the UTF-8 bytes of a code point (no lone surrogates: the text was made well-formed). */
function encodeCodePoint(cp: number, out: Uint8Array): number {
  if (cp < 0x80) {
    out[0] = cp;
    return 1;
  }
  if (cp < 0x800) {
    out[0] = 0xc0 | (cp >> 6);
    out[1] = 0x80 | (cp & 0x3f);
    return 2;
  }
  if (cp < 0x10000) {
    out[0] = 0xe0 | (cp >> 12);
    out[1] = 0x80 | ((cp >> 6) & 0x3f);
    out[2] = 0x80 | (cp & 0x3f);
    return 3;
  }
  out[0] = 0xf0 | (cp >> 18);
  out[1] = 0x80 | ((cp >> 12) & 0x3f);
  out[2] = 0x80 | ((cp >> 6) & 0x3f);
  out[3] = 0x80 | (cp & 0x3f);
  return 4;
}
