// Compiles bminf's CUDA C sources (packages/kernels/cuda/*.cu) with NVRTC for the device's
// architecture, caches the CUBIN on disk, and loads it as one module. The cache key is the hash of the
// sources and options, the architecture and the NVRTC version, so an edited kernel, another GPU or
// another NVRTC compiles afresh. The cache lives in $BMINF_CACHE_DIR or ~/.cache/bminf/kernels/; when it
// cannot be written, kernels are compiled in memory every run and nothing fails.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BackendUnavailableError } from '@bminf/core';
import { type CompileResult, type KernelModule, mapNativeError, type NativeCuda } from '@bminf/cuda-binding';

/** The source files, in the order they are concatenated into one program. */
const SOURCES = ['prelude.cuh', 'quantize.cu', 'elementwise.cu', 'norm.cu', 'gemv.cu', 'step.cu', 'attention.cu', 'phases.cu'];

/** The folder holding the .cu files: beside src/ (tests run the sources) or beside dist/ (built). */
export function kernelSourceDir(): string {
  const candidates = [new URL('../../cuda/', import.meta.url), new URL('../cuda/', import.meta.url)].map((u) => fileURLToPath(u));
  const dir = candidates.find((d) => existsSync(join(d, SOURCES[0])));
  if (!dir) {
    throw new BackendUnavailableError(`The CUDA kernel sources of @bminf/kernels are missing (looked in ${candidates.join(' and ')}).`, {
      hint: 'Reinstall @bminf/kernels (its "cuda" folder ships with the package).',
    });
  }
  return dir;
}

export function kernelSource(): string {
  const dir = kernelSourceDir();
  return SOURCES.map((f) => `// ---- ${f}\n${readFileSync(join(dir, f), 'utf8')}`).join('\n');
}

export function cacheDir(): string {
  return process.env.BMINF_CACHE_DIR ? join(process.env.BMINF_CACHE_DIR, 'kernels') : join(homedir(), '.cache', 'bminf', 'kernels');
}

export interface CompiledModule {
  module: KernelModule;
  /** Where the image came from: the disk cache or a fresh compile (with the seconds it took). */
  origin: 'cache' | 'compiled';
  compileSeconds: number;
  cachePath: string | null;
}

export function compileKernels(native: NativeCuda, ccMajor: number, ccMinor: number, nvrtcVersion: readonly number[]): CompiledModule {
  return compileModule(native, kernelSource(), `sm_${ccMajor}${ccMinor}`, nvrtcVersion);
}

/**
 * The Hopper GEMM (igemm_sm90.cu, with the prelude), compiled for sm_90a: wgmma exists only
 * there, so it is its own module, built only on compute capability 9.0.
 */
export function compileSm90Kernels(native: NativeCuda, nvrtcVersion: readonly number[]): CompiledModule {
  const dir = kernelSourceDir();
  const source = ['prelude.cuh', 'igemm_sm90.cu'].map((f) => `// ---- ${f}\n${readFileSync(join(dir, f), 'utf8')}`).join('\n');
  return compileModule(native, source, 'sm_90a', nvrtcVersion);
}

function compileModule(native: NativeCuda, source: string, arch: string, nvrtcVersion: readonly number[]): CompiledModule {
  // IEEE division and round-to-nearest conversions are required for bit-exact quantization: no fast math.
  const options = [`--gpu-architecture=${arch}`, '--std=c++17', '-DNDEBUG'];
  const key = createHash('sha256')
    .update(source)
    .update('\0' + options.join(' ') + '\0' + nvrtcVersion.join('.'))
    .digest('hex')
    .slice(0, 32);
  const dir = cacheDir();
  const file = join(dir, `bminf-${arch}-nvrtc${nvrtcVersion.join('.')}-${key}.cubin`);
  let image: Buffer | null = null;
  let origin: 'cache' | 'compiled' = 'cache';
  let seconds = 0;
  try {
    if (existsSync(file)) image = readFileSync(file);
  } catch {
    image = null;
  }
  if (!image) {
    origin = 'compiled';
    const t0 = performance.now();
    let out: CompileResult;
    try {
      out = native.compile(source, 'bminf_kernels.cu', options);
    } catch (e) {
      throw mapNativeError(e, 'NVRTC');
    }
    seconds = (performance.now() - t0) / 1000;
    if (!out.ok || !(out.cubin ?? out.ptx)) {
      throw new BackendUnavailableError(`NVRTC could not compile bminf's kernels for ${arch}: ${out.error ?? 'no output'}\n${out.log}`, {
        hint: 'Install an NVRTC that supports this GPU (the CUDA toolkit version of the driver), or use --device cpu.',
      });
    }
    image = (out.cubin ?? out.ptx) as Buffer;
    try {
      mkdirSync(dir, { recursive: true });
      const tmp = `${file}.${process.pid}.tmp`;
      writeFileSync(tmp, image);
      renameSync(tmp, file); // atomic: a concurrent reader sees the whole file or none
    } catch {
      // An unwritable cache only costs a compile per run.
    }
  }
  let module: KernelModule;
  try {
    module = native.loadModule(image);
  } catch (e) {
    throw mapNativeError(e, 'loading the compiled kernels');
  }
  return { module, origin, compileSeconds: seconds, cachePath: existsSync(file) ? file : null };
}
