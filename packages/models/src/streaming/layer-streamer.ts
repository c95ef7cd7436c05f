// The layer scheduler at run time: BMInf's way of running a model larger than the GPU. Streamed blocks'
// weights live in pinned host memory, one image per block; each streamed block is bound to one of a few
// device slots (at least two) and its layers' tensors are views into that slot, so the layer code and
// the recorded steps are the same as for a resident block. Before a streamed block runs, its image is
// copied into its slot on the copy stream; the copy of the next streamed block starts as soon as its
// slot's previous user has finished, so it overlaps the current block's compute. Events order each copy
// after the slot's last use and each use after its copy. The same calls inside a captured step become
// the graph's copy nodes and edges, so a decode step with streaming is still one CUDA graph.
import {
  type Backend,
  type Fence,
  HostStorage,
  type PinnedBuffer,
  InvalidArgumentError,
  Tensor,
  type WeightStreaming,
  createLogger,
  dtypeSize,
  formatBytes,
  keep,
} from '@bminf/core';
import type { LinearParams } from '@bminf/layers';
import type { Residency } from './residency.js';
import { alignUp } from './units.js';

const log = createLogger('models');

interface StreamedUnit {
  slot: number;
  /** The unit's tensors while it is being built (on the host or the GPU), and where each goes. */
  parts: { t: Tensor; offset: number }[];
  bytes: number;
  image: PinnedBuffer | null;
  /** The bytes of its slot the copy writes. */
  dest: Tensor | null;
}

/** Places a unit's tensors: as they are (resident units), or as views into its slot (streamed units). */
export interface ParamSink {
  tensor(t: Tensor): Tensor;
  linear(p: LinearParams): LinearParams;
}

const residentSink: ParamSink = { tensor: (t) => t, linear: (p) => p };

export class LayerStreamer {
  private readonly streaming: WeightStreaming;
  private readonly slots: Tensor[];
  private readonly slotFree: Fence[];
  private readonly slotReady: Fence[];
  private readonly units = new Map<string, StreamedUnit>();
  // The pass in progress: its streamed units in order, how many were copied and used.
  private order: string[] = [];
  private issued = 0;
  private used = 0;
  /** Which unit of the pass holds each slot (its copy issued, its use not yet done), or null. */
  private holder: (string | null)[] = [];
  private _disposed = false;

  /**
   * `passes`: the units each kind of pass runs, in order (CPM-2: encoder blocks then cross projections;
   * decoder blocks). Streamed units of a pass take the slots in turn, so consecutive ones alternate.
   */
  constructor(
    readonly backend: Backend,
    readonly residency: Residency,
    passes: readonly (readonly string[])[],
  ) {
    if (!backend.streaming) throw new InvalidArgumentError(`Streaming layers needs the CUDA backend; ${backend.name} computes from host memory already.`);
    this.streaming = backend.streaming;
    const streamed = new Set(residency.streamed);
    for (const pass of passes) {
      let k = 0;
      for (const id of pass) {
        if (!streamed.has(id) || this.units.has(id)) continue;
        this.units.set(id, { slot: k++ % residency.slots, parts: [], bytes: 0, image: null, dest: null });
      }
    }
    for (const id of streamed) if (!this.units.has(id)) throw new InvalidArgumentError(`The streamed unit "${id}" runs in no pass.`);
    this.slots = Array.from({ length: residency.slots }, () => keep(backend.empty([residency.slotBytes], 'int8')));
    this.slotFree = this.slots.map(() => this.streaming.fence());
    this.slotReady = this.slots.map(() => this.streaming.fence());
    this.holder = this.slots.map(() => null);
  }

  /** Whether a unit streams (false for resident units and for the fixed parts, id null). */
  isStreamed(id: string | null): boolean {
    return id !== null && this.units.has(id);
  }

  /** Where a unit's tensors go while the model is built. */
  sink(id: string | null): ParamSink {
    const u = id === null ? undefined : this.units.get(id);
    if (!u) return residentSink;
    const tensor = (t: Tensor): Tensor => this.place(id as string, u, t);
    return {
      tensor,
      linear: (p) =>
        p.kind === 'int8'
          ? { kind: 'int8', weight: tensor(p.weight), scale: tensor(p.scale), bias: p.bias ? tensor(p.bias) : null }
          : { kind: 'float', weight: tensor(p.weight), bias: p.bias ? tensor(p.bias) : null },
    };
  }

  private place(id: string, u: StreamedUnit, t: Tensor): Tensor {
    if (u.image) throw new InvalidArgumentError(`The streamed unit "${id}" is already built.`);
    const offset = u.bytes;
    u.bytes += alignUp(t.byteLength);
    const slot = this.slots[u.slot];
    if (u.bytes > slot.byteLength) {
      throw new InvalidArgumentError(`The streamed unit "${id}" needs more than its slot's ${formatBytes(slot.byteLength)} (a size estimate is wrong).`);
    }
    u.parts.push({ t, offset });
    const size = dtypeSize(t.dtype);
    return keep(new Tensor({ storage: slot.storage, dtype: t.dtype, shape: t.shape, offset: (slot.byteOffset + offset) / size, owner: false }));
  }

  /**
   * Writes every streamed unit's tensors into its pinned image and frees them (host or GPU copies):
   * from here on the units' weights exist only in host memory and, in turn, in their slots.
   */
  finishBuild(): void {
    for (const [id, u] of this.units) {
      if (u.image) continue;
      if (u.parts.length === 0) throw new InvalidArgumentError(`The streamed unit "${id}" has no tensors.`);
      u.image = this.streaming.pinned(u.bytes);
      for (const { t, offset } of u.parts) {
        if (t.storage instanceof HostStorage) u.image.write(offset, this.hostBytes(t, t.storage));
        else u.image.writeFrom(offset, t);
        t.dispose();
      }
      u.parts = [];
      u.dest = keep(this.slots[u.slot].narrow(0, 0, u.bytes));
    }
  }

  /** A host tensor's bytes (contiguous, as loaded). */
  private hostBytes(t: Tensor, s: HostStorage): Uint8Array {
    if (!t.isContiguous()) throw new InvalidArgumentError('A streamed tensor must be contiguous.');
    return new Uint8Array(s.buffer, s.byteOffset + t.byteOffset, t.byteLength);
  }

  /** Starts a pass that runs `order`'s units in that order (ids of resident units are skipped). */
  begin(order: readonly string[]): void {
    this.assertAlive();
    // A pass that failed half-way left copies behind on the copy stream: harmless, they are ordered too.
    this.order = order.filter((id) => this.units.has(id));
    this.issued = 0;
    this.used = 0;
    this.holder.fill(null);
    // Copies of this pass come after everything queued before it on the compute stream.
    for (const f of this.slotFree) this.streaming.signal(f);
    this.pump();
  }

  /** Issues the copies of the next units in order whose slots are free. */
  private pump(): void {
    while (this.issued < this.order.length) {
      const id = this.order[this.issued];
      const u = this.units.get(id) as StreamedUnit;
      if (this.holder[u.slot] !== null) return;
      this.holder[u.slot] = id;
      if (!u.image || !u.dest) throw new InvalidArgumentError(`The streamed unit "${id}" was not built (finishBuild).`);
      this.streaming.copyIn(u.image, 0, u.dest, this.slotFree[u.slot], this.slotReady[u.slot]);
      this.issued++;
    }
  }

  /** Runs fn (the unit's compute) with the unit's weights in place. */
  run<T>(id: string, fn: () => T): T {
    const u = this.units.get(id);
    if (!u) return fn();
    if (this.order[this.used] !== id) {
      throw new InvalidArgumentError(`The streamed pass expected unit "${this.order[this.used] ?? '(none)'}" next, not "${id}".`);
    }
    this.pump();
    if (this.holder[u.slot] !== id) throw new InvalidArgumentError(`The slot of unit "${id}" is still held by "${this.holder[u.slot]}".`);
    this.streaming.wait(this.slotReady[u.slot]);
    const out = fn();
    this.streaming.signal(this.slotFree[u.slot]);
    this.holder[u.slot] = null;
    this.used++;
    this.pump();
    return out;
  }

  /** Bytes of the pinned images, and of the device slots. */
  get bytes(): { pinned: number; slots: number } {
    let pinned = 0;
    for (const u of this.units.values()) pinned += u.image?.byteLength ?? 0;
    return { pinned, slots: this.slots.reduce((s, t) => s + t.byteLength, 0) };
  }

  /** Logs the plan: what stays, what streams, bytes per step and the bound at the measured bandwidth. */
  logPlan(all: readonly string[], bytesPerSecond: number | null): void {
    const r = this.residency;
    const bound = (bytes: number) => (bytesPerSecond ? `, ≥ ${((bytes / bytesPerSecond) * 1000).toFixed(1)} ms at ${(bytesPerSecond / 1e9).toFixed(1)} GB/s host to device` : '');
    // At warn, the default level: streaming bounds every step by the bus, which whoever set the limit should see.
    log.warn(
      `layer streaming: ${all.length - r.streamed.length} of ${all.length} blocks resident (${formatBytes(r.residentBytes)}), ` +
        `${r.streamed.length} streamed through ${r.slots} slots of ${formatBytes(r.slotBytes)} (${r.streamed.join(', ')}); ` +
        `copied per decode step ${formatBytes(r.bytesPerDecodeStep)}${bound(r.bytesPerDecodeStep)}; ` +
        `per encoder pass ${formatBytes(r.bytesPerEncoderPass)}${bound(r.bytesPerEncoderPass)}.`,
    );
  }

  private assertAlive(): void {
    if (this._disposed) throw new InvalidArgumentError('The layer streamer was disposed with its model.');
  }

  dispose(): void {
    if (this._disposed) return;
    this._disposed = true;
    for (const u of this.units.values()) {
      for (const p of u.parts) p.t.dispose();
      u.image?.release();
      u.image = null;
      u.dest?.dispose();
    }
    for (const s of this.slots) s.dispose();
  }
}
