export { CPM2_CONFIG, EVA_CONFIG, type Cpm2Config, isT5Config, parseCpm2Config, toT5ConfigJson } from './config.js';
export { cpm2Plan, cpm2Architecture, evaArchitecture } from './plan.js';
export { Cpm2Model, type Cpm2LoadOptions, MAX_ENCODER_TOKENS, MAX_DECODER_TOKENS } from './model.js';
export { Cpm2State } from './state.js';
export { randomCpm2Model } from './random.js';
export type { Cpm2TaskOptions } from './task-options.js';
export {
  fillBlank,
  streamFillBlank,
  streamFillBlankOn,
  fillBlankInput,
  SPAN_TOKEN,
  MAX_SPANS,
  type FillBlankChunk,
  type FillBlankResult,
} from './fill-blank.js';
export {
  dialogue,
  streamDialogue,
  streamDialogueOn,
  dialogueInput,
  DIALOGUE_TRUNCATION,
  type DialogueOptions,
  type DialogueChunk,
  type DialogueResult,
} from './dialogue.js';
export { Cpm2PrefixLM, Cpm2PrefixState, cpm2Generate, streamCpm2Generate, streamCpm2GenerateOn, prefixSequence, GENERATE_SENTINEL } from './prefix-lm.js';
export { Cpm2PlannedRunner, type Cpm2RunnerLimits } from './planned-runner.js';
