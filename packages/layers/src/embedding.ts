import { type Backend, InvalidArgumentError, type Tensor } from '@bminf/core';

/** Token embedding: rows of a [vocab, d] table. */
export class Embedding {
  constructor(
    readonly backend: Backend,
    readonly table: Tensor,
  ) {}

  get vocabSize(): number {
    return this.table.shape[0];
  }

  /** ids: host numbers, checked against the vocabulary here so the error names the bad id. */
  forward(ids: readonly number[]): Tensor {
    for (const id of ids) {
      if (!Number.isInteger(id) || id < 0 || id >= this.vocabSize) {
        throw new InvalidArgumentError(`Token id ${id} is out of range: the vocabulary has ${this.vocabSize} tokens (0..${this.vocabSize - 1}).`);
      }
    }
    const idx = this.backend.upload(Int32Array.from(ids), [ids.length]);
    try {
      return this.backend.embedding(idx, this.table);
    } finally {
      idx.dispose();
    }
  }

  dispose(): void {
    this.table.dispose();
  }
}

/** Learned absolute positions (GPT-2, CPM-1): rows start..start+n-1 of a [maxPositions, d] table. */
export class PositionEmbedding {
  private readonly inner: Embedding;
  constructor(backend: Backend, table: Tensor) {
    this.inner = new Embedding(backend, table);
  }

  get maxPositions(): number {
    return this.inner.vocabSize;
  }

  /** The [maxPositions, d] table. */
  get table(): Tensor {
    return this.inner.table;
  }

  forward(start: number, n: number): Tensor {
    if (start + n > this.maxPositions) {
      throw new InvalidArgumentError(
        `Positions ${start}..${start + n - 1} exceed the model's context of ${this.maxPositions} tokens.`,
        { hint: 'Shorten the prompt or lower max tokens.' },
      );
    }
    return this.inner.forward(Array.from({ length: n }, (_, i) => start + i));
  }

  dispose(): void {
    this.inner.dispose();
  }
}
