// BPE segmentation exactly as SentencePiece's bpe_model.cc does it:
//  - the normalized text is split into characters, except that user-defined pieces are matched
//    first (longest match) and are frozen: they never merge with a neighbour;
//  - repeatedly, the adjacent pair whose concatenation is a piece with the highest score is merged
//    (ties: the leftmost pair). A max-heap of candidate pairs with lazy invalidation keeps this
//    O(n log n): an entry is stale when either side has changed length since it was pushed
//    (symbols only ever grow, or die when absorbed by their left neighbour);
//  - merging may pass through UNUSED pieces, but those are never emitted: each is split back into
//    the two symbols it was last formed from, recursively ("resegmentation").

import { PieceType } from './model-proto.js';
import type { PrefixMatcher } from './text-units.js';
import { charLength } from './text-units.js';

/** The vocabulary as the BPE model sees it. */
export interface BpeVocab {
  /** NORMAL, USER_DEFINED and UNUSED pieces → id: the pieces that merges may produce. */
  readonly mergeable: ReadonlyMap<string, number>;
  readonly scores: Float32Array;
  readonly types: Uint8Array;
  /** The full piece → id lookup (reserved pieces first, then mergeable, else unk). */
  pieceToId(piece: string): number;
}

interface Candidate {
  score: number;
  left: number;
  right: number;
  /** Length (UTF-16 units) of the merged piece when the candidate was made. */
  size: number;
}

/** Candidate `a` goes before `b`: higher score, then leftmost. */
function before(a: Candidate, b: Candidate): boolean {
  return a.score > b.score || (a.score === b.score && a.left < b.left);
}

class CandidateHeap {
  private readonly items: Candidate[] = [];

  get size(): number {
    return this.items.length;
  }

  push(c: Candidate): void {
    const items = this.items;
    let i = items.length;
    items.push(c);
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!before(c, items[parent])) break;
      items[i] = items[parent];
      i = parent;
    }
    items[i] = c;
  }

  pop(): Candidate {
    const items = this.items;
    const top = items[0];
    const last = items.pop()!;
    const n = items.length;
    if (n > 0) {
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        if (l >= n) break;
        const r = l + 1;
        const child = r < n && before(items[r], items[l]) ? r : l;
        if (!before(items[child], last)) break;
        items[i] = items[child];
        i = child;
      }
      items[i] = last;
    }
    return top;
  }
}

/** Segments normalized text into [piece, id] pairs. */
export function bpeEncode(
  normalized: string,
  vocab: BpeVocab,
  userDefined: PrefixMatcher,
): Array<[string, number]> {
  if (normalized.length === 0) return [];

  // Split into symbols (a doubly linked list over parallel arrays).
  const cap = normalized.length;
  const start = new Int32Array(cap);
  const len = new Int32Array(cap); // 0 once absorbed into the left neighbour
  const prev = new Int32Array(cap);
  const next = new Int32Array(cap);
  const frozen = new Uint8Array(cap);
  let count = 0;
  for (let i = 0; i < normalized.length; ) {
    const user = userDefined.match(normalized, i);
    const l = user || charLength(normalized, i);
    start[count] = i;
    len[count] = l;
    frozen[count] = user ? 1 : 0;
    prev[count] = count - 1;
    i += l;
    next[count] = i < normalized.length ? count + 1 : -1;
    count++;
  }

  const heap = new CandidateHeap();
  // Merged piece → the two pieces it was last formed from; consulted only for UNUSED pieces.
  const revMerge = new Map<string, [string, string]>();
  const { mergeable, scores, types } = vocab;

  const maybeAdd = (left: number, right: number): void => {
    if (left < 0 || right < 0 || frozen[left] || frozen[right]) return;
    const size = len[left] + len[right];
    const piece = normalized.slice(start[left], start[left] + size);
    const id = mergeable.get(piece);
    if (id === undefined) return;
    heap.push({ score: scores[id], left, right, size });
    if (types[id] === PieceType.Unused) {
      revMerge.set(piece, [
        normalized.slice(start[left], start[left] + len[left]),
        normalized.slice(start[right], start[right] + len[right]),
      ]);
    }
  };

  for (let i = 1; i < count; i++) maybeAdd(i - 1, i);

  while (heap.size > 0) {
    const top = heap.pop();
    const { left, right } = top;
    if (len[left] === 0 || len[right] === 0 || len[left] + len[right] !== top.size) continue;
    len[left] += len[right];
    len[right] = 0;
    next[left] = next[right];
    if (next[right] >= 0) prev[next[right]] = left;
    maybeAdd(prev[left], left);
    maybeAdd(left, next[left]);
  }

  const out: Array<[string, number]> = [];
  const resegment = (piece: string): void => {
    const id = vocab.pieceToId(piece);
    const split = types[id] === PieceType.Unused ? revMerge.get(piece) : undefined;
    if (!split) {
      out.push([piece, id]);
      return;
    }
    resegment(split[0]);
    resegment(split[1]);
  };
  for (let s = 0; s !== -1; s = next[s]) {
    resegment(normalized.slice(start[s], start[s] + len[s]));
  }
  return out;
}
