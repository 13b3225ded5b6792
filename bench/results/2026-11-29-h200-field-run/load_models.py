"""Loads the bundled models the way a user on the box would: by repo id, offline, from HF_HOME."""
import json, os, time
import torch
from huggingface_hub import snapshot_download
from transformers import AutoModelForCausalLM, AutoTokenizer

out = {"hf_home": os.environ.get("HF_HOME"), "offline": os.environ.get("HF_HUB_OFFLINE"), "models": []}
for repo in ["vault-ai/tiny-gpt2", "vault-ai/tiny-opt"]:
    path = snapshot_download(repo)  # resolves refs/main -> snapshots/<commit> with no network
    tok = AutoTokenizer.from_pretrained(repo)
    model = AutoModelForCausalLM.from_pretrained(repo, torch_dtype=torch.bfloat16).to("cuda").eval()
    ids = tok("The air-gapped box says", return_tensors="pt").to("cuda")
    torch.cuda.synchronize(); t = time.perf_counter()
    gen = model.generate(**ids, max_new_tokens=64, min_new_tokens=64, do_sample=False, pad_token_id=tok.pad_token_id or tok.eos_token_id)
    torch.cuda.synchronize(); dt = time.perf_counter() - t
    new = gen.shape[1] - ids["input_ids"].shape[1]
    out["models"].append({"repo": repo, "snapshot": path, "device": str(next(model.parameters()).device),
                          "new_tokens": int(new), "tokens_per_s": round(new / dt, 1), "text": tok.decode(gen[0][-16:])})
out["torch"] = torch.__version__; out["gpu"] = torch.cuda.get_device_name(0)
print(json.dumps(out))
