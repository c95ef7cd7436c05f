// SentencePiece's normalizer (normalizer.cc) for the identity character map: the only rewriting is
// of whitespace. Kept exactly as the library orders it: optional removal of leading spaces, the
// dummy prefix, collapsing of space runs, escaping ' ' as U+2581, removal of trailing spaces.
// User-defined pieces are single units here, as in the library (their text is never rewritten
// except for space escaping).

import type { NormalizerSpecProto } from './model-proto.js';
import { PrefixMatcher, charLength } from './text-units.js';

export const SPACE_SYMBOL = '\u2581'; // ▁

export class Normalizer {
  constructor(
    private readonly spec: NormalizerSpecProto,
    private readonly userDefined: PrefixMatcher,
  ) {}

  /** Length of the unit at `i`: a user-defined piece if one starts there, else one character. */
  private unitLength(text: string, i: number): number {
    return this.userDefined.match(text, i) || charLength(text, i);
  }

  normalize(input: string): string {
    const { addDummyPrefix, removeExtraWhitespaces, escapeWhitespaces } = this.spec;
    const n = input.length;
    let i = 0;
    if (removeExtraWhitespaces) {
      while (i < n) {
        const len = this.unitLength(input, i);
        if (len !== 1 || input[i] !== ' ') break;
        i += len;
      }
    }
    if (i >= n) return ''; // empty, or only spaces that were removed: no dummy prefix either

    const space = escapeWhitespaces ? SPACE_SYMBOL : ' ';
    const out: string[] = [];
    if (addDummyPrefix) out.push(space);

    let isPrevSpace = removeExtraWhitespaces;
    while (i < n) {
      const len = this.unitLength(input, i);
      let unit = input.slice(i, i + len);
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
