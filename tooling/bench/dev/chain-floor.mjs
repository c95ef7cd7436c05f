// Dev: what one kernel costs inside a recorded step when each depends on the one before (a decode
// layer is 8 such kernels). Captures N chained ops as one graph (captureStep), runs it, and prints µs
// per op, with the weight bandwidth for the int8 linears (each of the N has its own weights, so they
// come from memory, not L2), and the decode attention over a cache (each with its own cache; q is the
// previous one's output). Dependent launches on and off, and the GEMV linears' weights loaded past L1
// (RoutePolicy.weightsPastL1).
//   node tooling/bench/dev/chain-floor.mjs
import { createCudaBackend } from '@bminf/kernels';

const b = createCudaBackend();
const N = 48;
const median = (a) => [...a].sort((x, y) => x - y)[a.length >> 1];
async function timeStep(fn) {
  const g = b.captureStep(fn);
  await g.run();
  const runs = [];
  for (let i = 0; i < 9; i++) {
    const t0 = performance.now();
    await g.run();
    runs.push(performance.now() - t0);
  }
  g.dispose();
  return (median(runs) * 1000) / N;
}
const cases = [];
for (const rows of [1, 8]) {
  const x = b.empty([rows, 4096], 'float16');
  b.fillRandom(x, 7, 1);
  const bias = b.empty([4096], 'float16');
  b.fillRandom(bias, 8, 1);
  cases.push([`add [${rows}x4096] (the floor)`, 0, () => {
    let y = x;
    for (let i = 0; i < N; i++) y = b.add(y, bias);
  }]);
  for (const [n, k] of [[4096, 4096], [12288, 4096], [4096, 10240], [20480, 4096]]) {
    const ws = Array.from({ length: N }, (_, i) => {
      const w = b.empty([n, k], 'int8');
      b.fillRandom(w, 100 + i);
      const s = b.empty([n], 'float16');
      b.fillRandom(s, 200 + i, 0.001);
      return [w, s];
    });
    const xin = b.empty([rows, k], 'float16');
    b.fillRandom(xin, 9, 1);
    cases.push([`linearInt8 [${rows}x${k}] x [${n}x${k}] (${((n * k) / 1e6).toFixed(1)} MB)`, n * k, () => {
      for (let i = 0; i < N; i++) b.linearInt8(xin, ws[i][0], ws[i][1], { dtype: 'float16' });
    }]);
    if (n === 4096) {
      const res = b.empty([rows, n], 'float16');
      b.fillRandom(res, 10, 1);
      cases.push([`linearInt8 [${rows}x${k}] x [${n}x${k}] + bias + residual`, n * k, () => {
        for (let i = 0; i < N; i++) b.linearInt8(xin, ws[i][0], ws[i][1], { dtype: 'float16', bias, residual: res });
      }]);
    }
  }
  // CPM-2's decode attention: 64 heads of 64, caches planned for 512 positions, 64 and 512 of them filled
  for (const filled of [64, 512]) {
    const slot = 512;
    const caches = Array.from({ length: N }, (_, i) => {
      const kv = [b.empty([rows * slot, 4096], 'float16'), b.empty([rows * slot, 4096], 'float16')];
      kv.forEach((t, j) => b.fillRandom(t, 300 + 2 * i + j, 1));
      return kv;
    });
    const lengths = b.upload(new Int32Array(rows).fill(filled), [rows]);
    const q0 = b.empty([rows, 4096], 'float16');
    b.fillRandom(q0, 11, 1);
    cases.push([`attendCache [${rows}x4096], 64 heads, ${filled} of ${slot} positions`, 0, () => {
      let y = q0;
      for (let i = 0; i < N; i++) y = b.attendCache(y, caches[i][0], caches[i][1], lengths, { heads: 64, scale: 0.125, slotRows: slot });
    }]);
  }
}
const settings = [
  ['PDL', { dependentLaunch: true, weightsPastL1: false }],
  ['PDL + weights past L1', { dependentLaunch: true, weightsPastL1: true }],
  ['plain', { dependentLaunch: false, weightsPastL1: false }],
];
const saved = { ...b.routes };
for (const [name, routes] of settings) {
  Object.assign(b.routes, saved, routes);
  for (const [label, bytes, fn] of cases) {
    const us = await timeStep(fn);
    console.log(`${name} | ${label}: ${us.toFixed(2)} us an op${bytes ? `, ${(bytes / us / 1e6).toFixed(2)} TB/s` : ''}`);
  }
}
Object.assign(b.routes, saved);
b.dispose();
