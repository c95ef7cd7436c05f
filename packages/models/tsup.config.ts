import { nodeTypesDts, packageConfig } from '../../tooling/tsup/config.js';

export default packageConfig({ entry: ['src/index.ts', 'src/plans.ts'], dts: nodeTypesDts });
