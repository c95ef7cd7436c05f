// The row maxima an op hands to the int8 linear that reads its output next (RoutePolicy.rowMaxHandoff; 2-8
// rows). A linear's rows are quantized with each row's absmax, which needs the whole row: at 2-32 rows that
// is a kernel of its own (quantize_rows_gemv) between the op that wrote the rows and the product. Where that
// op can say, as it writes them, the largest |value| of each part of each row (attend_cache_f16v8_rmax: a
// head; linear_mma_q's gated and GELU forms: a block's outputs), linear_mma_qh takes the float16 rows and
// those maxima instead and quantizes as it loads: the same bits, one kernel fewer (gemv.cu).
//
// The maxima describe what the producer wrote, so they are handed only to the very next addon call's
// linear, on the same rows: every addon call ticks the counter (the backend's flushing proxy), and take()
// gives them up unless no call came between the producer's launch and it.
import type { Tensor } from '@bminf/core';

interface Held {
  x: Tensor;
  maxima: Tensor;
  parts: number;
  at: number;
}

export class RowMaxHandoff {
  private calls = 0;
  private held: Held | null = null;
  /** Times a linear took the maxima (tests read it). */
  taken = 0;

  /** An addon call is about to be made. */
  tick(): void {
    this.calls++;
  }

  /** Right after the launch that wrote x: x's rows' maxima are maxima [rows, parts] (float32). Owns maxima. */
  hand(x: Tensor, maxima: Tensor, parts: number): void {
    this.drop();
    this.held = { x, maxima, parts, at: this.calls };
  }

  /**
   * The maxima of x's rows, where the last addon call was the launch that wrote them and x is those rows
   * (the same storage, offset and shape; a view such as contiguous() makes is fine). The caller owns and
   * disposes what it gets; either way nothing is held afterwards.
   */
  take(x: Tensor): { maxima: Tensor; parts: number } | null {
    const h = this.held;
    this.held = null;
    if (!h) return null;
    const same = h.at === this.calls && x.storage === h.x.storage && x.offset === h.x.offset && x.isContiguous() &&
      x.shape.length === h.x.shape.length && x.shape.every((d, i) => d === h.x.shape[i]);
    if (!same) {
      h.maxima.dispose();
      return null;
    }
    this.taken++;
    return { maxima: h.maxima, parts: h.parts };
  }

  /** Gives up what is held (the backend's dispose, or a new hand). */
  drop(): void {
    this.held?.maxima.dispose();
    this.held = null;
  }
}
