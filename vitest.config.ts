import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { defineConfig } from 'vitest/config';

// One project per package (its tests live in <pkg>/test), plus `gpu`: the CUDA tests in
// <pkg>/test-gpu and <pkg>/dev, which skip themselves with the reason where no usable GPU is present.
// Tests import the packages' TypeScript sources through the `source` export condition, so only
// the native addon has to be built before they run.
const root = import.meta.dirname;
const dirs = ['packages', 'apps'].flatMap((top) =>
  existsSync(join(root, top)) ? readdirSync(join(root, top)).map((d) => join(top, d)) : [],
);
const shared = {
  resolve: { conditions: ['source'] },
  ssr: { resolve: { conditions: ['source'] } },
};

export default defineConfig({
  test: {
    projects: [
      ...dirs
        .filter((dir) => existsSync(join(root, dir, 'test')))
        .map((dir) => ({
          ...shared,
          test: {
            name: dir.split('/')[1],
            root,
            include: [`${dir}/test/**/*.test.ts`],
            testTimeout: 120_000,
            hookTimeout: 120_000,
          },
        })),
      {
        ...shared,
        test: {
          name: 'gpu',
          root,
          // dev/: kernel variants kept for benchmarks (packages/kernels/dev/cuda), tested on the GPU too.
          include: ['packages/*/test-gpu/**/*.test.ts', 'apps/*/test-gpu/**/*.test.ts', 'packages/*/dev/**/*.test.ts'],
          testTimeout: 300_000,
          hookTimeout: 300_000,
          fileParallelism: false,
        },
      },
    ],
  },
});
