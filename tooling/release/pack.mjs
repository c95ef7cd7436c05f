// `pnpm release:pack DIR`: builds everything, packs every publishable workspace package (each one
// without "private": true, so new packages are picked up) into DIR, and checks each tarball: the
// files its manifest points at (dist/, the platform package's addon), LICENSE and README, a manifest
// ready for the registry, and @arethetypeswrong/cli's verdict on its types. Exits 1 naming every problem.
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { promisedFiles, pnpm, workspacePackages } from './manifest.mjs';

const root = resolve(import.meta.dirname, '..', '..');
const dir = process.argv[2] && resolve(process.argv[2]);
if (!dir) {
  console.error('usage: pnpm release:pack DIR   (writes every publishable package as a tarball into DIR)');
  process.exit(2);
}

/** The problems of one packed tarball: [] when it is ready to publish. `scripts` are the workspace
 * manifest's (pnpm leaves the lifecycle scripts out of the packed one). */
function checkTarball(file, privateNames, scripts) {
  const tar = (args) => spawnSync('tar', args, { encoding: 'utf8', maxBuffer: 64 << 20 }).stdout;
  const entries = new Set(tar(['-tzf', file]).split('\n').filter(Boolean).map((e) => e.replace(/^package\//, '')));
  const pkg = JSON.parse(tar(['-xzOf', file, 'package/package.json']));
  const problems = [];
  if (!scripts?.prepack) problems.push('no prepack script: `pnpm publish` would pack it unbuilt (see tooling/release/check-files.mjs)');
  for (const f of [...promisedFiles(pkg), 'LICENSE', 'README.md']) if (!entries.has(f)) problems.push(`${f} is not in the tarball`);
  if (pkg.os && !entries.has('bminf.node')) problems.push('the platform package holds no bminf.node');
  for (const field of ['license', 'engines', 'repository', 'homepage', 'publishConfig']) {
    if (!pkg[field]) problems.push(`the manifest has no "${field}"`);
  }
  const text = JSON.stringify(pkg);
  if (text.includes('"workspace:')) problems.push('a workspace: version range was left in the manifest');
  if (text.includes('"source"')) problems.push('the exports map still has the workspace-only "source" condition (add publishConfig.exports)');
  for (const kind of ['dependencies', 'devDependencies', 'optionalDependencies', 'peerDependencies']) {
    for (const name of Object.keys(pkg[kind] ?? {})) {
      if (privateNames.has(name)) problems.push(`${kind} names ${name}, which is private (never published)`);
    }
  }
  // The platform packages hold a binary and no JavaScript: nothing for attw to check.
  if (!pkg.os) {
    const attw = spawnSync(join(root, 'node_modules', '.bin', 'attw'), [file, '--format', 'ascii'], { encoding: 'utf8' });
    if (attw.status !== 0) problems.push(`attw found problems:\n${attw.stdout}${attw.stderr}`);
  }
  return { pkg, problems, entries: entries.size };
}

console.error('release:pack: building every package (pnpm build)');
pnpm(['build'], { cwd: root, stdio: ['ignore', 'inherit', 'inherit'] });

const packages = workspacePackages(root);
const privateNames = new Set(packages.filter((p) => p.private).map((p) => p.name));
rmSync(dir, { recursive: true, force: true });
mkdirSync(dir, { recursive: true });
let failed = false;
for (const p of packages.filter((p) => !p.private)) {
  const file = resolve(p.path, JSON.parse(pnpm(['pack', '--json', '--pack-destination', dir], { cwd: p.path })).filename);
  const { scripts } = JSON.parse(readFileSync(join(p.path, 'package.json'), 'utf8'));
  const { problems, entries } = checkTarball(file, privateNames, scripts);
  const size = `${(statSync(file).size / 1024).toFixed(0)} KiB`;
  console.log(`${problems.length ? '✗' : '✓'} ${basename(file).padEnd(40)} ${size.padStart(9)} ${String(entries).padStart(4)} files`);
  for (const problem of problems) console.log(`    ${problem}`);
  failed ||= problems.length > 0;
}
if (failed) {
  console.error('release:pack: some tarballs are not ready to publish (above)');
  process.exit(1);
}
console.error(`release:pack: every publishable package is in ${dir}`);
