import { InvalidArgumentError } from './errors.js';

export type DeviceKind = 'cpu' | 'cuda';

/** Where a tensor's storage lives. Two devices are the same when kind and index agree. */
export class Device {
  static readonly cpu = new Device('cpu', 0);
  constructor(
    readonly kind: DeviceKind,
    readonly index = 0,
  ) {}
  equals(other: Device): boolean {
    return this.kind === other.kind && this.index === other.index;
  }
  toString(): string {
    return this.kind === 'cpu' ? 'cpu' : `cuda:${this.index}`;
  }
}

/** What users ask for: `auto` takes CUDA when a usable GPU is present, else the CPU. */
export type DeviceRequest = 'auto' | 'cpu' | 'cuda';

export function parseDeviceRequest(value: string): DeviceRequest {
  if (value === 'auto' || value === 'cpu' || value === 'cuda') return value;
  throw new InvalidArgumentError(`Unknown device "${value}".`, { hint: 'Use one of: auto, cpu, cuda.' });
}
