'use strict';
// Loads the addon from the first of: $BMINF_NATIVE (another build, while developing native code), this
// package's own build (the repository's `pnpm build`, or the build from source at install), and the
// prebuilt package for this platform (@bminf/native-linux-x64-gnu, ...; optional dependencies). When
// none loads it throws an Error with code BMINF_NATIVE_MISSING that says what to install and run.
const fs = require('node:fs');
const path = require('node:path');
const { buildHelp, glibcVersion, localBuilds, prebuiltName } = require('./platform.cjs');

function missing(reason, cause) {
  const err = new Error(buildHelp(reason), cause ? { cause } : undefined);
  err.code = 'BMINF_NATIVE_MISSING';
  return err;
}

/** The prebuilt package's bminf.node and what it states about itself (prebuilt.json), or null. */
function findPrebuilt() {
  try {
    const file = require.resolve(`${prebuiltName()}/bminf.node`);
    return { file, ...require(path.join(path.dirname(file), 'prebuilt.json')) };
  } catch {
    return null;
  }
}

const own = [...(process.env.BMINF_NATIVE ? [path.resolve(process.env.BMINF_NATIVE)] : []), ...localBuilds].find((p) =>
  fs.existsSync(p),
);
const prebuilt = own ? null : findPrebuilt();
const found = own ?? prebuilt?.file;
if (!found) throw missing(`no build was found (looked for ${localBuilds[0]} and the package ${prebuiltName()})`);

let addon;
try {
  addon = require(found);
} catch (e) {
  const glibc = glibcVersion();
  const tooOld = prebuilt?.glibc && glibc && compareVersions(glibc, prebuilt.glibc) < 0;
  throw missing(
    `${found} did not load (${e.message.split('\n')[0]})` +
      (tooOld ? `; the prebuilt addon needs glibc ${prebuilt.glibc} or newer and this system has ${glibc}` : ''),
    e,
  );
}

function compareVersions(a, b) {
  const [x, y] = [a, b].map((v) => v.split('.').map(Number));
  for (let i = 0; i < Math.max(x.length, y.length); i++) if ((x[i] ?? 0) !== (y[i] ?? 0)) return (x[i] ?? 0) - (y[i] ?? 0);
  return 0;
}

// Plain identifiers in one object literal, so Node's ESM loader sees the names: `import { cpu } from '@bminf/native'`.
const { version, cpu, cuda } = addon;
module.exports = { path: found, version, cpu, cuda, prebuilt };
