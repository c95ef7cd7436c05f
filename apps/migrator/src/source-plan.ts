// Everything that can be checked before a byte is written: the config beside the input, the
// architecture, and every planned tensor's presence and shape in the source checkpoint.
import { existsSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { CheckpointError, ModelConfigError, readRegularFileSync, shapeToString, utf8Text } from '@bminf/core';
import type { CheckpointSource, TensorInfo, TensorSpec } from '@bminf/checkpoint';
import { type Architecture, type ArchitectureName, detectArchitecture, MAX_CONFIG_BYTES, scaleName, type TensorPlan } from '@bminf/models/plans';
import type { OutputDType } from './convert.js';
import { MappedSource } from './layouts.js';

export interface Step {
  plan: TensorPlan;
  info: TensorInfo;
}

/** config.json beside the input (in the folder, or beside the file). */
export function findConfig(input: string): { path: string; config: Record<string, unknown> } {
  const abs = resolve(input);
  const dir = existsSync(abs) && statSync(abs).isDirectory() ? abs : dirname(abs);
  const path = join(dir, 'config.json');
  if (!existsSync(path)) {
    throw new ModelConfigError(`${path} does not exist; the migrator reads the model's config.json beside the weights.`, {
      hint: 'Put the config.json that came with the checkpoint next to it.',
    });
  }
  const text = utf8Text(readRegularFileSync(path, { what: 'config.json', maxBytes: MAX_CONFIG_BYTES, error: (m, hint) => new ModelConfigError(m, { hint }) }));
  let config: unknown;
  try {
    config = JSON.parse(text);
  } catch (cause) {
    throw new ModelConfigError(`${path} is not valid JSON: ${(cause as Error).message}.`, { cause });
  }
  if (config === null || typeof config !== 'object' || Array.isArray(config)) {
    throw new ModelConfigError(`${path} does not hold a JSON object.`, { hint: 'Use the config.json that came with the checkpoint.' });
  }
  if ('bminf' in config) {
    throw new ModelConfigError(`${path} has a "bminf" section: this checkpoint was already migrated.`, {
      hint: 'Load it directly, or migrate the original checkpoint.',
    });
  }
  return { path, config: config as Record<string, unknown> };
}

export function planFor(config: unknown, configPath: string, model: 'auto' | ArchitectureName): { arch: Architecture; plans: TensorPlan[] } {
  try {
    const arch = detectArchitecture(config, model);
    return { arch, plans: arch.plan(config) };
  } catch (e) {
    if (e instanceof ModelConfigError) throw new ModelConfigError(`${configPath}: ${e.message}`, { cause: e });
    throw e;
  }
}

const same = (a: readonly number[], b: readonly number[]) => a.length === b.length && a.every((d, i) => d === b[i]);

/** Finds every planned tensor in the source and checks its shape; all problems are reported at once. */
export function matchSource(source: CheckpointSource, plans: TensorPlan[], arch: string, configPath: string): Step[] {
  const names = new Set(source.names());
  const missing: string[] = [];
  const wrong: string[] = [];
  const steps: Step[] = [];
  for (const plan of plans) {
    const name = [plan.source, ...(plan.aliases ?? [])].find((n) => names.has(n));
    if (!name) {
      const stored = source instanceof MappedSource ? source.storedName(plan.source) : undefined;
      missing.push(`"${stored ?? plan.source}" (for ${plan.name})`);
      continue;
    }
    const info = source.info(name);
    const expected = plan.transpose ? [...plan.shape].reverse() : plan.shape;
    if (!same(info.shape, expected)) {
      const stored = source instanceof MappedSource ? ` (from "${source.storedName(name)}")` : '';
      wrong.push(`"${name}"${stored} has shape ${shapeToString(info.shape)} but ${configPath} implies ${shapeToString(expected)}`);
      continue;
    }
    steps.push({ plan, info });
  }
  const list = (xs: string[]) => (xs.length > 6 ? `${xs.slice(0, 6).join('; ')}; and ${xs.length - 6} more` : xs.join('; '));
  if (missing.length > 0) {
    throw new CheckpointError(`lacks ${missing.length} tensor(s) that ${arch} needs: ${list(missing)}.`, {
      file: source.path,
      hint: 'Check that the checkpoint and config.json belong together (same architecture and layer count), or pass --model.',
    });
  }
  if (wrong.length > 0) {
    throw new CheckpointError(`has ${wrong.length} tensor(s) whose shape disagrees with the config: ${list(wrong)}.`, {
      file: source.path,
      hint: 'Use the config.json that came with these weights.',
    });
  }
  return steps;
}

/** The output tensors, in writing order. */
export function outputSpecs(steps: Step[], dtype: OutputDType): TensorSpec[] {
  return steps.flatMap(({ plan }) =>
    plan.quantize && dtype === 'int8'
      ? [
          { name: plan.name, dtype: 'I8' as const, shape: plan.shape },
          { name: scaleName(plan.name), dtype: 'F16' as const, shape: [plan.shape[0]] },
        ]
      : [{ name: plan.name, dtype: 'F16' as const, shape: plan.shape }],
  );
}
