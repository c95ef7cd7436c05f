// The text of the ids generated so far, kept up to date one id at a time. Decoding all the ids again
// at every step costs O(n) per token (O(n²) per generation); a model whose tokenizer can decode
// incrementally (SentencePiece's stream decoder) is asked for that, with the same text by construction.
import type { CausalLM } from './causal-lm.js';

/** What a model's incremental decoder gives: push ids in order; `text` is decode() of those pushed. */
export interface StreamDecoder {
  push(id: number): void;
  readonly text: string;
}

/** Returns a function that appends one id and returns the text of all the ids appended so far. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function incrementalText(model: Pick<CausalLM<any>, 'decode' | 'streamDecoder'>): (id: number) => string {
  const decoder = model.streamDecoder?.();
  if (decoder) {
    return (id) => {
      decoder.push(id);
      return decoder.text;
    };
  }
  const ids: number[] = [];
  return (id) => {
    ids.push(id);
    return model.decode(ids);
  };
}
