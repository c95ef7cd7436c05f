// The ops between rows and indices: embedding (rows of a table by id, reporting an id out of range),
// scatterRows (rows written at indices, a step's KV cache) and argmaxRows (each row's index of its largest).
import {
  InvalidArgumentError,
  type Tensor,
  UnsupportedError,
  argmaxExclude,
  checkDType,
  checkRank,
  checkScatterRows,
  dtypeSize,
} from '@bminf/core';
import { type CudaOpsContext, aligned16, filled, sfx, up32 } from './ops-context.js';
import type { CudaStorage } from './storage.js';

export class IndexOps {
  constructor(
    private readonly cx: CudaOpsContext,
    private readonly flag: CudaStorage, // 256 bytes for kernels that report bad input (embedding ids)
  ) {}

  embedding(ids: Tensor, table: Tensor): Tensor {
    this.cx.check('embedding', ids, table);
    checkDType('embedding', ids, 'int32');
    checkRank('embedding', ids, 1);
    checkDType('embedding', table, 'float16', 'float32');
    checkRank('embedding', table, 2);
    const [vocab, d] = table.shape;
    const n = ids.shape[0];
    const ip = this.cx.packed(ids);
    const tp = this.cx.packed(table);
    const out = this.cx.make([n, d], table.dtype);
    // 16-byte copies where the rows allow (out is a fresh pool block: 256-byte aligned)
    const kernel = table.dtype === 'float16' && d % 8 === 0 && aligned16(tp) ? 'embedding_f16v8' : `embedding_${sfx(table.dtype)}`;
    try {
      if (n > 0 && this.cx.capturing) {
        // Inside a step the host checked the ids before writing them; an id out of range gives zeros.
        const flag = this.flag.span(4, 4);
        this.cx.launch(kernel, n, Math.min(256, up32(d)), 'pppiiip', [ip, tp, out, n, d, vocab, flag]);
      } else if (n > 0) {
        const flag = this.flag.span(0, 4);
        this.cx.native.fill(flag.region, flag.byteOffset, 4, 0);
        this.cx.launch(kernel, n, Math.min(256, up32(d)), 'pppiiip', [ip, tp, out, n, d, vocab, flag]);
        const bad = new Int32Array(1);
        this.cx.native.download(flag.region, flag.byteOffset, 4, bad);
        if (bad[0] !== 0) {
          const pos = bad[0] - 1;
          const id = new Int32Array(1);
          const is = this.cx.span(ip);
          this.cx.native.download(is.region, is.byteOffset + pos * 4, 4, id);
          out.dispose();
          throw new InvalidArgumentError(`embedding: id ${id[0]} at position ${pos} is out of range for a table of ${vocab} rows.`, {
            hint: 'Check the tokenizer and the model: ids must lie in [0, vocab).',
          });
        }
      }
    } finally {
      if (ip !== ids) ip.dispose();
      if (tp !== table) tp.dispose();
    }
    return out;
  }

  /** Backend.argmaxRows: one block per row (step.cu), inside a step as any op. */
  argmaxRows(x: Tensor, options: { exclude?: number } = {}): Tensor {
    this.cx.check('argmaxRows', x);
    checkDType('argmaxRows', x, 'float32');
    checkRank('argmaxRows', x, 2);
    const [rows, n] = x.shape;
    const exclude = argmaxExclude(options, n);
    const xp = this.cx.packed(x);
    try {
      return filled(this.cx.make([rows], 'int32'), (out) => {
        if (rows > 0) this.cx.launch('argmax_rows_f32', rows, 1024, 'ppii', [xp, out, n, exclude]);
      });
    } finally {
      if (xp !== x) xp.dispose();
    }
  }

  scatterRows(src: Tensor, dst: Tensor, index: Tensor): void {
    this.cx.check('scatterRows', src, dst, index);
    const [n, w] = checkScatterRows(src, dst, index);
    if (src.dtype === 'int8') throw new UnsupportedError('scatterRows: int8 rows are not supported on CUDA.', { hint: 'Scatter float16 or float32 rows.' });
    if (n === 0 || w === 0) return;
    const sp = src.strides[1] === 1 ? src : this.cx.backend.contiguous(src);
    try {
      this.cx.launch(`scatter_rows_b${dtypeSize(src.dtype) * 8}`, n, Math.min(256, up32(w)), 'plppil', [sp, sp.strides[0], dst, index, w, dst.shape[0]]);
    } finally {
      if (sp !== src) sp.dispose();
    }
  }
}
