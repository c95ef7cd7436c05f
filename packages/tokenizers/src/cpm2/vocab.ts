import { TokenizerError } from '@bminf/core';

// Python's str.strip() removes exactly these (str.isspace); JavaScript's trim() differs (it also
// removes U+FEFF, and keeps U+001C..U+001F and U+0085), so BMInf's read_vocab is mirrored here.
const PY_SPACE = '\\t\\n\\v\\f\\r\\x1c-\\x1f \\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000';
const STRIP = new RegExp(`^[${PY_SPACE}]+|[${PY_SPACE}]+$`, 'g');

/**
 * Parses vocab.txt as BMInf's read_vocab does: one token a line, surrounding whitespace stripped,
 * empty lines skipped, ids in order (so the id is the line number when, as in the released files,
 * no line is empty). A repeated token is an error: BMInf would silently give two tokens one id.
 */
export function parseVocab(text: string, source = 'vocab.txt'): string[] {
  const tokens: string[] = [];
  const seen = new Map<string, number>();
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const word = lines[i].replace(STRIP, '');
    if (word.length === 0) continue;
    const first = seen.get(word);
    if (first !== undefined) {
      throw new TokenizerError(`${source}: line ${i + 1} repeats the token "${word}" of line ${first + 1}.`, {
        hint: 'Each token must appear once; remove the repeated line.',
      });
    }
    seen.set(word, i);
    tokens.push(word);
  }
  if (tokens.length === 0) {
    throw new TokenizerError(`${source} holds no tokens.`, { hint: 'Give the vocab.txt that came with the model (one token a line).' });
  }
  return tokens;
}
