/**
 * Upper bounds on the sizes a config.json may declare. They are far above any released model (CPM-2:
 * 24 + 24 layers, d_model 4096, 26 240 tokens; the largest public LMs: ~128 layers, width 25 600,
 * vocabularies of 256 K) and keep a crafted config (n_layer: 1e8) from building a plan of hundreds of
 * millions of tensors, or asking for gigabytes, before a single tensor has been checked.
 */
export const LIMITS = Object.freeze({
  layers: 1024,
  width: 65_536,
  heads: 4096,
  positions: 1 << 20,
  vocab: 1 << 22,
  buckets: 4096,
});
