// Just enough of the zip format to find stored (uncompressed) entries in a torch.save archive:
// the end-of-central-directory record (zip64 records included), the central directory, and each
// entry's local header. Everything is read with positional reads; the archive is never loaded whole.
import type { FileHandle } from 'node:fs/promises';
import { CheckpointError } from '@bminf/core';
import { readFresh } from './io.js';

export interface ZipEntry {
  name: string;
  method: number;
  flags: number;
  compressedSize: number;
  size: number;
  localHeaderOffset: number;
}

const EOCD = 0x06054b50;
const ZIP64_LOCATOR = 0x07064b50;
const ZIP64_EOCD = 0x06064b50;
const CENTRAL = 0x02014b50;
const LOCAL = 0x04034b50;
const MAX_CENTRAL_DIRECTORY = 256 * 1024 * 1024;

function u64(view: DataView, at: number, file: string, what: string): number {
  const v = view.getBigUint64(at, true);
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw corrupt(file, `${what} (${v}) is not a usable size`);
  return Number(v);
}

function corrupt(file: string, what: string): CheckpointError {
  return new CheckpointError(`the zip archive is damaged: ${what}.`, { file, hint: 'Re-download the file, or re-save it with torch.save.' });
}

const utf8 = new TextDecoder('utf-8');

/** Reads the central directory; names map to entries. */
export async function readZipDirectory(fh: FileHandle, fileSize: number, file: string): Promise<Map<string, ZipEntry>> {
  if (fileSize < 22) throw corrupt(file, `the file is ${fileSize} bytes, too short to hold an end-of-central-directory record`);
  const tailLen = Math.min(fileSize, 22 + 0xffff);
  const tailPos = fileSize - tailLen;
  const tail = await readFresh(fh, tailLen, tailPos, file, 'the end of the zip archive');
  const tv = new DataView(tail.buffer);
  let at = -1;
  for (let i = tailLen - 22; i >= 0; i--) {
    if (tv.getUint32(i, true) === EOCD) {
      at = i;
      break;
    }
  }
  if (at < 0) throw corrupt(file, 'no end-of-central-directory record was found (the file is truncated or not a zip)');
  let entries = tv.getUint16(at + 10, true);
  let cdSize = tv.getUint32(at + 12, true);
  let cdOffset = tv.getUint32(at + 16, true);
  // zip64: a locator sits just before the classic record and points to the zip64 record.
  if (at >= 20 && tv.getUint32(at - 20, true) === ZIP64_LOCATOR) {
    const recPos = u64(tv, at - 20 + 8, file, 'the zip64 record offset');
    if (recPos + 56 > fileSize) throw corrupt(file, `the zip64 end record at ${recPos} lies beyond the end of the file`);
    const rec = await readFresh(fh, 56, recPos, file, 'the zip64 end record');
    const rv = new DataView(rec.buffer);
    if (rv.getUint32(0, true) !== ZIP64_EOCD) throw corrupt(file, `no zip64 end record at offset ${recPos}`);
    entries = u64(rv, 32, file, 'the entry count');
    cdSize = u64(rv, 40, file, 'the central directory size');
    cdOffset = u64(rv, 48, file, 'the central directory offset');
  } else if (entries === 0xffff || cdSize === 0xffffffff || cdOffset === 0xffffffff) {
    throw corrupt(file, 'the archive needs zip64 records but has none');
  }
  if (cdOffset + cdSize > fileSize) {
    throw corrupt(file, `the central directory [${cdOffset}, ${cdOffset + cdSize}) lies beyond the end of the file (${fileSize} bytes); the file is truncated`);
  }
  if (cdSize > MAX_CENTRAL_DIRECTORY) throw corrupt(file, `the central directory is ${cdSize} bytes, over the ${MAX_CENTRAL_DIRECTORY}-byte limit`);
  const cd = await readFresh(fh, cdSize, cdOffset, file, 'the central directory');
  const cv = new DataView(cd.buffer);
  const out = new Map<string, ZipEntry>();
  let p = 0;
  for (let i = 0; i < entries; i++) {
    if (p + 46 > cdSize || cv.getUint32(p, true) !== CENTRAL) throw corrupt(file, `central directory entry ${i} is malformed`);
    const flags = cv.getUint16(p + 8, true);
    const method = cv.getUint16(p + 10, true);
    let compressedSize = cv.getUint32(p + 20, true);
    let size = cv.getUint32(p + 24, true);
    const nameLen = cv.getUint16(p + 28, true);
    const extraLen = cv.getUint16(p + 30, true);
    const commentLen = cv.getUint16(p + 32, true);
    let localHeaderOffset = cv.getUint32(p + 42, true);
    if (p + 46 + nameLen + extraLen + commentLen > cdSize) throw corrupt(file, `central directory entry ${i} runs past the directory`);
    const name = utf8.decode(cd.subarray(p + 46, p + 46 + nameLen));
    // The zip64 extra field holds, in this order, the 64-bit values whose 32-bit fields are saturated.
    let e = p + 46 + nameLen;
    const extraEnd = e + extraLen;
    while (e + 4 <= extraEnd) {
      const id = cv.getUint16(e, true);
      const len = cv.getUint16(e + 2, true);
      if (id === 0x0001) {
        let q = e + 4;
        const take = (what: string): number => {
          if (q + 8 > e + 4 + len) throw corrupt(file, `the zip64 field of "${name}" is too short for its ${what}`);
          const v = u64(cv, q, file, `the ${what} of "${name}"`);
          q += 8;
          return v;
        };
        if (size === 0xffffffff) size = take('size');
        if (compressedSize === 0xffffffff) compressedSize = take('compressed size');
        if (localHeaderOffset === 0xffffffff) localHeaderOffset = take('offset');
      }
      e += 4 + len;
    }
    out.set(name, { name, method, flags, compressedSize, size, localHeaderOffset });
    p += 46 + nameLen + extraLen + commentLen;
  }
  return out;
}

/** Where a stored entry's bytes begin, checked to lie inside the file; refuses compressed or encrypted entries. */
export async function zipEntryDataStart(fh: FileHandle, entry: ZipEntry, fileSize: number, file: string): Promise<number> {
  if (entry.flags & 1) throw new CheckpointError(`the archive entry "${entry.name}" is encrypted.`, { file, hint: 'Re-save the checkpoint with torch.save.' });
  if (entry.method !== 0) {
    throw new CheckpointError(
      `the archive entry "${entry.name}" is compressed (method ${entry.method}); torch.save stores entries uncompressed and bminf reads only stored entries.`,
      { file, hint: 'Re-save the checkpoint with torch.save (do not re-zip it with compression).' },
    );
  }
  if (entry.localHeaderOffset + 30 > fileSize) throw corrupt(file, `the local header of "${entry.name}" lies beyond the end of the file`);
  const h = await readFresh(fh, 30, entry.localHeaderOffset, file, `the local header of "${entry.name}"`);
  const hv = new DataView(h.buffer);
  if (hv.getUint32(0, true) !== LOCAL) throw corrupt(file, `no local header for "${entry.name}" at offset ${entry.localHeaderOffset}`);
  const start = entry.localHeaderOffset + 30 + hv.getUint16(26, true) + hv.getUint16(28, true);
  if (start + entry.size > fileSize) {
    throw new CheckpointError(
      `the archive entry "${entry.name}" (${entry.size} bytes at offset ${start}) runs past the end of the file (${fileSize} bytes): the file is truncated.`,
      { file, hint: 'Re-download the file or save it again.' },
    );
  }
  return start;
}
