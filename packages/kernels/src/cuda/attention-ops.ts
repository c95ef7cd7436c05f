// The attention ops: softmax (with its score biases), Backend.attention (one kernel where
// attention-route.ts allows, else attentionByParts) and attendCache, a decode step's attention over the
// KV cache (split over the cache where that fills the GPU, or a phase of decode_phases).
import {
  type AttendCacheOptions,
  type AttentionOptions,
  InvalidArgumentError,
  type ScoreBias,
  ShapeMismatchError,
  type SoftmaxOptions,
  Tensor,
  UnsupportedError,
  attentionByParts,
  checkAttendCache,
  checkAttention,
  checkDType,
  checkRank,
  checkSameDType,
  checkScoreBias,
  dtypeSize,
  shapeToString,
} from '@bminf/core';
import type { DeviceSpan } from '@bminf/cuda-binding';
import { attentionRoute } from './attention-route.js';
import { PHASE_ATTEND, PHASE_MAX_SHARED } from './decode-phases.js';
import { ATTEND_SPLIT_MAX_PAIRS, attendCacheSplits } from './linear-route.js';
import { type CudaOpsContext, aligned16, filled, gridFor, phasePerSm, sfx, up32 } from './ops-context.js';
import type { CudaStorage } from './storage.js';

export class AttentionOps {
  constructor(
    private readonly cx: CudaOpsContext,
    // The split attention's per-pair counters: zero between launches (the last block of a pair resets its own).
    private readonly attendCounters: CudaStorage,
  ) {
    const c = this.attendCounters.span(0, 4 * ATTEND_SPLIT_MAX_PAIRS);
    cx.native.fill(c.region, c.byteOffset, c.byteLength, 0);
  }

  softmax(x: Tensor, options: SoftmaxOptions = {}): Tensor {
    if (options.distanceBias || options.keyBias) {
      // The attention kernel reads these as they are; the softmax (attention's composition: float32
      // scores, head sizes without a fused kernel) takes them as one full bias, made by a kernel.
      this.cx.check('softmax', x, options.bias, options.distanceBias, options.keyBias);
      checkRank('softmax', x, 2, 3);
      checkScoreBias('softmax', x, x.shape, options);
      const full = this.scoreBias(x, options);
      try {
        return this.softmax(x, { ...(options.scale !== undefined ? { scale: options.scale } : {}), ...(options.causalOffset !== undefined ? { causalOffset: options.causalOffset } : {}), bias: full });
      } finally {
        full.dispose(); // stream-ordered: reused only by work queued after the softmax
      }
    }
    const bias = options.bias;
    this.cx.check('softmax', x, bias);
    checkDType('softmax', x, 'float16', 'float32');
    checkRank('softmax', x, 2, 3);
    const scale = options.scale ?? 1;
    if (!Number.isFinite(scale)) throw new InvalidArgumentError(`softmax: scale must be a finite number, not ${scale}.`);
    const causal = options.causalOffset !== undefined;
    const causalOffset = options.causalOffset ?? 0;
    if (!Number.isSafeInteger(causalOffset)) throw new InvalidArgumentError(`softmax: causalOffset must be an integer, not ${causalOffset}.`);
    const [rows, cols] = x.shape.slice(-2);
    let biasMode = 0;
    if (bias) {
      checkSameDType('softmax', x, bias);
      if (bias.rank === x.rank && bias.shape.every((d, i) => d === x.shape[i])) biasMode = 1;
      else if (x.rank === 3 && bias.rank === 2 && bias.shape[0] === rows && bias.shape[1] === cols) biasMode = 2;
      else {
        throw new ShapeMismatchError(
          `softmax: bias ${shapeToString(bias.shape)} must have x's shape ${shapeToString(x.shape)}${x.rank === 3 ? ` or ${shapeToString(x.shape.slice(1))}` : ''}.`,
        );
      }
    }
    const xp = this.cx.packed(x);
    const bp = bias ? this.cx.packed(bias) : null;
    const out = this.cx.make(x.shape, x.dtype);
    try {
      const nrows = x.numel / Math.max(cols, 1);
      if (x.numel > 0 && cols <= 1024) {
        // a warp per row, the row in registers (norm.cu); 16-byte loads where the rows allow
        const v8 = x.dtype === 'float16' && cols % 8 === 0 && aligned16(xp) && aligned16(out) && (!bp || aligned16(bp));
        this.cx.launch(v8 ? 'softmax_warp8_f16' : `softmax_warp_${sfx(x.dtype)}`, Math.ceil(nrows / 8), 256, 'ppipliifii', [
          xp, bp ?? xp, biasMode, out, nrows, rows, cols, scale, causal ? 1 : 0, causalOffset,
        ]);
      } else if (x.numel > 0) {
        this.cx.launch(`softmax_${sfx(x.dtype)}`, nrows, up32(Math.ceil(cols / 4)), 'ppipiifii', [
          xp, bp ?? xp, biasMode, out, rows, cols, scale, causal ? 1 : 0, causalOffset,
        ]);
      }
    } finally {
      if (xp !== x) xp.dispose();
      if (bp && bp !== bias) bp.dispose();
    }
    return out;
  }

  /**
   * ScoreBias's terms for scores x as one bias: bias + keyBias (add), or x's shape from a distance bias
   * and/or [rows, cols] from a key bias alone (score_bias_*, elementwise.cu).
   */
  private scoreBias(x: Tensor, sb: ScoreBias): Tensor {
    if (sb.bias) return this.cx.backend.add(sb.bias, sb.keyBias as Tensor); // checkScoreBias: never beside a distance bias
    const [rows, cols] = x.shape.slice(-2);
    const dist = sb.distanceBias ? this.cx.packed(sb.distanceBias) : null;
    const key = sb.keyBias ? this.cx.packed(sb.keyBias) : null;
    try {
      return filled(this.cx.make(dist ? x.shape : [rows, cols], x.dtype), (out) => {
        const total = out.numel;
        if (total > 0) {
          this.cx.launch(`score_bias_${sfx(x.dtype)}`, Math.min(gridFor(total), 65536), 256, 'pipipiii', [
            dist ?? out, dist ? 1 : 0, key ?? out, key ? 1 : 0, out, total / (rows * cols), rows, cols,
          ]);
        }
      });
    } finally {
      if (dist && dist !== sb.distanceBias) dist.dispose();
      if (key && key !== sb.keyBias) key.dispose();
    }
  }

  /**
   * Backend.attention: float16 heads of 64, 80 or 128 dimensions with 16-byte aligned rows run as one
   * kernel (attention.cu) reading q, k and v in place and writing [n, heads*headDim]; everything else
   * (attention-route.ts says why) as the composition. No host reads, one launch: fine inside a step.
   */
  attention(q: Tensor, keys: Tensor, values: Tensor, options: AttentionOptions): Tensor {
    const { distanceBias, keyBias } = options;
    this.cx.check('attention', q, keys, values, options.bias, distanceBias, keyBias);
    checkAttention(q, keys, values, options);
    const [heads, n, headDim] = q.shape;
    const L = keys.shape[1];
    // Strides of dimensions of size 1 are never multiplied by anything but 0: take them as 0.
    const strides = (t: Tensor) => t.strides.map((s, i) => (t.shape[i] === 1 ? 0 : s));
    const operand = (t: Tensor) => ({ strides: strides(t), misalign: ((t.storage as CudaStorage).base + t.byteOffset) % 16 });
    // A bias by distance is read as a [heads, n, L] bias whose rows start one element apart, backwards
    // (row stride -1), row 0 at column n - 1: the kernel is passed that column's address, and row i's
    // reads reach back to column n - 1 - i ≥ 0, inside the tensor (whose columns must then be adjacent).
    const db = distanceBias && n > 0 ? (distanceBias.strides[1] === 1 ? distanceBias : this.cx.backend.contiguous(distanceBias)) : undefined;
    const skip = (n - 1) * dtypeSize(q.dtype); // bytes before column n - 1
    const bias: Tensor | DeviceSpan | undefined = db ? (db.storage as CudaStorage).span(db.byteOffset + skip, db.lastByte() - db.byteOffset - skip) : options.bias;
    const bs = db ? [strides(db)[0], -1, 1] : options.bias ? strides(options.bias) : [0, 0, 1];
    const route = attentionRoute({
      dtype: q.dtype, ccMajor: this.cx.info.computeCapability?.[0] ?? 0, heads, n, L, headDim, causalOffset: options.causalOffset,
      q: operand(q), keys: operand(keys), values: operand(values), bias: bias ? { strides: bs } : undefined,
      keyBias: keyBias ? { strides: strides(keyBias) } : undefined,
    });
    if ('reason' in route || n === 0 || heads === 0) {
      if (db && db !== distanceBias) db.dispose();
      return attentionByParts(this.cx.backend, q, keys, values, options);
    }
    const [qs, ks, vs] = [q, keys, values].map(strides);
    const qTiles = Math.ceil(n / 64);
    try {
      return filled(this.cx.make([n, heads * headDim], q.dtype), (out) =>
        this.cx.launch(route.kernel, heads * qTiles, 128, 'pllpllpllpllippiiiifii', [
          q, qs[0], qs[1], keys, ks[0], ks[1], values, vs[0], vs[1], bias ?? q, bs[0], bs[1], bias ? 1 : 0, keyBias ?? q,
          out, n, L, heads, qTiles, options.scale, options.causalOffset !== undefined ? 1 : 0, options.causalOffset ?? 0,
        ]));
    } finally {
      if (db && db !== distanceBias) db.dispose(); // stream-ordered, as the pool's blocks are
    }
  }

  attendCache(q: Tensor, keys: Tensor, values: Tensor, lengths: Tensor, options: AttendCacheOptions): Tensor {
    this.cx.check('attendCache', q, keys, values, lengths, options?.distanceBias, options?.append?.keys, options?.append?.values);
    const { batch: B, width, heads: numHeads, headDim, slotRows, scale, bias, append } = checkAttendCache(q, keys, values, lengths, options);
    // the kernels' limits: a sequence's scores in shared memory (4 bytes a row), a head's dimensions over a block's threads
    if (slotRows > 12288) throw new InvalidArgumentError(`attendCache: slotRows must be at most 12288 on CUDA, not ${slotRows}.`);
    if (headDim > 1024) throw new UnsupportedError(`attendCache: heads of ${headDim} dimensions are not supported on CUDA (at most 1024).`);
    const qp = q.strides[1] === 1 || width === 1 ? q : this.cx.backend.contiguous(q);
    let work = null as Tensor | null; // assigned in the callback below
    try {
      return filled(this.cx.make([B, width], q.dtype), (out) => {
        if (B > 0 && width > 0) {
          // float16 heads of 8k ≤ 256 dimensions with 16-byte aligned caches: the kernel spread for latency
          const v8 = q.dtype === 'float16' && headDim % 8 === 0 && headDim <= 256 && this.cx.span(keys).byteOffset % 16 === 0 && this.cx.span(values).byteOffset % 16 === 0;
          const args = [
            ...this.cx.flat([qp]), qp.strides[0], ...this.cx.flat([keys, values, lengths, bias ?? keys]), bias ? 1 : 0, ...this.cx.flat([out]), numHeads, headDim, slotRows, scale,
            ...this.cx.flat([append?.keys ?? keys, append?.values ?? values]), append ? append.keys.strides[0] : 0, append ? 1 : 0,
          ];
          if (!v8) {
            this.cx.native.launch(this.cx.fn(`attend_cache_${sfx(q.dtype)}`), [B * numHeads, 1, 1], [128, 1, 1], slotRows * 4, 'plppppipiiifppli', args, false, this.cx.routes.dependentLaunch);
          } else {
            // split over the cache where the (sequence, head) pairs alone leave SMs idle (linear-route.ts)
            const auto = attendCacheSplits(B * numHeads, slotRows, this.cx.info.multiprocessors ?? 132);
            const splits = this.cx.routes.attendSplitMax > 0 ? Math.min(auto, this.cx.routes.attendSplitMax) : auto;
            const chunk = Math.ceil(slotRows / splits);
            const counters = this.attendCounters.span(0, 4 * ATTEND_SPLIT_MAX_PAIRS);
            const launchV8 = (work: Tensor | null) =>
              this.cx.native.launch(this.cx.fn('attend_cache_f16v8'), [B * numHeads * splits, 1, 1], [256, 1, 1], chunk * 4, 'plppppipiiifpplippiipp', [
                ...args, ...this.cx.flat([keys, values]), splits, chunk, ...(work ? this.cx.flat([work]) : [counters.region, counters.byteOffset, 0]), counters.region, counters.byteOffset, counters.byteLength,
              ], false, this.cx.routes.dependentLaunch);
            const perSm = phasePerSm(this.cx);
            if (perSm > 0 && splits === 1 && chunk * 4 <= PHASE_MAX_SHARED) {
              // a phase of decode_phases (decode-phases.ts); the cache rows it appends are written through keys / values
              const spans = this.cx.flat([qp, keys, values, lengths, bias ?? keys, out, append?.keys ?? keys, append?.values ?? values]);
              const phase = [...spans, qp.strides[0], append ? append.keys.strides[0] : 0, PHASE_ATTEND, numHeads, headDim, slotRows, bias ? 1 : 0, append ? 1 : 0, B * numHeads, chunk, scale, 0];
              this.cx.phases.push({ args: phase, shared: chunk * 4, solo: () => launchV8(null) }, perSm);
              return;
            }
            work = splits > 1 ? this.cx.make([B * numHeads * splits * (headDim + 2)], 'float32') : null;
            launchV8(work);
          }
        }
      }, 'attendCache');
    } finally {
      if (qp !== q) qp.dispose();
      work?.dispose(); // stream-ordered: the pool hands it out again only to later work on this stream
    }
  }
}
