
import argparse, json, time, traceback
ap = argparse.ArgumentParser()
ap.add_argument("--n", type=int, default=8192)
ap.add_argument("--iters", type=int, default=20)
ap.add_argument("--seconds", type=float, default=4.0)
ap.add_argument("--dtype", default="bf16")
a = ap.parse_args()
try:
    import torch
    dt = {"bf16": torch.bfloat16, "fp16": torch.float16, "fp32": torch.float32}[a.dtype]
    gpus = []
    for i in range(torch.cuda.device_count()):
        dev = torch.device("cuda", i)
        torch.cuda.set_device(dev)
        g = torch.Generator(device=dev)
        g.manual_seed(1234 + i)
        A = torch.randn(a.n, a.n, device=dev, dtype=dt, generator=g)
        B = torch.randn(a.n, a.n, device=dev, dtype=dt, generator=g)
        C = torch.empty(a.n, a.n, device=dev, dtype=dt)
        for _ in range(3):
            torch.matmul(A, B, out=C)
        torch.cuda.synchronize(dev)
        rates = []
        end = time.time() + a.seconds
        while len(rates) < 3 or time.time() < end:
            s = torch.cuda.Event(enable_timing=True)
            e = torch.cuda.Event(enable_timing=True)
            s.record()
            for _ in range(a.iters):
                torch.matmul(A, B, out=C)
            e.record()
            e.synchronize()
            ms = s.elapsed_time(e)
            rates.append(2.0 * a.n ** 3 * a.iters / (ms / 1e3) / 1e12)
            if len(rates) >= 1000:
                break
        finite = bool(torch.isfinite(C).all().item())
        first = rates[0]
        rates.sort()
        gpus.append({"index": i, "name": torch.cuda.get_device_name(i), "tflops": rates[-1], "tflops_first": first, "tflops_median": rates[len(rates) // 2], "tflops_min": rates[0], "batches": len(rates), "seconds": a.seconds, "finite": finite})
        del A, B, C
        torch.cuda.empty_cache()
    print(json.dumps({"n": a.n, "dtype": a.dtype, "iters": a.iters, "gpus": gpus}), flush=True)
except Exception as e:
    print(json.dumps({"error": "%s: %s" % (type(e).__name__, e), "trace": traceback.format_exc()[-2000:]}), flush=True)
