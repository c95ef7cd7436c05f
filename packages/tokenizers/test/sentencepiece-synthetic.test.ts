// Behaviour the tiny-cpm1 model does not exercise, on small models built here: whitespace removal,
// merge order, UNUSED-piece resegmentation, unknown runs without byte fallback, and the load-time
// checks. Expected results follow sentencepiece's normalizer.cc / bpe_model.cc /
// sentencepiece_processor.cc.
import { InvalidArgumentError, TokenizerError } from '@bminf/core';
import { SentencePieceTokenizer } from '@bminf/tokenizers';
import { describe, expect, it } from 'vitest';

// --- a tiny protobuf writer ---------------------------------------------------------------------
function varint(value: number | bigint): number[] {
  let v = BigInt.asUintN(64, BigInt(value)); // negatives take 10 bytes, as protobuf writes int32 -1
  const out: number[] = [];
  do {
    const b = Number(v & 0x7fn);
    v >>= 7n;
    out.push(v > 0n ? b | 0x80 : b);
  } while (v > 0n);
  return out;
}
const key = (n: number, wire: number): number[] => varint(n * 8 + wire);
const vint = (n: number, value: number | bigint): number[] => [...key(n, 0), ...varint(value)];
const bytesField = (n: number, payload: ArrayLike<number>): number[] => [
  ...key(n, 2),
  ...varint(payload.length),
  ...Array.from(payload),
];
const str = (n: number, s: string): number[] => bytesField(n, new TextEncoder().encode(s));
const f32 = (n: number, x: number): number[] => {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setFloat32(0, x, true);
  return [...key(n, 5), ...b];
};

const T = { normal: 1, unknown: 2, control: 3, user: 4, unused: 5, byte: 6 } as const;
type Piece = [piece: string, score: number, type?: keyof typeof T];

interface Spec {
  pieces: Piece[];
  modelType?: number;
  byteFallback?: boolean;
  unkSurface?: string;
  normalizer?: { addDummyPrefix?: boolean; removeExtraWhitespaces?: boolean; charsmap?: number[] };
}

function buildModel(spec: Spec): Uint8Array {
  const out: number[] = [];
  for (const [piece, score, type = 'normal'] of spec.pieces) {
    out.push(...bytesField(1, [...str(1, piece), ...f32(2, score), ...vint(3, T[type])]));
  }
  const trainer = [...vint(3, spec.modelType ?? 2), ...vint(43, -1)];
  if (spec.byteFallback) trainer.push(...vint(35, 1));
  if (spec.unkSurface !== undefined) trainer.push(...str(44, spec.unkSurface));
  out.push(...bytesField(2, trainer));
  const n = spec.normalizer ?? {};
  const normalizer = [...str(1, 'identity')];
  if (n.charsmap) normalizer.push(...bytesField(2, n.charsmap));
  if (n.addDummyPrefix !== undefined) normalizer.push(...vint(3, n.addDummyPrefix ? 1 : 0));
  if (n.removeExtraWhitespaces !== undefined) {
    normalizer.push(...vint(4, n.removeExtraWhitespaces ? 1 : 0));
  }
  out.push(...bytesField(3, normalizer));
  return new Uint8Array(out);
}

const specials: Piece[] = [
  ['<unk>', 0, 'unknown'],
  ['<s>', 0, 'control'],
  ['</s>', 0, 'control'],
];
const load = (spec: Spec): SentencePieceTokenizer =>
  SentencePieceTokenizer.fromBytes(buildModel(spec), 'test.model');

describe('SentencePiece normalization', () => {
  const tok = load({
    pieces: [...specials, ['▁', 0], ['a', 0], ['b', 0], ['▁a', 1]],
    // remove_extra_whitespaces left out: the schema's default (true) applies
  });

  it('removes leading, trailing and repeated spaces when remove_extra_whitespaces is on', () => {
    expect(tok.encodeAsPieces('  a   b  ')).toEqual(['▁a', '▁', 'b']);
    expect(tok.encodeAsPieces('   ')).toEqual([]);
    expect(tok.decode(tok.encode('  a   b  '))).toBe('a b');
  });

  it('strips every leading ▁ in decode when remove_extra_whitespaces is on', () => {
    const sp = tok.pieceToId('▁');
    expect(tok.decode([sp, sp, tok.pieceToId('▁a'), sp, tok.pieceToId('b')])).toBe('a b');
  });

  it('reads special ids by their pieces, and a 10-byte negative varint', () => {
    expect([tok.unkId, tok.bosId, tok.eosId, tok.padId]).toEqual([0, 1, 2, -1]);
  });

  it('keeps spaces and adds no prefix when both options are off', () => {
    const raw = load({
      pieces: [...specials, ['▁', 0], ['a', 0]],
      normalizer: { addDummyPrefix: false, removeExtraWhitespaces: false },
    });
    expect(raw.encodeAsPieces(' a ')).toEqual(['▁', 'a', '▁']);
    expect(raw.decode(raw.encode(' a '))).toBe(' a ');
  });
});

describe('SentencePiece BPE merge order', () => {
  const noPrefix = { addDummyPrefix: false };

  it('merges the highest-scoring pair first', () => {
    const tok = load({
      pieces: [...specials, ['a', 0], ['b', 0], ['c', 0], ['ab', 1], ['bc', 2]],
      normalizer: noPrefix,
    });
    expect(tok.encodeAsPieces('abc')).toEqual(['a', 'bc']);
  });

  it('breaks score ties by taking the leftmost pair', () => {
    const tok = load({ pieces: [...specials, ['a', 0], ['aa', 1]], normalizer: noPrefix });
    expect(tok.encodeAsPieces('aaa')).toEqual(['aa', 'a']);
    expect(tok.encodeAsPieces('aaaaa')).toEqual(['aa', 'aa', 'a']);
  });

  it('merges through UNUSED pieces but splits them back when they survive', () => {
    const tok = load({
      pieces: [...specials, ['a', 0], ['b', 0], ['c', 0], ['ab', 5, 'unused'], ['abc', 3]],
      normalizer: noPrefix,
    });
    expect(tok.encodeAsPieces('abc')).toEqual(['abc']);
    expect(tok.encodeAsPieces('ab')).toEqual(['a', 'b']);
    expect(tok.encode('ab')).toEqual([tok.pieceToId('a'), tok.pieceToId('b')]);
  });

  it('matches user-defined pieces longest-first and never merges them', () => {
    const tok = load({
      pieces: [...specials, ['a', 0], ['b', 0], ['c', 0], ['d', 0], ['ab', 0, 'user'], ['abc', 0, 'user'], ['cd', 9]],
      normalizer: noPrefix,
    });
    expect(tok.encodeAsPieces('abcd')).toEqual(['abc', 'd']);
    expect(tok.encodeAsPieces('abd')).toEqual(['ab', 'd']);
  });

  it('merges runs of unknown characters into one unknown piece without byte fallback', () => {
    const tok = load({
      pieces: [...specials, ['a', 0]],
      normalizer: noPrefix,
      unkSurface: '?',
    });
    expect(tok.encodeAsPieces('xyaz')).toEqual(['xy', 'a', 'z']);
    expect(tok.encode('xyaz')).toEqual([0, 3, 0]);
    expect(tok.decode(tok.encode('xyaz'))).toBe('?a?');
  });
});

describe('SentencePiece model checks', () => {
  const base: Piece[] = [...specials, ['a', 0]];
  const expectModelError = (spec: Spec | Uint8Array, pattern: RegExp): void => {
    const bytes = spec instanceof Uint8Array ? spec : buildModel(spec);
    expect(() => SentencePieceTokenizer.fromBytes(bytes, 'test.model')).toThrow(TokenizerError);
    expect(() => SentencePieceTokenizer.fromBytes(bytes, 'test.model')).toThrow(pattern);
  };

  it('refuses unigram models', () => {
    expectModelError({ pieces: base, modelType: 1 }, /test\.model: UNIGRAM .* not supported, only BPE/);
  });

  it('refuses a corrupt precompiled character map', () => {
    expectModelError({ pieces: base, normalizer: { charsmap: [1, 2, 3, 4] } }, /normalization rules .*too short/);
    expectModelError({ pieces: base, normalizer: { charsmap: [64, 0, 0, 0, 1] } }, /trie claims 64 bytes/);
    expectModelError(
      { pieces: base, normalizer: { charsmap: [4, 0, 0, 0, 0, 0, 0, 0, 0] } },
      /trie has an invalid root/,
    );
  });

  it('refuses duplicate pieces, a missing <unk>, and byte pieces without byte_fallback', () => {
    expectModelError({ pieces: [...base, ['a', 1]] }, /"a" is defined twice \(ids 3 and 4\)/);
    expectModelError({ pieces: [['a', 0]] }, /no unknown piece/);
    expectModelError({ pieces: [...base, ['<0x41>', 0, 'byte']] }, /byte_fallback is off/);
  });

  it('refuses byte_fallback with byte pieces missing or misnamed', () => {
    expectModelError({ pieces: [...base, ['<0x00>', 0, 'byte']], byteFallback: true }, /<0x01> is missing/);
    expectModelError({ pieces: [...base, ['<0x4g>', 0, 'byte']], byteFallback: true }, /not of the form <0xXX>/);
  });

  it('refuses an empty piece string and an unknown piece type', () => {
    const empty = new Uint8Array(bytesField(1, [...str(1, ''), ...f32(2, 0)]));
    expectModelError(empty, /piece #0 has an empty piece string/);
    const badType = new Uint8Array(bytesField(1, [...str(1, 'x'), ...vint(3, 9)]));
    expectModelError(badType, /piece #0 \("x"\) has unknown type 9/);
  });

  it('refuses a field with the wrong wire type', () => {
    expectModelError(new Uint8Array(vint(1, 5)), /ModelProto\.pieces \(field 1\) has wire type 0/);
  });

  it('decodes byte pieces when byte_fallback is on', () => {
    const bytes: Piece[] = Array.from({ length: 256 }, (_, b): Piece => [
      `<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`,
      0,
      'byte',
    ]);
    const tok = load({ pieces: [...base, ...bytes], byteFallback: true, normalizer: { addDummyPrefix: false } });
    expect(tok.encodeAsPieces('aé')).toEqual(['a', '<0xC3>', '<0xA9>']);
    expect(tok.decode(tok.encode('aé'))).toBe('aé');
    expect(() => tok.decode([tok.vocabSize])).toThrow(InvalidArgumentError);
  });
});

// --- precompiled character maps (nmt_nfkc and the like) ------------------------------------------

/**
 * Builds a Darts-clone double array (darts.h unit layout: label in bits 0-7, has-leaf bit 8,
 * offset in bits 10-30, value units with bit 31) for byte-string keys, the way sentencepiece's
 * builder stores normalization rules: a key's value is the offset of its replacement string.
 */
function buildDoubleArray(rules: Array<[Uint8Array, number]>): Uint32Array {
  interface Node {
    children: Map<number, Node>;
    value?: number;
  }
  const root: Node = { children: new Map() };
  for (const [key, value] of rules) {
    let node = root;
    for (const b of key) {
      let child = node.children.get(b);
      if (!child) node.children.set(b, (child = { children: new Map() }));
      node = child;
    }
    node.value = value;
  }
  const units = new Map<number, number>([[0, 0]]);
  const queue: Array<[Node, number]> = [[root, 0]];
  while (queue.length > 0) {
    const [node, pos] = queue.shift()!;
    const labels = [...node.children.keys()];
    if (node.value !== undefined) labels.push(0);
    if (labels.length === 0) continue;
    let base = 1;
    while (labels.some((c) => units.has(base ^ c))) base++;
    units.set(pos, units.get(pos)! | ((pos ^ base) << 10));
    if (node.value !== undefined) units.set(base, (node.value | 0x80000000) >>> 0);
    for (const [c, child] of node.children) {
      units.set(base ^ c, c | (child.value !== undefined ? 0x100 : 0));
      queue.push([child, base ^ c]);
    }
  }
  const size = (Math.floor(Math.max(...units.keys()) / 256) + 1) * 256;
  const array = new Uint32Array(size);
  for (const [i, u] of units) array[i] = u;
  return array;
}

function buildCharsMap(rules: Array<[string, string]>): number[] {
  const enc = new TextEncoder();
  const normalized: number[] = [];
  const entries: Array<[Uint8Array, number]> = rules.map(([from, to]) => {
    const at = normalized.length;
    normalized.push(...enc.encode(to), 0);
    return [enc.encode(from), at];
  });
  const trie = buildDoubleArray(entries);
  const bytes = new Uint8Array(4 + trie.byteLength);
  const view = new DataView(bytes.buffer);
  view.setUint32(0, trie.byteLength, true);
  trie.forEach((u, i) => view.setUint32(4 + 4 * i, u, true));
  return [...bytes, ...normalized];
}

describe('SentencePiece precompiled normalization rules', () => {
  const rules: Array<[string, string]> = [
    ['Ａ', 'A'],
    ['\u3000', ' '],
    ['ｶ', 'カ'],
    ['ｶﾞ', 'ガ'], // a two-character rule: the longest match wins
    ['\u200b', ''], // deleted
    ['①', '1'],
  ];
  const charsmap = buildCharsMap(rules);
  const pieces: Piece[] = [
    ...specials,
    ...['▁', 'A', 'B', 'a', 'b', 'カ', 'ガ', '1', 'Ｂ'].map((p): Piece => [p, 0]),
    ['①②', 0, 'user'],
  ];
  const tok = load({ pieces, normalizer: { charsmap } });

  it('replaces characters by their rules and leaves the others alone', () => {
    expect(tok.encodeAsPieces('ＡＢ')).toEqual(['▁', 'A', 'Ｂ']);
    expect(tok.encodeAsPieces('a\u200bb①')).toEqual(['▁', 'a', 'b', '1']);
  });

  it('takes the longest rule', () => {
    expect(tok.encodeAsPieces('ｶﾞｶ')).toEqual(['▁', 'ガ', 'カ']);
  });

  it('treats a character mapped to a space as whitespace (removed at the ends, runs collapsed)', () => {
    expect(tok.encodeAsPieces('\u3000\u3000a\u3000\u3000b\u3000')).toEqual(['▁', 'a', '▁', 'b']);
    expect(tok.decode(tok.encode('\u3000a\u3000\u3000b'))).toBe('a b');
  });

  it('keeps user-defined pieces verbatim, before any rule', () => {
    expect(tok.encodeAsPieces('①②①')).toEqual(['▁', '①②', '1']);
  });

  it('reports a rule that points outside the map as corrupt', () => {
    const broken = buildCharsMap([['x', 'y']]);
    broken.length -= 2; // cut 'y' and its NUL: the rule now points past the end
    const t = load({ pieces, normalizer: { charsmap: broken } });
    expect(t.encodeAsPieces('ab')).toEqual(['▁', 'a', 'b']);
    expect(() => t.encode('x')).toThrow(TokenizerError);
    expect(() => t.encode('x')).toThrow(/test\.model: the normalization rules are corrupt: .*offset 0/);
  });
});
