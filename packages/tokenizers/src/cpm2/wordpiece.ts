// Greedy longest-match-first WordPiece without a continuation prefix, as BMInf's WordpieceTokenizer:
// at each position take the longest vocabulary entry that starts there; where none does, emit
// <unk> and move on by one character. Words longer than 200 characters become a single <unk>.
// "Characters" are Unicode code points, as Python's str indexing counts them.

export const MAX_INPUT_CHARS_PER_WORD = 200;

export function wordpiece(
  word: string,
  vocab: ReadonlyMap<string, number>,
  unkToken: string,
  maxTokenChars: number,
): string[] {
  const chars = Array.from(word);
  if (chars.length > MAX_INPUT_CHARS_PER_WORD) return [unkToken];
  const out: string[] = [];
  let start = 0;
  while (start < chars.length) {
    // No entry is longer than maxTokenChars, so longer candidates cannot match: starting the
    // search there gives the same answer as BMInf's search from the end of the word.
    let end = Math.min(chars.length, start + maxTokenChars);
    let piece: string | null = null;
    while (start < end) {
      const sub = chars.slice(start, end).join('');
      if (vocab.has(sub)) {
        piece = sub;
        break;
      }
      end--;
    }
    if (piece === null) {
      out.push(unkToken);
      start += 1;
    } else {
      out.push(piece);
      start = end;
    }
  }
  return out;
}
