// The migrator on a CPM-2 / EVA (T5) checkpoint: the int8 output loads as the same model that
// quantizing on load gives, bit for bit.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Cpm2Model } from '@bminf/models';
import { afterAll, describe, expect, it } from 'vitest';
import { migrate } from '../src/index.js';

const fixtures = join(import.meta.dirname, '../../../models/fixtures');
const tmp = mkdtempSync(join(tmpdir(), 'bminf-migrate-cpm2-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe.each(['cpm2-tiny', 'eva-tiny'])('migrating %s', (name) => {
  it('writes int8 weights that load as the model quantized on load', async () => {
    const out = join(tmp, name);
    const summary = await migrate({ input: join(fixtures, name), output: out, dtype: 'int8' });
    expect(summary.architecture).toBe(name === 'eva-tiny' ? 'eva' : 'cpm2');
    const direct = await Cpm2Model.load(join(fixtures, name), { dtype: 'int8', device: 'cpu' });
    const migrated = await Cpm2Model.load(out, { dtype: 'int8', device: 'cpu' });
    try {
      const enc = [10, 20, 30, 40, 50, 60];
      expect(migrated.encoderOutput(enc)).toEqual(direct.encoderOutput(enc));
      const a = direct.newState(enc);
      const b = migrated.newState(enc);
      expect(migrated.decoderForward([2, 408, 7], b, { allLogits: true })).toEqual(direct.decoderForward([2, 408, 7], a, { allLogits: true }));
      a.dispose();
      b.dispose();
      expect(migrated.encode('床前明月光')).toEqual(direct.encode('床前明月光')); // vocab.txt travelled
    } finally {
      direct.dispose();
      migrated.dispose();
    }
  });
});
