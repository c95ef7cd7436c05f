'use strict';
// Which prebuilt addon package fits this machine, and what to tell a user for whom none does. Shared by
// the loader (index.cjs) and the install script (install.cjs).
const fs = require('node:fs');
const path = require('node:path');

/**
 * Whether this Linux runs musl rather than glibc. Reading ldd, as detect-libc does first, costs nothing;
 * process.report (tens of milliseconds at every start) is only the fallback.
 */
function isMusl() {
  try {
    return fs.readFileSync('/usr/bin/ldd', 'latin1').includes('musl');
  } catch {
    return !process.report.getReport().header.glibcVersionRuntime;
  }
}

/** This machine as the platform packages name it: linux-x64-gnu, linux-arm64-gnu, darwin-arm64, ... */
function platformKey() {
  const base = `${process.platform}-${process.arch}`;
  return process.platform === 'linux' ? `${base}-${isMusl() ? 'musl' : 'gnu'}` : base;
}

/** The glibc this process runs on ('2.36'), or null (not Linux, or musl). */
function glibcVersion() {
  return process.platform === 'linux' ? (process.report.getReport().header.glibcVersionRuntime ?? null) : null;
}

const prebuiltName = (key = platformKey()) => `@bminf/native-${key}`;

/** The platforms with a prebuilt package: @bminf/native's optional dependencies. */
function prebuiltPlatforms() {
  const { optionalDependencies = {} } = require('./package.json');
  return Object.keys(optionalDependencies).map((name) => name.replace('@bminf/native-', ''));
}

/**
 * The one paragraph a user reads when the addon is not there: why, then what to install and run. Building
 * from source needs cmake and a C++17 compiler, no CUDA toolkit; npm runs it at install, pnpm only once
 * the package's build is allowed.
 */
function buildHelp(reason) {
  const key = platformKey();
  const prebuilt = prebuiltPlatforms();
  return (
    `The bminf native addon is not available: ${reason}. ` +
    (prebuilt.includes(key)
      ? `A prebuilt addon exists for this machine (${key}) in ${prebuiltName(key)}, an optional dependency of @bminf/native: ` +
        'reinstall without --omit=optional / --no-optional, or build from source. '
      : `No prebuilt addon exists for ${key} (prebuilt: ${prebuilt.join(', ') || 'none'}), so it is built from source. `) +
    'To build it, install cmake (3.18 or newer) and a C++17 compiler (Debian/Ubuntu: `sudo apt-get install cmake g++`; ' +
    'Fedora: `sudo dnf install cmake gcc-c++`; macOS: `xcode-select --install && brew install cmake`; no CUDA toolkit is needed), then run ' +
    '`npm rebuild @bminf/native` (pnpm: allow the build with `pnpm approve-builds` or `allowBuilds: { "@bminf/native": true }` in ' +
    'pnpm-workspace.yaml, then `pnpm rebuild @bminf/native`). ' +
    `In a copy of the bminf-ts repository, \`pnpm build\` builds it. Package folder: ${__dirname}`
  );
}

/** Where a build from source (install.cjs, `npm run build`) or the repository's `pnpm build` puts the addon. */
const localBuilds = [path.join(__dirname, 'build', 'Release', 'bminf.node'), path.join(__dirname, 'build', 'Debug', 'bminf.node')];

module.exports = { platformKey, glibcVersion, prebuiltName, prebuiltPlatforms, buildHelp, localBuilds };
