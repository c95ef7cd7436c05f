// Reusable buffers, one per role, grown to the largest tensor that needs them: the migrator's memory
// stays flat (a fixed set of buffers) instead of depending on how quickly old tensors are collected.
export class Scratch {
  private readonly buffers = new Map<string, ArrayBuffer>();

  /** A buffer of at least `bytes` for `role`; its previous contents are dead once this is called. */
  get(role: string, bytes: number): ArrayBuffer {
    const b = this.buffers.get(role);
    if (b && b.byteLength >= bytes) return b;
    this.buffers.delete(role); // let the smaller one go before the larger one is made
    const fresh = new ArrayBuffer(bytes);
    this.buffers.set(role, fresh);
    return fresh;
  }

  float32(role: string, n: number): Float32Array {
    return new Float32Array(this.get(role, 4 * n), 0, n);
  }

  uint16(role: string, n: number): Uint16Array {
    return new Uint16Array(this.get(role, 2 * n), 0, n);
  }

  get totalBytes(): number {
    let n = 0;
    for (const b of this.buffers.values()) n += b.byteLength;
    return n;
  }
}
