import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ModelConfigError } from '@bminf/core';
import { describe, expect, it } from 'vitest';
import { Cpm1Model, Cpm2Model, loadModel } from '../src/index.js';
import { repoRoot, tinyDir } from './helpers.js';

describe('loadModel', () => {
  it.each([
    [tinyDir, Cpm1Model],
    [join(repoRoot, 'models', 'fixtures', 'cpm2-tiny'), Cpm2Model],
    [join(repoRoot, 'models', 'fixtures', 'eva-tiny'), Cpm2Model],
  ])('picks the model class from config.json (%s)', async (dir, cls) => {
    const m = await loadModel(dir, { dtype: 'fp32', device: 'cpu' });
    try {
      expect(m).toBeInstanceOf(cls);
    } finally {
      m.dispose();
    }
  });

  it('names what it supports for an architecture it does not know', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'bminf-load-'));
    try {
      writeFileSync(join(dir, 'config.json'), JSON.stringify({ model_type: 'llama' }));
      await expect(loadModel(dir)).rejects.toThrow(ModelConfigError);
      await expect(loadModel(dir)).rejects.toThrow(/model_type: "llama".*Supported: cpm1/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
