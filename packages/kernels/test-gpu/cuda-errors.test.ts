// Bad input to the CUDA backend: each a typed error whose message names the problem; none crashes the
// process, and the backend stays usable after each.
import {
  DTypeMismatchError,
  DeviceMismatchError,
  DisposedError,
  InvalidArgumentError,
  OutOfMemoryError,
  ShapeMismatchError,
  tidy,
} from '@bminf/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CudaBackend, createCpuBackend, createCudaBackend, cudaAvailability, cudaInfo } from '@bminf/kernels';
import { cublasLt } from '@bminf/cublaslt';
import { foreignHandle, randInt8, randn, testMemoryLimit } from './helpers.js';

const avail = cudaAvailability();
if (!avail.available) console.log(`[gpu tests] skipped: CUDA is unavailable: ${avail.reason}`);

describe('CUDA availability', () => {
  it('reports a reason exactly when unavailable', () => {
    const info = cudaInfo();
    expect(typeof info.available).toBe('boolean');
    if (info.available) {
      expect(info.deviceName).toBeTruthy();
      expect(info.computeCapability?.length).toBe(2);
      expect(info.paths.cuda && info.paths.cublasLt && info.paths.nvrtc).toBeTruthy();
    } else {
      expect(info.reason).toMatch(/\w/);
      expect(() => createCudaBackend()).toThrow(/CUDA is unavailable/);
    }
  });
});

describe.skipIf(!avail.available)('CUDA backend: bad input', () => {
  let gpu: CudaBackend;
  beforeAll(() => {
    gpu = createCudaBackend({ memoryLimit: testMemoryLimit(2 ** 28) });
  });
  afterAll(() => gpu?.dispose());

  it('shapes cublasLt cannot take', () => {
    tidy(() => {
      const a = gpu.upload(randInt8(3 * 6), [3, 6]);
      const b = gpu.upload(randInt8(8 * 6), [8, 6]);
      expect(() => gpu.igemm(a, b)).toThrow(ShapeMismatchError);
      expect(() => gpu.igemm(a, b)).toThrow(/k = 6 is not a multiple of 4/);
      const c = gpu.upload(randInt8(3 * 8), [3, 8]);
      const d = gpu.upload(randInt8(6 * 8), [6, 8]);
      expect(() => gpu.igemm(c, d)).toThrow(/n = 6 .* not a multiple of 4/);
      expect(() => gpu.igemm(c, b)).toThrow(/same number of columns/);
      // Straight to the wrapper: a misaligned span is refused before cublasLt sees it.
      const sp = gpu.span(c);
      expect(() => cublasLt().igemm({ ...sp, byteOffset: sp.byteOffset + 1 }, gpu.span(c), gpu.span(c), 1, 4, 4)).toThrow(/not 4-byte aligned/);
    });
  });

  it('dtype mismatch', () => {
    tidy(() => {
      const h = gpu.upload(new Uint16Array(16), [4, 4]);
      const f = gpu.upload(randn(16), [4, 4]);
      expect(() => gpu.gemm(h, f)).toThrow(DTypeMismatchError);
      expect(() => gpu.gemm(h, f)).toThrow(/float16 and float32/);
      expect(() => gpu.igemm(f, f)).toThrow(/expected int8 but received float32/);
      expect(() => gpu.quantizeRows(gpu.upload(new Int32Array(4), [2, 2]))).toThrow(DTypeMismatchError);
    });
  });

  it('igemmInto: an output of the wrong dtype, shape or layout', () => {
    tidy(() => {
      const a = gpu.upload(randInt8(16 * 64), [16, 64]);
      const b = gpu.upload(randInt8(32 * 64), [32, 64]);
      expect(() => gpu.igemmInto(a, b, gpu.empty([16, 32], 'float32'))).toThrow(DTypeMismatchError);
      expect(() => gpu.igemmInto(a, b, gpu.empty([16, 32], 'float32'))).toThrow(/expected int32 but received float32/);
      expect(() => gpu.igemmInto(a, b, gpu.empty([16, 31], 'int32'))).toThrow(ShapeMismatchError);
      expect(() => gpu.igemmInto(a, b, gpu.empty([16, 31], 'int32'))).toThrow(/out/);
      expect(() => gpu.igemmInto(a, b, gpu.empty([32, 16], 'int32').transpose())).toThrow(/out/);
      const out = gpu.empty([16, 32], 'int32');
      out.dispose();
      expect(() => gpu.igemmInto(a, b, out)).toThrow(DisposedError);
      gpu.igemmInto(a, b, gpu.empty([16, 32], 'int32')); // still usable
    });
  });

  it('tensors on different devices', () => {
    tidy(() => {
      const cpu = createCpuBackend();
      const onCpu = cpu.upload(randn(16), [4, 4]);
      const onGpu = gpu.upload(randn(16), [4, 4]);
      expect(() => gpu.add(onGpu, onCpu)).toThrow(DeviceMismatchError);
      expect(() => gpu.add(onGpu, onCpu)).toThrow(/a tensor on cpu was given to the cuda:0 backend/);
      expect(() => gpu.download(onCpu)).toThrow(DeviceMismatchError);
    });
  });

  it('use after dispose', () => {
    const t = gpu.upload(randn(8), [8]);
    t.dispose();
    expect(() => gpu.gelu(t)).toThrow(DisposedError);
    expect(() => gpu.download(t)).toThrow(/used after dispose/);
    const other = createCudaBackend({ memoryLimit: 2 ** 24 });
    const u = other.upload(randn(8), [8]);
    other.dispose();
    expect(() => other.gelu(u)).toThrow(/The CUDA backend was used after dispose/);
  });

  it('out of memory names the size and what is free, and leaves the backend usable', () => {
    const before = gpu.memoryStats().bytesInUse;
    expect(() => gpu.empty([2 ** 31], 'float32')).toThrow(OutOfMemoryError);
    expect(() => gpu.empty([2 ** 31], 'float32')).toThrow(/asked for 8\.0 GiB.*largest free block/);
    expect(gpu.memoryStats().bytesInUse).toBe(before);
    tidy(() => {
      const x = gpu.upload(randn(1000), [10, 100]);
      expect(gpu.download(gpu.add(x, x)).length).toBe(1000);
    });
    expect(gpu.memoryStats().bytesInUse).toBe(before);
  });

  it('bad arguments straight to the addon are errors, not crashes', () => {
    const n = gpu.nativeCuda;
    const s = gpu.span(tidy(() => gpu.upload(randn(4), [4])));
    expect(() => n.upload(s.region, s.byteOffset, 8, new Float32Array(4))).toThrow(/the data has 16 bytes but the destination 8/);
    expect(() => n.copy(s.region, s.byteOffset, 2 ** 40, s.region, 0, 2 ** 40)).toThrow(/outside the device region/);
    expect(() => n.fill(s.region, s.byteOffset, 16, 256)).toThrow(/value must be an integer in \[0, 255\]/);
    expect(() => n.launch(foreignHandle(), [1, 1, 1], [1, 1, 1], 0, '', [])).toThrow(/kernel handle/);
    expect(() => n.download(foreignHandle(), 0, 4, new Float32Array(1))).toThrow(/device region handle/);
    expect(() => n.copy(s.region, -1, 4, s.region, 0, 4)).toThrow(/non-negative integer/);
    expect(() => n.gemm('float16', false, false, 64, 64, 64, 1, s.region, s.byteOffset, 16, 64, 0, s.region, s.byteOffset, 16, 64, 0, s.region, s.byteOffset, 16, 1)).toThrow(/span is too short/);
    expect(() => gpu.upload(new Float32Array(5), [2, 2])).toThrow(ShapeMismatchError);
    expect(() => gpu.upload(new Uint8Array(4) as unknown as Int8Array, [4])).toThrow(/not Uint8Array/);
    expect(() => gpu.empty([2, -1], 'float32')).toThrow(InvalidArgumentError);
    expect(() => gpu.softmax(gpu.upload(randn(4), [2, 2]), { scale: Number.NaN })).toThrow(InvalidArgumentError);
  });
});
