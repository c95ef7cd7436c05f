// Dev: the fused int8 linear's Hopper tiles at CPM-2's encoder shapes (512 tokens), each tile forced,
// with cold L2 (8 weight copies in turn), us per call (the quantize included).
//   node tooling/bench/dev/sm90-tiles.mjs
import { createCudaBackend } from '@bminf/kernels';
import { eventTimed, randBytes, randHalf } from '../gpu-timing.mjs';

const gpu = createCudaBackend({ memoryLimit: 8 * 2 ** 30 });
// the fused kernel at the tile forced below (the quantize before it is the same kernel for every tile)
gpu.routes.fusedLinearTune = false;
gpu.routes.fusedLinearMinRows = 1;
const tok = 512;
for (const [m, k] of [[4096, 10240], [4096, 4096], [12288, 4096]]) {
  const x = gpu.upload(randHalf(tok * k), [tok, k]);
  const ws = gpu.upload(randHalf(m, 99), [m]);
  const ws8 = Array.from({ length: 8 }, () => gpu.upload(randBytes(m * k), [m, k]));
  let i = 0;
  const res = [];
  for (const tile of ['a', 't', 'b', 'a2', 'a', 'a2']) {
    gpu.sm90.tile = tile;
    const s = eventTimed(gpu.nativeCuda, () => gpu.linearInt8(x, ws8[i++ % 8], ws, { dtype: 'float16' }).dispose()).s;
    res.push(`${tile} ${(s * 1e6).toFixed(1)}`);
  }
  gpu.sm90.tile = null;
  console.log(`[${tok}, ${k}] x [${m}, ${k}]: ${res.join('  ')}`);
  for (const t of [x, ws, ...ws8]) t.dispose();
}
