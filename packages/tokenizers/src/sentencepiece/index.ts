export { SentencePieceTokenizer } from './tokenizer.js';
