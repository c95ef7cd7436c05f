'use strict';
// The install script: nothing to do where the addon is already there (the prebuilt package for this
// platform, when it loads here, or an earlier build); otherwise it builds from source with cmake-js, and where cmake or a C++
// compiler is missing, or the build fails, it stops the install with the paragraph that says what to
// install and run (npm shows a failing install script's output, and hides a passing one's).
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const { buildHelp, localBuilds, platformKey, prebuiltName } = require('./platform.cjs');

function fail(reason) {
  console.error(buildHelp(reason));
  process.exit(1);
}

/** Whether this platform's prebuilt package is installed and loads (a system older than its glibc floor cannot). */
function prebuiltLoads() {
  try {
    require(require.resolve(`${prebuiltName()}/bminf.node`));
    return true;
  } catch {
    return false;
  }
}

const runs = (cmd) => spawnSync(cmd, ['--version'], { stdio: 'ignore' }).status === 0;

// In the bminf-ts repository, `pnpm build` builds the addon (with every package, through turbo).
const inRepository = fs.existsSync(path.join(__dirname, '..', 'pnpm-workspace.yaml'));
if (!inRepository && !localBuilds.some((p) => fs.existsSync(p)) && !prebuiltLoads()) {
  const compilers = [process.env.CXX, 'c++', 'g++', 'clang++'].filter(Boolean);
  const lacking = [
    !runs('cmake') && 'cmake',
    !compilers.some(runs) && `a C++ compiler (looked for ${compilers.join(', ')})`,
  ].filter(Boolean);
  if (lacking.length) {
    const verb = lacking.length > 1 ? 'were' : 'was';
    fail(`no prebuilt addon loads on ${platformKey()}, and ${lacking.join(' and ')} ${verb} not found on PATH`);
  }

  console.error(`@bminf/native: no prebuilt addon loads on ${platformKey()}; building it from source with cmake-js (a minute or two).`);
  const cmakeJs = path.join(path.dirname(require.resolve('cmake-js/package.json')), 'bin', 'cmake-js');
  const r = spawnSync(process.execPath, [cmakeJs, 'compile', '--out', 'build', '--CDCMAKE_BUILD_TYPE=Release'], {
    cwd: __dirname,
    stdio: 'inherit',
  });
  if (r.status !== 0) fail(`the build from source failed (cmake-js exited with ${r.status ?? r.signal}; its output is above)`);
}
