#!/usr/bin/env python3
"""The transformers side of tooling/bench/suites/gpu-e2e.mjs: the same models at full size (random
weights, float16, on the GPU), timed as users run them: the T5 encoder over 1 x 512 tokens, and
generate() with greedy decoding of exactly 64 new tokens after a 64-token input at several batch sizes.
Prints one JSON object: {model: {"encoder_tok_s": x, "encoder_cross_kv_tok_s": x, "decode_tok_s": {batch: x}}}
(encoder_cross_kv_tok_s: the encoder and every decoder layer's cross-attention keys and values, as
bminf's encoder row does)."""
import json
import sys
import time

try:
    import torch
    from transformers import GPT2Config, GPT2LMHeadModel, T5Config, T5ForConditionalGeneration
except Exception as e:  # the suite prints n/a
    print(json.dumps({"error": f"PyTorch/transformers are not importable: {e}"}))
    sys.exit(0)

if not torch.cuda.is_available():
    print(json.dumps({"error": "PyTorch sees no CUDA device"}))
    sys.exit(0)

dev = torch.device("cuda")
torch.manual_seed(0)
NEW, INPUT = 64, 64


def t5(d, heads, ff, layers, vocab, dist):
    return T5Config(d_model=d, d_kv=64, d_ff=ff, num_layers=layers, num_decoder_layers=layers, num_heads=heads, vocab_size=vocab,
                    feed_forward_proj="gated-gelu", tie_word_embeddings=False, relative_attention_max_distance=dist,
                    decoder_start_token_id=0, pad_token_id=0, eos_token_id=1)


MODELS = {
    "cpm2": ("t5", t5(4096, 64, 10240, 24, 26240, 128), (1, 8, 32)),
    "eva": ("t5", t5(2048, 32, 5120, 24, 30000, 256), (1, 8)),
    "cpm1": ("gpt2", GPT2Config(n_embd=2560, n_head=32, n_layer=32, n_inner=10240, vocab_size=30000, n_positions=1024,
                                activation_function="gelu_new", eos_token_id=3, pad_token_id=0), (1, 8)),
}


def synced(fn):
    torch.cuda.synchronize()
    t0 = time.perf_counter()
    fn()
    torch.cuda.synchronize()
    return time.perf_counter() - t0


def median(xs):
    return sorted(xs)[len(xs) // 2]


out = {"torch": torch.__version__}
try:
    import transformers
    out["transformers"] = transformers.__version__
except Exception:
    pass
only = sys.argv[1].split(",") if len(sys.argv) > 1 else list(MODELS)
for name in only:
    kind, cfg, batches = MODELS[name]
    torch.set_default_dtype(torch.float16)
    with torch.device(dev):
        model = (T5ForConditionalGeneration(cfg) if kind == "t5" else GPT2LMHeadModel(cfg)).eval()
    torch.set_default_dtype(torch.float32)
    res = {"decode_tok_s": {}}
    with torch.inference_mode():
        if kind == "t5":
            ids = torch.randint(10, cfg.vocab_size - 200, (1, 512), device=dev)
            enc = model.get_encoder()
            for _ in range(2):
                synced(lambda: enc(input_ids=ids))
            res["encoder_tok_s"] = 512 / median([synced(lambda: enc(input_ids=ids)) for _ in range(5)])
            # What bminf's encoder row times (Cpm2PlannedRunner.open): the encoder and then every decoder
            # layer's cross-attention keys and values of its output, which transformers computes in the
            # first decoding step instead. A model whose modules are laid out otherwise leaves it out.
            try:
                cross = [blk.layer[1].EncDecAttention for blk in model.decoder.block]

                def enc_and_cross():
                    h = enc(input_ids=ids).last_hidden_state
                    for a in cross:
                        a.k(h)
                        a.v(h)

                enc_and_cross()
                res["encoder_cross_kv_tok_s"] = 512 / median([synced(enc_and_cross) for _ in range(5)])
            except Exception as e:  # noqa: BLE001 (the row then compares with the encoder alone)
                res["encoder_cross_kv_error"] = str(e)
        for b in batches:
            ids = torch.randint(10, cfg.vocab_size - 200, (b, INPUT), device=dev)
            gen = lambda: model.generate(input_ids=ids, max_new_tokens=NEW, min_new_tokens=NEW, do_sample=False, num_beams=1,
                                         pad_token_id=0)
            synced(gen)  # warm-up
            # three runs: the median of two (sorted[1]) was the slower one, which flattered bminf's ratios
            res["decode_tok_s"][str(b)] = b * NEW / median([synced(gen) for _ in range(3)])
    out[name] = res
    del model
    torch.cuda.empty_cache()
    print(f"torch_e2e: {name} {json.dumps(res)}", file=sys.stderr, flush=True)
print(json.dumps(out))
