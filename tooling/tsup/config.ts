import { type Options, defineConfig } from 'tsup';

/**
 * The build every package shares: ESM for Node 20 with .d.ts and source maps, from src/index.ts
 * unless the package names more entries (a bin, a second export).
 */
export function packageConfig(overrides: Options = {}) {
  return defineConfig({
    entry: ['src/index.ts'],
    format: ['esm'],
    dts: true,
    clean: true,
    sourcemap: true,
    target: 'node20',
    ...overrides,
  });
}
