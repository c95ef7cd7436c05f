// Builds bminf's CUDA kernels for the CPU (cuda-emu.h): the sources the backend compiles with NVRTC,
// minus attention.cu (cp.async, ldmatrix) and the Hopper GEMM, and the dev variants beside them
// (dev/cuda/*.cu), with their PTX rewritten into cuda-emu.h's emu_* functions and __shared__ variables
// into statics; then g++ builds `checks.cc` on top of them.
//   node packages/kernels/dev/emu/build.mjs [outDir]   prints the binary's path
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const cudaDir = join(here, '..', '..', 'cuda');
const SOURCES = ['prelude.cuh', 'quantize.cu', 'elementwise.cu', 'norm.cu', 'gemv.cu', 'step.cu'].map((f) => join(cudaDir, f));
// dev variants (packages/kernels/dev/cuda), checked against the product's kernels they stand beside
const DEV_SOURCES = ['attend_cache_ahead.cu'].map((f) => join(here, '..', 'cuda', f));

/** One PTX statement or declaration rewritten; throws where a pattern no longer matches (the sources changed). */
function rewrite(src, from, to, name) {
  const out = src.replace(from, to);
  if (out === src) throw new Error(`emu build: the rewrite "${name}" matched nothing: update build.mjs for the changed kernel sources.`);
  return out;
}

/** The kernel sources as C++ for cuda-emu.h. */
export function emulatedSource() {
  let s = [...SOURCES, ...DEV_SOURCES].map((f) => `// ---- ${f}\n${readFileSync(f, 'utf8')}`).join('\n');
  s = rewrite(s, /asm\("cvt\.f32\.f16 %0, %1;" : "=f"\((\w+)\) : "h"\((\w+)\)\);/g, '$1 = emu_h2f($2);', 'cvt.f32.f16');
  s = rewrite(s, /asm\("cvt\.rn\.f16\.f32 %0, %1;" : "=h"\((\w+)\) : "f"\((\w+)\)\);/g, '$1 = emu_f2h($2);', 'cvt.rn.f16.f32');
  s = rewrite(s, /asm\("dp4a\.s32\.s32 %0, %1, %2, %3;" : "=r"\((\w+)\) : "r"\((\w+)\), "r"\((\w+)\), "r"\((\w+)\)\);/g, '$1 = emu_dp4a($2, $3, $4);', 'dp4a');
  s = rewrite(s, /asm volatile\("mma\.sync\.aligned\.m16n8k32[^;]*;"[\s\S]*?\);/g, 'emu_mma_s8(c, a0, a1, a2, a3, b0, b1);', 'mma.sync s8');
  s = rewrite(s, /asm volatile\("prefetch\.global\.L1 \[%0\];" ::"l"\(p\)\);/g, '(void)p;', 'prefetch');
  s = rewrite(s, /asm\("ld\.global\.nc\.L1::no_allocate\.v4\.u32[^;]*;" : [^;]*\);/g, 'v = *p;', 'ld.global.nc.L1::no_allocate');
  s = rewrite(s, /asm volatile\("ld\.global\.(?:v4\.u32|u16) [^;]*;" : [^;]*\);/g, 'v = *p;', 'ld.global (ldAct)');
  s = rewrite(s, /extern __shared__ (\w+) (\w+)\[\];/g, '$1* $2 = reinterpret_cast<$1*>(emu_dyn_smem);', 'extern __shared__');
  s = rewrite(s, /__shared__/g, 'static', '__shared__');
  s = rewrite(s, /__launch_bounds__\((?:[^()]|\([^()]*\))*\)/g, '', '__launch_bounds__');
  s = rewrite(s, /__global__ /g, '', '__global__');
  s = s.replace(/__device__ /g, '').replace(/__forceinline__/g, 'inline');
  if (/\basm\b/.test(s.replace(/\/\/.*$/gm, '').replace(/#if __CUDA_ARCH__ >= \d+[\s\S]*?#else/g, ''))) {
    throw new Error('emu build: PTX left in the sources that build.mjs does not rewrite.');
  }
  return s;
}

/** Writes the rewritten sources and compiles checks.cc; returns the binary's path. */
export function buildChecks(outDir = join(tmpdir(), 'bminf-kernel-emu')) {
  mkdirSync(outDir, { recursive: true });
  writeFileSync(join(outDir, 'kernels-emu.inc'), emulatedSource());
  const bin = join(outDir, 'kernel-checks');
  execFileSync(
    'g++',
    ['-std=c++20', process.env.BMINF_EMU_DEBUG ? '-g' : '-O1', ...(process.env.BMINF_EMU_DEBUG ? ['-O0'] : []), '-ffp-contract=off', '-Wno-unknown-pragmas', '-Wno-unused-variable', `-I${here}`, `-I${outDir}`, join(here, 'checks.cc'), '-o', bin],
    { stdio: ['ignore', 'inherit', 'inherit'] },
  );
  return bin;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) console.log(buildChecks(process.argv[2]));
