// CPM-1 (a GPT-2 decoder in Hugging Face's layout) as GGUF for llama.cpp's "gpt2" architecture, and a
// CPM-1-shaped model of random weights in Hugging Face's layout (for bminf) of any width.
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { openCheckpoint, writeSafetensors } from '@bminf/checkpoint';
import { GgufValue, writeGguf } from './writer.mjs';

/** The SentencePiece pieces of tokenizer.vocab ("piece\tscore" lines; one piece is "\n" itself). */
function readVocab(dir) {
  const lines = readFileSync(join(dir, 'tokenizer.vocab'), 'utf8').split('\n');
  const pieces = [];
  for (let i = 0; i < lines.length; i++) {
    if (lines[i] === '' && lines[i + 1]?.startsWith('\t')) {
      pieces.push({ piece: '\n', score: Number(lines[i + 1].slice(1)) });
      i++;
    } else if (lines[i] !== '') {
      const tab = lines[i].lastIndexOf('\t');
      pieces.push({ piece: lines[i].slice(0, tab), score: Number(lines[i].slice(tab + 1)) });
    }
  }
  return pieces;
}

// llama.cpp's token types: 1 normal, 2 unknown, 3 control, 4 user-defined, 6 byte.
function tokenType(piece) {
  if (piece === '<unk>') return 2;
  if (piece === '<pad>' || piece === '<s>' || piece === '</s>') return 3;
  if (piece === '\n') return 4;
  return /^<0x[0-9A-F]{2}>$/.test(piece) ? 6 : 1;
}

/** [rows, cols] row-major -> [cols, rows]. */
function transpose(x, rows, cols) {
  const out = new Float32Array(x.length);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = x[r * cols + c];
  return out;
}

/**
 * Writes the Hugging Face GPT-2 checkpoint in `dir` (tokenizer.vocab beside it) as GGUF: matrices in
 * `type` ('F32' or 'Q8_0'), vectors and the position table in F32, as llama.cpp's converter does.
 */
export async function cpm1ToGguf(dir, path, type) {
  const cfg = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
  const d = cfg.n_embd;
  const ff = cfg.n_inner ?? 4 * d;
  const src = await openCheckpoint(dir);
  const read = async (name) => Float32Array.from((await src.read(name)).data);
  const tensors = [];
  const vec = async (name, from) => tensors.push({ name, dims: [(await src.info(from)).shape[0]], type: 'F32', data: await read(from) });
  // GPT-2's Conv1D stores [in, out]; GGUF wants nn.Linear's [out, in].
  const linear = async (name, from, inF, outF) => tensors.push({ name, dims: [outF, inF], type, data: transpose(await read(from), inF, outF) });
  tensors.push({ name: 'token_embd.weight', dims: [cfg.vocab_size, d], type, data: await read('transformer.wte.weight') });
  tensors.push({ name: 'position_embd.weight', dims: [cfg.n_positions, d], type: 'F32', data: await read('transformer.wpe.weight') });
  for (let i = 0; i < cfg.n_layer; i++) {
    const h = `transformer.h.${i}`;
    const b = `blk.${i}`;
    await vec(`${b}.attn_norm.weight`, `${h}.ln_1.weight`);
    await vec(`${b}.attn_norm.bias`, `${h}.ln_1.bias`);
    await linear(`${b}.attn_qkv.weight`, `${h}.attn.c_attn.weight`, d, 3 * d);
    await vec(`${b}.attn_qkv.bias`, `${h}.attn.c_attn.bias`);
    await linear(`${b}.attn_output.weight`, `${h}.attn.c_proj.weight`, d, d);
    await vec(`${b}.attn_output.bias`, `${h}.attn.c_proj.bias`);
    await vec(`${b}.ffn_norm.weight`, `${h}.ln_2.weight`);
    await vec(`${b}.ffn_norm.bias`, `${h}.ln_2.bias`);
    await linear(`${b}.ffn_up.weight`, `${h}.mlp.c_fc.weight`, d, ff);
    await vec(`${b}.ffn_up.bias`, `${h}.mlp.c_fc.bias`);
    await linear(`${b}.ffn_down.weight`, `${h}.mlp.c_proj.weight`, ff, d);
    await vec(`${b}.ffn_down.bias`, `${h}.mlp.c_proj.bias`);
  }
  await vec('output_norm.weight', 'transformer.ln_f.weight');
  await vec('output_norm.bias', 'transformer.ln_f.bias');
  await src.close();
  // No output.weight: llama.cpp ties the output to token_embd, as CPM-1 does.
  const vocab = readVocab(dir);
  if (vocab.length !== cfg.vocab_size) throw new Error(`tokenizer.vocab has ${vocab.length} pieces, config ${cfg.vocab_size}`);
  const metadata = [
    ['general.architecture', GgufValue.string, 'gpt2'],
    ['general.name', GgufValue.string, `cpm1-d${d}-l${cfg.n_layer}`],
    ['general.file_type', GgufValue.u32, type === 'F32' ? 0 : 7],
    ['gpt2.context_length', GgufValue.u32, cfg.n_positions],
    ['gpt2.embedding_length', GgufValue.u32, d],
    ['gpt2.feed_forward_length', GgufValue.u32, ff],
    ['gpt2.block_count', GgufValue.u32, cfg.n_layer],
    ['gpt2.attention.head_count', GgufValue.u32, cfg.n_head],
    ['gpt2.attention.layer_norm_epsilon', GgufValue.f32, cfg.layer_norm_epsilon],
    ['tokenizer.ggml.model', GgufValue.string, 'llama'],
    ['tokenizer.ggml.tokens', 'array', GgufValue.string, vocab.map((v) => v.piece)],
    ['tokenizer.ggml.scores', 'array', GgufValue.f32, vocab.map((v) => v.score)],
    ['tokenizer.ggml.token_type', 'array', GgufValue.i32, vocab.map((v) => tokenType(v.piece))],
    ['tokenizer.ggml.bos_token_id', GgufValue.u32, cfg.bos_token_id],
    ['tokenizer.ggml.eos_token_id', GgufValue.u32, cfg.eos_token_id],
    ['tokenizer.ggml.unknown_token_id', GgufValue.u32, 1],
    ['tokenizer.ggml.padding_token_id', GgufValue.u32, cfg.pad_token_id],
  ];
  writeGguf(path, { metadata, tensors });
}

/** A seeded generator of uniform values in [-1, 1) (mulberry32). */
function uniform(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (((t ^ (t >>> 14)) >>> 0) / 4294967296) * 2 - 1;
  };
}

/**
 * Writes a CPM-1-shaped model (GPT-2 layout, d_ff = 4d, tanh GELU) of random weights into `dir`, in
 * Hugging Face's layout with the tokenizer of `tokenizerDir` (whose vocab size it takes).
 */
export async function writeRandomCpm1(dir, tokenizerDir, { d, layers, heads, positions }) {
  const base = JSON.parse(readFileSync(join(tokenizerDir, 'config.json'), 'utf8'));
  const cfg = { ...base, n_embd: d, n_inner: 4 * d, n_layer: layers, n_head: heads, n_positions: positions };
  mkdirSync(dir, { recursive: true });
  const rnd = uniform(1234);
  // Scaled like a trained model's: LayerNorm outputs of about unit size stay about unit size.
  const fill = (n, scale) => () => Float32Array.from({ length: n }, () => rnd() * scale);
  const ones = (n) => () => new Float32Array(n).fill(1);
  const t = (name, shape, data) => ({ name, dtype: 'F32', shape, data });
  const tensors = [t('transformer.wte.weight', [cfg.vocab_size, d], fill(cfg.vocab_size * d, 0.1)), t('transformer.wpe.weight', [positions, d], fill(positions * d, 0.01))];
  for (let i = 0; i < layers; i++) {
    const h = `transformer.h.${i}`;
    const w = (inF, outF) => fill(inF * outF, Math.sqrt(3 / inF));
    tensors.push(
      t(`${h}.ln_1.weight`, [d], ones(d)), t(`${h}.ln_1.bias`, [d], fill(d, 0.01)),
      t(`${h}.attn.c_attn.weight`, [d, 3 * d], w(d, 3 * d)), t(`${h}.attn.c_attn.bias`, [3 * d], fill(3 * d, 0.01)),
      t(`${h}.attn.c_proj.weight`, [d, d], w(d, d)), t(`${h}.attn.c_proj.bias`, [d], fill(d, 0.01)),
      t(`${h}.ln_2.weight`, [d], ones(d)), t(`${h}.ln_2.bias`, [d], fill(d, 0.01)),
      t(`${h}.mlp.c_fc.weight`, [d, 4 * d], w(d, 4 * d)), t(`${h}.mlp.c_fc.bias`, [4 * d], fill(4 * d, 0.01)),
      t(`${h}.mlp.c_proj.weight`, [4 * d, d], w(4 * d, d)), t(`${h}.mlp.c_proj.bias`, [d], fill(d, 0.01)),
    );
  }
  tensors.push(t('transformer.ln_f.weight', [d], ones(d)), t('transformer.ln_f.bias', [d], fill(d, 0.01)));
  await writeSafetensors(dir, tensors, { overwrite: true });
  writeFileSync(join(dir, 'config.json'), JSON.stringify(cfg, null, 2));
  for (const f of ['tokenizer.model', 'tokenizer.vocab', 'generation_config.json']) copyFileSync(join(tokenizerDir, f), join(dir, f));
}
