import { type Backend, InvalidArgumentError, type ModelDType, type Tensor } from '@bminf/core';

/**
 * What every bminf model shares: its backend and dtype, the activation dtype that follows from it
 * (float32 in fp32 models, float16 otherwise, as in BMInf), and a dispose() after which any use is an
 * error. Subclasses free their parameters in release().
 */
export abstract class ModelBase {
  private disposed = false;

  constructor(
    readonly backend: Backend,
    readonly dtype: ModelDType,
  ) {}

  get activationDType(): 'float16' | 'float32' {
    return this.dtype === 'fp32' ? 'float32' : 'float16';
  }

  /** t in the activation dtype (embeddings are stored float32 in fp32 models, float16 otherwise). */
  protected castIn(t: Tensor): Tensor {
    return t.dtype === this.activationDType ? t : this.backend.cast(t, this.activationDType);
  }

  protected assertAlive(): void {
    if (this.disposed) throw new InvalidArgumentError('This model was disposed; load it again to use it.');
  }

  /** Frees the model's parameters. */
  protected abstract release(): void;

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.release();
  }

  [Symbol.dispose](): void {
    this.dispose();
  }
}
