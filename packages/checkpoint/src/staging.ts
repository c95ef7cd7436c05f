// A temporary folder beside the target that is renamed into place only when complete, so a failure
// (or a crash) never leaves partial output at the target.
import { mkdir, readdir, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { randomBytes } from 'node:crypto';
import { CheckpointError } from '@bminf/core';

async function exists(p: string): Promise<boolean> {
  try {
    await stat(p);
    return true;
  } catch {
    return false;
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM'; // alive, but another user's
  }
}

/**
 * Removes the staging folders of `target` (`.<name>.tmp-<pid>-<hex>`, and their `.old` during a
 * replace) left by processes that no longer run: a migration killed with SIGKILL cannot clean up,
 * and would otherwise leave hundreds of megabytes beside the output for good. A folder whose process
 * still runs (a concurrent run) is left alone.
 */
async function removeStale(abs: string): Promise<void> {
  const prefix = `.${basename(abs)}.tmp-`;
  let names: string[];
  try {
    names = await readdir(dirname(abs));
  } catch {
    return; // a missing parent is reported by mkdir below
  }
  for (const name of names) {
    if (!name.startsWith(prefix)) continue;
    const m = /^(\d+)-[0-9a-f]{8}(\.old)?$/.exec(name.slice(prefix.length));
    if (!m || isAlive(Number(m[1]))) continue;
    await rm(join(dirname(abs), name), { recursive: true, force: true });
  }
}

export class StagingDir {
  readonly target: string;
  readonly dir: string;
  private readonly overwrite: boolean;
  private done = false;

  private constructor(target: string, dir: string, overwrite: boolean) {
    this.target = target;
    this.dir = dir;
    this.overwrite = overwrite;
  }

  /** Checks the target up front (so nothing is converted for an output that cannot be written). */
  static async create(target: string, options: { overwrite?: boolean } = {}): Promise<StagingDir> {
    const abs = resolve(target);
    const overwrite = options.overwrite ?? false;
    if (!overwrite && (await exists(abs))) {
      throw new CheckpointError('already exists.', {
        file: abs,
        hint: 'Choose another output folder, or pass --force (overwrite: true) to replace it.',
      });
    }
    await removeStale(abs);
    const dir = join(dirname(abs), `.${basename(abs)}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`);
    try {
      await mkdir(dir, { recursive: false });
    } catch (cause) {
      throw new CheckpointError(
        `cannot create the temporary folder beside it (${(cause as NodeJS.ErrnoException).code ?? (cause as Error).message}).`,
        { file: abs, hint: `Make sure ${dirname(abs)} exists and is writable.`, cause },
      );
    }
    return new StagingDir(abs, dir, overwrite);
  }

  /** Moves the finished folder to the target (replacing an old one only when allowed). */
  async commit(): Promise<void> {
    if (this.done) throw new CheckpointError('the output was already committed or aborted.', { file: this.target });
    const old = (await exists(this.target)) ? `${this.dir}.old` : undefined;
    if (old && !this.overwrite) {
      await this.abort();
      throw new CheckpointError('appeared while the output was being written; nothing was replaced.', {
        file: this.target,
        hint: 'Choose another output folder, or pass --force to replace it.',
      });
    }
    try {
      if (old) await rename(this.target, old);
      try {
        await rename(this.dir, this.target);
      } catch (e) {
        if (old) await rename(old, this.target);
        throw e;
      }
    } catch (cause) {
      await this.abort();
      throw new CheckpointError(`cannot move the finished output into place (${(cause as Error).message}).`, {
        file: this.target,
        hint: 'Check the permissions of its folder.',
        cause,
      });
    }
    this.done = true;
    if (old) await rm(old, { recursive: true, force: true });
  }

  /** Removes the temporary folder; safe to call more than once. */
  async abort(): Promise<void> {
    if (this.done) return;
    this.done = true;
    await rm(this.dir, { recursive: true, force: true });
  }
}
