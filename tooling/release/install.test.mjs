// `pnpm test:install`: bminf as its users get it. A fresh clone of this repository runs
// `pnpm release:pack` and is deleted; empty projects outside it then install the tarballs (with npm,
// with pnpm, and with npm without the platform package, where the addon is built from source) and run
// the CLI, the migrator, ESM and CommonJS scripts and a strict TypeScript check against what they got.
// Registry packages (zod, commander, cmake-js, ...) come from npm's registry, as for any user.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { pnpm } from './manifest.mjs';

const repo = resolve(import.meta.dirname, '..', '..');
const work = mkdtempSync(join(tmpdir(), 'bminf-install-'));
const tarballs = join(work, 'tarballs');
const model = join(work, 'tiny-cpm1');
const npmCli = realpathSync(spawnSync('sh', ['-c', 'command -v npm'], { encoding: 'utf8' }).stdout.trim());
const tsc = join(repo, 'node_modules', 'typescript', 'bin', 'tsc'); // a tool, not one of ours
const prompt = '床前明月光，';

/** Runs a command; returns { status, out } with stdout and stderr together. */
function run(cmd, args, { cwd, env = process.env } = {}) {
  const r = spawnSync(cmd, args, { cwd, env, encoding: 'utf8', maxBuffer: 64 << 20 });
  return { status: r.status, out: `${r.stdout ?? ''}${r.stderr ?? ''}${r.error ? String(r.error) : ''}` };
}
function ok(cmd, args, options) {
  const r = run(cmd, args, options);
  assert.equal(r.status, 0, `${cmd} ${args.join(' ')} exited ${r.status}:\n${r.out}`);
  return r.out;
}
const npm = (args, options) => ok(process.execPath, [npmCli, '--no-audit', '--no-fund', ...args], options);
/** A bin as the user runs it: node_modules/.bin/NAME. */
const bin = (project, name, args) => run(join(project, 'node_modules', '.bin', name), args, { cwd: project });

/** Our tarballs by package name (read from each tarball's manifest). */
function ours() {
  return Object.fromEntries(
    readdirSync(tarballs).map((f) => {
      const file = join(tarballs, f);
      return [JSON.parse(ok('tar', ['-xzOf', file, 'package/package.json'])).name, file];
    }),
  );
}

/**
 * An empty project depending on every tarball but those left out; overrides point every package of ours
 * at its tarball (npm's `overrides`, pnpm's in pnpm-workspace.yaml), so nothing of ours comes from a registry.
 */
function project(name, { leaveOut = [], manager = 'npm' } = {}) {
  const dir = join(work, name);
  mkdirSync(dir);
  const files = Object.fromEntries(Object.entries(ours()).map(([pkg, file]) => [pkg, `file:${file}`]));
  const dependencies = Object.fromEntries(Object.entries(files).filter(([pkg]) => !leaveOut.includes(pkg)));
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name, private: true, dependencies, ...(manager === 'npm' ? { overrides: files } : {}) }, null, 2));
  if (manager === 'pnpm') {
    // pnpm stops at a dependency's install script until it is allowed, as the README tells users to do
    // (a registry user writes the bare name; a tarball needs pnpm's exact selector).
    const native = `@bminf/native@file:${relative(dir, ours()['@bminf/native'])}`;
    const overrides = Object.entries(files).map(([p, f]) => `  '${p}': '${f}'`).join('\n');
    writeFileSync(join(dir, 'pnpm-workspace.yaml'), `allowBuilds:\n  '${native}': true\noverrides:\n${overrides}\n`);
  }
  return dir;
}

/** The scripts a user writes: greedy generation on tiny-cpm1, printing the text. */
function writeScripts(dir) {
  const body = (load) => `${load}
const model = await Cpm1Model.load(${JSON.stringify(model)}, { dtype: 'int8', device: 'cpu' });
const { text } = await generate(model, ${JSON.stringify(prompt)}, { maxTokens: 8, greedy: true });
model.dispose();
process.stdout.write(text);`;
  writeFileSync(join(dir, 'generate.mjs'), body("import { Cpm1Model, generate } from '@bminf/models';"));
  writeFileSync(join(dir, 'generate.cjs'), `(async () => {\n${body("const { Cpm1Model, generate } = require('@bminf/models');")}\n})();`);
}

/** The text the CLI generates greedily; the scripts must print the same. */
function cliText(dir) {
  const r = bin(dir, 'bminf', ['generate', '--model', model, '--prompt', prompt, '--max-tokens', '8', '--greedy', '--device', 'cpu', '--json']);
  assert.equal(r.status, 0, r.out);
  const out = JSON.parse(r.out);
  assert.ok(out.ids.length > 0 && out.text.length > 0, r.out);
  return out.text;
}

function generatesAlike(dir) {
  writeScripts(dir);
  const text = cliText(dir);
  assert.equal(ok(process.execPath, ['generate.mjs'], { cwd: dir }), text, 'the ESM script');
  assert.equal(ok(process.execPath, ['generate.cjs'], { cwd: dir }), text, 'the CommonJS script');
}

before(() => {
  const clone = join(work, 'clone');
  ok('git', ['clone', '--quiet', repo, clone]);
  pnpm(['install', '--frozen-lockfile'], { cwd: clone, stdio: ['ignore', 'inherit', 'inherit'] });
  pnpm(['release:pack', tarballs], { cwd: clone, stdio: ['ignore', 'inherit', 'inherit'] });
  rmSync(clone, { recursive: true, force: true });
  cpSync(join(repo, 'models', 'tiny-cpm1'), model, { recursive: true });
});
after(() => rmSync(work, { recursive: true, force: true }));

describe('npm, every package', () => {
  let dir;
  before(() => {
    dir = project('with-npm');
    npm(['install'], { cwd: dir });
  });
  test('bminf --help and --version', () => {
    assert.match(bin(dir, 'bminf', ['--help']).out, /generate/);
    assert.equal(bin(dir, 'bminf', ['--version']).out.trim(), JSON.parse(readFileSync(join(dir, 'node_modules', 'bminf', 'package.json'), 'utf8')).version);
  });
  test('bminf info names the prebuilt addon and its glibc floor', () => {
    const r = bin(dir, 'bminf', ['info']);
    assert.equal(r.status, 0, r.out);
    assert.match(r.out, /prebuilt for linux-x64-gnu, needs glibc 2\.\d+/);
  });
  test('bminf generate, an ESM and a CommonJS script generate the same text', () => generatesAlike(dir));
  test('bminf-migrate --dry-run', () => {
    const r = bin(dir, 'bminf-migrate', ['--input', model, '--output', join(work, 'migrated'), '--dry-run', '--json']);
    assert.equal(r.status, 0, r.out);
    assert.match(r.out, /"event":"summary".*"dryRun":true/);
  });
  test('TypeScript (nodenext, skipLibCheck false) compiles against the types, ESM and CommonJS', () => {
    writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify({
      compilerOptions: { module: 'nodenext', moduleResolution: 'nodenext', strict: true, skipLibCheck: false, noEmit: true, types: [] },
      files: ['use.mts', 'use.cts'],
    }));
    writeFileSync(join(dir, 'use.mts'), `import { Cpm1Model, generate } from '@bminf/models';
import { cpm1Plan } from '@bminf/models/plans';
import { Tensor, BminfError } from '@bminf/core';
import { migrate } from '@bminf/migrator';
import { main } from 'bminf';
import { cpu } from '@bminf/native';
const model: Cpm1Model = await Cpm1Model.load('m', { dtype: 'int8', device: 'cpu', });
const { text }: { text: string } = await generate(model, 'x', { maxTokens: 4, signal: new AbortController().signal });
export const used = [text, cpm1Plan, Tensor, BminfError, migrate, main, cpu];
`);
    writeFileSync(join(dir, 'use.cts'), `import models = require('@bminf/models');
import core = require('@bminf/core');
export const used: [typeof models.Cpm1Model, typeof core.Tensor] = [models.Cpm1Model, core.Tensor];
`);
    ok(process.execPath, [tsc, '-p', dir]);
    // The packages whose types need nothing of Node compile without @types/node in the program.
    writeFileSync(join(dir, 'tsconfig.plain.json'), JSON.stringify({
      compilerOptions: { module: 'nodenext', moduleResolution: 'nodenext', strict: true, skipLibCheck: false, noEmit: true, types: [] },
      files: ['plain.mts'],
    }));
    writeFileSync(join(dir, 'plain.mts'), `import { Tensor } from '@bminf/core';
import { SentencePieceTokenizer } from '@bminf/tokenizers';
import { openSafetensors } from '@bminf/checkpoint';
export const used = [Tensor, SentencePieceTokenizer, openSafetensors];
`);
    const files = ok(process.execPath, [tsc, '-p', join(dir, 'tsconfig.plain.json'), '--listFiles']);
    assert.doesNotMatch(files, /@types\/node/);
  });
});

describe('pnpm, every package', () => {
  let dir;
  before(() => {
    dir = project('with-pnpm', { manager: 'pnpm' });
    pnpm(['install'], { cwd: dir, stdio: ['ignore', 'inherit', 'inherit'] });
  });
  test('bminf generate, an ESM and a CommonJS script generate the same text', () => generatesAlike(dir));
});

describe('npm without the platform package: the addon from source', () => {
  let dir;
  before(() => {
    dir = project('from-source', { leaveOut: ['@bminf/native-linux-x64-gnu'] });
    npm(['install', '--omit=optional', '--ignore-scripts'], { cwd: dir });
    assert.ok(!existsSync(join(dir, 'node_modules', '@bminf', 'native-linux-x64-gnu')));
  });
  test('without the addon, bminf --help works and bminf info says why it is missing', () => {
    assert.equal(bin(dir, 'bminf', ['--help']).status, 0);
    const info = bin(dir, 'bminf', ['info']);
    assert.equal(info.status, 0, info.out);
    assert.match(info.out, /not available: no build was found[\s\S]*npm rebuild @bminf\/native/);
    const gen = bin(dir, 'bminf', ['generate', '--model', model, '--prompt', prompt, '--device', 'cpu']);
    assert.equal(gen.status, 1, gen.out);
    assert.match(gen.out, /install cmake/);
  });
  test('with no cmake and no C++ compiler on PATH, the build stops with what to install and run', () => {
    const path = join(work, 'bare-path');
    mkdirSync(path);
    symlinkSync(process.execPath, join(path, 'node'));
    symlinkSync('/bin/sh', join(path, 'sh'));
    const r = run(process.execPath, [npmCli, 'rebuild', '@bminf/native'], { cwd: dir, env: { ...process.env, PATH: path, CXX: '' } });
    assert.notEqual(r.status, 0, r.out);
    assert.match(r.out, /cmake and a C\+\+ compiler \(looked for c\+\+, g\+\+, clang\+\+\) were not found on PATH/);
    assert.match(r.out, /apt-get install cmake g\+\+[\s\S]*npm rebuild @bminf\/native/);
  });
  test('npm rebuild builds it from source with cmake-js, and it generates what the prebuilt does', () => {
    npm(['rebuild', '@bminf/native'], { cwd: dir });
    assert.ok(existsSync(join(dir, 'node_modules', '@bminf', 'native', 'build', 'Release', 'bminf.node')));
    assert.match(bin(dir, 'bminf', ['info']).out, /native addon [\d.]+: .*build\/Release\/bminf\.node\n/);
    generatesAlike(dir);
  });
});
