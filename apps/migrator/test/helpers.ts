// Small synthetic CPM-1 (GPT-2 named) checkpoints, written as one safetensors file whose header can be
// tampered with, and a runner for the real bminf-migrate binary in a child process.
import { execFile } from 'node:child_process';
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';

export const root = join(import.meta.dirname, '..', '..', '..');
export const bin = join(root, 'apps', 'migrator', 'dist', 'bin.js');
export const demo = join(root, 'models', 'tiny-cpm1');
export const demoBin = join(root, '..', 'shared', 'models', 'tiny-cpm1', 'pytorch_model.fp16.bin');

export interface TinyConfig {
  d: number;
  layers: number;
  dff: number;
  vocab: number;
  positions: number;
}

export const TINY: TinyConfig = { d: 16, layers: 2, dff: 64, vocab: 32, positions: 8 };

export function gpt2Config(c: TinyConfig): Record<string, unknown> {
  return {
    model_type: 'gpt2',
    n_embd: c.d,
    n_head: 2,
    n_layer: c.layers,
    n_inner: c.dff,
    n_positions: c.positions,
    vocab_size: c.vocab,
    activation_function: 'gelu_new',
    tie_word_embeddings: true,
  };
}

/** GPT-2's tensors (Conv1D weights [in, out]) with deterministic values. */
export function gpt2Tensors(c: TinyConfig): { name: string; shape: number[] }[] {
  const t: { name: string; shape: number[] }[] = [
    { name: 'transformer.wte.weight', shape: [c.vocab, c.d] },
    { name: 'transformer.wpe.weight', shape: [c.positions, c.d] },
  ];
  for (let i = 0; i < c.layers; i++) {
    const h = `transformer.h.${i}`;
    t.push(
      { name: `${h}.ln_1.weight`, shape: [c.d] },
      { name: `${h}.ln_1.bias`, shape: [c.d] },
      { name: `${h}.attn.c_attn.weight`, shape: [c.d, 3 * c.d] },
      { name: `${h}.attn.c_attn.bias`, shape: [3 * c.d] },
      { name: `${h}.attn.c_proj.weight`, shape: [c.d, c.d] },
      { name: `${h}.attn.c_proj.bias`, shape: [c.d] },
      { name: `${h}.ln_2.weight`, shape: [c.d] },
      { name: `${h}.ln_2.bias`, shape: [c.d] },
      { name: `${h}.mlp.c_fc.weight`, shape: [c.d, c.dff] },
      { name: `${h}.mlp.c_fc.bias`, shape: [c.dff] },
      { name: `${h}.mlp.c_proj.weight`, shape: [c.dff, c.d] },
      { name: `${h}.mlp.c_proj.bias`, shape: [c.d] },
    );
  }
  t.push({ name: 'transformer.ln_f.weight', shape: [c.d] }, { name: 'transformer.ln_f.bias', shape: [c.d] });
  return t;
}

type Header = Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] }>;

/**
 * Writes DIR/config.json and DIR/model.safetensors. `tamper` may edit the header object (and the
 * header-length field is recomputed unless `lengthOverride` is given); `cut` drops trailing bytes.
 */
export function writeTinyCheckpoint(
  dir: string,
  opts: { config?: TinyConfig; configOverride?: Record<string, unknown>; drop?: string[]; tamper?: (h: Header) => void; lengthOverride?: bigint; cut?: number } = {},
): string {
  const c = opts.config ?? TINY;
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'config.json'), JSON.stringify({ ...gpt2Config(c), ...opts.configOverride }));
  const tensors = gpt2Tensors(c).filter((t) => !opts.drop?.includes(t.name));
  const header: Header = {};
  let off = 0;
  const chunks: Float32Array[] = [];
  let seed = 1;
  for (const t of tensors) {
    const n = t.shape.reduce((a, b) => a * b, 1);
    const data = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      seed = (seed * 1103515245 + 12345) >>> 0;
      data[i] = (seed / 2 ** 32 - 0.5) * 0.2;
    }
    header[t.name] = { dtype: 'F32', shape: t.shape, data_offsets: [off, off + 4 * n] };
    off += 4 * n;
    chunks.push(data);
  }
  opts.tamper?.(header);
  const text = new TextEncoder().encode(JSON.stringify(header));
  const out = new Uint8Array(8 + text.length + off);
  new DataView(out.buffer).setBigUint64(0, opts.lengthOverride ?? BigInt(text.length), true);
  out.set(text, 8);
  let p = 8 + text.length;
  for (const ch of chunks) {
    out.set(new Uint8Array(ch.buffer), p);
    p += ch.byteLength;
  }
  const file = join(dir, 'model.safetensors');
  writeFileSync(file, out.subarray(0, out.length - (opts.cut ?? 0)));
  return file;
}

const run = promisify(execFile);

export async function migrateCli(args: string[], opts: { ulimitFileKB?: number; timeoutMs?: number } = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  const [cmd, argv] =
    opts.ulimitFileKB === undefined
      ? [process.execPath, [bin, ...args]]
      : ['bash', ['-c', `ulimit -f ${opts.ulimitFileKB}; exec "$0" "$@"`, process.execPath, bin, ...args]];
  try {
    const { stdout, stderr } = await run(cmd, argv, { maxBuffer: 1 << 26, timeout: opts.timeoutMs ?? 0, killSignal: 'SIGKILL' });
    return { code: 0, stdout, stderr };
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string };
    return { code: err.code, stdout: err.stdout, stderr: err.stderr };
  }
}

/** True when nothing named after `output` (the folder or a temporary one beside it) exists. */
export function nothingAt(output: string): boolean {
  const base = output.split('/').pop()!;
  return !readdirSync(dirname(output)).some((f) => f === base || f.startsWith(`.${base}.tmp-`));
}
