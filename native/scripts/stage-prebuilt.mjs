// The platform packages' prepack (run in the package's folder): copies this machine's build of the addon
// (native/build/Release/bminf.node, from `pnpm build`) into the package, strips it, and writes
// prebuilt.json with what the binary needs of the system it loads on (on Linux: the newest glibc and
// libstdc++ symbol versions it links against). A package for another platform cannot be packed here.
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const nativeDir = join(dirname(fileURLToPath(import.meta.url)), '..');
const { platformKey } = createRequire(import.meta.url)(join(nativeDir, 'platform.cjs'));
const { name } = JSON.parse(readFileSync('package.json', 'utf8'));
const target = name.replace('@bminf/native-', '');

function fail(message) {
  console.error(`${name}: ${message}`);
  process.exit(1);
}

if (target !== platformKey()) {
  fail(`holds the addon built on ${target}; this machine is ${platformKey()}. Pack it on a ${target} machine.`);
}
const built = join(nativeDir, 'build', 'Release', 'bminf.node');
if (!existsSync(built)) fail(`${built} is missing: run \`pnpm build\` at the repository root before packing.`);

copyFileSync(built, 'bminf.node');
execFileSync('strip', process.platform === 'darwin' ? ['-x', 'bminf.node'] : ['--strip-unneeded', 'bminf.node']);

/** The newest version of each symbol-version family (GLIBC_2.34, GLIBCXX_3.4.30) the binary asks for. */
function linuxFloor() {
  const symbols = execFileSync('objdump', ['-T', 'bminf.node'], { encoding: 'utf8' });
  const newest = (family) =>
    [...symbols.matchAll(new RegExp(`\\b${family}_([0-9.]+)`, 'g'))]
      .map((m) => m[1])
      .sort((a, b) => a.localeCompare(b, 'en', { numeric: true }))
      .at(-1);
  return { glibc: newest('GLIBC'), glibcxx: newest('GLIBCXX') };
}

const info = { platform: target, napi: 8, ...(process.platform === 'linux' ? linuxFloor() : {}) };
writeFileSync('prebuilt.json', `${JSON.stringify(info, null, 2)}\n`);
console.error(`${name}: staged the stripped addon (${JSON.stringify(info)})`);
