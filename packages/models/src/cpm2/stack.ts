import { type Backend, InvalidArgumentError, keep, tidy } from '@bminf/core';
import type { LinearParams } from '@bminf/layers';

/**
 * Stacks linear layers that read the same input (attention's q, k, v; cross-attention's k, v) into
 * one [Σ out, in] layer, so that one GEMM — and in int8 one quantization of the activations — serves
 * them all. Every output element is the same dot product as before (int8: bit for bit). The parts'
 * tensors are freed; the stacked ones belong to the caller (kept out of any tidy() scope).
 */
export function stackLinears(backend: Backend, parts: LinearParams[]): LinearParams {
  const first = parts[0];
  const inFeatures = first.weight.shape[1];
  if (parts.some((p) => p.kind !== first.kind || p.weight.dtype !== first.weight.dtype || p.weight.shape[1] !== inFeatures || p.bias)) {
    throw new InvalidArgumentError('stackLinears: the layers must share kind, dtype and input size, and have no bias.');
  }
  const rows = parts.reduce((s, p) => s + p.weight.shape[0], 0);
  // In a scope of its own: the row views written here hold references to the new storages.
  const { weight, scale } = tidy(() => {
    const weight = backend.empty([rows, inFeatures], first.weight.dtype);
    const scale = first.kind === 'int8' ? backend.empty([rows], first.scale.dtype) : null;
    let row = 0;
    for (const p of parts) {
      const n = p.weight.shape[0];
      backend.copy(p.weight, weight.narrow(0, row, n));
      if (scale && p.kind === 'int8') backend.copy(p.scale, scale.narrow(0, row, n));
      row += n;
      p.weight.dispose();
      if (p.kind === 'int8') p.scale.dispose();
    }
    return { weight, scale };
  });
  keep(weight);
  if (scale) keep(scale);
  return scale ? { kind: 'int8', weight, scale, bias: null } : { kind: 'float', weight, bias: null };
}
