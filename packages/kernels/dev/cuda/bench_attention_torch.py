# torch's scaled_dot_product_attention at bench-attention.mjs's shapes (argv[1]: its JSON list), timed as
# tooling/bench/torch_bench.py times (CUDA events, median of 5). Prints one JSON line.
# With a bias the flash kernel does not apply: torch picks its memory-efficient kernel (attn_mask).
import json
import os
import sys
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "../../../../tooling/bench"))
from torch_timing import timed  # noqa: E402

dev = "cuda"


results = []
for shape in json.loads(sys.argv[1]):
    h, t, d = shape["heads"], shape["tokens"], shape["headDim"]
    qkv = torch.randn((t, 3, h, d), dtype=torch.float16, device=dev).permute(1, 2, 0, 3)  # [3, h, t, d] views
    q, k, v = qkv[0], qkv[1], qkv[2]
    bias = torch.randn((h, t, t), dtype=torch.float16, device=dev) if shape.get("bias") else None
    causal = bool(shape.get("causal"))

    def run():
        o = F.scaled_dot_product_attention(q, k, v, attn_mask=bias, is_causal=causal, scale=shape["scale"])
        return o.permute(1, 0, 2).reshape(t, h * d)  # [n, h*d] as bminf writes it: the permute copy is timed too

    results.append({"s": timed(run), "backend": "attn_mask (efficient)" if bias is not None else "flash/causal"})
print(json.dumps({"torch": torch.__version__, "device": torch.cuda.get_device_name(0), "results": results}))
