// SentencePiece's normalizer (normalizer.cc). The text is consumed in units: a user-defined piece
// (kept verbatim), else the longest rule of the precompiled character map (e.g. nmt_nfkc) with its
// replacement, else one character as is. Then, exactly in the library's order: optional removal of
// leading spaces, the dummy prefix, collapsing of space runs, escaping ' ' as U+2581, removal of
// trailing spaces. Whitespace tests look at the units' *output*, so a rule that maps U+3000 to ' '
// makes it a space for all of these.

import type { PrecompiledCharsMap } from './charsmap.js';
import type { NormalizerSpecProto } from './model-proto.js';
import { type PrefixMatcher, charLength } from './text-units.js';

export const SPACE_SYMBOL = '\u2581'; // ▁

export class Normalizer {
  constructor(
    private readonly spec: NormalizerSpecProto,
    private readonly userDefined: PrefixMatcher,
    private readonly charsMap: PrecompiledCharsMap | undefined,
  ) {}

  /** NormalizePrefix: the unit at `i` as [output, UTF-16 length consumed]. */
  private unit(text: string, i: number): [string, number] {
    const user = this.userDefined.match(text, i);
    if (user > 0) return [text.slice(i, i + user), user];
    const rule = this.charsMap?.match(text, i);
    if (rule) return rule;
    const len = charLength(text, i);
    return [text.slice(i, i + len), len];
  }

  normalize(input: string): string {
    const { addDummyPrefix, removeExtraWhitespaces, escapeWhitespaces } = this.spec;
    const n = input.length;
    let i = 0;
    if (removeExtraWhitespaces) {
      while (i < n) {
        const [out, len] = this.unit(input, i);
        if (out !== ' ') break;
        i += len;
      }
    }
    if (i >= n) return ''; // empty, or only spaces that were removed: no dummy prefix either

    const space = escapeWhitespaces ? SPACE_SYMBOL : ' ';
    const out: string[] = [];
    if (addDummyPrefix) out.push(space);

    let isPrevSpace = removeExtraWhitespaces;
    while (i < n) {
      const [output, len] = this.unit(input, i);
      let unit = output;
      if (isPrevSpace) {
        let k = 0;
        while (k < unit.length && unit[k] === ' ') k++;
        unit = unit.slice(k);
      }
      if (unit.length > 0) {
        out.push(escapeWhitespaces ? unit.replaceAll(' ', SPACE_SYMBOL) : unit);
        isPrevSpace = unit.endsWith(' ');
      }
      i += len;
      if (!removeExtraWhitespaces) isPrevSpace = false;
    }

    let normalized = out.join('');
    if (removeExtraWhitespaces) {
      let end = normalized.length;
      while (end > 0 && normalized[end - 1] === space) end--;
      normalized = normalized.slice(0, end);
    }
    return normalized;
  }
}
