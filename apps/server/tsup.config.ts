import { packageConfig } from '../../tooling/tsup/config.js';

// The bin is bundled but gets no .d.ts: only the library entry is typed.
export default packageConfig({ entry: ['src/index.ts', 'src/bin.ts'], dts: { entry: 'src/index.ts' } });
