
import json, sys, time, traceback
spec = json.load(open(sys.argv[1]))
try:
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer
    m = spec["model"]
    cfg = AutoConfig.from_pretrained(m["repo"], revision=m["commit"])
    tok = AutoTokenizer.from_pretrained(m["repo"], revision=m["commit"])
    prompt = spec.get("prompt") or "Hello, my name is"
    max_pos = getattr(cfg, "n_positions", None) or getattr(cfg, "max_position_embeddings", None) or 2048
    gpus = []
    for i in range(torch.cuda.device_count()):
        dev = "cuda:%d" % i
        model = AutoModelForCausalLM.from_pretrained(m["repo"], revision=m["commit"]).to(dev).eval()
        ids = tok(prompt, return_tensors="pt").to(dev)
        n_in = int(ids["input_ids"].shape[-1])
        n = max(1, min(int(spec["tokens"]), int(max_pos) - n_in - 1))
        pad = tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id
        kw = dict(do_sample=False, pad_token_id=pad)
        with torch.no_grad():
            model.generate(**ids, max_new_tokens=min(8, n), min_new_tokens=min(8, n), **kw)
            torch.cuda.synchronize(dev)
            t0 = time.time()
            o = model.generate(**ids, max_new_tokens=n, min_new_tokens=n, **kw)
            torch.cuda.synchronize(dev)
            dt = time.time() - t0
        new = int(o.shape[-1]) - n_in
        text = tok.decode(o[0][n_in:], skip_special_tokens=True)
        gpus.append({"index": i, "tokens": new, "asked": n, "sec": dt, "tok_s": new / dt if dt > 0 else 0.0, "text": text[:200]})
        del model
        torch.cuda.empty_cache()
    print(json.dumps({"repo": m["repo"], "prompt": prompt, "gpus": gpus}), flush=True)
except Exception as e:
    print(json.dumps({"error": "%s: %s" % (type(e).__name__, e), "trace": traceback.format_exc()[-2000:]}), flush=True)
