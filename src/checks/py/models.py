
import json, os, sys, time, traceback
spec = json.load(open(sys.argv[1]))
out = {"hf_home": os.environ.get("HF_HOME"), "offline": os.environ.get("HF_HUB_OFFLINE"), "models": []}
try:
    import torch
    import transformers
    from transformers import AutoConfig, AutoModel, AutoModelForCausalLM, AutoTokenizer
    out["transformers"] = transformers.__version__
except Exception as e:
    print(json.dumps({"error": "%s: %s" % (type(e).__name__, e)}), flush=True)
    sys.exit(0)
for m in spec["models"]:
    r = {"repo": m["repo"], "commit": m["commit"]}
    t0 = time.time()
    model = None
    try:
        cfg = AutoConfig.from_pretrained(m["repo"], revision=m["commit"])
        archs = list(getattr(cfg, "architectures", None) or [])
        causal = any(x.endswith("ForCausalLM") or x.endswith("LMHeadModel") for x in archs) or not archs
        tok = AutoTokenizer.from_pretrained(m["repo"], revision=m["commit"])
        cls = AutoModelForCausalLM if causal else AutoModel
        model = cls.from_pretrained(m["repo"], revision=m["commit"]).to("cuda:0").eval()
        torch.cuda.synchronize()
        r["load_sec"] = time.time() - t0
        ids = tok("Hello, my name is", return_tensors="pt").to("cuda:0")
        with torch.no_grad():
            o = model(**ids)
        logits = getattr(o, "logits", None)
        if logits is None:
            logits = o[0]
        r.update(ok=bool(torch.isfinite(logits).all().item()), causal=causal, architectures=archs, model_type=getattr(cfg, "model_type", None),
                 params=int(sum(p.numel() for p in model.parameters())), dtype=str(next(model.parameters()).dtype).replace("torch.", ""),
                 device=str(next(model.parameters()).device), vocab=int(getattr(cfg, "vocab_size", 0) or 0), tokens_in=int(ids["input_ids"].shape[-1]))
        if not r["ok"]:
            r["error"] = "the forward pass gave non-finite logits"
    except Exception as e:
        r.update(ok=False, error="%s: %s" % (type(e).__name__, e), trace=traceback.format_exc()[-1500:])
    r["total_sec"] = time.time() - t0
    out["models"].append(r)
    del model
    torch.cuda.empty_cache()
print(json.dumps(out), flush=True)
