// The memory of one captured step (issue 10's "every intermediate at a fixed address in one arena"). A
// CUDA graph replays its kernels on the addresses they had when it was captured, so those bytes must
// stay the step's for the graph's life. Inside the capture, though, a temporary freed by one op can be
// reused by a later op of the same step (one stream, in order), so the step holds its peak of live
// intermediates, not their sum: for a CPM-2 encoder pass over 512 tokens, hundreds of MB instead of
// gigabytes. The arena's segments are blocks of the backend's pool, handed back when the step is
// disposed (a segment still holding a tensor that outlived the capture goes back when that is freed).
import { GrowingDevicePool, type SegmentBlock } from '@bminf/allocator';
import type { DeviceRegion } from '@bminf/cuda-binding';
import type { CudaStorage } from './storage.js';

/** A segment of an arena: a block of the backend's pool. */
interface ArenaSegment {
  storage: CudaStorage;
  live: number;
}

export class StepArena {
  private readonly pool: GrowingDevicePool<ArenaSegment>;
  private retired = false;

  /**
   * `expected`: the step's peak of live bytes, measured on its eager run: one segment of a little more
   * holds the capture (its blocks are placed by best fit, not as the pool placed them); more segments,
   * each as large as those before together, only if it does not.
   */
  constructor(parent: (bytes: number) => CudaStorage, expected = 0, chunk = 2 ** 20) {
    this.pool = new GrowingDevicePool<ArenaSegment>({
      // The backend's own limit bounds it: a segment is an allocation of its pool.
      limit: Number.MAX_SAFE_INTEGER - (Number.MAX_SAFE_INTEGER % 256),
      chunk,
      doubling: true,
      name: 'a captured step',
      reserve: (bytes) => ({ storage: parent(bytes), live: 0 }),
    });
    if (expected > 0) this.pool.prereserve(Math.ceil(expected * 1.125) + chunk);
  }

  /** Bytes the arena holds from the backend's pool. */
  get reserved(): number {
    return this.pool.reserved;
  }

  /** A block for a storage made inside the capture: its region and start, and how to free it. */
  allocate(bytes: number): { region: DeviceRegion; base: number; free: () => void } {
    const at: SegmentBlock<ArenaSegment> = this.pool.allocate(bytes);
    const seg = at.region;
    seg.live++;
    return {
      region: seg.storage.region,
      base: seg.storage.base + at.block.offset,
      free: () => {
        seg.live--;
        if (this.retired) {
          if (seg.live === 0) seg.storage.dispose();
          return;
        }
        this.pool.free(at);
      },
    };
  }

  /** The step is gone: every segment without a live tensor goes back to the backend's pool now. */
  retire(): void {
    if (this.retired) return;
    this.retired = true;
    for (const seg of this.pool.regions()) if (seg.live === 0) seg.storage.dispose();
  }
}
