import type { StreamDecoder } from './incremental-text.js';

/** What the generation loop needs of a decoder-only model (CPM-1), whatever its backend or dtype. */
export interface CausalLM<S extends { readonly length: number; dispose(): void }> {
  readonly contextLength: number;
  readonly vocabSize: number;
  readonly eosId: number;
  encode(text: string): number[];
  decode(ids: number[]): string;
  /** An incremental decoder (optional): its text after each push is decode() of the ids pushed. */
  streamDecoder?(): StreamDecoder;
  /** A fresh KV-cache state. */
  newState(): S;
  /** Appends ids to the state and returns the logits after the last one ([vocab], float32). */
  forward(ids: readonly number[], state: S): Float32Array;
}
