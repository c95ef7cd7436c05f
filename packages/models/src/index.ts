import { registerArchitecture } from './architecture.js';
import { cpm1Architecture } from './cpm1/plan.js';
import { cpm2Architecture, evaArchitecture } from './cpm2/plan.js';

registerArchitecture(cpm1Architecture);
// EVA first: it matches T5 configs with max distance 256, CPM-2 any other T5 config.
registerArchitecture(evaArchitecture);
registerArchitecture(cpm2Architecture);

export * from './architecture.js';
export * from './quantize.js';
export * from './ties.js';
export * from './weights.js';
export * from './model-dir.js';
export * from './model-base.js';
export * from './cpm1/index.js';
export * from './cpm2/index.js';
export * from './load.js';
export * from './generation/causal-lm.js';
export * from './generation/generate.js';
export * from './generation/perplexity.js';
export * from './generation/sampling.js';
export * from './generation/stop-strings.js';
export * from './engine/index.js';
export * from './streaming/index.js';
