// RoutePolicy.decodePhases: one-row GEMV linears and unsplit attentions over the cache, queued as they are
// called and launched together as the phases of one decode_phases kernel (phases.cu), a grid barrier where
// each kernel boundary was. The queue is flushed before any other call reaches the addon (flushingNative),
// so the stream sees the same work in the same order; a lone phase runs as its own kernel.
import type { DeviceRegion, KernelFunction, LaunchArg, NativeCuda } from '@bminf/cuda-binding';

/** Phases a launch at most (PHASE_MAX in phases.cu: the table stays under the 4 KiB a kernel parameter takes). */
export const PHASE_MAX = 24;
/** One phase's fields in phases.cu's `Phase` order: p[8], l[2], i[8], f[2]. */
const PHASE_SIG = 'pppppppp' + 'll' + 'iiiiiiii' + 'ff';
/** The `kind` of an attention phase (kinds 0-8 are the linears, NORM * 3 + ACT). */
export const PHASE_ATTEND = 9;
/** The linear forms decode_phases runs: none, RMS, RMS + gated, LayerNorm, LayerNorm + GELU (NORM * 3 + ACT). */
export const PHASE_LINEAR_FORMS: ReadonlySet<number> = new Set([0, 3, 4, 6, 8]);
/** Dynamic shared memory a phase may take (decode_phases does not opt in beyond 48 KiB). */
export const PHASE_MAX_SHARED = 47 * 1024;

export interface QueuedPhase {
  /** The fields, flattened as launch() takes them (PHASE_SIG). */
  args: LaunchArg[];
  /** Its dynamic shared memory. */
  shared: number;
  /** Runs it as its own kernel (through the flushing addon: the queue is empty by then). */
  solo(): void;
}

export class PhaseQueue {
  private queued: QueuedPhase[] = [];
  /** The grid the queued phases were planned for (decode_phases_b2 or _b3). */
  private blocksPerSm = 0;

  constructor(
    private readonly native: NativeCuda,
    private readonly kernel: (blocksPerSm: number) => KernelFunction,
    /** The grid barrier's word (low bits zero between launches): a getter, the backend makes it after the queue. */
    private readonly barrier: () => { region: DeviceRegion; byteOffset: number; byteLength: number },
    private readonly sms: number,
    /** RoutePolicy.decodePhasesCooperative. */
    private readonly cooperative: () => boolean,
  ) {}

  get length(): number {
    return this.queued.length;
  }

  /** Queues a phase of a launch with blocksPerSm blocks an SM (RoutePolicy.decodePhases; a change flushes first). */
  push(phase: QueuedPhase, blocksPerSm: number): void {
    if (blocksPerSm !== this.blocksPerSm) this.flush();
    this.blocksPerSm = blocksPerSm;
    this.queued.push(phase);
    if (this.queued.length === PHASE_MAX) this.flush();
  }

  /** Launches what is queued: one decode_phases launch, or a lone phase as its own kernel. */
  flush(): void {
    const list = this.queued;
    if (list.length === 0) return;
    this.queued = [];
    if (list.length === 1) {
      list[0].solo();
      return;
    }
    const shared = Math.max(...list.map((p) => p.shared));
    const bar = this.barrier();
    const args: LaunchArg[] = [bar.region, bar.byteOffset, bar.byteLength, list.length, 0];
    for (const p of list) args.push(...p.args);
    const sig = 'pii' + PHASE_SIG.repeat(list.length);
    this.native.launch(this.kernel(this.blocksPerSm), [this.sms * this.blocksPerSm, 1, 1], [256, 1, 1], shared, sig, args, false, false, this.cooperative() ? 1 : 2);
  }

  /** Drops what is queued (the backend is being disposed). */
  clear(): void {
    this.queued = [];
  }
}

/**
 * The addon with every call preceded by flush(): whatever reaches the GPU after a queued phase (another
 * kernel, a copy, cublasLt, a capture's end, a download) finds the phase launched before it.
 */
export function flushingNative(native: NativeCuda, flush: () => void): NativeCuda {
  const wrapped = new Map<PropertyKey, unknown>();
  return new Proxy(native, {
    get(target, prop, receiver) {
      const v: unknown = Reflect.get(target, prop, receiver);
      if (typeof v !== 'function') return v;
      let w = wrapped.get(prop);
      if (!w) {
        const f = v as (...a: unknown[]) => unknown;
        w = (...a: unknown[]) => {
          flush();
          return f.apply(target, a);
        };
        wrapped.set(prop, w);
      }
      return w;
    },
  });
}
