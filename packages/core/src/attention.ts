// Backend.attention's contract in one place: its argument checks, shared by every backend, and the
// composition of gemm, softmax, gemm and a permute copy that defines its result (the CPU backend's
// implementation, and the CUDA backend's wherever its fused kernel does not apply).
import type { AttentionOptions, Backend, ScoreBias } from './backend.js';
import { checkDType, checkRank, checkSameDType, checkShape } from './checks.js';
import { InvalidArgumentError, ShapeMismatchError } from './errors.js';
import { tidy } from './scope.js';
import { shapeToString, type Tensor } from './tensor.js';

/** Checks Backend.attention's arguments (not device or liveness: the backend's own checks do that). */
export function checkAttention(q: Tensor, keys: Tensor, values: Tensor, options: AttentionOptions): void {
  const op = 'attention';
  checkDType(op, q, 'float16', 'float32');
  checkSameDType(op, q, keys);
  checkSameDType(op, q, values);
  checkRank(op, q, 3);
  checkRank(op, keys, 3);
  checkRank(op, values, 3);
  const [h, n, dh] = q.shape;
  const L = keys.shape[1];
  if (keys.shape[0] !== h || keys.shape[2] !== dh) {
    throw new ShapeMismatchError(`${op}: keys ${shapeToString(keys.shape)} must be [${h}, L, ${dh}] for q ${shapeToString(q.shape)} ([heads, n, headDim]).`);
  }
  checkShape(op, values, [h, L, dh], 'values');
  if (typeof options?.scale !== 'number' || !Number.isFinite(options.scale)) {
    throw new InvalidArgumentError(`${op}: options.scale must be a finite number, not ${String(options?.scale)}.`);
  }
  if (options.causalOffset !== undefined && !Number.isSafeInteger(options.causalOffset)) {
    throw new InvalidArgumentError(`${op}: options.causalOffset must be an integer, not ${String(options.causalOffset)}.`);
  }
  if (options.bias) {
    checkSameDType(op, q, options.bias);
    checkShape(op, options.bias, [h, n, L], 'bias');
  }
  checkScoreBias(op, q, [h, n, L], options);
}

/**
 * Checks ScoreBias's distanceBias and keyBias for scores of `shape` ([rows, cols] or [lead, rows,
 * cols]) in x's dtype; bias is the caller's to check (its broadcasting differs between ops).
 */
export function checkScoreBias(op: string, x: Tensor, shape: readonly number[], sb: ScoreBias): void {
  const [rows, cols] = shape.slice(-2);
  if (sb.distanceBias) {
    if (sb.bias) {
      throw new InvalidArgumentError(`${op}: give bias or distanceBias, not both.`, {
        hint: 'Add the distance bias into the [.., n, L] bias, or pass both parts of it as distanceBias and keyBias.',
      });
    }
    checkSameDType(op, x, sb.distanceBias);
    checkShape(op, sb.distanceBias, [...shape.slice(0, -2), rows + cols - 1], 'distanceBias');
  }
  if (sb.keyBias) {
    checkSameDType(op, x, sb.keyBias);
    checkShape(op, sb.keyBias, [cols], 'keyBias');
  }
}

/**
 * softmax(scale·q·kᵀ + bias, causal mask)·v as four ops: gemm (batched over heads, alpha = scale),
 * softmax (bias, causalOffset), gemm, and a packed copy of the [n, heads, headDim] permute. Every op
 * rounds to the inputs' dtype, so float16 scores and probabilities are rounded once each.
 */
export function attentionByParts(backend: Backend, q: Tensor, keys: Tensor, values: Tensor, options: AttentionOptions): Tensor {
  return tidy(() => {
    const [h, n, dh] = q.shape;
    const scores = backend.gemm(q, keys, { transB: true, alpha: options.scale });
    const probs = backend.softmax(scores, {
      ...(options.causalOffset !== undefined ? { causalOffset: options.causalOffset } : {}),
      ...(options.bias ? { bias: options.bias } : {}),
      ...(options.distanceBias ? { distanceBias: options.distanceBias } : {}),
      ...(options.keyBias ? { keyBias: options.keyBias } : {}),
    });
    const ctx = backend.gemm(probs, values); // [h, n, dh]
    return backend.contiguous(ctx.permute([1, 0, 2])).reshape([n, h * dh]);
  });
}
