#!/usr/bin/env bash
# Dev: gpu-e2e (bminf's side only) under several route policies or kernel-source variants, in turns, in one
# device call; prints each run's decode and encoder rows. Each argument is NAME=ROUTES_JSON, NAME=@SED (a sed
# expression applied to packages/kernels/cuda/step.cu for that run, then undone: the kernel cache is keyed by
# the source, so the variant is compiled afresh) or NAME=@FILE@SED (the same on packages/kernels/cuda/FILE,
# e.g. gemv.cu). Logs go to $OUT/e2e-NAME-i.log.
#   tooling/bench/dev/ab-e2e.sh base='{}' noq='{"mmaQuantizedMaxRows":0}' nopf='@s/ATTEND_PREFETCH 1/ATTEND_PREFETCH 0/'
cd "$(dirname "$0")/../../.."
i=0
for arg in "$@"; do
  name=${arg%%=*}; val=${arg#*=}; i=$((i + 1)); routes='{}'; src=''
  if [ "${val:0:1}" = "@" ]; then
    expr=${val:1}; file=step.cu
    case "$expr" in *.cu@* | *.cuh@*) file=${expr%%@*}; expr=${expr#*@} ;; esac
    src=packages/kernels/cuda/$file
    cp "$src" /tmp/ab-src.bak
    sed -i "$expr" "$src"
  else
    routes=$val
  fi
  BENCH_E2E_TORCH=0 BENCH_ROUTES=$routes timeout 150 node tooling/bench/run-gpu.mjs e2e > "$OUT/e2e-$name-$i.log" 2>&1
  echo "$name rc=$? $(grep -E '^\| (CPM-2|EVA|CPM-1) (encoder, 1|decode)' "$OUT/e2e-$name-$i.log" | cut -d'|' -f2,3 | sed 's/ *| */: /; s/  */ /g' | tr '\n' ';')"
  [ -n "$src" ] && cp /tmp/ab-src.bak "$src"
done
