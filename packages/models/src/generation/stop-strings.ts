/** Finds stop strings in generated text, and how much of the text is safe to show before one may start. */
export class StopStringMatcher {
  constructor(private readonly stops: readonly string[]) {}

  /** Index of the earliest stop string in text, or -1. */
  find(text: string): number {
    let best = -1;
    for (const s of this.stops) {
      const i = text.indexOf(s);
      if (i >= 0 && (best < 0 || i < best)) best = i;
    }
    return best;
  }

  /** Length of the prefix of text that no stop string can still begin in (a suffix may be one's prefix). */
  safeLength(text: string): number {
    let safe = text.length;
    for (const s of this.stops) {
      for (let k = Math.min(s.length - 1, text.length); k > 0; k--) {
        if (text.endsWith(s.slice(0, k))) {
          safe = Math.min(safe, text.length - k);
          break;
        }
      }
    }
    return safe;
  }
}
