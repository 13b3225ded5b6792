
import json, platform, sys
out = {"python": platform.python_version(), "executable": sys.executable}
try:
    from importlib.metadata import version, PackageNotFoundError
    for name in ("transformers", "huggingface_hub", "safetensors", "tokenizers", "accelerate", "vllm"):
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            pass
except Exception as e:
    out["metadata_error"] = str(e)
try:
    import torch
    out["torch"] = torch.__version__
    out["torch_cuda"] = torch.version.cuda
    out["cuda_available"] = bool(torch.cuda.is_available())
    n = torch.cuda.device_count() if out["cuda_available"] else 0
    out["device_count"] = n
    try:
        out["nccl"] = ".".join(str(x) for x in torch.cuda.nccl.version())
    except Exception:
        pass
    devs = []
    for i in range(n):
        p = torch.cuda.get_device_properties(i)
        devs.append({"index": i, "name": p.name, "capability": "%d.%d" % (p.major, p.minor), "memory_mib": int(p.total_memory // 2**20), "sms": p.multi_processor_count})
    out["devices"] = devs
    ok = []
    for i in range(n):
        x = torch.arange(1 << 20, device="cuda:%d" % i, dtype=torch.float64)
        ok.append(float(x.sum().item()) == float((1 << 20) * ((1 << 20) - 1) // 2))
    out["kernel_ok"] = all(ok) if ok else None
except Exception as e:
    out["torch_error"] = "%s: %s" % (type(e).__name__, e)
print(json.dumps(out), flush=True)
