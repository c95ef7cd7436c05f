// Parsing and validation of a safetensors header: everything is checked before any tensor is read,
// so a bad file fails at open with a message that names the file, the tensor and the problem.
import { CheckpointError } from '@bminf/core';
import { isSourceDType, numelOf, SOURCE_DTYPES, sourceDTypeSize } from './dtypes.js';
import type { SourceDType } from './types.js';
import { findDuplicateKey } from './json-keys.js';

/** Largest header we accept; real headers are kilobytes to a few megabytes. */
export const MAX_HEADER_BYTES = 100 * 1024 * 1024;

export interface HeaderEntry {
  name: string;
  dtype: SourceDType;
  shape: number[];
  /** Absolute byte offsets in the file. */
  begin: number;
  end: number;
}

export interface ParsedHeader {
  /** Bytes before the data area (8 + header length). */
  dataStart: number;
  entries: HeaderEntry[];
  metadata: Record<string, string> | undefined;
}

const REDOWNLOAD = 'Re-download or re-convert it.';

/** Reads the header length from the first 8 bytes and checks it against the file size. */
export function parseHeaderLength(first8: Uint8Array, fileSize: number, file: string): number {
  if (fileSize < 8) {
    throw new CheckpointError(
      `the file is ${fileSize} bytes, too short to be a safetensors file (it must start with an 8-byte header length): the file is truncated or not safetensors.`,
      { file, hint: REDOWNLOAD },
    );
  }
  const n = new DataView(first8.buffer, first8.byteOffset, 8).getBigUint64(0, true);
  if (n > BigInt(fileSize - 8)) {
    throw new CheckpointError(
      `the header length (${n} bytes) goes beyond the end of the file (${fileSize} bytes): the file is truncated or not a safetensors file.`,
      { file, hint: REDOWNLOAD },
    );
  }
  if (n > BigInt(MAX_HEADER_BYTES)) {
    throw new CheckpointError(`the header length (${n} bytes) is over the ${MAX_HEADER_BYTES}-byte limit: the file is not a valid safetensors file.`, {
      file,
      hint: REDOWNLOAD,
    });
  }
  if (n < 2n) {
    throw new CheckpointError(`the header length is ${n} bytes, too short for a JSON object: the file is not a valid safetensors file.`, {
      file,
      hint: REDOWNLOAD,
    });
  }
  return Number(n);
}

const decoder = new TextDecoder('utf-8', { fatal: true });

function isNonNegInt(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

/** Parses and validates the JSON header (`bytes`), given the header length and the file size. */
export function parseHeader(bytes: Uint8Array, fileSize: number, file: string): ParsedHeader {
  const dataStart = 8 + bytes.length;
  const dataSize = fileSize - dataStart;
  let text: string;
  try {
    text = decoder.decode(bytes);
  } catch (cause) {
    throw new CheckpointError('the header is not valid UTF-8: the file is corrupt or not a safetensors file.', {
      file,
      hint: REDOWNLOAD,
      cause,
    });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (cause) {
    throw new CheckpointError(`the header is not valid JSON (${(cause as Error).message}): the file is corrupt or not a safetensors file.`, {
      file,
      hint: REDOWNLOAD,
      cause,
    });
  }
  if (json === null || typeof json !== 'object' || Array.isArray(json)) {
    throw new CheckpointError('the header is not a JSON object: the file is not a valid safetensors file.', { file, hint: REDOWNLOAD });
  }
  const dup = findDuplicateKey(text);
  if (dup) {
    throw new CheckpointError(`the header names ${JSON.stringify(dup.key)}${dup.path.length ? ` (in ${dup.path.map((k) => JSON.stringify(k)).join(' → ')})` : ''} twice; which one holds the tensor is ambiguous.`, {
      file,
      hint: 'The header is corrupt or crafted: re-download or re-convert the file.',
    });
  }
  let metadata: Record<string, string> | undefined;
  const entries: HeaderEntry[] = [];
  for (const [name, raw] of Object.entries(json as Record<string, unknown>)) {
    if (name === '__metadata__') {
      if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
        throw new CheckpointError('__metadata__ in the header is not an object of strings.', { file, hint: REDOWNLOAD });
      }
      metadata = raw as Record<string, string>;
      continue;
    }
    const bad = (what: string): never => {
      throw new CheckpointError(`tensor "${name}": ${what}`, { file, hint: REDOWNLOAD });
    };
    if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) bad('its header entry is not an object.');
    const { dtype, shape, data_offsets: offsets } = raw as Record<string, unknown>;
    if (!isSourceDType(dtype)) {
      bad(`unknown dtype ${JSON.stringify(dtype)}; bminf reads ${SOURCE_DTYPES.join(', ')}.`);
    }
    if (!Array.isArray(shape) || !shape.every(isNonNegInt)) {
      bad(`shape ${JSON.stringify(shape)} is not a list of non-negative integers.`);
    }
    if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isNonNegInt)) {
      bad(`data_offsets ${JSON.stringify(offsets)} is not a pair of non-negative integers.`);
    }
    const [b, e] = offsets as [number, number];
    if (b > e) bad(`data_offsets [${b}, ${e}] begin after they end.`);
    if (e > dataSize) {
      bad(
        `data_offsets [${b}, ${e}] go beyond the end of the data area (${dataSize} bytes): the file is truncated or its header is wrong.`,
      );
    }
    const d = dtype as SourceDType;
    const expected = numelOf(shape as number[]) * sourceDTypeSize(d);
    if (expected !== e - b) {
      bad(
        `its byte length (${e - b}, from data_offsets [${b}, ${e}]) is not shape [${(shape as number[]).join(', ')}] x ${sourceDTypeSize(d)} bytes of ${d} = ${expected}.`,
      );
    }
    entries.push({ name, dtype: d, shape: [...(shape as number[])], begin: dataStart + b, end: dataStart + e });
  }
  checkOverlaps(entries, dataStart, file);
  entries.sort((x, y) => x.begin - y.begin);
  return { dataStart, entries, metadata };
}

function checkOverlaps(entries: HeaderEntry[], dataStart: number, file: string): void {
  const sorted = entries.filter((t) => t.end > t.begin).sort((x, y) => x.begin - y.begin);
  for (let i = 1; i < sorted.length; i++) {
    const a = sorted[i - 1];
    const b = sorted[i];
    if (b.begin < a.end) {
      throw new CheckpointError(
        `tensors "${a.name}" [${a.begin - dataStart}, ${a.end - dataStart}] and "${b.name}" [${b.begin - dataStart}, ${b.end - dataStart}] have overlapping data_offsets.`,
        { file, hint: 'The header is corrupt: re-download or re-convert the file.' },
      );
    }
  }
}
