export { relativePositionBucket, RelativePositionBias, type PositionBiasConfig } from './position-bias.js';
export { GatedFeedForward, type GatedInputs } from './gated-ffn.js';
export { CrossAttention, type CrossAttentionParams, type CrossKV } from './cross-attention.js';
export { T5EncoderBlock, T5DecoderBlock } from './blocks.js';
