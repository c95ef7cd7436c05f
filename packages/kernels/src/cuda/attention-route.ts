// Whether Backend.attention runs as one fused kernel (attention.cu) or as its composition (gemm,
// softmax, gemm, contiguous). Pure: shapes, strides and byte alignments in, a kernel name or the
// reason it does not apply out, so the choice is tested on machines without a GPU.

/** The head sizes attention.cu is compiled for (CPM-1: 80; CPM-2 and EVA: 64). */
export const ATTENTION_HEAD_DIMS: readonly number[] = [64, 80, 128];

/** One operand as the kernel reads it: strides in elements, the first element's device byte address mod 16. */
export interface AttentionOperand {
  strides: readonly number[];
  /** (device base + byte offset) % 16 */
  misalign: number;
}

export interface AttentionRouteInput {
  dtype: string;
  /** The device's compute capability major (cp.async and mma.m16n8k16 need 8). */
  ccMajor: number;
  heads: number;
  n: number;
  L: number;
  headDim: number;
  causalOffset?: number | undefined;
  q: AttentionOperand;
  keys: AttentionOperand;
  values: AttentionOperand;
  /** The bias's strides (a distance bias's: [head, -1, 1]): only its last one matters (the kernel reads it element by element). */
  bias?: { strides: readonly number[] } | undefined;
  /** The key bias's stride. */
  keyBias?: { strides: readonly number[] } | undefined;
}

/** Grid size limit of one dimension, and the int32 ranges the kernel's index math assumes. */
const MAX_INT = 2 ** 31 - 1;

/** `attention_f16_d<D>` where the fused kernel takes the call, else why not (the composition runs). */
export function attentionRoute(x: AttentionRouteInput): { kernel: string } | { reason: string } {
  if (x.dtype !== 'float16') return { reason: `the fused kernel takes float16, not ${x.dtype}` };
  if (x.ccMajor < 8) return { reason: `the fused kernel needs compute capability 8.0 or newer (cp.async, mma.m16n8k16)` };
  if (!ATTENTION_HEAD_DIMS.includes(x.headDim)) return { reason: `no fused kernel for heads of ${x.headDim} dimensions (${ATTENTION_HEAD_DIMS.join(', ')})` };
  for (const [name, t] of [['q', x.q], ['keys', x.keys], ['values', x.values]] as const) {
    // 16-byte copies of each row: rows and heads start 16-byte aligned, dims are contiguous.
    if (t.strides[2] !== 1 || t.misalign !== 0 || t.strides[0] % 8 !== 0 || t.strides[1] % 8 !== 0) {
      return { reason: `${name} is not read in 16-byte pieces (strides ${t.strides.join(', ')}, address % 16 = ${t.misalign})` };
    }
  }
  if (x.bias && x.bias.strides[2] !== 1 && x.L > 1) return { reason: 'the bias has a non-unit last stride' };
  if (x.keyBias && x.keyBias.strides[0] !== 1 && x.L > 1) return { reason: 'the key bias has a non-unit stride' };
  const co = x.causalOffset ?? 0;
  if (Math.abs(co) > 2 ** 30 || x.n > 2 ** 30 || x.L > 2 ** 30) return { reason: 'sizes or causalOffset beyond the kernel int32 index math' };
  if (x.heads * Math.ceil(x.n / 64) > MAX_INT || x.n * x.heads * x.headDim > MAX_INT) return { reason: 'too many blocks or output elements for one launch' };
  return { kernel: `attention_f16_d${x.headDim}${x.keyBias ? '_kb' : ''}` };
}
