// The plain references of the op set ("the simple version next to the fast one", as llm.c keeps
// them): slow, obvious loops the CPU and CUDA kernels are tested against.
export { dequantize, igemm, quantizeRows, roundHalfEven } from './quantize.js';
export { binary, embedding, gather, gelu, gemm, layerNorm, softmax } from './float-ops.js';
export { attendCache, scatterRows } from './step-ops.js';
