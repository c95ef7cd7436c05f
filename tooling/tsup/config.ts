import { type Options, defineConfig } from 'tsup';

/**
 * The build every package shares, from src/index.ts unless the package names more entries (a bin, a
 * second export): ESM (`.js`, `.d.ts`) and CommonJS (`.cjs`, `.d.cts`) for Node 20, so both `import`
 * and `require()` work in users' projects (see the exports maps). `shims` gives the CommonJS build
 * `import.meta.url`, which the packages use to find files beside them (CUDA sources, the addon).
 */
export function packageConfig(overrides: Options = {}) {
  return defineConfig({
    entry: ['src/index.ts'],
    format: ['esm', 'cjs'],
    shims: true,
    dts: true,
    clean: true,
    sourcemap: true,
    target: 'node20',
    ...overrides,
  });
}

/**
 * An app: its library entry built as every package's, plus its bin (ESM only and untyped: Node runs it,
 * nobody imports it). The library build's clean spares the bin's files, as both builds run at once.
 */
export function appConfig(lib: Options = {}, bin = 'src/bin.ts') {
  return [
    packageConfig({ clean: ['!bin.js', '!bin.js.map'], ...lib }),
    defineConfig({ entry: [bin], format: ['esm'], dts: false, clean: false, sourcemap: true, target: 'node20' }),
  ];
}

/**
 * The .d.ts options of a package whose public types name Node's globals (AbortSignal, streams): they
 * reference @types/node, which such a package declares as a peer dependency, so a TypeScript user's
 * project compiles whether or not it lists @types/node itself.
 */
export const nodeTypesDts = { banner: '/// <reference types="node" />' };
