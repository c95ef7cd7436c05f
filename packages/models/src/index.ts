import { registerArchitecture } from './architecture.js';
import { cpm1Architecture } from './cpm1/plan.js';

registerArchitecture(cpm1Architecture);

export * from './architecture.js';
export * from './quantize.js';
export * from './weights.js';
export * from './model-dir.js';
export * from './cpm1/index.js';
export * from './generation/causal-lm.js';
export * from './generation/generate.js';
export * from './generation/perplexity.js';
export * from './generation/sampling.js';
export * from './generation/stop-strings.js';
