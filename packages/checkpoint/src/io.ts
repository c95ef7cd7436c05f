// Positional reads that either fill the whole buffer or say the file is truncated.
import { type FileHandle, open, stat } from 'node:fs/promises';
import { checkRegularFile, CheckpointError } from '@bminf/core';

/**
 * Opens a checkpoint file for reading, after checking that it is a regular file: opening a FIFO
 * blocks until a writer appears, and a device has no end.
 */
export async function openRegular(file: string): Promise<FileHandle> {
  try {
    checkRegularFile(file, await stat(file), { what: 'a checkpoint', maxBytes: Number.MAX_SAFE_INTEGER, error: (m, hint) => new CheckpointError(m, { hint }) });
    return await open(file, 'r');
  } catch (cause) {
    if (cause instanceof CheckpointError) throw cause;
    throw new CheckpointError(`cannot be opened (${(cause as NodeJS.ErrnoException).code ?? (cause as Error).message}).`, {
      file,
      hint: 'Check the path and its permissions.',
      cause,
    });
  }
}

// fs reads are capped near 2 GiB per call; large tensors are read in slices.
const MAX_READ = 1 << 30;

export async function readExactly(
  fh: FileHandle,
  target: Uint8Array,
  position: number,
  file: string,
  what: string,
): Promise<void> {
  let done = 0;
  while (done < target.length) {
    const len = Math.min(MAX_READ, target.length - done);
    const { bytesRead } = await fh.read(target, done, len, position + done);
    if (bytesRead === 0) {
      throw new CheckpointError(
        `the file ended after ${position + done} bytes while reading ${what} (${target.length} bytes at offset ${position}): the file is truncated.`,
        { file, hint: 'Re-download or re-convert it.' },
      );
    }
    done += bytesRead;
  }
}

/** A zero-offset buffer (so typed-array views over it are aligned) filled from the file: `reuse` when large enough, else fresh. */
export async function readFresh(fh: FileHandle, length: number, position: number, file: string, what: string, reuse?: ArrayBuffer): Promise<Uint8Array> {
  const out = reuse && reuse.byteLength >= length ? new Uint8Array(reuse, 0, length) : new Uint8Array(new ArrayBuffer(length));
  await readExactly(fh, out, position, file, what);
  return out;
}
