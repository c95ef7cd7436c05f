// CPM-2 at full width (d_model 4096, 64 heads × 64, d_ff 10240, vocab 26240) with 2 + 2 layers and random
// weights, on the GPU: the encoder's prefill of 512 tokens and one decoder step (after that encoder
// input, with 32 decoder tokens already cached), int8 (W8A8) against float16. Wall time around
// synchronized calls, median of 10 after 2 warm-ups; the decoder step includes the logits' download.
// The GPU is warmed up first and each configuration is measured twice, interleaved with the others,
// keeping its faster round: measured once each in a fixed order, whichever came first was up to 1.6x
// slower (clocks still rising; H100, 2026-11-24).
import { CPM2_CONFIG, randomCpm2Model } from '@bminf/models';
import { createCudaBackend, cudaAvailability, formatCudaInfo } from '@bminf/kernels';

const LAYERS = 2;
const ENCODER_TOKENS = 512;
const CACHED = 32;

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

/** Seconds of fn(): median of 5 runs after 2 warm-ups, the backend synchronized around each. */
function time(backend, fn, runs = 10) {
  for (let i = 0; i < 2; i++) fn();
  backend.synchronize();
  const out = [];
  for (let r = 0; r < runs; r++) {
    const t0 = performance.now();
    fn();
    backend.synchronize();
    out.push((performance.now() - t0) / 1000);
  }
  return median(out);
}

function measure(dtype, fused = true) {
  const config = { ...CPM2_CONFIG, numEncoderLayers: LAYERS, numDecoderLayers: LAYERS };
  const model = randomCpm2Model(config, { dtype, device: 'cuda', seed: 11 });
  const b = model.backend;
  // int8 linear layers from 512 tokens: the fused Hopper kernel (sm_90), or the three calls
  if ('fusedLinear' in b) b.fusedLinear = fused;
  const ids = Array.from({ length: ENCODER_TOKENS }, (_, i) => 10 + ((i * 7919) % 26000));
  try {
    const encoder = time(b, () => model.runEncoder(ids).dispose());
    const state = model.newState(ids);
    try {
      model.decoderForward(Array.from({ length: CACHED }, (_, i) => 100 + i), state);
      // each timed step appends one token; the cache grows by 9 over warm-ups and runs, which is noise
      const step = time(b, () => model.decoderForward([200], state));
      if (dtype === 'int8' && fused && b.fusedChoice) console.error(`bench: fused linear kernel chosen per shape (tokens/256:out:in:bias): ${JSON.stringify([...b.fusedChoice])}`);
      return { encoder, step };
    } finally {
      state.dispose();
    }
  } finally {
    model.dispose();
  }
}

export default {
  title: 'CPM-2 shapes on the GPU (2 + 2 layers, random weights)',
  async run() {
    const avail = cudaAvailability();
    if (!avail.available) throw new Error(`CUDA is unavailable: ${avail.reason}`);
    console.error(formatCudaInfo());
    {
      // half a second of float16 GEMMs, so that the first configuration is not timed at idle clocks
      const b = createCudaBackend();
      const x = b.upload(new Uint16Array(4096 * 4096).fill(0x3c00), [4096, 4096]);
      const t0 = performance.now();
      while (performance.now() - t0 < 500) {
        for (let i = 0; i < 10; i++) b.gemm(x, x).dispose();
        b.synchronize();
      }
      x.dispose();
    }
    const best = (a, b) => ({ encoder: Math.min(a.encoder, b.encoder), step: Math.min(a.step, b.step) });
    const round = () => [measure('fp16'), measure('int8'), measure('int8', false)];
    const [r1, r2] = [round(), round()];
    const fp16 = best(r1[0], r2[0]);
    const int8 = best(r1[1], r2[1]);
    const int8calls = best(r1[2], r2[2]);
    // The models ran on the shared CUDA backend, which reserves most of the device's memory: give it
    // back, so that a suite after this one can reserve its own.
    createCudaBackend().dispose();
    const ms = (s) => s * 1000;
    return {
      columns: ['stage', 'fp16 ms', 'int8 ms', 'int8 speed-up', 'int8 ms, 3-call linear', 'fp16 tokens/s', 'int8 tokens/s', 'int8 tokens/s, 24 + 24 layers (est.)'],
      rows: [
        [
          `encoder prefill, ${ENCODER_TOKENS} tokens`,
          ms(fp16.encoder),
          ms(int8.encoder),
          fp16.encoder / int8.encoder,
          ms(int8calls.encoder),
          ENCODER_TOKENS / fp16.encoder,
          ENCODER_TOKENS / int8.encoder,
          ENCODER_TOKENS / ((int8.encoder * 24) / LAYERS),
        ],
        ['decoder step (1 token)', ms(fp16.step), ms(int8.step), fp16.step / int8.step, ms(int8calls.step), 1 / fp16.step, 1 / int8.step, 1 / ((int8.step * 24) / LAYERS)],
      ],
      notes:
        `Cpm2Model at CPM-2's width with ${LAYERS} encoder and ${LAYERS} decoder layers (randomCpm2Model: random weights, int8 with per-row scales). ` +
        `Encoder: runEncoder over ${ENCODER_TOKENS} tokens (embedding, position bias, ${LAYERS} blocks, final norm). Decoder step: one token after ${CACHED} cached, ` +
        'self-attention over the cache, cross-attention over the 512 projected encoder positions, the 26240-way output projection and the logits download. ' +
        'int8 linear layers with 512 tokens or more run the fused Hopper kernel (quantize + one GEMM with the dequantize in its epilogue) on sm_90; the "3-call" column runs them as quantize + cublasLt igemm + dequantize (the decoder step is the same either way: 1 token). ' +
        'The last column scales the int8 time by 24/2 layers, ignoring the embeddings and output projection (so it is an upper bound on time for the step). ' +
        "BMInf's README: CPM-2 on an A100, encoder 4365 tokens/s, decoder 26 tokens/s.",
    };
  },
};
