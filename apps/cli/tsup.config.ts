import { appConfig } from '../../tooling/tsup/config.js';

export default appConfig();
