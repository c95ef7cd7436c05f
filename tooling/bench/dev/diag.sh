#!/usr/bin/env bash
# Dev: one GPU-machine call that (1) profiles the decode GEMVs of CPM-2's recorded steps under Nsight Compute
# (full sections, condensed by ncu-details.py), (2) runs the 2-layer steps under compute-sanitizer memcheck,
# (3) runs the gpu test project. Logs go to $OUT as each part ends.
cd "$(dirname "$0")/../../.."
ncu=/usr/local/cuda/bin/ncu; san=/usr/local/cuda/bin/compute-sanitizer
sections="--section SpeedOfLight --section MemoryWorkloadAnalysis --section Occupancy --section LaunchStats --section SchedulerStats --section WarpStateStats"
timeout 120 $ncu --graph-profiling node -k regex:'^linear_mma' --launch-count 12 $sections --csv --page details \
  node tooling/bench/dev/kernel-times.mjs 2 > /tmp/ncu.csv 2> $OUT/ncu.err
timeout 120 $ncu --graph-profiling node -k regex:'^linear_gemv' --launch-skip 12 --launch-count 12 $sections --csv --page details \
  node tooling/bench/dev/kernel-times.mjs 2 > /tmp/ncu2.csv 2>> $OUT/ncu.err
gzip -c /tmp/ncu.csv > $OUT/ncu1.csv.gz; gzip -c /tmp/ncu2.csv > $OUT/ncu2.csv.gz
python3 tooling/bench/dev/ncu-details.py /tmp/ncu.csv > $OUT/ncu-details.txt 2>&1; python3 tooling/bench/dev/ncu-details.py /tmp/ncu2.csv >> $OUT/ncu-details.txt 2>&1
timeout 150 $san --tool memcheck --print-limit 20 node tooling/bench/dev/kernel-times.mjs 2 > $OUT/memcheck.log 2>&1; echo "memcheck rc=$?" >> $OUT/memcheck.log
timeout 190 node node_modules/vitest/vitest.mjs run --project gpu --no-file-parallelism > $OUT/gpu-tests.log 2>&1; echo "tests rc=$?" >> $OUT/gpu-tests.log
tail -5 $OUT/gpu-tests.log; tail -3 $OUT/memcheck.log; head -c 3000 $OUT/ncu-details.txt
