// Placeholder until the CUDA backend lands (owned by the CUDA work): says CUDA is unavailable.
import type { Backend } from '@bminf/core';
import { BackendUnavailableError } from '@bminf/core';

export interface CudaAvailability {
  available: boolean;
  /** Why CUDA cannot be used, when it cannot. */
  reason?: string;
}

export function cudaAvailability(): CudaAvailability {
  return { available: false, reason: 'the CUDA backend is not built into this version yet' };
}

export function createCudaBackend(): Backend {
  throw new BackendUnavailableError(`CUDA is unavailable: ${cudaAvailability().reason}.`, {
    hint: 'Use --device cpu.',
  });
}
