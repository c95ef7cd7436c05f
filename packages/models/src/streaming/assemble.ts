// A model's construction with its weights and layer streamer: whatever fails on the way (making the
// weights, building the model) frees what was made before it, so a failed load leaves no device or
// pinned memory behind. Shared by the loaders and the random models of CPM-1 and CPM-2.
import type { Weights } from '../weights.js';
import type { LayerStreamer } from './layer-streamer.js';

/** construct(weights) over weights made now; on failure the weights and the streamer are freed. */
export function assembleModel<M>(streamer: LayerStreamer | null, makeWeights: () => Weights, construct: (weights: Weights) => M): M {
  try {
    const weights = makeWeights();
    try {
      return construct(weights);
    } catch (e) {
      weights.dispose();
      throw e;
    }
  } catch (e) {
    streamer?.dispose();
    throw e;
  }
}

/** assembleModel over weights read from a checkpoint. */
export async function loadAndAssembleModel<M>(streamer: LayerStreamer | null, loadWeights: () => Promise<Weights>, construct: (weights: Weights) => M): Promise<M> {
  let weights: Weights;
  try {
    weights = await loadWeights();
  } catch (e) {
    streamer?.dispose();
    throw e;
  }
  return assembleModel(streamer, () => weights, construct);
}
