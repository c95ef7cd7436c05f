import { InvalidArgumentError, ModelConfigError } from '@bminf/core';

/**
 * How one tensor of bminf's canonical layout is made from a source checkpoint. The model loader and
 * the migrator both follow these plans, so a migrated checkpoint and one quantized while loading are
 * the same bytes.
 */
export interface TensorPlan {
  /** Canonical name, e.g. 'layers.0.attn.qkv.weight'. */
  name: string;
  /** Name in the source checkpoint. */
  source: string;
  /** Other names the source may use (checkpoints saved without the 'transformer.' prefix, say). */
  aliases?: string[];
  /** Canonical shape (after the transpose). */
  shape: number[];
  /** The source stores [in, out] (GPT-2's Conv1D): transpose to [out, in]. */
  transpose?: boolean;
  /** A linear weight: int8 per output row, with '<name>_scale' float16 [out], in int8 models. */
  quantize: boolean;
  /**
   * Other names under which a checkpoint may store a tied copy of this tensor (T5's per-stack
   * embed_tokens beside `shared`, GPT-2's lm_head beside wte). bminf runs one table; a copy that
   * holds different values would be used by transformers and is refused rather than ignored.
   */
  ties?: string[];
}

export type ArchitectureName = 'cpm1' | 'cpm2' | 'eva';

export interface Architecture {
  name: ArchitectureName;
  /** True when a Hugging Face (or bminf) config.json describes this architecture. */
  matches(config: unknown): boolean;
  /** Every tensor the model needs; throws ModelConfigError for configs it cannot take. */
  plan(config: unknown): TensorPlan[];
}

const registry: Architecture[] = [];

export function registerArchitecture(arch: Architecture): void {
  if (!registry.some((a) => a.name === arch.name)) registry.push(arch);
}

export function architectures(): readonly Architecture[] {
  return registry;
}

/** The canonical name of a quantized weight's per-row scales. */
export function scaleName(weightName: string): string {
  return `${weightName}_scale`;
}

/** Picks the architecture for a config: the one requested, or the first whose matches() accepts it. */
export function detectArchitecture(config: unknown, requested: 'auto' | ArchitectureName = 'auto'): Architecture {
  const bminf = (config as { bminf?: { architecture?: string } } | null)?.bminf;
  if (requested === 'auto' && bminf?.architecture) requested = bminf.architecture as ArchitectureName;
  if (requested !== 'auto') {
    const arch = registry.find((a) => a.name === requested);
    if (!arch) {
      throw new InvalidArgumentError(`Unknown model architecture "${requested}".`, {
        hint: `Use one of: ${registry.map((a) => a.name).join(', ')}.`,
      });
    }
    return arch;
  }
  const arch = registry.find((a) => a.matches(config));
  if (!arch) {
    const type = (config as { model_type?: string } | null)?.model_type;
    throw new ModelConfigError(`config.json describes no architecture bminf knows (model_type: ${JSON.stringify(type)}).`, {
      hint: `Supported: ${registry.map((a) => a.name).join(', ')} (Hugging Face gpt2 for CPM-1, t5 with gated-gelu for CPM-2/EVA).`,
    });
  }
  return arch;
}
