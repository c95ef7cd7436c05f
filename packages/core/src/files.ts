// Reading the small files beside the weights (config.json, tokenizer.model, vocab.txt, index.json)
// safely: only regular files are read (a FIFO would block forever, /dev/zero would be read until
// memory runs out), and no more than a cap that the format implies.
import { readFileSync, statSync, type Stats } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { formatBytes } from './errors.js';

export interface RegularFileLimits {
  /** What the file is, for messages: 'config.json', 'the SentencePiece model'. */
  what: string;
  /** Largest size accepted, in bytes. */
  maxBytes: number;
  /** Builds the error to throw (the caller's typed error class); `message` names the path and the problem. */
  error: (message: string, hint: string) => Error;
}

/**
 * What checkRegularFile needs of fs.Stats (structural, so that @bminf/core's types need no @types/node
 * in a user's project).
 */
export interface FileStats {
  size: number;
  isFile(): boolean;
  isDirectory(): boolean;
  isFIFO(): boolean;
  isCharacterDevice(): boolean;
  isBlockDevice(): boolean;
  isSocket(): boolean;
}

/** Throws limits.error unless `st` is a regular file of at most limits.maxBytes. */
export function checkRegularFile(path: string, st: FileStats, limits: RegularFileLimits): void {
  if (!st.isFile()) {
    const kind = st.isDirectory() ? 'a directory' : st.isFIFO() ? 'a FIFO' : st.isCharacterDevice() || st.isBlockDevice() ? 'a device' : st.isSocket() ? 'a socket' : 'not a regular file';
    throw limits.error(`${path}: it is ${kind}, not ${limits.what}; bminf reads only regular files.`, `Give the path of ${limits.what} itself, a regular file.`);
  }
  if (st.size > limits.maxBytes) {
    throw limits.error(
      `${path}: it is ${formatBytes(st.size)}, over the ${formatBytes(limits.maxBytes)} that ${limits.what} can reasonably take.`,
      `Check that it is the ${limits.what} that came with the model.`,
    );
  }
}

function statError(path: string, cause: unknown, limits: RegularFileLimits): Error {
  const code = (cause as NodeJS.ErrnoException).code;
  const why = code === 'ENOENT' ? 'no such file' : `it cannot be read (${code ?? (cause as Error).message})`;
  const e = limits.error(`${path}: ${why}.`, 'Check the path and its permissions.');
  return Object.assign(e, { cause });
}

/** Reads a regular file of at most limits.maxBytes, synchronously (a Buffer, typed as its Uint8Array). */
export function readRegularFileSync(path: string, limits: RegularFileLimits): Uint8Array {
  let st: Stats;
  try {
    st = statSync(path);
  } catch (cause) {
    throw statError(path, cause, limits);
  }
  checkRegularFile(path, st, limits);
  try {
    return readFileSync(path);
  } catch (cause) {
    throw statError(path, cause, limits);
  }
}

/** Reads a regular file of at most limits.maxBytes (a Buffer, typed as its Uint8Array). */
export async function readRegularFile(path: string, limits: RegularFileLimits): Promise<Uint8Array> {
  let st: Stats;
  try {
    st = await stat(path);
  } catch (cause) {
    throw statError(path, cause, limits);
  }
  checkRegularFile(path, st, limits);
  try {
    return await readFile(path);
  } catch (cause) {
    throw statError(path, cause, limits);
  }
}

/** The UTF-8 text of a file read by readRegularFile(Sync). */
export function utf8Text(bytes: Uint8Array): string {
  return new TextDecoder('utf-8').decode(bytes);
}
