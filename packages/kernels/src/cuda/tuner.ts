// The one place on the TypeScript side that times kernels against each other and remembers what won:
// per shape, which kernel an igemm takes (cublasLt or a Hopper tile), whether the int8 linear layer's
// fused Hopper kernel beats its three calls, and how the GEMV linear of a decode step is launched.
// linear-route.ts says when a choice has to be timed; this times it once per shape and answers from its
// caches from then on. (cublasLt's own algorithm for a shape is chosen inside the addon when it builds the
// shape's plan: native/src/cuda/blaslt.cc.)
// Every candidate computes the same bits, so the timing runs write into the call's own output.
import type { CudaEvent, DeviceSpan, NativeCuda } from '@bminf/cuda-binding';
import type { GemvLinearConfig } from './linear-route.js';
import type { Sm90Tile } from './sm90-gemm.js';

/** The kernel an igemm took: a Hopper tile or cublasLt. */
export type IgemmKernelChoice = Sm90Tile | 'cublaslt';

/** Scratch device memory the tuner borrows to flush L2 between timed runs. */
export interface Scratch {
  readonly span: DeviceSpan;
  dispose(): void;
}

/** Bytes written between timed runs to push the operands out of L2 (the H100's and H200's L2 is 50-60 MiB). */
const FLUSH_BYTES = 64 * 2 ** 20;
/** Timed runs of each candidate (timeCold). */
const ROUNDS = 3;

/** The index of the smallest time; a tie keeps the earlier candidate. */
function fastest(ms: readonly number[]): number {
  let best = 0;
  for (let i = 1; i < ms.length; i++) if (ms[i] < ms[best]) best = i;
  return best;
}

export class Tuner {
  /** Per igemm shape (`rows:features:k`): the kernel that timed fastest. */
  readonly igemmChoice = new Map<string, IgemmKernelChoice>();
  /** Per linear shape (`ceil(tokens / 256):features:k:bias`, then `:gelu`, `:gated`, `:residual` for its epilogue): whether the fused kernel beat the three calls. */
  readonly fusedChoice = new Map<string, boolean>();
  private readonly events: CudaEvent[] = [];

  constructor(
    private readonly native: NativeCuda,
    /** Scratch of the given size, or null where that much is not free (tuning must not make an op fail). */
    private readonly scratch: (bytes: number) => Scratch | null,
    /** True while a step is being captured: nothing may be timed then (no host reads inside a capture). */
    private readonly capturing: () => boolean,
  ) {}

  /**
   * The kernel for an igemm of this shape: the fastest of `candidates` (in order; a tie keeps the
   * earlier), each run by `run`, timed on first sight. Inside a capture, an untimed shape takes the
   * first candidate.
   */
  igemmKernel<C extends IgemmKernelChoice>(m: number, n: number, k: number, candidates: readonly C[], run: (c: C) => void): C {
    return this.timedChoice(this.igemmChoice as Map<string, C>, `${m}:${n}:${k}`, candidates, run);
  }

  /**
   * The fastest of `candidates` under `key` in `choices` (a tie keeps the earlier), each run by `run`,
   * timed once (timeCold) and remembered. Inside a capture, an untimed key takes the first candidate.
   */
  private timedChoice<C>(choices: Map<string, C>, key: string, candidates: readonly C[], run: (c: C) => void): C {
    const known = choices.get(key);
    if (known !== undefined) return known;
    if (this.capturing()) return candidates[0];
    const choice = candidates[fastest(this.timeCold(candidates.map((c) => () => run(c))))];
    choices.set(key, choice);
    return choice;
  }

  /**
   * Whether the fused linear kernel beat the three calls at this shape: timed once per shape, tokens
   * rounded up to 256 (timed back to back with warm weights the choice was wrong at 4096 x 10240 with
   * 512 tokens: in a model every layer's weights come from memory, hence timeCold). Which is faster
   * depends on how the kernel's blocks fill the GPU: at 4096 tokens it won at every CPM-2 shape on the
   * H100, at 512 tokens at 4 of 5 (NOTES.md). `epilogue`: the ops the fused kernel's epilogue applies
   * (GELU or the gated GELU·gate, the residual add), which `calls` then runs as separate kernels, so that both compute the same
   * thing; part of the key (the plain linear's key is `tokens/256:m:k:bias` as before). Inside a
   * capture, an untimed shape takes the three calls.
   */
  fusedFaster(
    tokens: number, m: number, k: number, bias: boolean, epilogue: { gelu: boolean; gated: boolean; residual: boolean }, fused: () => void, calls: () => void,
  ): boolean {
    const ops = `${epilogue.gelu ? ':gelu' : ''}${epilogue.gated ? ':gated' : ''}${epilogue.residual ? ':residual' : ''}`;
    const key = `${Math.ceil(tokens / 256)}:${m}:${k}:${bias ? 1 : 0}${ops}`;
    let faster = this.fusedChoice.get(key);
    if (faster !== undefined) return faster;
    if (this.capturing()) return false;
    const [f, c] = this.timeCold([fused, calls]);
    faster = f < c;
    this.fusedChoice.set(key, faster);
    return faster;
  }

  /**
   * fusedFaster with the fused kernel's tile timed too (RoutePolicy.fusedTileTune): the fastest of the
   * fused kernel at each of `tiles` and the three calls, timed once per shape as fusedFaster times (a tie
   * keeps the earlier; the calls come last). null: the three calls. Inside a capture, an untimed shape
   * takes the three calls.
   */
  fusedTile<T extends string>(
    tokens: number, m: number, k: number, bias: boolean, epilogue: { gelu: boolean; gated: boolean; residual: boolean },
    tiles: readonly T[], fused: (tile: T) => void, calls: () => void,
  ): T | null {
    const ops = `${epilogue.gelu ? ':gelu' : ''}${epilogue.gated ? ':gated' : ''}${epilogue.residual ? ':residual' : ''}`;
    const key = `${Math.ceil(tokens / 256)}:${m}:${k}:${bias ? 1 : 0}${ops}:${tiles.join(',')}`;
    if (this.fusedTileChoice.has(key)) return (this.fusedTileChoice.get(key) as T | null) ?? null;
    if (this.capturing()) return null;
    const ms = this.timeCold([...tiles.map((t) => () => fused(t)), calls]);
    const i = fastest(ms);
    const choice = i < tiles.length ? tiles[i] : null;
    this.fusedTileChoice.set(key, choice);
    return choice;
  }
  /** Per GEMV linear (`kernel:rows:m:k` and its options): the launch that timed fastest (gemvLinear). */
  readonly gemvChoice = new Map<string, GemvLinearConfig>();

  /**
   * The launch of a GEMV linear: the fastest of `candidates` (gemvLinearConfigs: the heuristics' first,
   * which a tie keeps), each run by `run`, timed once per key on cold L2, as a decode step finds the
   * weights. Inside a capture, an untimed key takes the first.
   */
  gemvLinear(key: string, candidates: readonly GemvLinearConfig[], run: (c: GemvLinearConfig) => void): GemvLinearConfig {
    // one candidate (tuning off, or a forced split): nothing to time
    return candidates.length === 1 ? candidates[0] : this.timedChoice(this.gemvChoice, key, candidates, run);
  }

  /** Per linear shape and epilogue, with the tiles timed (fusedTile): the tile that won, or null for the three calls. */
  readonly fusedTileChoice = new Map<string, string | null>();

  /**
   * Milliseconds for each of `fns`: the fastest of 3 runs, after one run of each to warm up, each run timed
   * alone between events after a 64 MiB fill has pushed the operands out of L2 (skipped where 64 MiB of
   * device memory is not free). The candidates take turns (round r runs every one of them) so that a
   * GPU still raising its clocks, as it is when a model plans its first steps, slows them alike: timed one
   * after another, the first candidates paid for the ramp and CPM-2's encoder took 43-45 k tokens/s or
   * 49 k on an H100 by which of its runners had timed its linears first (profile-cpm2, 2026-12-05).
   * Every run is queued before any is read back: the fill ahead of each gives the host time to queue the
   * run, so the events time the GPU's work, not the host's latency to start it.
   */
  private timeCold(fns: readonly (() => void)[]): number[] {
    const flush = this.scratch(FLUSH_BYTES);
    try {
      const fs = flush?.span;
      for (const fn of fns) fn();
      const ev = this.timingEvents(2 * ROUNDS * fns.length);
      for (let r = 0; r < ROUNDS; r++)
        fns.forEach((fn, j) => {
          const i = 2 * (r * fns.length + j);
          if (fs) this.native.fill(fs.region, fs.byteOffset, fs.byteLength, i & 0xff);
          this.native.eventRecord(ev[i]);
          fn();
          this.native.eventRecord(ev[i + 1]);
        });
      return fns.map((_, j) => {
        let ms = Number.POSITIVE_INFINITY;
        for (let r = 0; r < ROUNDS; r++) {
          const i = 2 * (r * fns.length + j);
          ms = Math.min(ms, this.native.eventElapsed(ev[i], ev[i + 1]));
        }
        return ms;
      });
    } finally {
      flush?.dispose();
    }
  }

  /** At least n timing events, created once and kept (grown where a call times more candidates). */
  private timingEvents(n: number): CudaEvent[] {
    while (this.events.length < n) this.events.push(this.native.eventCreate());
    return this.events;
  }
}
