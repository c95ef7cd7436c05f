import { appConfig, nodeTypesDts } from '../../tooling/tsup/config.js';

export default appConfig({ dts: nodeTypesDts });
