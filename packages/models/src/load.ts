import { detectArchitecture } from './architecture.js';
import { Cpm1Model, type LoadOptions } from './cpm1/model.js';
import { Cpm2Model } from './cpm2/model.js';
import { readModelConfig } from './model-dir.js';

/**
 * Loads whatever model a directory holds, by its config.json: CPM-1 (Hugging Face GPT-2) as a
 * Cpm1Model, CPM-2 or EVA (Hugging Face T5 with gated GELU) as a Cpm2Model — from the original
 * checkpoint or from bminf-migrate's output alike.
 */
export async function loadModel(dir: string, options: LoadOptions = {}): Promise<Cpm1Model | Cpm2Model> {
  const arch = detectArchitecture(readModelConfig(dir));
  return arch.name === 'cpm1' ? Cpm1Model.load(dir, options) : Cpm2Model.load(dir, options);
}
