// A recorded step on the CPU (Backend.captureStep): the native tape of its ops, and the storages of
// every tensor made while it was recorded, which stay allocated (so never reused by the pool) as
// long as the tape may write them.
import { BminfError, DisposedError, InvalidArgumentError, type StepGraph } from '@bminf/core';
import type { NativeTape } from './native.js';

/**
 * Steps whose last replay took less than this many microseconds run on the calling thread. Handing a
 * step to a libuv worker and waking the event loop when it ends costs two thread wake-ups, tens of
 * microseconds on a quiet machine and far more on a busy one (each wake-up waits for a CPU): a large
 * share of a decode step of a small model, which takes a few hundred. Blocking the event loop for
 * under a millisecond keeps a server responsive; longer steps (and every first run) go to a worker.
 */
export const INLINE_STEP_MICROS = 1000;

let inlineMicros = INLINE_STEP_MICROS;

/** Sets the inline threshold (CpuBackend.setInlineStepMicros): 0 sends every run to a worker thread. */
export function setInlineStepMicros(micros: number): void {
  if (typeof micros !== 'number' || Number.isNaN(micros) || micros < 0) {
    throw new InvalidArgumentError(`inlineStepMicros must be a number ≥ 0 (Infinity allowed), but is ${String(micros)}.`);
  }
  inlineMicros = micros;
}

export class CpuStepGraph implements StepGraph {
  private inFlight: Promise<void> | null = null;
  private _disposed = false;

  constructor(
    private readonly tape: NativeTape,
    private readonly held: { release(): void },
  ) {}

  get disposed(): boolean {
    return this._disposed;
  }

  /** The number of native ops recorded. */
  get length(): number {
    return this._disposed ? 0 : this.tape.length;
  }

  /**
   * Replays the step's ops on a worker thread, the JS thread free meanwhile; or, when its last replay
   * was shorter than INLINE_STEP_MICROS (see CpuBackend.setInlineStepMicros), on the calling thread (the returned promise still settles
   * later: the run counts as in flight until then). Rejects when the step is disposed or a run is
   * already in flight (runs do not queue: await the previous one).
   */
  async run(): Promise<void> {
    if (this._disposed) throw new DisposedError('A recorded step');
    if (this.inFlight) throw new InvalidArgumentError('run: this step is still running; await its previous run() first.');
    const last = this.tape.lastRunMicros;
    const run = last >= 0 && last < inlineMicros ? this.runInline() : this.tape.run();
    this.inFlight = run;
    try {
      await run;
    } catch (e) {
      throw tapeError(e);
    } finally {
      this.inFlight = null;
      if (this._disposed) this.free();
    }
  }

  private async runInline(): Promise<void> {
    this.tape.runInline();
  }

  /** Frees the tape and the step's tensors; during a run, when the run ends. */
  dispose(): void {
    if (this._disposed) return;
    this._disposed = true;
    if (!this.inFlight) this.free();
  }

  private free(): void {
    this.tape.dispose();
    this.held.release();
  }
}

/** The native tape's rejections as typed errors. */
function tapeError(e: unknown): Error {
  const kind = (e as { kind?: string })?.kind;
  const message = e instanceof Error ? e.message : String(e);
  switch (kind) {
    case 'disposed':
      return new DisposedError('A recorded step');
    case 'busy':
      return new InvalidArgumentError(`run: ${message}`);
    case 'detached':
      return new InvalidArgumentError(`run: ${message}`, {
        hint: "Do not transfer or detach the ArrayBuffers of a recorded step's tensors (postMessage, structuredClone).",
      });
    case 'memory':
      return new BminfError('OUT_OF_MEMORY', `A recorded step failed: ${message}`, { cause: e });
    default:
      return new BminfError('INVALID_ARGUMENT', `A recorded step failed: ${message}`, { cause: e });
  }
}
