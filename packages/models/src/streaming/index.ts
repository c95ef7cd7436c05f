export { LayerStreamer, type ParamSink } from './layer-streamer.js';
export { planResidency, type Residency, type ResidencyInput, type ResidencyUnit } from './residency.js';
export { FRAGMENTATION_ALLOWANCE, planModelStreaming, type PlannedFor, type StreamingLoadOptions, type ModelStreamingPlan } from './plan-model.js';
export { unitOf, unitSizes, plannedBytes } from './units.js';
export { cpm1RuntimeBytes, cpm2RuntimeBytes } from './runtime-bytes.js';
export { measureHostToDevice } from './bandwidth.js';
