export * from './config.js';
export * from './plan.js';
export * from './model.js';
export * from './planned-runner.js';
export * from './random.js';
