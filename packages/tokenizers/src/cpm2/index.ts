export { Cpm2Tokenizer, CPM2_SENTINELS, CPM2_REQUIRED_TOKENS, type Cpm2EncodeOptions } from './tokenizer.js';
export { Cpm1JiebaTokenizer, type PieceEncoder } from './cpm1-jieba.js';
export { parseVocab } from './vocab.js';
export { fullWidthToHalfWidth, encodeWhitespace, decodeWhitespace, SPACE_MARK, NEWLINE_MARK } from './normalize.js';
