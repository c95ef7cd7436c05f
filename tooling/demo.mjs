// `pnpm demo`: the bundled tiny CPM-1 writes a poem on the CPU in int8, through the real `bminf` CLI.
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const args = [
  join(root, 'apps', 'cli', 'dist', 'bin.js'),
  'generate',
  '--model', join(root, 'models', 'tiny-cpm1'),
  '--prompt', '《静夜思》\n作者：李白\n',
  '--dtype', 'int8',
  '--device', 'cpu',
  '--max-tokens', '96',
  '--temperature', '0.8',
  '--top-p', '0.9',
  '--seed', '7',
];
const r = spawnSync(process.execPath, args, { stdio: 'inherit' });
process.exitCode = r.status ?? 1;
