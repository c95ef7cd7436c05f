// How progress and the summary are shown: a byte progress bar on a terminal, plain lines otherwise,
// JSON lines with --json.
import cliProgress from 'cli-progress';
import type { MigrateEvent, MigrateSummary } from './migrate.js';
import { formatMB } from './size.js';

export type Mode = 'bar' | 'lines' | 'json';

export interface Reporter {
  onEvent(e: MigrateEvent): void;
  /** Stops the bar (if any) so an error message starts on a clean line. */
  stop(): void;
}

const pct = (x: number) => `${(100 * x).toFixed(3)}%`;

export function createReporter(mode: Mode, out: NodeJS.WritableStream = process.stdout, err: NodeJS.WritableStream = process.stderr): Reporter {
  if (mode === 'json') {
    return { onEvent: (e) => out.write(`${JSON.stringify(e)}\n`), stop: () => {} };
  }
  let bar: cliProgress.SingleBar | undefined;
  const stop = () => {
    bar?.stop();
    bar = undefined;
  };
  return {
    stop,
    onEvent(e) {
      switch (e.event) {
        case 'start':
          err.write(
            `${e.dryRun ? 'Dry run: ' : ''}${e.architecture}${e.layout === 'huggingface' ? '' : ` (${e.layout} layout)`}, ${e.tensors} tensors, ${formatMB(e.bytesIn)} from ${e.input}${e.dryRun ? '' : ` → ${e.output} (${e.dtype})`}\n`,
          );
          if (mode === 'bar' && !e.dryRun) {
            bar = new cliProgress.SingleBar(
              {
                format: ' {bar} {percentage}% | {doneMB}/{totalMB} MB | {tensor}',
                stream: err,
                hideCursor: true,
                clearOnComplete: true,
              },
              cliProgress.Presets.shades_classic,
            );
            bar.start(e.bytesIn, 0, { doneMB: '0', totalMB: (e.bytesIn / 1e6).toFixed(0), tensor: '' });
          }
          break;
        case 'tensor':
          if (bar) {
            bar.update(e.bytesDone, { doneMB: (e.bytesDone / 1e6).toFixed(0), tensor: e.name });
          } else {
            const w = String(e.total).length;
            const q = e.maxRelError === undefined ? '' : `  max err ${pct(e.maxRelError)}`;
            err.write(
              `[${String(e.index).padStart(w)}/${e.total}] ${e.name} [${e.shape.join(', ')}] ${formatMB(e.bytesIn)} → ${formatMB(e.bytesOut)}${q}  (${((100 * e.bytesDone) / e.bytesTotal).toFixed(0)}%)\n`,
            );
          }
          break;
        case 'summary':
          stop();
          out.write(formatSummary(e));
          break;
      }
    },
  };
}

export function formatSummary(s: MigrateSummary): string {
  const lines: string[] = [];
  const secs = Math.max(s.seconds, 1e-9);
  if (s.dryRun) {
    lines.push(`Dry run: ${s.architecture}, every tensor present with the planned shape; nothing was written.`);
    lines.push(`Would write ${s.outputTensors} tensors, ${formatMB(s.bytesOut)} (${s.dtype}), from ${s.tensors} tensors, ${formatMB(s.bytesIn)}.`);
  } else {
    lines.push(`Migrated ${s.tensors} tensors (${s.outputTensors} written) of ${s.architecture} to ${s.output}`);
    lines.push(
      `Bytes in ${formatMB(s.bytesIn)}, out ${formatMB(s.bytesOut)} in ${s.seconds.toFixed(1)} s (${(s.bytesIn / 1e6 / secs).toFixed(0)} MB/s read, ${s.kernels} kernels).`,
    );
  }
  const l = s.linear;
  if (l.count > 0) {
    const ratio = (l.storedBytes + l.scaleBytes) / l.float32Bytes;
    lines.push(
      `Linear weights: ${l.count}, ${formatMB(l.float32Bytes)} as float32 → ${formatMB(l.storedBytes)} ${s.dtype === 'int8' ? 'int8' : 'float16'}${l.scaleBytes ? ` + ${formatMB(l.scaleBytes)} scales` : ''} (${(100 * ratio).toFixed(1)}%).`,
    );
  }
  if (s.error) {
    lines.push(`Quantization error (|w - q·s| / row max): max ${pct(s.error.max)}, mean ${pct(s.error.mean)}. Worst tensors:`);
    for (const w of s.worst) lines.push(`  ${w.name}: max ${pct(w.maxRelError)}, mean ${pct(w.meanRelError)}`);
  }
  if (s.nonFinite.length > 0) {
    lines.push(`Converted with NaN or infinite values (--allow-nonfinite), left out of the error figures:`);
    for (const t of s.nonFinite) lines.push(`  ${t.name}: ${t.count} value(s)`);
  }
  if (s.unused.length > 0) {
    const shown = s.unused.slice(0, 8).join(', ');
    lines.push(`Not used by the model config.json describes (${s.unused.length} tensor(s)): ${shown}${s.unused.length > 8 ? ', …' : ''}. Check n_layer / num_layers in config.json.`);
  }
  return `${lines.join('\n')}\n`;
}
