// Fuzzing the readers of untrusted checkpoints (settings: tooling/fuzz/settings.ts): whatever the
// bytes, the safetensors header parser, the unpickler and the zip reader either accept them or throw
// a CheckpointError; what they accept is consistent.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CheckpointError } from '@bminf/core';
import { openTorch } from '@bminf/checkpoint';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { FUZZ_TIMEOUT, fuzz } from '../../../tooling/fuzz/settings.js';
import { findDuplicateKey } from '../src/json-keys.js';
import { unpickle } from '../src/pickle.js';
import { parseHeader, parseHeaderLength } from '../src/safetensors-header.js';
import { torchGlobals } from '../src/torch-globals.js';
import { bytesOf, tempDir } from './helpers/safetensors.js';
import { P, pickle, statePickle, torchArchive } from './helpers/torch.js';

const tmp = tempDir('bminf-fuzz-');
afterAll(() => tmp.cleanup());

/** Runs f; it may return or throw a CheckpointError, nothing else. */
function acceptsOrRefuses<T>(f: () => T): T | undefined {
  try {
    return f();
  } catch (e) {
    if (!(e instanceof CheckpointError)) throw e;
    return undefined;
  }
}

const dtypes = fc.constantFrom('F32', 'F16', 'BF16', 'I8', 'U8', 'I64', 'BOOL', 'F64', 'X9', '');
const smallInt = fc.oneof(fc.nat(64), fc.integer({ min: -3, max: 2 ** 33 }), fc.constantFrom(2 ** 53, 1.5, -0));
const entry = fc.record(
  { dtype: dtypes, shape: fc.array(smallInt, { maxLength: 4 }), data_offsets: fc.array(smallInt, { minLength: 0, maxLength: 3 }) },
  { requiredKeys: [] },
);
const header = fc.dictionary(fc.oneof(fc.string({ maxLength: 6 }), fc.constant('__metadata__')), fc.oneof(entry, fc.anything({ maxDepth: 2 })), { maxKeys: 6 });

describe('fuzz: safetensors header', () => {
  it(
    'fuzz: any header object is accepted consistently or refused with a CheckpointError',
    async () => {
      await fuzz(
        fc.property(header, fc.nat(4096), (h, dataSize) => {
          const bytes = new TextEncoder().encode(JSON.stringify(h));
          const fileSize = 8 + bytes.length + dataSize;
          const parsed = acceptsOrRefuses(() => parseHeader(bytes, fileSize, 'fuzz.safetensors'));
          if (!parsed) return;
          let end = parsed.dataStart;
          for (const e of parsed.entries) {
            expect(e.begin).toBeGreaterThanOrEqual(parsed.dataStart);
            expect(e.end).toBeLessThanOrEqual(fileSize);
            if (e.end > e.begin) {
              expect(e.begin).toBeGreaterThanOrEqual(end); // sorted, no overlaps
              end = e.end;
            }
          }
        }),
        1600,
      );
    },
    FUZZ_TIMEOUT,
  );

  it(
    'fuzz: any bytes as a header length and header are refused with a CheckpointError or parsed',
    async () => {
      await fuzz(
        fc.property(fc.uint8Array({ maxLength: 300 }), fc.nat(1 << 20), (bytes, extra) => {
          acceptsOrRefuses(() => {
            const first8 = new Uint8Array(8);
            first8.set(bytes.subarray(0, 8));
            const n = parseHeaderLength(first8, bytes.length + extra, 'fuzz.safetensors');
            return parseHeader(bytes.subarray(8, 8 + n), bytes.length + extra, 'fuzz.safetensors');
          });
        }),
        4000,
      );
    },
    FUZZ_TIMEOUT,
  );

  it(
    'fuzz: findDuplicateKey finds exactly the first repeated key of an object',
    async () => {
      const key = fc.constantFrom('a', 'b', 'w', 'a"b', 'a\\b', '\u00e9', '');
      await fuzz(
        fc.property(fc.array(fc.tuple(key, fc.json({ maxDepth: 2 })), { maxLength: 6 }), (entries) => {
          const text = `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${v}`).join(',')}}`;
          const seen = new Set<string>();
          const expected = entries.find(([k]) => (seen.has(k) ? true : (seen.add(k), false)))?.[0];
          const found = findDuplicateKey(text);
          if (expected !== undefined) expect(found).toEqual({ key: expected, path: [] });
          else if (found) expect(found.path.length).toBeGreaterThan(0); // a repeat nested inside a value
        }),
        4000,
      );
    },
    FUZZ_TIMEOUT,
  );
});

// Pickle fragments: every opcode the unpickler knows, and the globals a state dict uses.
const fragment = fc.oneof(
  fc.constantFrom(
    P.mark(), P.emptyDict(), P.emptyTuple(), P.tuple(), P.tuple1(), P.tuple2(), P.raw(0x87), P.setitems(), P.setitem(), P.reduce(), P.build(),
    P.binpersid(), P.newfalse(), P.none(), P.raw(0x5d), P.raw(0x61), P.raw(0x65), P.raw(0x6c), P.raw(0x64), P.raw(0x8f), P.raw(0x90), P.raw(0x91),
    P.raw(0x30), P.raw(0x31), P.raw(0x32), P.raw(0x94), P.raw(0x93), P.raw(0x88), P.raw(0x2e),
    P.global('collections', 'OrderedDict'), P.global('torch._utils', '_rebuild_tensor_v2'), P.global('torch._tensor', '_rebuild_from_type_v2'),
    P.global('torch', 'FloatStorage'), P.global('torch', 'Tensor'), P.global('torch', 'Size'), P.global('os', 'system'), P.str('storage'),
  ),
  fc.nat(255).map((i) => P.binput(i)),
  fc.nat(255).map((i) => P.binget(i)),
  fc.integer({ min: -5, max: 100 }).map(P.int),
  fc.string({ maxLength: 8 }).map(P.shortStr),
  fc.uint8Array({ maxLength: 4 }),
);

const hooks = {
  resolveGlobal: torchGlobals('fuzz.pt'),
  persistentLoad: () => {
    throw new CheckpointError('persistent ids are not fuzzed here.');
  },
};

describe('fuzz: unpickler and zip reader', () => {
  it(
    'fuzz: any opcode sequence is unpickled or refused with a CheckpointError',
    async () => {
      await fuzz(
        fc.property(fc.array(fragment, { maxLength: 60 }), (parts) => {
          acceptsOrRefuses(() => unpickle(pickle(P.proto(2), ...parts, P.stop()), hooks, 'fuzz.pt'));
        }),
        8000,
      );
    },
    FUZZ_TIMEOUT,
  );

  it(
    'fuzz: any bytes are unpickled or refused with a CheckpointError',
    async () => {
      await fuzz(
        fc.property(fc.uint8Array({ maxLength: 400 }), (bytes) => {
          acceptsOrRefuses(() => unpickle(bytes, hooks, 'fuzz.pt'));
        }),
        8000,
      );
    },
    FUZZ_TIMEOUT,
  );

  const valid = torchArchive(
    statePickle([
      { name: 'a.weight', storage: 'FloatStorage', key: '0', numel: 6, size: [2, 3] },
      { name: 'b', storage: 'HalfStorage', key: '1', numel: 4, size: [4], stride: [1] },
      { name: 'c', storage: 'FloatStorage', key: '0', numel: 6, offset: 2, size: [2, 2], stride: [0, 1] },
    ]),
    { 0: bytesOf(new Float32Array([1, 2, 3, 4, 5, 6])), 1: bytesOf(new Uint16Array([1, 2, 3, 4])) },
  );

  it(
    'fuzz: a damaged torch.save archive opens and reads, or is refused with a CheckpointError',
    async () => {
      let n = 0;
      await fuzz(
        fc.asyncProperty(
          fc.array(fc.tuple(fc.nat(valid.length - 1), fc.nat(255)), { maxLength: 8 }),
          fc.nat(valid.length),
          async (edits, cut) => {
            const bytes = valid.slice(0, Math.max(cut, valid.length - 64));
            for (const [at, v] of edits) if (at < bytes.length) bytes[at] = v;
            const file = join(tmp.dir, `fuzz${n++ % 4}.pt`);
            writeFileSync(file, bytes);
            try {
              const src = await openTorch(file);
              try {
                for (const name of src.names()) await src.read(name);
              } finally {
                await src.close();
              }
            } catch (e) {
              if (!(e instanceof CheckpointError)) throw e;
            }
          },
        ),
        1200,
      );
    },
    FUZZ_TIMEOUT,
  );
});
