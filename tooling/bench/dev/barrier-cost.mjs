// Dev: what one grid barrier of decode_phases (phases.cu) costs by itself, with no work between barriers and
// so no block waiting on a slower one: one cooperative launch of SMs x B blocks of 256 threads passes N
// barriers. Four barriers: phases.cu's gridBarrier, read from the product's source; the same with release /
// acquire in place of its fences (atomra); that with the arrival as a reduction (relacq); and the count-and-
// generation form it replaced (NOTES.md, 2026-12-07: the phased step lost ~5 us a barrier with it, the
// barrier's own chain and the wait for each phase's slowest block not told apart). Prints us a barrier,
// the median of 5 launches, at 1, 2 and 3 blocks an SM.
//   node tooling/bench/dev/barrier-cost.mjs
import { readFileSync } from 'node:fs';
import { createCudaBackend } from '@bminf/kernels';

const b = createCudaBackend();
const native = b.nativeCuda;
const cuda = (f) => readFileSync(new URL(`../../../packages/kernels/cuda/${f}`, import.meta.url), 'utf8');
const product = cuda('phases.cu').match(/__device__ __forceinline__ void gridBarrier\(unsigned\* bar\) \{[\s\S]*?\n\}\n/);
if (!product) throw new Error('barrier-cost: gridBarrier not found in packages/kernels/cuda/phases.cu (renamed?)');

const source = `${cuda('prelude.cuh')}
${product[0]}
// The form before 6a54a2c: arrivals counted in bar[0], reset by the last one, which then bumps bar[1].
__device__ __forceinline__ void gridBarrierCountGen(unsigned* bar) {
  __syncthreads();
  if (threadIdx.x == 0) {
    unsigned gen;
    asm volatile("ld.acquire.gpu.u32 %0, [%1];" : "=r"(gen) : "l"(bar + 1) : "memory");
    __threadfence();
    if (atomicAdd(bar, 1u) == gridDim.x - 1) {
      atomicExch(bar, 0u);
      __threadfence();
      atomicAdd(bar + 1, 1u);
    } else {
      unsigned now;
      do {
        asm volatile("ld.acquire.gpu.u32 %0, [%1];" : "=r"(now) : "l"(bar + 1) : "memory");
      } while (now == gen);
    }
    __threadfence();
  }
  __syncthreads();
}
// The one-word form with release / acquire in place of the two full fences, and the arrival as a reduction
// (no value back to wait for): the phase bit a block waits to see flip is the one its last wait saw, kept in
// a register across barriers (the word starts at zero).
__device__ __forceinline__ void gridBarrierRelAcq(unsigned* bar, unsigned& bit) {
  __syncthreads();
  if (threadIdx.x == 0) {
    const unsigned add = blockIdx.x == 0 ? 0x80000000u - (gridDim.x - 1) : 1u;
    asm volatile("red.release.gpu.global.add.u32 [%0], %1;" :: "l"(bar), "r"(add) : "memory");
    unsigned now;
    do {
      asm volatile("ld.acquire.gpu.u32 %0, [%1];" : "=r"(now) : "l"(bar) : "memory");
    } while (((now ^ bit) & 0x80000000u) == 0);
    bit = now & 0x80000000u;
  }
  __syncthreads();
}
// The product's form with its two full fences replaced by the atomic's release and the poll's acquire.
__device__ __forceinline__ void gridBarrierAtomRelAcq(unsigned* bar) {
  __syncthreads();
  if (threadIdx.x == 0) {
    const unsigned add = blockIdx.x == 0 ? 0x80000000u - (gridDim.x - 1) : 1u;
    unsigned old, now;
    asm volatile("atom.add.release.gpu.global.u32 %0, [%1], %2;" : "=r"(old) : "l"(bar), "r"(add) : "memory");
    do {
      asm volatile("ld.acquire.gpu.u32 %0, [%1];" : "=r"(now) : "l"(bar) : "memory");
    } while (((old ^ now) & 0x80000000u) == 0);
  }
  __syncthreads();
}
struct BarrierArgs {
  unsigned long long bar;
  int n;
  int pad;
};
#define BARRIER_LOOP(NAME, FN, B)                                                                   \\
  extern "C" __global__ void __launch_bounds__(256, B) NAME##_b##B(const __grid_constant__ BarrierArgs a) { \\
    for (int i = 0; i < a.n; i++) FN(reinterpret_cast<unsigned*>(a.bar));                         \\
  }
BARRIER_LOOP(barrier_word, gridBarrier, 1)
BARRIER_LOOP(barrier_word, gridBarrier, 2)
BARRIER_LOOP(barrier_word, gridBarrier, 3)
BARRIER_LOOP(barrier_countgen, gridBarrierCountGen, 1)
BARRIER_LOOP(barrier_countgen, gridBarrierCountGen, 2)
BARRIER_LOOP(barrier_countgen, gridBarrierCountGen, 3)
BARRIER_LOOP(barrier_atomra, gridBarrierAtomRelAcq, 1)
BARRIER_LOOP(barrier_atomra, gridBarrierAtomRelAcq, 2)
BARRIER_LOOP(barrier_atomra, gridBarrierAtomRelAcq, 3)
#define BARRIER_LOOP_RA(B)                                                                              \
  extern "C" __global__ void __launch_bounds__(256, B) barrier_relacq_b##B(const __grid_constant__ BarrierArgs a) { \
    unsigned bit = 0;                                                                                 \
    for (int i = 0; i < a.n; i++) gridBarrierRelAcq(reinterpret_cast<unsigned*>(a.bar), bit);        \
  }
BARRIER_LOOP_RA(1)
BARRIER_LOOP_RA(2)
BARRIER_LOOP_RA(3)
`;
const [major, minor] = b.info.computeCapability ?? [0, 0];
const out = native.compile(source, 'barrier_cost.cu', [`--gpu-architecture=sm_${major}${minor}`, '--std=c++17', '-DNDEBUG']);
if (!out.ok) throw new Error(`barrier-cost: NVRTC could not compile: ${out.error}\n${out.log}`);
const module = native.loadModule(out.cubin ?? out.ptx);

const word = b.empty([2], 'int32');
const bar = b.span(word);
const sms = b.info.multiprocessors ?? 132;
const N = 20000;
const start = native.eventCreate();
const end = native.eventCreate();
console.log(`${b.info.deviceName}: ${sms} SMs; us a grid barrier (median of 5 launches of ${N} barriers, nothing between them)`);
for (const kind of ['barrier_word', 'barrier_atomra', 'barrier_relacq', 'barrier_countgen']) {
  for (const perSm of [1, 2, 3]) {
    const fn = native.getFunction(module, `${kind}_b${perSm}`);
    const times = [];
    for (let rep = 0; rep < 6; rep++) {
      native.fill(bar.region, bar.byteOffset, bar.byteLength, 0);
      native.eventRecord(start);
      native.launch(fn, [sms * perSm, 1, 1], [256, 1, 1], 0, 'pii', [bar.region, bar.byteOffset, bar.byteLength, N, 0], false, false, 1);
      native.eventRecord(end);
      if (rep > 0) times.push((native.eventElapsed(start, end) * 1000) / N); // the first: module load and clocks
      else native.synchronize();
    }
    times.sort((x, y) => x - y);
    console.log(`${kind.padEnd(17)} ${perSm} blocks an SM (${sms * perSm} blocks): ${times[2].toFixed(2)} us (${times[0].toFixed(2)}-${times[4].toFixed(2)})`);
  }
}
