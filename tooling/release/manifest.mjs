// What a package manifest promises to ship, and the workspace's packages: shared by the prepack guard
// (check-files.mjs), `pnpm release:pack` (pack.mjs) and `pnpm test:install`.
import { spawnSync } from 'node:child_process';

/**
 * The files a manifest points users at: every target of its published exports map (pnpm publishes
 * publishConfig.exports in place of exports; the workspace-only `source` condition is left out), main,
 * types and bin.
 */
export function promisedFiles(pkg) {
  const targets = [];
  const walk = (node, condition) => {
    if (typeof node === 'string') {
      if (condition !== 'source' && !node.includes('*')) targets.push(node);
    } else if (node && typeof node === 'object') {
      for (const [key, value] of Object.entries(node)) walk(value, key);
    }
  };
  walk(pkg.publishConfig?.exports ?? pkg.exports);
  walk(pkg.main);
  walk(pkg.types);
  walk(typeof pkg.bin === 'string' ? { [pkg.name]: pkg.bin } : pkg.bin);
  return [...new Set(targets.map((t) => t.replace(/^\.\//, '')))];
}

/** Runs pnpm (the one running this script when it runs as a pnpm script, else pnpm 12 through npx). */
export function pnpm(args, options = {}) {
  const exec = process.env.npm_execpath;
  const [cmd, pre] = !exec
    ? ['npx', ['-y', 'pnpm@12']]
    : /\.[cm]?js$/.test(exec)
      ? [process.execPath, [exec]]
      : [exec, []];
  const r = spawnSync(cmd, [...pre, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], ...options });
  if (r.status !== 0) throw new Error(`pnpm ${args.join(' ')} failed (exit ${r.status ?? r.signal})`);
  return r.stdout;
}

/** Every package of the workspace (the root left out): { name, version, path, private }. */
export function workspacePackages(root) {
  const list = JSON.parse(pnpm(['ls', '-r', '--depth', '-1', '--json'], { cwd: root }));
  return list.filter((p) => p.path !== root).map(({ name, version, path, private: isPrivate }) => ({ name, version, path, private: !!isPrivate }));
}
