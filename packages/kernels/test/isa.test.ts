// Choosing the CPU kernel path and the thread count: BMINF_CPU_ISA at start-up (a real child process),
// setIsa and setThreads at run time, and their bad input.
import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { InvalidArgumentError } from '@bminf/core';
import { afterEach, describe, expect, it } from 'vitest';
import { CPU_ISAS, CpuBackend, createCpuBackend } from '@bminf/kernels';
import { ISAS } from './helpers.js';

afterEach(() => {
  CpuBackend.setIsa(null);
  createCpuBackend({ threads: defaultThreads }).dispose();
});

const defaultThreads = CpuBackend.kernelInfo().threads;

/** cpu.info() of the addon in a fresh node process with `env` added. */
function childInfo(env: Record<string, string>): { isa: string; threads: number } {
  const addon = createRequire(import.meta.url).resolve('@bminf/native');
  const out = execFileSync(process.execPath, ['-e', `const c = require(${JSON.stringify(addon)}).cpu.info(); console.log(JSON.stringify(c))`], {
    env: { ...process.env, BMINF_CPU_ISA: '', BMINF_CPU_PLAIN: '', BMINF_CPU_THREADS: '', ...env },
    encoding: 'utf8',
  });
  return JSON.parse(out) as { isa: string; threads: number };
}

describe('kernel paths', () => {
  it('lists the paths this CPU has, plain first, and uses the best by default', () => {
    const info = CpuBackend.kernelInfo();
    expect(info.isas[0]).toBe('plain');
    expect(info.isas.every((i) => CPU_ISAS.includes(i))).toBe(true);
    expect(info.isa).toBe(info.isas[info.isas.length - 1]);
    expect(info.usingAvx2).toBe(info.isa !== 'plain');
  });

  it('BMINF_CPU_ISA forces a path at start-up (the highest below it where the CPU lacks it); BMINF_CPU_PLAIN=1 means plain', () => {
    for (const isa of CPU_ISAS) {
      const want = ISAS.filter((i) => CPU_ISAS.indexOf(i) <= CPU_ISAS.indexOf(isa)).at(-1);
      expect(childInfo({ BMINF_CPU_ISA: isa }).isa).toBe(want);
    }
    expect(childInfo({ BMINF_CPU_PLAIN: '1' }).isa).toBe('plain');
    expect(childInfo({}).isa).toBe(ISAS[ISAS.length - 1]);
  });

  it('setIsa switches paths and null restores the default; unknown names are typed errors', () => {
    for (const isa of ISAS) {
      CpuBackend.setIsa(isa);
      expect(CpuBackend.kernelInfo().isa).toBe(isa);
    }
    CpuBackend.setIsa(null);
    expect(CpuBackend.kernelInfo().isa).toBe(ISAS[ISAS.length - 1]);
    expect(() => CpuBackend.setIsa('sse' as never)).toThrow(InvalidArgumentError);
  });
});

describe('threads', () => {
  it('BMINF_CPU_THREADS sets the count at start-up', () => {
    expect(childInfo({ BMINF_CPU_THREADS: '3' }).threads).toBe(3);
  });

  it('the threads option sets the count process-wide, and results do not depend on it', () => {
    const b = createCpuBackend({ threads: 1 });
    expect(CpuBackend.kernelInfo().threads).toBe(1);
    const [m, n, k] = [40, 300, 700];
    const a = b.upload(Int8Array.from({ length: m * k }, (_, i) => ((i * 37) % 255) - 127), [m, k]);
    const w = b.upload(Int8Array.from({ length: n * k }, (_, i) => ((i * 101) % 255) - 127), [n, k]);
    const one = b.download(b.igemm(a, w));
    CpuBackend.setThreads(3); // more than this machine may have: workers are started as needed
    expect(CpuBackend.kernelInfo().threads).toBe(3);
    expect(b.download(b.igemm(a, w))).toEqual(one);
    b.dispose();
  });

  it('rejects counts that are not integers from 1 to 256', () => {
    for (const bad of [0, -1, 1.5, 257, Number.NaN]) {
      expect(() => CpuBackend.setThreads(bad)).toThrow(InvalidArgumentError);
      expect(() => createCpuBackend({ threads: bad })).toThrow(/threads must be an integer from 1 to 256/);
    }
  });
});
