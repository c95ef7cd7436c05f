export { Engine, type EngineOptions, type EngineSequence, type EngineStats } from './engine.js';
export { EagerRunner, type EngineModel, type ModelRunner, type StepItem } from './runner.js';
