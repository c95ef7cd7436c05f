#!/usr/bin/env bash
# Packs the build for the workplace's GPU machine (../shared/device/bundle), leaving out what runs only
# here: tsup and its esbuild (vite's own esbuild stays), cmake-js, @arethetypeswrong/cli, jieba-wasm's
# builds for browsers, bundlers and Deno (Node loads pkg/nodejs), node-llama-cpp (the CPU bench's
# llama.cpp, 170 MB), the server tests' openai client and playwright-core, what only changesets, eslint
# and type checking use, source maps, type declarations, docs and our own CommonJS builds: nothing runs
# them there. With them the checkout and .device/ would not fit the 64 MiB that may travel (the device
# tool counts disk blocks; the bundle script's MiB figures round down). Extra arguments go to the bundle script.
set -euo pipefail
cd "$(git rev-parse --show-toplevel)"
extra=()
for p in '@types+*' 'tar@*' 'sucrase@*' 'fast-check@*' 'esquery@*' 'simple-git@*' '@huggingface+jinja@*' 'lifecycle-utils@*' \
  'sleep-promise@*' '@reflink*' 'yargs*' 'js-yaml@*' 'ajv@6*' 'ts-api-utils*' '@isaacs+nonrecursive*' 'octokit*' '@octokit*' \
  'ipull*' 'lru-cache@11*' 'env-var*' 'filenamify*' 'ignore@7*' 'node-addon-api@*' 'minipass@*' 'minizlib@*' \
  'fflate@*' 'argparse@*' 'esprima@*' 'enquirer@*' '@babel+runtime@*' 'chardet@*' 'iconv-lite@*' 'fs-extra@*' 'globals@*' '@braidai*' \
  'prettier@*' '@changesets+*' 'eslint@*' '@eslint*' '@typescript-eslint+*' 'typescript-eslint@*' 'espree@*'; do
  extra+=(--exclude "node_modules/.pnpm/$p")
done
../shared/device/bundle \
  --exclude 'node_modules/.pnpm/*esbuild*0.27.*' --exclude 'node_modules/.pnpm/tsup@*' --exclude 'node_modules/.pnpm/cmake-js*' \
  --exclude 'node_modules/.pnpm/@arethetypeswrong*' --exclude 'node_modules/.pnpm/highlight.js@*' \
  --exclude 'node_modules/.pnpm/marked*' --exclude 'node_modules/.pnpm/cli-highlight@*' --exclude 'node_modules/.pnpm/emojilib@*' \
  --exclude 'node_modules/.pnpm/parse5*' --exclude 'node_modules/.pnpm/node-emoji@*' \
  --exclude '*/jieba-wasm/pkg/web' --exclude '*/jieba-wasm/pkg/bundler' --exclude '*/jieba-wasm/pkg/deno' \
  --exclude 'node_modules/.pnpm/openai@*' --exclude 'node_modules/.pnpm/playwright-core@*' \
  --exclude 'node_modules/.pnpm/node-llama-cpp@*' --exclude 'node_modules/.pnpm/@node-llama-cpp*' \
  --exclude 'node_modules/.pnpm/typescript@*' --exclude 'node_modules/.pnpm/@turbo+*' \
  --exclude '*.map' --exclude '*.d.ts' --exclude '*.d.mts' --exclude '*.d.cts' --exclude '*.md' --exclude 'packages/*/dist/*.cjs' --exclude 'apps/*/dist/*.cjs' \
  "${extra[@]}" "$@"
# The bundle script packs with xz -3; at -9 the build outputs take about a megabyte less, which the
# checkout (28 MiB, most of it tiny-cpm1's weights and the fixtures) needs to stay under the limit.
xz -d -c .device/bundle.tar.xz | xz -T0 -9 > .device/bundle.tar.xz.tmp && mv .device/bundle.tar.xz.tmp .device/bundle.tar.xz
echo "device-bundle: .device is $(du -sk .device | cut -f1) KiB on disk, the tracked tree $(git ls-files -z | xargs -0 du -ck 2>/dev/null | tail -1 | cut -f1) KiB (the device tool counts disk blocks: together under 65536)"
