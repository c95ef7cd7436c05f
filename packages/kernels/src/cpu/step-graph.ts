// A recorded step on the CPU (Backend.captureStep): the native tape of its ops, and the storages of
// every tensor made while it was recorded, which stay allocated (so never reused by the pool) as
// long as the tape may write them.
import { BminfError, DisposedError, InvalidArgumentError, type StepGraph } from '@bminf/core';
import type { NativeTape } from './native.js';

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
   * Replays the step's ops on a worker thread; the JS thread is free meanwhile. Rejects when the step
   * is disposed or a run is already in flight (runs do not queue: await the previous one).
   */
  async run(): Promise<void> {
    if (this._disposed) throw new DisposedError('A recorded step');
    if (this.inFlight) throw new InvalidArgumentError('run: this step is still running; await its previous run() first.');
    const run = this.tape.run();
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
