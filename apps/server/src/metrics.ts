import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import { type ServedModel, deviceBytesInUse, deviceBytesReserved } from './served-model.js';

/** Generated tokens per second are averaged over this window. */
const RATE_WINDOW_MS = 10_000;

/** Counts tokens in one-second buckets to give a recent rate. */
class RateWindow {
  private readonly buckets = new Map<number, number>();

  add(n: number): void {
    const s = Math.floor(Date.now() / 1000);
    this.buckets.set(s, (this.buckets.get(s) ?? 0) + n);
  }

  perSecond(): number {
    const oldest = Math.floor((Date.now() - RATE_WINDOW_MS) / 1000);
    let sum = 0;
    for (const [s, n] of this.buckets) {
      if (s <= oldest) this.buckets.delete(s);
      else sum += n;
    }
    return sum / (RATE_WINDOW_MS / 1000);
  }
}

/**
 * The server's Prometheus metrics, in a registry of its own (several servers may share a process).
 * Engine and memory figures are read when /metrics is scraped.
 */
export class ServerMetrics {
  readonly registry = new Registry();
  private readonly requests = new Counter({
    name: 'bminf_requests_total',
    help: 'HTTP requests answered, by route and status',
    labelNames: ['route', 'status'] as const,
    registers: [this.registry],
  });
  private readonly tokensIn = new Counter({ name: 'bminf_prompt_tokens_total', help: 'Prompt tokens of finished requests', registers: [this.registry] });
  private readonly tokensOut = new Counter({ name: 'bminf_generated_tokens_total', help: 'Tokens generated', registers: [this.registry] });
  private readonly rate = new RateWindow();

  constructor(served: () => ServedModel | null) {
    collectDefaultMetrics({ register: this.registry, prefix: 'bminf_' });
    const gauge = (name: string, help: string, read: (s: ServedModel) => number) =>
      new Gauge({
        name,
        help,
        registers: [this.registry],
        collect() {
          const s = served();
          this.set(s ? read(s) : 0);
        },
      });
    gauge('bminf_queue_depth', 'Requests waiting for a slot of the engine', (s) => s.engine.stats.waiting);
    gauge('bminf_running_sequences', 'Sequences being generated', (s) => s.engine.stats.running);
    gauge('bminf_batch_size', 'Sequences advanced by the last forward step', (s) => s.engine.stats.lastBatchSize);
    gauge('bminf_device_memory_bytes_in_use', 'Bytes in use in the backend pool (CUDA device pool, or the CPU host pool)', deviceBytesInUse);
    gauge('bminf_device_memory_bytes_reserved', 'Bytes the backend pool has reserved (CUDA: taken from the driver as needed)', deviceBytesReserved);
    const rate = this.rate;
    new Gauge({
      name: 'bminf_generated_tokens_per_second',
      help: `Tokens generated per second over the last ${RATE_WINDOW_MS / 1000} s`,
      registers: [this.registry],
      collect() {
        this.set(rate.perSecond());
      },
    });
  }

  request(route: string, status: number): void {
    this.requests.inc({ route, status: String(status) });
  }

  generated(n: number): void {
    this.tokensOut.inc(n);
    this.rate.add(n);
  }

  prompt(n: number): void {
    this.tokensIn.inc(n);
  }
}
