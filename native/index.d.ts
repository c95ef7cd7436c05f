// The raw native binding. Its functions validate their arguments, but are meant to be called through
// @bminf/kernels and @bminf/cublaslt, which give them typed, documented wrappers.
declare const native: {
  readonly path: string;
  readonly version: string;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  readonly cpu: Record<string, any>;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  readonly cuda: Record<string, any>;
};
export = native;
