export * from './sentencepiece/index.js';
export * from './cpm2/index.js';
