// Byte sizes as people type them: 2GB, 500MiB, 1.5G, 1000000.
import { InvalidArgumentError } from '@bminf/core';

const UNITS: Record<string, number> = {
  '': 1, b: 1,
  k: 1e3, kb: 1e3, kib: 1024,
  m: 1e6, mb: 1e6, mib: 1024 ** 2,
  g: 1e9, gb: 1e9, gib: 1024 ** 3,
  t: 1e12, tb: 1e12, tib: 1024 ** 4,
};

export function parseSize(text: string, option = '--shard-size'): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$/i.exec(text);
  const unit = m?.[2].toLowerCase() ?? '';
  if (!m || !Object.hasOwn(UNITS, unit)) {
    throw new InvalidArgumentError(`${option} must be a size such as 2GB, 500MiB or 1000000, but is "${text}".`);
  }
  const n = Math.floor(Number(m[1]) * UNITS[unit]);
  if (!Number.isSafeInteger(n) || n < 1) throw new InvalidArgumentError(`${option} must be at least 1 byte, but is "${text}".`);
  return n;
}

export function formatMB(bytes: number): string {
  return `${(bytes / 1e6).toFixed(bytes < 1e7 ? 2 : 1)} MB`;
}
