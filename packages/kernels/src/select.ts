// Picks a backend from what the user asked for (--device auto|cpu|cuda).
import { type Backend, BackendUnavailableError, InvalidArgumentError } from '@bminf/core';
import { cpuBackend } from './cpu/index.js';
import { createCudaBackend, cudaAvailability } from './cuda/index.js';

/**
 * `auto`: CUDA when a usable GPU is present, else the CPU; `cpu`: the shared CPU backend; `cuda`: the
 * CUDA backend, or a BackendUnavailableError saying why it cannot be used.
 */
export function getBackend(request: 'auto' | 'cpu' | 'cuda'): Backend {
  switch (request) {
    case 'cpu':
      return cpuBackend();
    case 'cuda': {
      const a = cudaAvailability();
      if (!a.available) {
        throw new BackendUnavailableError(`CUDA is unavailable: ${a.reason ?? 'no reason given'}.`, { hint: 'Use --device cpu.' });
      }
      return createCudaBackend();
    }
    case 'auto':
      return cudaAvailability().available ? createCudaBackend() : cpuBackend();
    default:
      throw new InvalidArgumentError(`Unknown device "${String(request)}".`, { hint: 'Use one of: auto, cpu, cuda.' });
  }
}
