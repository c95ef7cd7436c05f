'use strict';
// Loads the compiled addon, with an error that says how to build it when it is missing.
const path = require('node:path');
const fs = require('node:fs');

// BMINF_NATIVE points at another build of the addon (a side build while developing native code).
const candidates = [
  ...(process.env.BMINF_NATIVE ? [path.resolve(process.env.BMINF_NATIVE)] : []),
  path.join(__dirname, 'build', 'Release', 'bminf.node'),
  path.join(__dirname, 'build', 'Debug', 'bminf.node'),
];
const found = candidates.find((p) => fs.existsSync(p));
if (!found) {
  const err = new Error(
    `The bminf native addon is not built (looked for ${candidates[0]}). ` +
      'Build it with `pnpm build` from the repository root (it needs cmake and a C++17 compiler; no CUDA toolkit is required).',
  );
  err.code = 'BMINF_NATIVE_MISSING';
  throw err;
}
module.exports = require(found);
module.exports.path = found;
