// Dev check: runs the cuda-ops elementwise sequence many times with programmatic dependent launches on
// and off and counts results that differ from the CPU backend (a race shows as a count above 0).
import { createCpuBackend, createCudaBackend } from '@bminf/kernels';
const gpu = createCudaBackend({ memoryLimit: 2 ** 30 });
const cpu = createCpuBackend();
const randn = (n, s = 1) => { const a = new Float32Array(n); for (let i = 0; i < n; i++) a[i] = s * Math.sqrt(-2 * Math.log(Math.random() + 1e-12)) * Math.cos(2 * Math.PI * Math.random()); return a; };
const maxDiff = (a, b) => { let m = 0, at = -1; for (let i = 0; i < a.length; i++) { const d = Math.abs(a[i] - b[i]); if (d > m) { m = d; at = i; } } return [m, at]; };
for (const dep of [true, false, true, false]) {
  gpu.routes.dependentLaunch = dep;
  const bad = {};
  for (let t = 0; t < 300; t++) {
    for (const d of [1, 3, 17, 255, 1000, 4096]) {
      const rows = 1 + Math.floor(Math.random() * 20);
      const x = randn(rows * d, 3), w = randn(d), b = randn(d);
      const xg = gpu.upload(x, [rows, d]), wg = gpu.upload(w, [d]), bg = gpu.upload(b, [d]);
      const xc = cpu.upload(x, [rows, d]), wc = cpu.upload(w, [d]), bc = cpu.upload(b, [d]);
      const checks = [
        ['layerNorm', () => gpu.layerNorm(xg, wg, bg, { eps: 1e-5, subtractMean: true }), () => cpu.layerNorm(xc, wc, bc, { eps: 1e-5, subtractMean: true }), 1e-3],
        ['gelu', () => gpu.gelu(xg), () => cpu.gelu(xc), 1e-4],
        ['geluT', () => gpu.gelu(xg.transpose()), () => cpu.gelu(xc.transpose()), 1e-4],
        ['add', () => gpu.add(xg, bg), () => cpu.add(xc, bc), 1e-4],
      ];
      for (const [name, g, c, tol] of checks) {
        const tg = g(), tc = c();
        const [m, at] = maxDiff(gpu.download(tg), cpu.download(tc));
        if (m > tol) { const k = `${name} d${d}`; bad[k] = (bad[k] ?? 0) + 1; if (bad[k] === 1) console.log(`dep=${dep} ${name} d=${d} rows=${rows} diff ${m} at ${at} x=${x[at]}`); }
        tg.dispose(); tc.dispose();
      }
      for (const t of [xg, wg, bg, xc, wc, bc]) t.dispose();
    }
  }
  console.log(`dependentLaunch=${dep}: bad`, JSON.stringify(bad));
}
