export type { SourceDType, TensorInfo, TensorData, CheckpointSource, ReadOptions } from './types.js';
export { SOURCE_DTYPES, isSourceDType, sourceDTypeSize, sourceDTypeOf, hostDTypeOf, numelOf, toTensorData } from './dtypes.js';
export { MAX_HEADER_BYTES } from './safetensors-header.js';
export { openSafetensors, openSafetensorsIndex } from './safetensors-reader.js';
export { openTorch } from './torch-reader.js';
export { openCheckpoint } from './open.js';
export { SafetensorsWriter, writeSafetensors, shardFileName, DEFAULT_MAX_SHARD_BYTES } from './safetensors-writer.js';
export type { TensorSpec, TensorSource, WriterOptions } from './safetensors-writer.js';
export { StagingDir } from './staging.js';
