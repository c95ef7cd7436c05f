#!/usr/bin/env bash
# Dev: the GPU machine's runs that belong together, one part per device call (each fits its 10 minutes);
# logs go to $OUT as each part ends, so a call stopped at its limit still brings back what finished.
#   tooling/bench/dev/gpu-session.sh fault      the open cublasLt EXECUTION_FAILED (NOTES.md): CPM-2's first
#                                               encoder pass with device memory poisoned, then gpu-e2e without
#                                               transformers, then with CUDA_LAUNCH_BLOCKING=1 if that failed
#   tooling/bench/dev/gpu-session.sh tests      the gpu test project, then again with BMINF_POISON=1
#   tooling/bench/dev/gpu-session.sh chain      chain-floor: the kernels in a dependent chain, the unmeasured routes on and off
#   tooling/bench/dev/gpu-session.sh variants   profile-cpm2 --variants (CPM-2 24 + 24, the routes switched one at a time)
#   tooling/bench/dev/gpu-session.sh e2e        run-gpu.mjs e2e, BENCHMARKS.md brought back in $OUT
#   tooling/bench/dev/gpu-session.sh table      transformers first (torch_e2e.py), then run-gpu.mjs e2e reading its
#                                               figures: the same-run table, with no other process on the GPU meanwhile
#   tooling/bench/dev/gpu-session.sh steps [cpm2|cpm1] [1,8]   the decode steps kernel by kernel (ncu over
#                                               kernel-times.mjs at 2 layers, condensed by step-kernels.py): where a step's time goes
#   tooling/bench/dev/gpu-session.sh phases     RoutePolicy.decodePhases: a grid barrier's own cost (barrier-cost.mjs), its
#                                               GPU tests (bit for bit against the kernels one by one), then gpu-e2e
#                                               without and with 2 blocks an SM, twice (a plain launch where the
#                                               cooperative one fails), then with the barrier's fences as release /
#                                               acquire (swap-barrier.py atomra)
#   tooling/bench/dev/gpu-session.sh stalls     after steps (its /tmp/steps.csv): the last batch-8 step's linear_mma
#                                               kernels under Nsight Compute's throughput, warp-state and memory sections
cd "$(dirname "$0")/../../.."
part=${1:?"which part: fault, tests, chain, variants, e2e, table, steps, phases or stalls"}
log() { echo "== $(date -u +%T) $*" | tee -a "$OUT/session.log"; }
case "$part" in
  fault)
    log "poisoned: CPM-2 24 + 24, first encoder passes"
    BMINF_POISON=1 timeout 150 node tooling/bench/dev/big-segment-repro.mjs none > "$OUT/poison-repro.log" 2>&1
    echo "rc=$?" >> "$OUT/poison-repro.log"; tail -3 "$OUT/poison-repro.log"
    log "gpu-e2e without transformers"
    BENCH_E2E_TORCH=0 timeout 200 node tooling/bench/run-gpu.mjs e2e > "$OUT/e2e-notorch.log" 2>&1
    rc=$?; echo "rc=$rc" >> "$OUT/e2e-notorch.log"; grep -E "FAILED|Error|CPM-2" "$OUT/e2e-notorch.log" | head -12
    if [ "$rc" != 0 ]; then
      log "gpu-e2e without transformers, CUDA_LAUNCH_BLOCKING=1"
      CUDA_LAUNCH_BLOCKING=1 BENCH_E2E_TORCH=0 timeout 200 node tooling/bench/run-gpu.mjs e2e > "$OUT/e2e-blocking.log" 2>&1
      echo "rc=$?" >> "$OUT/e2e-blocking.log"; grep -E "FAILED|Error|CUDA_ERROR" "$OUT/e2e-blocking.log" | head -12
    fi
    ;;
  tests)
    log "gpu tests"
    timeout 240 node node_modules/vitest/vitest.mjs run --project gpu --no-file-parallelism > "$OUT/gpu-tests.log" 2>&1
    echo "rc=$?" >> "$OUT/gpu-tests.log"; tail -6 "$OUT/gpu-tests.log"
    log "gpu tests, BMINF_POISON=1"
    BMINF_POISON=1 timeout 300 node node_modules/vitest/vitest.mjs run --project gpu --no-file-parallelism > "$OUT/gpu-tests-poison.log" 2>&1
    echo "rc=$?" >> "$OUT/gpu-tests-poison.log"; grep -E "FAIL|✗|×" "$OUT/gpu-tests-poison.log" | head -20; tail -6 "$OUT/gpu-tests-poison.log"
    ;;
  chain)
    log "chain-floor (kernels in a dependent chain, the unmeasured routes on and off)"
    timeout 500 node tooling/bench/dev/chain-floor.mjs > "$OUT/chain-floor.log" 2>&1
    echo "rc=$?" >> "$OUT/chain-floor.log"; cat "$OUT/chain-floor.log"
    ;;
  variants)
    log "profile-cpm2 --variants"
    timeout 570 node tooling/bench/profile-cpm2.mjs --skip-profile --variants --out "$OUT" > "$OUT/variants.log" 2>&1
    echo "rc=$?" >> "$OUT/variants.log"; grep -E "^##|TokS|GraphUs|rc=" "$OUT/variants.log"
    ;;
  e2e)
    log "run-gpu.mjs e2e"
    BENCH_OUT="$OUT" timeout 580 node tooling/bench/run-gpu.mjs e2e > "$OUT/e2e.log" 2>&1
    echo "rc=$?" >> "$OUT/e2e.log"; tail -30 "$OUT/e2e.log"
    ;;
  table)
    log "transformers side (torch_e2e.py), then run-gpu.mjs e2e reading it"
    timeout 200 python3 tooling/bench/torch_e2e.py > "$OUT/torch.json" 2> "$OUT/torch.err"
    echo "torch rc=$?" | tee -a "$OUT/session.log"
    BENCH_E2E_TORCH_JSON="$OUT/torch.json" BENCH_OUT="$OUT" timeout 300 node tooling/bench/run-gpu.mjs e2e > "$OUT/e2e.log" 2>&1
    echo "rc=$?" >> "$OUT/e2e.log"; grep -E '^\||rc=' "$OUT/e2e.log"
    ;;
  steps)
    kind=${2:-cpm2}; batches=${3:-1,8}
    log "decode steps kernel by kernel (ncu over kernel-times.mjs, 2 layers, $kind, batches $batches)"
    timeout 400 /usr/local/cuda/bin/ncu --graph-profiling node --metrics gpu__time_duration.sum --cache-control none --clock-control none \
      --csv --page raw node tooling/bench/dev/kernel-times.mjs 2 "$kind" "$batches" > /tmp/steps.csv 2> "$OUT/steps-$kind.err"
    echo "ncu rc=$?" | tee -a "$OUT/session.log"
    grep -v '^==PROF==' /tmp/steps.csv | xz -9 > "$OUT/steps-$kind.csv.xz"  # ncu's raw rows, to parse again here
    python3 tooling/bench/dev/step-kernels.py /tmp/steps.csv "$batches" > "$OUT/steps-$kind.txt" 2>&1; head -80 "$OUT/steps-$kind.txt"
    ;;
  phases)
    log "decode phases: a grid barrier alone, the product's and three other forms"
    timeout 60 node tooling/bench/dev/barrier-cost.mjs > "$OUT/barrier-cost.log" 2>&1; echo "rc=$?" >> "$OUT/barrier-cost.log"; cat "$OUT/barrier-cost.log"
    log "decode phases: the GPU tests (a chain of full-size linears; the models' steps)"
    timeout 200 node node_modules/vitest/vitest.mjs run --project gpu packages/kernels/test-gpu/cuda-decode-phases.test.ts packages/models/test-gpu/decode-phases.test.ts > "$OUT/phases-test.log" 2>&1
    echo "rc=$?" >> "$OUT/phases-test.log"; grep -E "✓|×|FAIL|Error|Tests|rc=" "$OUT/phases-test.log" | head -30
    log "decode phases: gpu-e2e, alternating (2 blocks an SM)"
    bash tooling/bench/dev/ab-e2e.sh base='{}' p2='{"decodePhases":2}' base='{}' p2='{"decodePhases":2}' | tee "$OUT/phases-ab.log"
    grep -q "p2 rc=0" "$OUT/phases-ab.log" || bash tooling/bench/dev/ab-e2e.sh p2plain='{"decodePhases":2,"decodePhasesCooperative":false}' | tee -a "$OUT/phases-ab.log"
    log "decode phases: the barrier with release / acquire in place of its fences (swap-barrier.py atomra)"
    cp packages/kernels/cuda/phases.cu /tmp/phases.cu.product
    python3 tooling/bench/dev/swap-barrier.py atomra && bash tooling/bench/dev/ab-e2e.sh p2ra='{"decodePhases":2}' | tee -a "$OUT/phases-ab.log"
    cp /tmp/phases.cu.product packages/kernels/cuda/phases.cu
    ;;
  stalls)
    n=$(grep -c '"linear_mma' /tmp/steps.csv); skip=$((n - 12)); [ "$skip" -lt 0 ] && skip=0
    log "linear_mma under ncu sections (skip $skip of $n)"
    timeout 300 /usr/local/cuda/bin/ncu --graph-profiling node -k regex:linear_mma --launch-skip "$skip" --launch-count 12 \
      --section SpeedOfLight --section WarpStateStats --section MemoryWorkloadAnalysis --section Occupancy --section LaunchStats \
      --section SchedulerStats --section SourceCounters --clock-control none node tooling/bench/dev/kernel-times.mjs 2 > "$OUT/stalls.txt" 2> "$OUT/stalls.err"
    echo "ncu rc=$?" | tee -a "$OUT/session.log"; grep -E "linear_mma|Duration|DRAM Throughput|Stall|L2 Hit" "$OUT/stalls.txt" | head -60
    ;;
  *) echo "unknown part $part (fault, tests, chain, variants, e2e, table, steps, phases or stalls)"; exit 2 ;;
esac
