// The real `bminf` binary (apps/cli/dist/bin.js, built by `pnpm build`) in a child process.
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';

export const root = join(import.meta.dirname, '..', '..', '..');
export const bin = join(root, 'apps', 'cli', 'dist', 'bin.js');
const run = promisify(execFile);

/** Runs bminf with args; a child that hangs or runs away is killed before vitest's own timeout (and its case fails). */
export async function bminf(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [bin, ...args], { maxBuffer: 1 << 26, timeout: 110_000, killSignal: 'SIGKILL' });
    return { code: 0, stdout, stderr };
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string };
    return { code: err.code, stdout: err.stdout, stderr: err.stderr };
  }
}
