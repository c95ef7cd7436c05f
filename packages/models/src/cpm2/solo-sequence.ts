import type { EngineSequence } from '../engine/engine.js';
import type { Cpm2Model } from './model.js';

/** A sequence over CPM-2's own decoding state for encoderIds, one forward after another (no engine). */
export function soloCpm2Sequence(model: Cpm2Model, encoderIds: readonly number[]): EngineSequence {
  const state = model.newState(encoderIds);
  return {
    forward: async (ids) => model.decoderForward(ids, state),
    get length() {
      return state.length;
    },
    close: () => state.dispose(),
  };
}
