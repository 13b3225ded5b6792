
import json, os, sys, time, traceback
spec = json.load(open(sys.argv[1]))
out = {"hf_home": os.environ.get("HF_HOME"), "offline": os.environ.get("HF_HUB_OFFLINE"), "models": []}
hub = os.path.join(os.environ.get("HF_HOME") or os.path.expanduser("~/.cache/huggingface"), "hub")
def snapshot(m):
    return os.path.join(hub, "models--" + m["repo"].replace("/", "--"), "snapshots", m["commit"])
def not_installed(m):
    return {"repo": m["repo"], "commit": m["commit"], "ok": False, "not_installed": True,
            "error": "not installed: run install (models are the hf step); no snapshot %s under %s" % (m["commit"][:12], hub)}
# A model the install never wrote is said as such, not as the library's "couldn't connect to the Hub".
if all(not os.path.isdir(snapshot(m)) for m in spec["models"]):
    out["models"] = [not_installed(m) for m in spec["models"]]
    print(json.dumps(out), flush=True)
    sys.exit(0)
try:
    import torch
    import transformers
    from transformers import AutoConfig, AutoModel, AutoModelForCausalLM, AutoTokenizer
    out["transformers"] = transformers.__version__
except Exception as e:
    print(json.dumps({"error": "%s: %s" % (type(e).__name__, e)}), flush=True)
    sys.exit(0)
for m in spec["models"]:
    if not os.path.isdir(snapshot(m)):
        out["models"].append(not_installed(m))
        continue
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
