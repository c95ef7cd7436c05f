// Helpers for walking a JS string the way SentencePiece walks UTF-8: one Unicode character at a
// time. SentencePiece works on the UTF-8 bytes of the text; a JS string (UTF-16) converts to UTF-8
// losslessly except for lone surrogates, which Node's UTF-8 encoder turns into U+FFFD, so we do the
// same up front and can then work on code points.

/** Replaces lone surrogates with U+FFFD, as encoding to UTF-8 would. */
export function toWellFormed(text: string): string {
  return text.replace(LONE_SURROGATE, '\uFFFD');
}
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

/** Length in UTF-16 code units of the character starting at `i` (2 for a surrogate pair). */
export function charLength(text: string, i: number): number {
  const c = text.charCodeAt(i);
  if (c >= 0xd800 && c <= 0xdbff && i + 1 < text.length) {
    const d = text.charCodeAt(i + 1);
    if (d >= 0xdc00 && d <= 0xdfff) return 2;
  }
  return 1;
}

/**
 * Longest-match lookup over a fixed set of strings (the user-defined pieces), as SentencePiece's
 * PrefixMatcher does with its trie: at a position, the longest listed string that starts there.
 */
export class PrefixMatcher {
  /** First UTF-16 unit → candidates, longest first. */
  private readonly byFirst = new Map<number, string[]>();

  constructor(strings: Iterable<string>) {
    for (const s of strings) {
      if (s.length === 0) continue;
      const key = s.charCodeAt(0);
      let list = this.byFirst.get(key);
      if (!list) this.byFirst.set(key, (list = []));
      list.push(s);
    }
    for (const list of this.byFirst.values()) list.sort((a, b) => b.length - a.length);
  }

  get empty(): boolean {
    return this.byFirst.size === 0;
  }

  /** Length of the longest listed string starting at `i`, or 0 when none does. */
  match(text: string, i: number): number {
    const list = this.byFirst.get(text.charCodeAt(i));
    if (!list) return 0;
    for (const s of list) if (text.startsWith(s, i)) return s.length;
    return 0;
  }
}
