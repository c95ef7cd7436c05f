#!/usr/bin/env python3
"""Dev: rewrite decode_phases' grid barrier (packages/kernels/cuda/phases.cu) in place with another form, for an
A/B through ab-e2e.sh on the GPU machine (the kernels are compiled from the tree at run time). Restore the file
afterwards (gpu-session.sh keeps a copy).
  python3 tooling/bench/dev/swap-barrier.py atomra   the product's one-word form, its two full fences
                                                     replaced by the atomic's release and the poll's acquire
"""
import re, sys
from pathlib import Path

FORMS = {
    'atomra': r'''__device__ __forceinline__ void gridBarrier(unsigned* bar) {
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
''',
}
form = sys.argv[1] if len(sys.argv) > 1 else ''
if form not in FORMS:
    sys.exit(f'swap-barrier: which form? one of {", ".join(FORMS)}')
path = Path(__file__).resolve().parents[3] / 'packages/kernels/cuda/phases.cu'
text = path.read_text()
new, n = re.subn(r'__device__ __forceinline__ void gridBarrier\(unsigned\* bar\) \{[\s\S]*?\n\}\n', lambda _: FORMS[form], text)
if n != 1:
    sys.exit('swap-barrier: gridBarrier not found in phases.cu (renamed?)')
path.write_text(new)
print(f'swap-barrier: phases.cu gridBarrier is now the {form} form')
