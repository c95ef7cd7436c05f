import { existsSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { InvalidArgumentError, ModelConfigError, readRegularFileSync, utf8Text } from '@bminf/core';

/** config.json files are kilobytes; anything near this is not one. */
export const MAX_CONFIG_BYTES = 16 * 1024 * 1024;

/** Reads DIR/config.json, with errors that say what is missing and how to get it. */
export function readModelConfig(dir: string): unknown {
  const abs = resolve(dir);
  if (!existsSync(abs)) {
    throw new InvalidArgumentError(`Model directory ${abs} does not exist.`, {
      hint: 'Pass the folder that holds config.json and the weights, e.g. --model models/tiny-cpm1.',
    });
  }
  if (!statSync(abs).isDirectory()) {
    throw new InvalidArgumentError(`${abs} is a file; a model directory was expected.`, {
      hint: 'Pass the folder that holds config.json and the weights.',
    });
  }
  const path = join(abs, 'config.json');
  if (!existsSync(path)) {
    throw new ModelConfigError(`${abs} has no config.json.`, {
      hint: 'A model directory holds config.json, the weights (safetensors or a PyTorch .bin) and the tokenizer.',
    });
  }
  const text = utf8Text(readRegularFileSync(path, { what: 'config.json', maxBytes: MAX_CONFIG_BYTES, error: (m, hint) => new ModelConfigError(m, { hint }) }));
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new ModelConfigError(`${path} is not valid JSON: ${(e as Error).message}.`, { cause: e });
  }
}
