export * from './linear.js';
export * from './layer-norm.js';
export * from './embedding.js';
export * from './kv-cache.js';
export * from './attention.js';
export * from './ffn.js';
export * from './t5/index.js';
