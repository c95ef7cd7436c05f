# Dev: leaves the GPU's memory as another process would: most of the free memory filled with random bytes,
# then freed at exit. A kernel that reads memory nobody wrote reads zeros on a fresh GPU; after this, garbage
# (the open cublasLt EXECUTION_FAILED of gpu-e2e failed only after the transformers side had run).
#   python3 tooling/bench/dev/dirty-gpu.py
import torch

free, total = torch.cuda.mem_get_info()
n = int(free * 0.92)
x = torch.randint(0, 256, (n,), dtype=torch.uint8, device="cuda")
torch.cuda.synchronize()
print(f"dirty-gpu: {n / 2**30:.1f} GiB of {total / 2**30:.1f} filled with random bytes", flush=True)
