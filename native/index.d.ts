// The raw native binding. Its functions validate their arguments, but are meant to be called through
// @bminf/kernels and @bminf/cublaslt, which give them typed, documented wrappers. Loading it throws an
// Error with code 'BMINF_NATIVE_MISSING' (the message says what to install and run) when no build loads.
declare const native: {
  /** The bminf.node that was loaded. */
  readonly path: string;
  readonly version: string;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  readonly cpu: Record<string, any>;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  readonly cuda: Record<string, any>;
  /** What the prebuilt package states about its binary when that is what loaded (null for a local build). */
  readonly prebuilt: { readonly file: string; readonly platform: string; readonly glibc?: string } | null;
};
export = native;
