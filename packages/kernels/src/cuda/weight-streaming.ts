// The CUDA side of streaming weights (Backend.streaming): pinned host buffers, fences (events without
// timing) and copies on the addon's copy stream (native/src/cuda/streaming.cc). Every argument is
// checked here and again in the addon, which checks every span against its region.
import {
  DisposedError,
  type Fence,
  InvalidArgumentError,
  OutOfMemoryError,
  type PinnedBuffer,
  type Tensor,
  type WeightStreaming,
  formatBytes,
} from '@bminf/core';
import { type CudaEvent, type DeviceSpan, type NativeCuda, type PinnedHostRegion, mapNativeError } from '@bminf/cuda-binding';

class CudaFence implements Fence {
  constructor(readonly handle: CudaEvent) {}
}

const event = (f: Fence): CudaEvent => {
  if (!(f instanceof CudaFence)) throw new InvalidArgumentError('A fence must come from this backend (streaming.fence()).');
  return f.handle;
};

class CudaPinnedBuffer implements PinnedBuffer {
  private _released = false;
  constructor(
    private readonly native: NativeCuda,
    private readonly region: PinnedHostRegion,
    readonly byteLength: number,
    private readonly span: (t: Tensor) => DeviceSpan,
  ) {}
  get released(): boolean {
    return this._released;
  }
  /** The addon's handle, for copies (checked alive). */
  handle(): PinnedHostRegion {
    if (this._released) throw new DisposedError('A pinned host buffer');
    return this.region;
  }
  private check(what: string, byteOffset: number, length: number): void {
    if (!Number.isSafeInteger(byteOffset) || byteOffset < 0 || byteOffset + length > this.byteLength) {
      throw new InvalidArgumentError(`${what}: bytes ${byteOffset}..${byteOffset + length} lie outside the pinned buffer of ${this.byteLength} bytes.`);
    }
  }
  write(byteOffset: number, data: ArrayBufferView): void {
    this.check('PinnedBuffer.write', byteOffset, data.byteLength);
    const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    this.native.hostWrite(this.handle(), byteOffset, bytes);
  }
  writeFrom(byteOffset: number, t: Tensor): void {
    if (!t.isContiguous()) throw new InvalidArgumentError('PinnedBuffer.writeFrom needs a contiguous tensor.');
    this.check('PinnedBuffer.writeFrom', byteOffset, t.byteLength);
    const s = this.span(t);
    try {
      this.native.hostFromDevice(this.handle(), byteOffset, s.region, s.byteOffset, t.byteLength);
    } catch (e) {
      throw mapNativeError(e, 'PinnedBuffer.writeFrom');
    }
  }
  read(byteOffset: number, out: ArrayBufferView): void {
    this.check('PinnedBuffer.read', byteOffset, out.byteLength);
    this.native.hostRead(this.handle(), byteOffset, new Uint8Array(out.buffer, out.byteOffset, out.byteLength));
  }
  release(): void {
    if (this._released) return;
    this._released = true;
    this.native.hostRelease(this.region);
  }
}

export class CudaWeightStreaming implements WeightStreaming {
  constructor(
    private readonly native: NativeCuda,
    private readonly span: (t: Tensor) => DeviceSpan,
    private readonly capturing: () => boolean,
  ) {}

  pinned(bytes: number): PinnedBuffer {
    if (!Number.isSafeInteger(bytes) || bytes <= 0) throw new InvalidArgumentError(`A pinned buffer needs a positive whole number of bytes, not ${bytes}.`);
    try {
      return new CudaPinnedBuffer(this.native, this.native.hostReserve(bytes), bytes, this.span);
    } catch (e) {
      const code = (e as { code?: string }).code;
      if (code === 'BMINF_HOST_OOM') {
        throw new OutOfMemoryError('pinned host memory', bytes, 0, `${(e as Error).message} Streamed layers need ${formatBytes(bytes)} more of it: raise the memory limit so that fewer layers stream, or free host memory.`);
      }
      throw mapNativeError(e, 'pinning host memory');
    }
  }

  fence(): Fence {
    return new CudaFence(this.native.fenceCreate());
  }

  signal(fence: Fence): void {
    this.native.eventRecord(event(fence));
  }

  wait(fence: Fence): void {
    this.native.waitEvent(event(fence));
  }

  copyIn(src: PinnedBuffer, srcOffset: number, dst: Tensor, after: Fence, ready: Fence): void {
    if (!(src instanceof CudaPinnedBuffer)) throw new InvalidArgumentError('copyIn: the source must be a pinned buffer of this backend.');
    if (dst.disposed) throw new DisposedError('copyIn: the destination tensor');
    if (!dst.isContiguous() || dst.device.kind !== 'cuda') throw new InvalidArgumentError('copyIn: the destination must be a contiguous CUDA tensor.');
    const s = this.span(dst);
    try {
      this.native.streamIn(src.handle(), srcOffset, s.region, s.byteOffset, dst.byteLength, event(after), event(ready));
    } catch (e) {
      throw mapNativeError(e, 'copyIn');
    }
  }

  synchronizeCopies(): void {
    if (this.capturing()) throw new InvalidArgumentError('synchronizeCopies cannot run inside a captured step.');
    this.native.copyStreamSynchronize();
  }

  pinnedStats(): { bytes: number; buffers: number } {
    const s = this.native.pinnedStats();
    return { bytes: s.bytes, buffers: s.regions };
  }
}
