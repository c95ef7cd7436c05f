// The NativeCuda interface against the addon that loads here: every function it declares exists, and
// the addon exports nothing it does not declare, so the typed binding cannot drift from
// native/src/cuda/*.cc. Needs the addon built, not a GPU (the functions exist either way; without a GPU
// they throw "CUDA is unavailable" when called, and info() says why).
import { describe, expect, it } from 'vitest';
import { loadNativeCuda, NATIVE_CUDA_BENCH_FUNCTIONS, NATIVE_CUDA_FUNCTIONS, nativeLoadError } from '@bminf/cuda-binding';

describe('the addon matches NativeCuda', () => {
  const cuda = loadNativeCuda();
  it('loads', () => {
    expect(nativeLoadError()).toBeNull();
    expect(cuda).not.toBeNull();
  });
  it('has every declared function and no undeclared one', () => {
    const own = Object.keys(cuda ?? {}).sort();
    expect(own).toEqual([...NATIVE_CUDA_FUNCTIONS, 'bench'].sort());
    for (const name of NATIVE_CUDA_FUNCTIONS) expect(typeof cuda?.[name], name).toBe('function');
  });
  it('keeps the benchmark switches apart, under bench', () => {
    const bench = cuda?.bench ?? {};
    expect(Object.keys(bench).sort()).toEqual([...NATIVE_CUDA_BENCH_FUNCTIONS].sort());
    for (const name of NATIVE_CUDA_FUNCTIONS) expect(name).not.toMatch(/^igemm(Mode|Search)$/);
  });
  it('info() answers without a GPU, with a reason exactly when unavailable', () => {
    const info = cuda?.info();
    expect(typeof info?.available).toBe('boolean');
    if (info?.available) expect(info.deviceName).toBeTruthy();
    else expect(info?.reason).toMatch(/\w/);
    expect(cuda?.available()).toBe(info?.available);
  });
});
