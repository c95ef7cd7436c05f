// Loads the addon's `cuda` object once, on first use: importing bminf works where the addon is missing
// (so `bminf --help` and `bminf info` do), and the load error is kept to say why CUDA is unavailable.
import { createRequire } from 'node:module';
import type { NativeCuda } from './native-cuda.js';

const require = createRequire(import.meta.url);
let nativeCuda: NativeCuda | null = null;
let nativeError: unknown = null;

/** The addon's CUDA bindings, or null with the load error kept for `nativeLoadError()`. */
export function loadNativeCuda(): NativeCuda | null {
  if (nativeCuda || nativeError) return nativeCuda;
  try {
    nativeCuda = (require('@bminf/native') as { cuda: NativeCuda }).cuda;
  } catch (e) {
    nativeError = e;
  }
  return nativeCuda;
}

/** Why the addon could not be loaded (null when it loaded, or before the first try). */
export function nativeLoadError(): unknown {
  return nativeError;
}
