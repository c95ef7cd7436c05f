// The character-level steps of BMInf's CPM-2/EVA tokenizer (bminf/arch/t5/tokenizer.py), kept
// separate so that CPM-1's jieba flavour can share them.

/** Chinese punctuation that BMInf keeps full-width (its Q2B leaves these alone). */
const KEPT_FULL_WIDTH = new Set(['，', '。', '！', '（', '）', '？', '、', '；', '：']);

/**
 * Full-width to half-width, character by character, as BMInf's Q2B: U+3000 becomes a space,
 * U+FF01..U+FF5E move down by 0xFEE0 to ASCII, everything else (and the punctuation above) stays.
 */
export function fullWidthToHalfWidth(text: string): string {
  let out = '';
  for (const ch of text) {
    if (KEPT_FULL_WIDTH.has(ch)) {
      out += ch;
      continue;
    }
    const code = ch.codePointAt(0)!;
    const half = code === 0x3000 ? 0x20 : code - 0xfee0;
    out += half >= 0x20 && half <= 0x7e ? String.fromCharCode(half) : ch;
  }
  return out;
}

/** The vocabularies spell a space as U+2582 and a newline as U+2583 (they hold no whitespace). */
export const SPACE_MARK = '\u2582';
export const NEWLINE_MARK = '\u2583';

export function encodeWhitespace(word: string): string {
  return word.replace(/[ \n]/g, (c) => (c === ' ' ? SPACE_MARK : NEWLINE_MARK));
}

export function decodeWhitespace(text: string): string {
  return text.replace(/[\u2582\u2583]/g, (c) => (c === SPACE_MARK ? ' ' : '\n'));
}
